#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Quality of the semantic codec under random packet loss, reordering and duplication (issue 7).

For every image, byte budget, seed and loss rate: encode once, cut into packets of at most
``--mtu`` bytes (the default link profile's packet size; small fragments of one importance
class share an aggregate packet, as the fragmenter sends them), deliver them through
``bench.lossy_delivery.deliver`` (independent loss per packet, 10 % duplicates, random order;
the same draws for every loss rate, so a higher rate loses a superset), decode with the
receiver's default size, and measure PSNR, SSIM, VSI and key-region PSNR (on the sender's
key mask). Checks on the way: every image decodes to full size, and the report names every
lost part it regenerated (``bench.lossy_delivery.regeneration_gaps``).

Writes the plot (mean over images and seeds, 95 % CI) to ``--plot`` and prints a markdown
table; ``--json`` keeps every record.

Usage:
  python scripts/reliability_loss.py --kodak /path/to/kodak --kodak-limit 12 \\
      --plot docs/img/reliability_loss.png
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

SKIMAGE = ("astronaut", "coffee", "chelsea", "rocket")
METRICS = (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("vsi", "VSI"), ("key_psnr", "key-region PSNR (dB)"))


def load_images(args):
    from skimage import data

    from gnuradio.gensemcom.imageio import load_image
    images = [(name, np.ascontiguousarray(getattr(data, name)()[..., :3])) for name in args.skimage if name]
    if args.kodak:
        paths = sorted(Path(args.kodak).glob("kodim*.png"))[:args.kodak_limit]
        if not paths:
            raise SystemExit(f"no kodim*.png in {args.kodak}")
        images += [(p.stem, load_image(p)) for p in paths]
    return images


def ci95(values):
    values = np.asarray(values, float)
    if len(values) < 2:
        return 0.0
    return float(1.96 * values.std(ddof=1) / np.sqrt(len(values)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skimage", type=lambda s: s.split(","), default=list(SKIMAGE),
                        help="scikit-image pictures (comma-separated; '' for none)")
    parser.add_argument("--kodak", help="folder with kodim*.png (optional)")
    parser.add_argument("--kodak-limit", type=int, default=12, help="first N Kodak images (default 12)")
    parser.add_argument("--bpp", type=lambda s: [float(v) for v in s.split(",")], default=[0.0625, 0.25],
                        help="budgets in bits per pixel (default 0.0625,0.25: 3072 and 12288 B at 768x512)")
    parser.add_argument("--loss", type=lambda s: [float(v) for v in s.split(",")],
                        default=[round(0.05 * i, 2) for i in range(11)], help="loss rates (default 0..0.5)")
    parser.add_argument("--seeds", type=int, default=6, help="loss patterns per image (default 6)")
    parser.add_argument("--mtu", type=int, default=400,
                        help="largest packet, bytes (default 400, the default link profile's)")
    parser.add_argument("--no-aggregation", action="store_true",
                        help="one fragment per packet (default: small fragments of one importance "
                             "class share a packet, as the fragmenter sends them)")
    parser.add_argument("--plot", default="docs/img/reliability_loss.png")
    parser.add_argument("--json", help="write every record here")
    args = parser.parse_args(argv)

    from gnuradio.gensemcom import metrics
    from gnuradio.gensemcom.bench.lossy_delivery import deliver, loss_draws, lost_sections, regeneration_gaps
    from gnuradio.gensemcom.fileio import atomic_path, write_text_atomic
    from gnuradio.gensemcom.semantic.codec import SemanticCodec
    from gnuradio.gensemcom.transport.fragments import fragment
    from gnuradio.gensemcom.transport.packets import packetize

    codec = SemanticCodec()
    images = load_images(args)
    records, problems = [], []
    t0 = time.perf_counter()
    for image_id, (name, image) in enumerate(images, start=1):
        height, width = image.shape[:2]
        for bpp in args.bpp:
            budget = int(width * height * bpp / 8)
            sent = codec.encode(image, budget, image_id=image_id)
            packets = (fragment(sent.container, args.mtu) if args.no_aggregation
                       else [data for _, _, data in packetize(sent.container, args.mtu)])
            for seed in range(args.seeds):
                draws = loss_draws(packets, random.Random(f"draws-{name}-{bpp}-{seed}"))
                for loss in args.loss:
                    order = random.Random(f"order-{name}-{bpp}-{seed}-{loss}")
                    arrived = deliver(packets, loss, order, draws)
                    result = codec.decode(arrived, size=(width, height))
                    lost = lost_sections(packets, arrived)
                    if result.image.shape != image.shape:
                        problems.append(f"{name} {bpp} {seed} {loss}: decoded {result.image.shape}")
                    gaps = regeneration_gaps(lost, result.report)
                    if gaps:
                        problems.append(f"{name} {bpp} {seed} {loss}: report misses {gaps}")
                    records.append({
                        "image": name, "bpp": bpp, "budget_bytes": budget, "seed": seed, "loss": loss,
                        "packets_sent": len(packets), "packets_arrived": len(set(arrived)),
                        "sections_lost": sorted(int(k) for k in lost if k),
                        "regenerated": result.report["regenerated"],
                        "psnr": metrics.psnr(image, result.image), "ssim": metrics.ssim(image, result.image),
                        "vsi": metrics.vsi(image, result.image),
                        "key_psnr": metrics.psnr(image, result.image, sent.key_mask),
                    })
        print(f"  {name}: done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    table = []
    for bpp in args.bpp:
        for loss in args.loss:
            rows = [r for r in records if r["bpp"] == bpp and r["loss"] == loss]
            entry = {"bpp": bpp, "loss": loss, "n": len(rows),
                     "packets_arrived": float(np.mean([r["packets_arrived"] / r["packets_sent"]
                                                       for r in rows])),
                     "regenerated_share": float(np.mean([bool(r["regenerated"]) for r in rows]))}
            for metric, _ in METRICS:
                entry[metric] = float(np.mean([r[metric] for r in rows]))
                entry[metric + "_ci95"] = ci95([r[metric] for r in rows])
            table.append(entry)

    names = ", ".join(n for n, _ in images)
    print(f"{len(images)} images ({names}), {args.seeds} loss patterns each, packets of <= {args.mtu} B; "
          f"{len(records)} decodes in {time.perf_counter() - t0:.0f} s")
    print("\n| bpp | loss | packets arrived | decodes with regeneration | PSNR | SSIM | VSI | key PSNR |")
    print("|---|---|---|---|---|---|---|---|")
    for e in table:
        print(f"| {e['bpp']:g} | {100 * e['loss']:.0f} % | {100 * e['packets_arrived']:.0f} % | "
              f"{100 * e['regenerated_share']:.0f} % | {e['psnr']:.2f} | {e['ssim']:.3f} | {e['vsi']:.3f} | "
              f"{e['key_psnr']:.2f} |")
    print(f"\nfull size every time and report complete: {'yes' if not problems else 'NO'}")
    for line in problems[:20]:
        print("  " + line)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.6))
    for ax, (metric, label) in zip(axes, METRICS):
        for bpp in args.bpp:
            rows = [e for e in table if e["bpp"] == bpp]
            ax.errorbar([100 * e["loss"] for e in rows], [e[metric] for e in rows],
                        yerr=[e[metric + "_ci95"] for e in rows], marker="o", markersize=3, capsize=2,
                        label=f"{bpp:g} bit/pixel")
        ax.set_xlabel("packet loss (%)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Semantic codec under random packet loss, reordering and duplication "
                 f"({len(images)} images x {args.seeds} loss patterns, packets <= {args.mtu} B; "
                 "mean, 95 % CI)",
                 fontsize=9)
    fig.tight_layout()
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.plot) as tmp:
        fig.savefig(tmp, dpi=110)
    print(f"plot: {args.plot}")
    if args.json:
        write_text_atomic(args.json, json.dumps({"table": table, "records": records}, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
