#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which generator should the semantic receiver use? The same containers decoded by each one.

For every image and byte budget the semantic codec (default offline stack: offline segmenter and
prompt) encodes once; that one container is decoded by every generator option:
  bicubic        no generator (backend ``plain``): the hint thumbnail upsampled bicubic (the
                 decoder's base) with the key regions; the ablation
  texture        the offline procedural texture generator (backend ``offline``)
  realesrgan     Real-ESRGAN x4plus (card ``realesrgan-x4plus``, ``--sr-quant`` int8 or none=fp32)
  realesrgan+lora  the same with a LoRA adapter merged (``--lora CARD``: the card that
                 ``gensemcom finetune generator --card realesrgan-x4plus`` writes)
and, at the same budget, the whole-image baseline:
  av1            bare AV1 of the whole image, best quality and scale that fit
                 (``classical.wholeimage.WholeImageCodec``), bicubic upsampling at the receiver
  av1+sr         the same stream upscaled at the receiver by the same Real-ESRGAN model (fairness:
                 the upscaler is offered to the baseline that sends a downscaled picture)
  av1+sr+lora    the same with the adapted model (with ``--lora``)
Metrics (``gensemcom.metrics``) of the decoded image against the original: PSNR, SSIM, MS-SSIM,
VSI, HaarPSI, key-region PSNR/SSIM on the semantic sender's key mask (the same mask for the
baselines); LPIPS only when its weights are on this machine (else "not available").
Prints markdown tables: mean ± 95 % Student-t interval over images per budget and method, and
the paired differences of ``PAIRS`` (same images). ``--timing-runs N``
also times the decode of one container (``--timing-image``, ``--timing-budget``) with each
generator, fp32 and int8 Real-ESRGAN both, interleaved so a loaded machine slows all alike.
``--figure`` writes side-by-side crops (original / bicubic / texture / Real-ESRGAN (+ LoRA) / av1 /
av1+sr). ``--reuse FILE`` takes the records of an earlier run's JSON whose (image, budget,
method) it holds (the encoders are deterministic: the container is the same) and runs the rest.

  python benchmarks/generator_table.py --images ../shared/data/kodak --budgets 1536,3072,6144,12288 \\
      --limit 4 --timing-runs 5 --figure docs/img/generator_crops.png
  python benchmarks/generator_table.py --lora out/lora/receiver/realesrgan-x4plus-receiver.yaml \
      --reuse benchmarks/results/generator_table.json
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

METRICS = ("psnr", "ssim", "ms_ssim", "vsi", "haarpsi", "key_psnr", "key_ssim")
FORMATS = {"psnr": "{:.2f}", "key_psnr": "{:.2f}", "ssim": "{:.4f}", "ms_ssim": "{:.4f}", "vsi": "{:.4f}",
           "haarpsi": "{:.4f}", "key_ssim": "{:.4f}"}
SEMANTIC_METHODS = ("bicubic", "texture", "realesrgan", "realesrgan+lora")
BASELINE_METHODS = ("av1", "av1+sr", "av1+sr+lora")
UPSCALERS = {"av1": None, "av1+sr": "realesrgan", "av1+sr+lora": "realesrgan+lora"}


def log(text):
    print(text, file=sys.stderr, flush=True)


def load_images(folder, limit=None, names=None):
    """[(stem, image)] of the images in ``folder`` (``bench.tasks.find_images``)."""
    from gnuradio.gensemcom.bench.tasks import find_images
    from gnuradio.gensemcom.imageio import load_image
    paths = find_images(Path(folder))
    if names:
        paths = [p for p in paths if p.stem in names or p.name in names]
    paths = paths[:limit] if limit else paths
    if not paths:
        raise SystemExit(f"no images in {folder}")
    return [(p.stem, load_image(p)) for p in paths]


def generators(sr_quant, lora_card=""):
    """{method: generator} of the semantic receiver, each as a user selects it (``lora_card``: the
    adapted Real-ESRGAN card, or empty for none)."""
    from gnuradio.gensemcom.models.stack import load_stack
    from gnuradio.gensemcom.semantic.backends import build_backend
    gens = {"bicubic": build_backend("generator", "plain"),
            "texture": load_stack("offline").generator,
            "realesrgan": load_stack("realesrgan-x4plus", quant=f"generator={sr_quant}", device="cpu").generator}
    if lora_card:
        gens["realesrgan+lora"] = load_stack(lora_card, quant=f"generator={sr_quant}", device="cpu").generator
    return gens


def scores(original, decoded, key_mask):
    from gnuradio.gensemcom import metrics
    out = metrics.image_metrics(original, decoded, key_mask)
    out["haarpsi"] = metrics.haarpsi(original, decoded)
    return out


def run_image(name, image, budget, gens, keep=False, done=()):
    """Records (one per method not in ``done``) of one image at one budget; with ``keep`` also
    {method: image} (then every method runs)."""
    from gnuradio.gensemcom.classical.wholeimage import WholeImageCodec
    from gnuradio.gensemcom.semantic import SemanticCodec
    encoded = SemanticCodec().encode(image, budget)
    key_mask = encoded.key_mask
    common = {"image": name, "budget": budget, "key_fraction": float(key_mask.mean()),
              "hints_thumbnail": encoded.report.get("hints_thumbnail")}
    records, images = [], {}
    for method, generator in gens.items():
        if method in done and not keep:
            continue
        start = time.perf_counter()
        decoded = SemanticCodec(generator=generator).decode(encoded.data)
        images[method] = decoded.image
        records.append({**common, "method": method, "bytes": len(encoded.data),
                        "decode_s": time.perf_counter() - start, **scores(image, decoded.image, key_mask)})
    sent = WholeImageCodec("av1").encode(image, budget)
    for method, generator in UPSCALERS.items():
        if (generator and generator not in gens) or (method in done and not keep):
            continue
        upscaler = gens[generator].resolver.upscale if generator else None
        start = time.perf_counter()
        decoded = WholeImageCodec("av1", upscaler=upscaler).decode(sent.data)
        images[method] = decoded.image
        records.append({**common, "method": method, "bytes": len(sent.data), "scale_factor":
                        sent.report["scale_factor"], "decode_s": time.perf_counter() - start,
                        **scores(image, decoded.image, key_mask)})
    return records, (images, key_mask) if keep else None


PAIRS = (("texture", "bicubic"), ("realesrgan", "bicubic"), ("realesrgan+lora", "bicubic"),
         ("realesrgan+lora", "realesrgan"), ("av1+sr", "av1"), ("av1+sr+lora", "av1"),
         ("realesrgan+lora", "av1+sr+lora"), ("texture", "av1"))


def summary(records, budgets, methods):
    """{budget: {method: {metric: [mean, ci95, n]}}} and {budget: {"a − b": {metric: [...]}}}: the
    paired differences of ``PAIRS`` whose methods both ran (same images)."""
    from gnuradio.gensemcom.bench.summary import t_interval
    means, diffs = {}, {}
    for budget in budgets:
        rows = [r for r in records if r["budget"] == budget]
        by = {(r["method"], r["image"]): r for r in rows}
        images = sorted({r["image"] for r in rows})
        means[budget] = {method: {m: list(t_interval([by[method, i][m] for i in images if (method, i) in by]))
                                  for m in METRICS} for method in methods}
        diffs[budget] = {f"{a} − {b}": {m: list(t_interval([by[a, i][m] - by[b, i][m] for i in images
                                                           if (a, i) in by and (b, i) in by]))
                                        for m in METRICS}
                         for a, b in PAIRS if a in methods and b in methods}
    return means, diffs


def cell(entry, metric, signed=False):
    mean, half, _ = entry
    if math.isnan(mean):
        return "–"
    fmt = FORMATS[metric]
    text = ("+" if signed and mean >= 0 else "") + fmt.format(mean)
    return text + (" ± " + fmt.format(half) if not math.isnan(half) else "")


def markdown(means, diffs):
    header = "| budget (B) | method | " + " | ".join(METRICS) + " |\n|" + "---|" * (len(METRICS) + 2)
    lines = ["### Mean ± 95 % CI over images", header]
    for budget, methods in means.items():
        for method, values in methods.items():
            lines.append(f"| {budget} | {method} | " + " | ".join(cell(values[m], m) for m in METRICS) + " |")
    lines += ["", "### Paired differences (same images), mean ± 95 % CI", header]
    for budget, pairs in diffs.items():
        for pair, values in pairs.items():
            lines.append(f"| {budget} | {pair} | " + " | ".join(cell(values[m], m, signed=True) for m in METRICS)
                         + " |")
    return "\n".join(lines) + "\n"


def time_decodes(image, budget, gens, runs):
    """{method: [seconds]} of ``runs`` decodes of one container, fp32 and int8 Real-ESRGAN both."""
    from gnuradio.gensemcom.models.stack import load_stack
    from gnuradio.gensemcom.semantic import SemanticCodec
    gens = {m: g for m, g in gens.items() if m != "realesrgan+lora"}   # the same network, other weights
    quant = gens["realesrgan"].spec.quant
    other = "none" if quant == "int8" else "int8"
    gens[f"realesrgan-{other}"] = load_stack("realesrgan-x4plus", quant=f"generator={other}",
                                             device="cpu").generator
    gens[f"realesrgan-{quant}"] = gens.pop("realesrgan")
    data = SemanticCodec().encode(image, budget).data
    codecs = {method: SemanticCodec(generator=g) for method, g in gens.items()}
    for codec in codecs.values():    # warm-up: model loading, first-call allocations
        codec.decode(data)
    times = {method: [] for method in codecs}
    for run in range(runs):
        for method, codec in codecs.items():
            start = time.perf_counter()
            codec.decode(data)
            times[method].append(time.perf_counter() - start)
        log(f"timing run {run + 1}/{runs}: " + ", ".join(f"{m} {t[-1]:.2f} s" for m, t in times.items()))
    return times


def reused_records(path, images, budgets, methods, sr_quant, lora_card=""):
    """Records of an earlier run's JSON (``path``) for these images, budgets and methods; rows
    that ran Real-ESRGAN only if it ran the same ``sr_quant``, adapted ones only with the same
    ``lora_card``."""
    try:
        earlier = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--reuse {path}: unreadable ({exc})") from None
    uses_sr = {"realesrgan", "realesrgan+lora"} | {m for m, g in UPSCALERS.items() if g}
    same_sr = earlier.get("sr_quant") == sr_quant
    same_lora = (earlier.get("lora") or "") == (lora_card or "")
    keep = [r for r in earlier.get("records", []) if r["image"] in images and r["budget"] in budgets
            and r["method"] in methods and (r["method"] not in uses_sr or same_sr)
            and ("lora" not in r["method"] or same_lora)]
    log(f"--reuse {path}: {len(keep)} records kept")
    return keep


def best_crop(key_mask, original, size):
    """(x, y) of the ``size`` window with the most non-key texture (where generators differ)."""
    grey = original.astype(np.float32).mean(axis=2)
    height, width = grey.shape
    best, where = -1.0, (0, 0)
    for y in range(0, height - size + 1, 16):
        for x in range(0, width - size + 1, 16):
            score = float((~key_mask[y:y + size, x:x + size]).mean() * grey[y:y + size, x:x + size].std())
            if score > best:
                best, where = score, (x, y)
    return where


def write_figure(path, original, images, key_mask, size, caption):
    """One PNG: original and each method's crop side by side, labelled."""
    from PIL import Image, ImageDraw
    x, y = best_crop(key_mask, original, size)
    panels = [("original", original)] + [(m, images[m]) for m in SEMANTIC_METHODS + BASELINE_METHODS
                                         if m in images]
    label_px = 14
    sheet = Image.new("RGB", (len(panels) * (size + 4) - 4, size + label_px + 14), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, picture) in enumerate(panels):
        sheet.paste(Image.fromarray(np.ascontiguousarray(picture[y:y + size, x:x + size])),
                    (i * (size + 4), label_px))
        draw.text((i * (size + 4) + 2, 1), label, fill="black")
    draw.text((2, size + label_px + 1), f"{caption}, crop at ({x}, {y})", fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return x, y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="../shared/data/kodak", help="folder of evaluation images")
    parser.add_argument("--names", default="", help="comma-separated image stems to use (default: all)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many images (0: all)")
    parser.add_argument("--budgets", default="1536,3072,6144,12288", help="comma-separated byte budgets")
    parser.add_argument("--sr-quant", default="int8", choices=("int8", "none"),
                        help="Real-ESRGAN in the table: int8 convolutions (CPU) or none (float32)")
    parser.add_argument("--timing-runs", type=int, default=0,
                        help="time this many decodes per generator (fp32 and int8 Real-ESRGAN); 0: none")
    parser.add_argument("--timing-image", default="", help="image stem timed (default: the first)")
    parser.add_argument("--timing-budget", type=int, default=3072, help="budget of the timed container")
    parser.add_argument("--figure", default="", help="PNG of side-by-side crops (empty: none)")
    parser.add_argument("--figure-image", default="", help="image stem of the figure (default: the first)")
    parser.add_argument("--figure-budget", type=int, default=3072, help="budget of the figure")
    parser.add_argument("--crop", type=int, default=160, help="crop size of the figure (px)")
    parser.add_argument("--lora", default="",
                        help="card of a LoRA-adapted Real-ESRGAN (from gensemcom finetune generator): adds "
                             "the realesrgan+lora and av1+sr+lora rows")
    parser.add_argument("--reuse", default="",
                        help="JSON of an earlier run: its records are kept, only missing ones run")
    parser.add_argument("--out", default="benchmarks/results/generator_table.json",
                        help="JSON file of the per-image records, summary and timings")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead of markdown")
    args = parser.parse_args(argv)
    from gnuradio.gensemcom import metrics

    budgets = [int(b) for b in args.budgets.split(",")]
    images = load_images(args.images, args.limit, [n for n in args.names.split(",") if n])
    figure_image = args.figure_image or images[0][0]
    log(f"{len(images)} images x {len(budgets)} budgets; loading the generators (Real-ESRGAN {args.sr_quant})")
    gens = generators(args.sr_quant, args.lora)
    methods = [m for m in SEMANTIC_METHODS if m in gens] + [m for m, g in UPSCALERS.items() if not g or g in gens]
    wanted = {n for n, _ in images}
    records = reused_records(args.reuse, wanted, budgets, methods, args.sr_quant, args.lora) if args.reuse else []
    done_methods = {}
    for r in records:
        done_methods.setdefault((r["image"], r["budget"]), set()).add(r["method"])
    figure = None
    started = time.perf_counter()
    done, total = 0, len(images) * len(budgets)
    for name, image in images:
        for budget in budgets:
            keep = bool(args.figure) and name == figure_image and budget == args.figure_budget
            rows, kept = run_image(name, image, budget, gens, keep, done_methods.get((name, budget), ()))
            if keep:   # every method ran again: the new records replace reused ones
                records = [r for r in records if (r["image"], r["budget"]) != (name, budget)]
            records += rows
            if kept:
                figure = (image, *kept)
            done += 1
            eta = (time.perf_counter() - started) / done * (total - done)
            log(f"[{done}/{total}] {name} {budget} B: " + ", ".join(
                f"{r['method']} {r['psnr']:.2f} dB/{r['vsi']:.4f}" for r in rows) + f"  (ETA {eta / 60:.1f} min)")
    means, diffs = summary(records, budgets, methods)
    result = {"images": [n for n, _ in images], "budgets": budgets, "sr_quant": args.sr_quant,
              "lora": args.lora or None,
              "lpips": metrics.lpips_status()[1], "means": means, "paired": diffs,
              "records": records}
    if args.figure and figure is not None:
        original, kept_images, key_mask = figure
        result["figure"] = {"path": args.figure, "image": figure_image, "budget": args.figure_budget,
                            "crop_xy": write_figure(args.figure, original, kept_images, key_mask, args.crop,
                                                    f"{figure_image} at {args.figure_budget} B")}
    if args.timing_runs > 0:
        name = args.timing_image or images[0][0]
        timed = dict(images)[name] if name in dict(images) else load_images(args.images, 1, [name])[0][1]
        times = time_decodes(timed, args.timing_budget, gens, args.timing_runs)
        medians = {m: statistics.median(t) for m, t in times.items()}
        result["timing"] = {"image": name, "budget": args.timing_budget, "seconds": times, "median_s": medians,
                            "ratio_vs_texture": {m: v / medians["texture"] for m, v in medians.items()}}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "records"}, indent=1, default=float))
        return
    print(f"images: {', '.join(result['images'])}; Real-ESRGAN: {args.sr_quant}; LPIPS: {result['lpips']}\n")
    print(markdown(means, diffs))
    if "timing" in result:
        t = result["timing"]
        print(f"### Decode time of {t['image']} at {t['budget']} B, median of {args.timing_runs} (s)")
        print("| generator | median s | × texture |\n|---|---|---|")
        for method, median in t["median_s"].items():
            print(f"| {method} | {median:.2f} | {t['ratio_vs_texture'][method]:.1f} |")


if __name__ == "__main__":
    main()
