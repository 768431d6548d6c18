#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the semantic codec's default offline stack against whole-image codecs (no channel).

For every image and byte budget it measures, in one run:
  * the semantic codec: container size (must be <= budget), decode, key-region PSNR on the
    sender's key mask, whole-image PSNR / SSIM / VSI, key-area fraction, prompt size, byte split;
  * whole-image JPEG, WebP and AVIF at the best quality and scale that fit the budget
    (``classical.baselines.fit_whole_image``; a codec that cannot fit scores as mean grey), and
    the same for bare AV1 without the AVIF container (to show how much of the gain is overhead);
  * two simple fills of the non-key area with the same received key content: the mean colour
    of the non-key area, and OpenCV Telea inpainting from the key pixels;
  * encode + decode time of a 768x512 image, median of ``--timing-runs`` runs per budget;
  * one figure per budget: original, key mask, reconstruction, AVIF at the same budget.

Usage:
  python benchmarks/semantic_bench.py --images /path/to/kodak --budgets 1536,3072,6144,12288
Writes the per-image records as JSON (``--out``) and prints markdown tables.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

FIGURE_IMAGES = ("kodim04.png", "kodim05.png")


def load_images(folder: Path, limit: int = None, names=None):
    """[(file name, image)] of the images in ``folder`` (``bench.tasks.find_images``), only those
    whose name or stem is in ``names`` when given, at most ``limit``."""
    from gnuradio.gensemcom.bench.tasks import find_images
    from gnuradio.gensemcom.errors import BadInputError
    from gnuradio.gensemcom.imageio import load_image
    try:
        paths = find_images(folder)
    except BadInputError as exc:
        raise SystemExit(str(exc)) from None
    if names:
        paths = [p for p in paths if p.stem in names or p.name in names]
    if limit:
        paths = paths[:limit]
    if not paths:
        raise SystemExit(f"no images in {folder} named {', '.join(names)}")
    return [(p.name, load_image(p)) for p in paths]


def simple_fills(original, received, key_mask):
    """The two reference fills of the non-key area, with the same key pixels as ``received``."""
    import cv2
    mean = original[~key_mask].mean(axis=0)
    mean_fill = np.where(key_mask[..., None], received, np.rint(mean).astype(np.uint8))
    known = np.where(key_mask[..., None], received, 0).astype(np.uint8)
    telea = cv2.inpaint(known, (~key_mask).astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return {"mean": mean_fill, "telea": telea}


def whole_metrics(reference, test):
    from gnuradio.gensemcom import metrics
    return {"psnr": metrics.psnr(reference, test), "ssim": metrics.ssim(reference, test),
            "vsi": metrics.vsi(reference, test)}


def fit_baseline(cache, name, image, budget, codec_name):
    """``fit_whole_image`` of one baseline, cached in ``cache`` (a folder or None): the baselines
    do not depend on the semantic codec, so a rerun after a codec change reuses them."""
    from PIL import Image

    from gnuradio.gensemcom.classical.baselines import fit_whole_image
    stem = f"{Path(name).stem}_{budget}_{codec_name}"
    if cache is not None and (cache / f"{stem}.json").is_file():
        fields = json.loads((cache / f"{stem}.json").read_text())
        return np.asarray(Image.open(cache / f"{stem}.png")), fields
    fit = fit_whole_image(image, budget, "avif" if codec_name == "av1_bare" else codec_name,
                          standard_file=codec_name != "av1_bare")
    fields = {"fits": fit.fits, "bytes": fit.n_bytes, "quality": fit.quality, "scale_factor": fit.scale_factor}
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        Image.fromarray(fit.image).save(cache / f"{stem}.png")
        (cache / f"{stem}.json").write_text(json.dumps(fields, default=float))
    return fit.image, fields


def bench_one(codec, name, image, budget, cache=None):
    from gnuradio.gensemcom import metrics
    started = time.perf_counter()
    encoded = codec.encode(image, budget)
    decoded = codec.decode(encoded.data)
    seconds = time.perf_counter() - started
    key = encoded.key_mask
    record = {
        "image": name, "budget_bytes": budget, "container_bytes": len(encoded.data),
        "fits": len(encoded.data) <= budget, "decoded_shape_ok": decoded.image.shape == image.shape,
        "mode": encoded.report["mode"], "key_fraction": float(key.mean()),
        "prompt_bytes": encoded.report["split_bytes"]["prompt"], "split_bytes": encoded.report["split_bytes"],
        "key_scale_factor": encoded.report.get("key_scale_factor"),
        "key_quality": encoded.report.get("key_quality"),
        "hints_level": encoded.report.get("hints_level"), "encode_decode_s": seconds,
        "semantic": dict(whole_metrics(image, decoded.image),
                         key_psnr=metrics.psnr(image, decoded.image, key)),
    }
    images = {"semantic": decoded.image}
    for codec_name in ("jpeg", "webp", "avif", "av1_bare"):
        fitted, fields = fit_baseline(cache, name, image, budget, codec_name)
        record[codec_name] = dict(whole_metrics(image, fitted), key_psnr=metrics.psnr(image, fitted, key), **fields)
        images[codec_name] = fitted
    for fill_name, filled in simple_fills(image, decoded.image, key).items():
        record[f"fill_{fill_name}"] = whole_metrics(image, filled)
    return record, images, key


def time_codec(codec, image, budget, runs):
    """Median wall-clock encode + decode seconds over ``runs`` runs (after one warm-up), the
    wall times, and the median CPU time of this process (less sensitive to other jobs)."""
    codec.decode(codec.encode(image, budget).data)
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        codec.decode(codec.encode(image, budget).data)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(times), times, statistics.median(cpu)


def figure(path, budget, panels):
    """One figure: a row per image with original, key mask, reconstruction, AVIF."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(panels), 4, figsize=(16, 2.9 * len(panels) + 0.4), squeeze=False)
    for row, (name, image, key, images, record) in enumerate(panels):
        masked = np.where(key[..., None], image, (image * 0.25).astype(np.uint8))
        avif = record["avif"]
        cells = [
            (image, f"{name} original"),
            (masked, f"key mask ({100 * record['key_fraction']:.0f} % of the image)"),
            (images["semantic"], f"semantic {record['container_bytes']} B: "
                                 f"key {record['semantic']['key_psnr']:.1f} dB, "
                                 f"SSIM {record['semantic']['ssim']:.2f}"),
            (images["avif"], (f"AVIF {avif['bytes']} B (1/{avif['scale_factor']:g}): "
                              f"key {avif['key_psnr']:.1f} dB, SSIM {avif['ssim']:.2f}")
             if avif["fits"] else "AVIF does not fit: mean grey"),
        ]
        for ax, (picture, title) in zip(axes[row], cells):
            ax.imshow(picture)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.suptitle(f"budget {budget} bytes ({8 * budget / (768 * 512):.3f} bit/pixel at 768x512)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def mean(records, *keys):
    values = []
    for r in records:
        v = r
        for k in keys:
            v = v[k]
        values.append(v)
    return float(np.mean(values))


def print_tables(records, budgets, timings):
    print("\n## Key-region PSNR on the sender's key mask (dB), mean over images")
    print("| budget | semantic | AVIF (file) | gain | min gain | AV1 bare (no container) | gain over bare |")
    print("|---|---|---|---|---|---|---|")
    for b in budgets:
        rs = [r for r in records if r["budget_bytes"] == b]
        gains = [r["semantic"]["key_psnr"] - r["avif"]["key_psnr"] for r in rs]
        bare = [r["semantic"]["key_psnr"] - r["av1_bare"]["key_psnr"] for r in rs]
        print(f"| {b} | {mean(rs, 'semantic', 'key_psnr'):.2f} | {mean(rs, 'avif', 'key_psnr'):.2f} | "
              f"{np.mean(gains):+.2f} | {np.min(gains):+.2f} | {mean(rs, 'av1_bare', 'key_psnr'):.2f} | "
              f"{np.mean(bare):+.2f} |")

    print("\n## Whole image, mean over images: PSNR / SSIM / VSI")
    print("| budget | semantic | JPEG | WebP | AVIF | fill: mean colour | fill: Telea | key fraction "
          "| prompt B |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b in budgets:
        rs = [r for r in records if r["budget_bytes"] == b]
        cells = []
        for k in ("semantic", "jpeg", "webp", "avif", "fill_mean", "fill_telea"):
            cells.append(f"{mean(rs, k, 'psnr'):.2f} / {mean(rs, k, 'ssim'):.3f} / {mean(rs, k, 'vsi'):.3f}")
        fits = {k: sum(r[k]["fits"] for r in rs) for k in ("jpeg", "webp", "avif")}
        cells[1] += f" ({fits['jpeg']}/{len(rs)} fit)"
        cells[2] += f" ({fits['webp']}/{len(rs)} fit)"
        cells[3] += f" ({fits['avif']}/{len(rs)} fit)"
        print(f"| {b} | " + " | ".join(cells) + f" | {mean(rs, 'key_fraction'):.3f} | "
              f"{mean(rs, 'prompt_bytes'):.0f} (max {max(r['prompt_bytes'] for r in rs)}) |")

    print("\n## Generative fill against the simple fills (same key content), per budget")
    print("| budget | SSIM semantic / mean / Telea | VSI semantic / mean / Telea | beats both on both |")
    print("|---|---|---|---|")
    for b in budgets:
        rs = [r for r in records if r["budget_bytes"] == b]
        s = [mean(rs, k, "ssim") for k in ("semantic", "fill_mean", "fill_telea")]
        v = [mean(rs, k, "vsi") for k in ("semantic", "fill_mean", "fill_telea")]
        ok = s[0] > max(s[1:]) and v[0] > max(v[1:])
        print(f"| {b} | {s[0]:.3f} / {s[1]:.3f} / {s[2]:.3f} | {v[0]:.4f} / {v[1]:.4f} / {v[2]:.4f} | "
              f"{'yes' if ok else 'NO'} |")

    print("\n## Per image: container bytes, key fraction, prompt bytes, key PSNR semantic vs AVIF, "
          "whole SSIM / VSI semantic vs AVIF")
    print("| image | budget | bytes | key frac | prompt B | split key/hints/mask "
          "| key PSNR sem / AVIF (gain) | SSIM sem / AVIF | VSI sem / AVIF |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in records:
        split = r["split_bytes"]
        print(f"| {r['image']} | {r['budget_bytes']} | {r['container_bytes']} | {r['key_fraction']:.3f} | "
              f"{r['prompt_bytes']} | {split['key']}/{split['hints']}/{split['mask']} | "
              f"{r['semantic']['key_psnr']:.2f} / {r['avif']['key_psnr']:.2f} "
              f"({r['semantic']['key_psnr'] - r['avif']['key_psnr']:+.2f}) | "
              f"{r['semantic']['ssim']:.3f} / {r['avif']['ssim']:.3f} | "
              f"{r['semantic']['vsi']:.4f} / {r['avif']['vsi']:.4f} |")

    print("\n## Checks")
    all_fit = all(r["fits"] and r["decoded_shape_ok"] for r in records)
    print(f"- every image within budget and decoded at every budget: {'yes' if all_fit else 'NO'} "
          f"({len(records)} encodes, largest container/budget ratio "
          f"{max(r['container_bytes'] / r['budget_bytes'] for r in records):.3f})")
    print(f"- prompt section < 300 bytes: {'yes' if max(r['prompt_bytes'] for r in records) < 300 else 'NO'} "
          f"(max {max(r['prompt_bytes'] for r in records)} B, mean {mean(records, 'prompt_bytes'):.0f} B)")
    for b, (median, times, cpu) in timings.items():
        print(f"- encode + decode of a 768x512 image at {b} B: median {median:.2f} s wall of {len(times)} "
              f"({', '.join(f'{t:.2f}' for t in times)}; CPU median {cpu:.2f} s) -> "
              f"{'<= 2 s' if median <= 2.0 else 'OVER 2 s'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=Path("../shared/data/kodak"),
                        help="folder of test images")
    parser.add_argument("--budgets", default="1536,3072,6144,12288", help="comma-separated byte budgets")
    parser.add_argument("--limit", type=int, help="use only the first N images")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/semantic_bench.json"))
    parser.add_argument("--figures", type=Path, default=Path("docs/img"),
                        help="where the figures go ('' = none)")
    parser.add_argument("--timing-runs", type=int, default=5)
    parser.add_argument("--cache", default="/tmp/gensemcom_semantic_bench",
                        help="folder caching the baselines' fits ('' = no cache)")
    parser.add_argument("--timing-image", default="kodim01.png")
    args = parser.parse_args(argv)

    from gnuradio.gensemcom.semantic import SemanticCodec
    budgets = [int(b) for b in args.budgets.split(",")]
    images = load_images(args.images, args.limit)
    codec = SemanticCodec()
    records, panels = [], {b: [] for b in budgets}
    for name, image in images:
        for budget in budgets:
            record, decoded, key = bench_one(codec, name, image, budget, Path(args.cache) if args.cache else None)
            records.append(record)
            print(f"{name} {budget:>6} B: {record['container_bytes']} B, "
                  f"key {record['semantic']['key_psnr']:.2f} dB "
                  f"vs AVIF {record['avif']['key_psnr']:.2f} dB, SSIM {record['semantic']['ssim']:.3f}, "
                  f"{record['encode_decode_s']:.2f} s", file=sys.stderr, flush=True)
            if name in FIGURE_IMAGES:
                panels[budget].append((name, image, key, decoded, record))

    timings = {}
    by_name = dict(images)
    timing_image = by_name.get(args.timing_image, images[0][1])
    for budget in budgets:
        timings[budget] = time_codec(codec, timing_image, budget, args.timing_runs)

    if str(args.figures):
        args.figures.mkdir(parents=True, exist_ok=True)
        for budget in budgets:
            if panels[budget]:
                figure(args.figures / f"semantic_budget_{budget}.png", budget, panels[budget])

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"records": records, "timing_image": args.timing_image,
                                    "timings_s": {b: t for b, (_, t, _) in timings.items()},
                                    "cpu_median_s": {b: c for b, (_, _, c) in timings.items()}},
                                   indent=1, default=float))
    print_tables(records, budgets, timings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
