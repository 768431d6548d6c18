# SPDX-License-Identifier: GPL-3.0-or-later
"""report.md: the sweep at a glance, with its table, plots and example reconstructions.

Example images are the reconstructions the sweep saved (``images/<image>/...png``, seed 0
of the ``--examples`` first images), shown per channel and cpp as a grid of scheme × SNR,
with each tile's PSNR and whether it was delivered.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from ..fileio import write_text_atomic
from .schemes import is_bound
from .summary import to_markdown

THUMB_WIDTH = 150


def _rel(path, folder) -> str:
    return Path(os.path.relpath(path, folder)).as_posix()


def render_report(rows, table, folder, plots=(), errors=0, title="Benchmark report") -> str:
    folder = Path(folder)
    schemes = sorted({r["scheme"] for r in rows}, key=lambda s: (is_bound(s), s))
    lines = [f"# {title}", ""]
    lines.append(f"{len(rows)} finished tasks: {len({r['image'] for r in rows})} images × "
                 f"schemes {', '.join(schemes)} × channels "
                 f"{', '.join(sorted({r['channel'] for r in rows}))} × cpp "
                 f"{', '.join(sorted({r['cpp'] for r in rows}))} × SNR "
                 f"{', '.join(f'{s:g}' for s in sorted({r['snr_db'] for r in rows}))} dB × "
                 f"{len({r['seed'] for r in rows})} seed(s).")
    if errors:
        lines.append(f"\n**{errors} task(s) failed** and are not in the results: see errors.jsonl; "
                     "rerunning the same command retries them.")
    statuses = sorted({r["lpips_status"] for r in rows if r.get("lpips") is None and r.get("lpips_status")})
    if statuses:
        lines.append(f"\nLPIPS not computed: {statuses[0]}")
    lines += ["", "Conventions (docs/benchmarking.md): RGB uint8, data range 255; per-image metrics "
              "averaged over seeds, then over images; ± is the 95 % Student-t CI over images; a "
              "failed decode is scored as a flat mean-gray image and counted in `delivered`. "
              "Schemes marked bound are the ideal \"codec + capacity\" separation bound (no PHY).", ""]
    lines += ["## Summary", "", to_markdown(table)]
    if plots:
        lines += ["## Plots", ""]
        for path in plots:
            if str(path).endswith(".png"):
                lines.append(f"![{Path(path).stem}]({_rel(path, folder)})")
        lines.append("")
    lines += _examples(rows, folder, schemes)
    return "\n".join(lines) + "\n"


def _examples(rows, folder, schemes) -> list:
    saved = [r for r in rows if r.get("reconstruction") and (folder / r["reconstruction"]).is_file()]
    if not saved:
        return []
    lines = ["## Example reconstructions", ""]
    by_view = defaultdict(dict)
    for r in saved:
        by_view[(r["image"], r["channel"], r["cpp"])][(r["scheme"], r["snr_db"])] = r
    for (image, channel, cpp), tiles in sorted(by_view.items()):
        snrs = sorted({snr for _, snr in tiles})
        lines.append(f"### {image}, {channel}, cpp {cpp}")
        lines.append("")
        original = folder / "images" / Path(image).stem / "original.png"
        if original.is_file():
            lines.append(f'Original: <img src="{_rel(original, folder)}" width="{THUMB_WIDTH}">')
            lines.append("")
        lines.append("| scheme | " + " | ".join(f"{s:g} dB" for s in snrs) + " |")
        lines.append("|---|" + "---|" * len(snrs))
        for scheme in schemes:
            cells = []
            for snr in snrs:
                r = tiles.get((scheme, snr))
                if r is None:
                    cells.append("")
                    continue
                note = f"{r['psnr']:.1f} dB" if r.get("psnr") is not None else ""
                if not r.get("delivered"):
                    note += " (not delivered: mean gray)"
                cells.append(f'<img src="{r["reconstruction"]}" width="{THUMB_WIDTH}"><br>{note}')
            if any(cells):
                lines.append(f"| {scheme} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def write_report(rows, table, folder, plots=(), errors=0) -> Path:
    path = Path(folder) / "report.md"
    write_text_atomic(path, render_report(rows, table, folder, plots, errors))
    return path
