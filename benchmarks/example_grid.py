#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Grid of one image's reconstructions from a ``gensemcom bench`` sweep: schemes × SNRs.

  python benchmarks/example_grid.py out/bench --image kodim01.png --channel awgn --snr=-5,0,5,20 \\
      --schemes semantic,jpeg,avif --save docs/img/results_kodim01_awgn.png
  python benchmarks/example_grid.py out/sweep-base-awgn out/sweep-sem-awgn --schemes semantic,av1,webp ...

Reads FOLDER/results.csv (metrics for the captions) and the reconstructions the sweep saved under
FOLDER/images/ (``--examples N`` of ``gensemcom bench``), for each sweep folder given.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+", metavar="FOLDER", help="sweep output folders")
    parser.add_argument("--image", default="kodim01.png")
    parser.add_argument("--channel", default="awgn")
    parser.add_argument("--snr", default="-5,0,5,20")
    parser.add_argument("--schemes", default="semantic,jpeg,avif")
    parser.add_argument("--seed", type=int, default=0, help="which seed's reconstructions (default 0)")
    parser.add_argument("--save", type=Path, required=True)
    args = parser.parse_args(argv)
    for folder in args.folders:
        if not (folder / "results.csv").is_file():
            print(f"example_grid: no results.csv in {folder}; run gensemcom bench --out {folder} first",
                  file=sys.stderr)
            return 2
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from gnuradio.gensemcom.bench.store import read_results
    rows = {(r["scheme"], float(r["snr_db"])): dict(r, folder=folder)
            for folder in args.folders for r in read_results(folder)
            if r["image"] == args.image and r["channel"] == args.channel and int(r["seed"]) == args.seed}
    snrs = [float(s) for s in args.snr.split(",")]
    schemes = args.schemes.split(",")
    fig, axes = plt.subplots(len(schemes), len(snrs), figsize=(3.2 * len(snrs), 2.4 * len(schemes)), squeeze=False)
    for i, scheme in enumerate(schemes):
        for j, snr in enumerate(snrs):
            ax = axes[i][j]
            ax.axis("off")
            row = rows.get((scheme, snr))
            if row is None or not row.get("reconstruction"):
                ax.set_title(f"{scheme}, {snr:g} dB: not in the sweep", fontsize=8)
                continue
            ax.imshow(np.asarray(Image.open(row["folder"] / row["reconstruction"]).convert("RGB")))
            key = "–" if row.get("key_psnr") is None else f"{row['key_psnr']:.1f}"
            ax.set_title(f"{scheme}, {snr:g} dB{'' if row['delivered'] else ' (failed)'}\n"
                         f"VSI {row['vsi']:.3f}, key {key} dB, PSNR {row['psnr']:.1f}", fontsize=8)
    fig.suptitle(f"{args.image}, {args.channel}, 1/48 cpp, seed {args.seed} (failed decodes are scored as flat grey)",
                 fontsize=10)
    fig.tight_layout()
    args.save.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.save, dpi=70)
    print(args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
