# SPDX-License-Identifier: GPL-3.0-or-later
"""Paired comparisons: is scheme A better than scheme B on the same images and channels?

For one (channel, cpp, SNR) and one metric, each image gives one paired difference
d_i = mean over seeds of A − mean over seeds of B (both schemes faced the same channel
realisation: ``Task.channel_seed``). Over the n images with both values:

    mean d ± t(0.975, n − 1) · s_d / √n        (paired Student t, 95 %)

The verdict is ``win`` when the interval lies entirely on the better side of zero (above for
higher-is-better metrics, below for LPIPS), ``loss`` when entirely on the worse side, ``tie``
otherwise; with fewer than two images it is ``n/a``. A mean difference alone is never a win.
"""
from __future__ import annotations

import math
from collections import defaultdict

from .summary import LABELS, t_interval

VERDICT_METRICS = ("psnr", "ssim", "vsi", "ms_ssim", "lpips", "key_psnr")


def _better_high(metric) -> bool:
    return LABELS.get(metric, (metric, "", True))[2]


def per_image_means(rows, metric, scheme) -> dict:
    """{(channel, cpp, snr_db): {image: mean of ``metric`` over seeds}} of one scheme."""
    values = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row["scheme"] != scheme:
            continue
        value = row.get(metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        values[(row["channel"], row["cpp"], float(row["snr_db"]))][row["image"]].append(float(value))
    return {key: {image: math.fsum(v) / len(v) for image, v in images.items()} for key, images in values.items()}


def verdict(mean, half, n, higher_is_better=True) -> str:
    """``win`` / ``loss`` / ``tie`` from a difference's 95 % interval (``n/a`` when n < 2)."""
    if n < 2 or math.isnan(half):
        return "n/a"
    low, high = mean - half, mean + half
    if not higher_is_better:
        low, high = -high, -low
    if low > 0:
        return "win"
    if high < 0:
        return "loss"
    return "tie"


def paired(rows, scheme, baseline, metrics=VERDICT_METRICS) -> list:
    """Rows {channel, cpp, snr_db, metric, n, mean_diff, ci95, verdict, mean_a, mean_b} of
    ``scheme`` − ``baseline`` per (channel, cpp, SNR) and metric."""
    out = []
    for metric in metrics:
        a, b = per_image_means(rows, metric, scheme), per_image_means(rows, metric, baseline)
        for key in sorted(set(a) & set(b)):
            images = sorted(set(a[key]) & set(b[key]))
            diffs = [a[key][i] - b[key][i] for i in images]
            mean, half, n = t_interval(diffs)
            out.append({"channel": key[0], "cpp": key[1], "snr_db": key[2], "metric": metric,
                        "scheme": scheme, "baseline": baseline, "n": n, "mean_diff": mean, "ci95": half,
                        "verdict": verdict(mean, half, n, _better_high(metric)),
                        "mean_a": math.fsum(a[key][i] for i in images) / n if n else math.nan,
                        "mean_b": math.fsum(b[key][i] for i in images) / n if n else math.nan})
    return out


def format_diff(entry) -> str:
    """'+0.012 ± 0.004 win' for a table cell."""
    if entry is None or math.isnan(entry["mean_diff"]):
        return "–"
    fmt = LABELS.get(entry["metric"], (entry["metric"], "{:.3g}", True))[1]
    text = ("+" if entry["mean_diff"] >= 0 else "") + fmt.format(entry["mean_diff"])
    if not math.isnan(entry["ci95"]):
        text += " ± " + fmt.format(entry["ci95"])
    marks = {"win": " **win**", "loss": " loss", "tie": " tie", "n/a": ""}
    return text + marks[entry["verdict"]]


def paired_markdown(entries, metrics=None) -> str:
    """One table: a line per (channel, SNR), a column per metric with 'Δ ± CI verdict'."""
    metrics = metrics or sorted({e["metric"] for e in entries}, key=list(VERDICT_METRICS + ("delivered",)).index)
    index = {(e["channel"], e["cpp"], e["snr_db"], e["metric"]): e for e in entries}
    keys = sorted({(e["channel"], e["cpp"], e["snr_db"]) for e in entries}, key=lambda k: (k[0], k[1], k[2]))
    header = ["channel", "cpp", "SNR (dB)", "images"] + [f"Δ {LABELS.get(m, (m,))[0]}" for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in keys:
        n = max((index[key + (m,)]["n"] for m in metrics if key + (m,) in index), default=0)
        cells = [key[0], key[1], f"{key[2]:g}", str(n)] + [format_diff(index.get(key + (m,))) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def tally(entries) -> dict:
    """{verdict: count} over entries."""
    counts = defaultdict(int)
    for e in entries:
        counts[e["verdict"]] += 1
    return dict(counts)
