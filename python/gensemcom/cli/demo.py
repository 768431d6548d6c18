# SPDX-License-Identifier: GPL-3.0-or-later
"""The demo (`make demo`): bundled images through the real flowgraph, semantic vs JPEG.

Sends three images that ship with scikit-image (astronaut, coffee, chelsea; or your own
with --images) through the full GNU Radio flowgraph — semantic_tx → channel → semantic_rx —
at several SNRs, with the semantic scheme (offline default models) and the JPEG + LDPC
separation baseline over the same PHY, plus the ideal "AVIF + capacity" bound. It is a
small `gensemcom bench` sweep: the results are resumable and scored by the same code.

Writes into --out (default ./gensemcom-demo):
  grid.png          originals and what arrived, per scheme and SNR
  metrics.md        mean PSNR / SSIM / VSI / key-region PSNR per scheme and SNR
  sweep/            results.csv, summary, plots (metric vs SNR), report.md

examples:
  gensemcom demo
  gensemcom demo --snr 0,5,10,20 --channel rayleigh --out demo-rayleigh
"""
import shutil
import sys
from pathlib import Path

from ..errors import BadInputError
from ..params import CHANNEL, CPP
from .common import fraction, positive_int, print_json, snr_list

BUNDLED = ("astronaut", "coffee", "chelsea")


def add_arguments(parser, name):
    parser.add_argument("--out", type=Path, default=Path("gensemcom-demo"),
                        help="output folder (default ./gensemcom-demo)")
    parser.add_argument("--images", type=Path, default=None,
                        help="a folder of your own images instead of the bundled ones")
    parser.add_argument("--snr", type=snr_list, default=[0.0, 5.0, 10.0], metavar="LIST",
                        help="SNRs in dB, Es/N0 per data subcarrier (default 0,5,10)")
    CHANNEL.add_to(parser)
    CPP.add_to(parser, type=fraction, metavar="R")
    parser.add_argument("--schemes", default="semantic,jpeg", help="schemes to compare (default semantic,jpeg)")
    parser.add_argument("--workers", type=positive_int, default=None, help="parallel tasks (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def _bundled_images(folder):
    from PIL import Image
    from skimage import data
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in BUNDLED:
        path = folder / f"{name}.png"
        if not path.exists():
            Image.fromarray(getattr(data, name)()).save(path)
        paths.append(path)
    return paths


def run(args):
    from ..bench.sweep import SweepConfig, run_sweep
    from ..bench.tasks import find_images, format_cpp
    schemes = [s.strip() for s in args.schemes.split(",") if s.strip()]
    if not schemes:
        raise BadInputError("--schemes is empty")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    images = find_images(args.images) if args.images else _bundled_images(out / "images")
    config = SweepConfig(images=images, schemes=schemes, snrs_db=args.snr, channels=[args.channel],
                         cpps=[format_cpp(args.cpp)], out=out / "sweep", workers=args.workers,
                         key_mask="semantic", examples=len(images))
    print(f"gensemcom demo: {len(images)} images x {len(schemes)} schemes x {len(args.snr)} SNRs over the "
          f"real flowgraph ({args.channel}, cpp {format_cpp(args.cpp)}); results in {out}", file=sys.stderr)
    counts = run_sweep(config)
    from ..bench.store import read_results
    rows = [r for r in read_results(out / "sweep") if r["scheme"] in schemes]
    grid = _grid(rows, images, schemes, args.snr, out / "sweep", out / "grid.png")
    shutil.copyfile(out / "sweep" / "summary.md", out / "metrics.md")
    summary = {"grid": str(grid), "metrics": str(out / "metrics.md"), "report": counts.get("report"),
               "results": counts.get("results"), "tasks": counts["tasks"], "errors": counts["errors"]}
    if args.json:
        print_json(summary)
    else:
        print(f"picture grid: {grid}\nmetrics table: {out / 'metrics.md'}\nfull report: {counts.get('report')}")
        print(_table(rows, schemes, args.snr))
    return 0 if not counts["errors"] else 1


def _table(rows, schemes, snrs):
    """Mean PSNR / VSI / key PSNR per scheme and SNR, as text."""
    import numpy as np
    lines = [f"{'scheme':<10} {'SNR':>5}  {'PSNR':>6} {'SSIM':>6} {'VSI':>6} {'key PSNR':>8}  delivered"]
    for scheme in schemes:
        for snr in snrs:
            sel = [r for r in rows if r["scheme"] == scheme and abs(r["snr_db"] - snr) < 1e-6]
            if not sel:
                continue

            def mean(key):
                values = [r[key] for r in sel if r.get(key) is not None]
                return float(np.mean(values)) if values else float("nan")
            delivered = sum(bool(r["delivered"]) for r in sel)
            lines.append(f"{scheme:<10} {snr:>5g}  {mean('psnr'):6.2f} {mean('ssim'):6.3f} {mean('vsi'):6.3f} "
                         f"{mean('key_psnr'):8.2f}  {delivered}/{len(sel)}")
    return "\n".join(lines)


def _grid(rows, images, schemes, snrs, sweep, target):
    """A picture grid: one row per image; the original, then each scheme at each SNR."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from ..bench.plots import safe_name
    from ..bench.sweep import reconstruction_path
    from ..fileio import atomic_path
    columns = [(None, None)] + [(s, snr) for s in schemes for snr in snrs]
    fig, axes = plt.subplots(len(images), len(columns), figsize=(2.2 * len(columns), 2.0 * len(images)),
                             squeeze=False)
    for i, path in enumerate(images):
        name = Path(path).name
        for j, (scheme, snr) in enumerate(columns):
            ax = axes[i][j]
            ax.axis("off")
            if scheme is None:
                picture = sweep / "images" / safe_name(Path(name).stem) / "original.png"
                title = name
            else:
                row = next((r for r in rows if r["image"] == name and r["scheme"] == scheme
                            and abs(r["snr_db"] - snr) < 1e-6 and r["seed"] == 0), None)
                if row is None:
                    continue
                picture = sweep / reconstruction_path(row)
                key = f", key {row['key_psnr']:.1f}" if row.get("key_psnr") is not None else ""
                title = f"{scheme} @ {snr:g} dB\nPSNR {row['psnr']:.1f}, VSI {row['vsi']:.3f}{key}"
            if picture.exists():
                ax.imshow(Image.open(picture))
            ax.set_title(title, fontsize=7)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return target
