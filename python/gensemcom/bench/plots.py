# SPDX-License-Identifier: GPL-3.0-or-later
"""Plots of each metric vs SNR, one panel per channel, one figure per metric and cpp.

Lines are summary means with 95 % CI error bars. Ideal bounds (schemes registered with
``bound=True``, e.g. ``av1+capacity``) are drawn dashed in every panel where the sweep
has them, so each curve can be read against what an ideal channel code would give.
Written as PNG and PDF: ``plots/<metric>_cpp<1-48>.{png,pdf}``.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..fileio import atomic_path
from .schemes import is_bound
from .summary import LABELS, metrics_with_data

PLOT_METRICS = ("psnr", "ssim", "ms_ssim", "vsi", "key_psnr", "key_ssim", "lpips",
                "top5_overlap", "caption_similarity", "prompt_similarity", "delivered")


def safe_name(text: str) -> str:
    """A file-name-safe form of a scheme, cpp or image name (``1/48`` -> ``1-48``)."""
    return "".join(c if c.isalnum() or c in "._+@-" else "-" for c in str(text))


def _series(table, scheme, channel, cpp, metric):
    points = sorted((e["snr_db"], e[metric], e[f"{metric}_ci95"]) for e in table
                    if e["scheme"] == scheme and e["channel"] == channel and e["cpp"] == cpp
                    and e[f"{metric}_n"])
    return ([p[0] for p in points], [p[1] for p in points],
            [0.0 if math.isnan(p[2]) else p[2] for p in points])


def plot_metric(table, metric, cpp, path_stem) -> list:
    """Draw one figure (a panel per channel); returns the files written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [e for e in table if e["cpp"] == cpp]
    channels = sorted({e["channel"] for e in rows})
    schemes = sorted({e["scheme"] for e in rows}, key=lambda s: (is_bound(s), s))
    colors = {s: plt.cm.tab10(i % 10) for i, s in enumerate(schemes)}
    label, _, higher_better = LABELS.get(metric, (metric, "", True))
    fig, axes = plt.subplots(1, len(channels), figsize=(5.2 * len(channels), 4.0), squeeze=False,
                             sharey=True)
    snr_values = sorted({e["snr_db"] for e in rows})
    step = min((b - a for a, b in zip(snr_values, snr_values[1:])), default=1.0)
    for ax, channel in zip(axes[0], channels):
        has_bound = False
        for index, scheme in enumerate(schemes):
            snrs, means, halves = _series(rows, scheme, channel, cpp, metric)
            if not snrs:
                continue
            bound = is_bound(scheme)
            has_bound |= bound
            # Spread the schemes a little along x so that their error bars do not overlap.
            dodge = (index - (len(schemes) - 1) / 2) * 0.06 * step
            ax.errorbar([x + dodge for x in snrs], means, yerr=halves,
                        label=f"{scheme} (ideal bound)" if bound else scheme, color=colors[scheme],
                        linestyle="--" if bound else "-", marker=None if bound else "o",
                        markersize=4, capsize=3, linewidth=1.4)
        if not has_bound:
            ax.text(0.5, 0.02, "no ideal bound in these results", transform=ax.transAxes,
                    ha="center", fontsize=8, color="gray")
        ax.set_title(f"{channel}, cpp {cpp}")
        ax.set_xlabel("SNR (dB)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="lower right" if higher_better else "upper right")
    axes[0][0].set_ylabel(label + ("" if higher_better else " (lower is better)"))
    fig.tight_layout()
    written = []
    for suffix in (".png", ".pdf"):
        target = Path(str(path_stem) + suffix)
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=120, metadata={"CreationDate": None} if suffix == ".pdf" else None)
        written.append(target)
    plt.close(fig)
    return written


def write_plots(table, folder, metrics=PLOT_METRICS) -> list:
    """All plots of ``table`` into ``folder``/plots/; returns the files written (PNG, PDF)."""
    plots = Path(folder) / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    written = []
    for cpp in sorted({e["cpp"] for e in table}):
        sub = [e for e in table if e["cpp"] == cpp]
        for metric in metrics_with_data(sub, metrics):
            written += plot_metric(sub, metric, cpp, plots / f"{metric}_cpp{safe_name(cpp)}")
    return written
