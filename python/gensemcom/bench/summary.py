# SPDX-License-Identifier: GPL-3.0-or-later
"""Summary table: mean and 95 % confidence interval per scheme × channel × cpp × SNR.

Averaging: per image first (mean over its seeds), then across images; n is the number of
images with a value. The 95 % CI is Student's t-interval over those per-image means:
mean ± t(0.975, n − 1) · s / √n with s the sample standard deviation (ddof = 1); with one
image there is no interval (empty). ``delivered`` is averaged the same way, so it is the
fraction of tasks that delivered an image.
"""
from __future__ import annotations

import csv
import io
import math
from collections import defaultdict

from ..fileio import write_text_atomic

GROUP = ("scheme", "channel", "cpp", "snr_db")
SUMMARY_METRICS = ("delivered", "psnr", "ssim", "ms_ssim", "vsi", "lpips", "key_psnr", "key_ssim",
                   "top5_overlap", "caption_similarity", "prompt_similarity", "bytes",
                   "key_fraction", "prompt_bytes")
# name in tables and plots: (label, format, higher is better)
LABELS = {
    "delivered": ("delivered", "{:.2f}", True),
    "psnr": ("PSNR (dB)", "{:.2f}", True),
    "ssim": ("SSIM", "{:.3f}", True),
    "ms_ssim": ("MS-SSIM", "{:.3f}", True),
    "vsi": ("VSI", "{:.3f}", True),
    "lpips": ("LPIPS", "{:.3f}", False),
    "key_psnr": ("key-region PSNR (dB)", "{:.2f}", True),
    "key_ssim": ("key-region SSIM", "{:.3f}", True),
    "top5_overlap": ("top-5 class overlap", "{:.2f}", True),
    "caption_similarity": ("caption similarity", "{:.3f}", True),
    "prompt_similarity": ("prompt similarity", "{:.3f}", True),
    "bytes": ("bytes", "{:.0f}", True),
    "key_fraction": ("key fraction", "{:.3f}", True),
    "prompt_bytes": ("prompt bytes", "{:.0f}", True),
}


def t_interval(values, confidence=0.95):
    """(mean, half-width, n) of the Student-t interval; half-width NaN when n < 2."""
    values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    mean = math.fsum(values) / n
    if n < 2:
        return mean, math.nan, n
    from scipy.stats import t
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, float(t.ppf(0.5 + confidence / 2, n - 1) * math.sqrt(variance / n)), n


def _cpp_value(text):
    from fractions import Fraction
    return float(Fraction(text))


def summarize(rows, metrics=SUMMARY_METRICS) -> list:
    """Summary rows (dicts): the GROUP fields, images, tasks, and per metric
    ``<m>`` (mean), ``<m>_ci95`` (half-width) and ``<m>_n`` (images with a value)."""
    groups = defaultdict(lambda: defaultdict(list))  # group -> image -> rows
    for row in rows:
        groups[tuple(row[g] for g in GROUP)][row["image"]].append(row)
    table = []
    for key in sorted(groups, key=lambda k: (k[1], _cpp_value(k[2]), k[0], k[3])):
        per_image = groups[key]
        entry = dict(zip(GROUP, key))
        entry["images"] = len(per_image)
        entry["tasks"] = sum(len(v) for v in per_image.values())
        for metric in metrics:
            image_means = []
            for image_rows in per_image.values():
                values = [r.get(metric) for r in image_rows]
                values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
                if values:
                    image_means.append(math.fsum(values) / len(values))
            mean, half, n = t_interval(image_means)
            entry[metric], entry[f"{metric}_ci95"], entry[f"{metric}_n"] = mean, half, n
        table.append(entry)
    return table


def summary_columns(metrics=SUMMARY_METRICS) -> list:
    columns = list(GROUP) + ["images", "tasks"]
    for metric in metrics:
        columns += [metric, f"{metric}_ci95", f"{metric}_n"]
    return columns


def to_csv(table, metrics=SUMMARY_METRICS) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    columns = summary_columns(metrics)
    writer.writerow(columns)
    for entry in table:
        writer.writerow("" if isinstance(entry.get(c), float) and math.isnan(entry[c])
                        else (repr(entry[c]) if isinstance(entry.get(c), float) else entry.get(c))
                        for c in columns)
    return buf.getvalue()


def metrics_with_data(table, metrics=SUMMARY_METRICS) -> list:
    return [m for m in metrics if any(entry.get(f"{m}_n") for entry in table)]


def format_cell(entry, metric) -> str:
    mean, half = entry.get(metric), entry.get(f"{metric}_ci95")
    if mean is None or math.isnan(mean):
        return "–"
    fmt = LABELS.get(metric, (metric, "{:.3g}", True))[1]
    text = fmt.format(mean)
    if half is not None and not math.isnan(half):
        text += " ± " + fmt.format(half)
    return text


def to_markdown(table, metrics=None) -> str:
    """A Markdown table: one line per group, "mean ± CI" cells, metrics that have data."""
    metrics = metrics or metrics_with_data(table)
    header = ["scheme", "channel", "cpp", "SNR (dB)", "images"] + [LABELS.get(m, (m,))[0] for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in table:
        cells = [entry["scheme"], entry["channel"], entry["cpp"], f"{entry['snr_db']:g}",
                 str(entry["images"])] + [format_cell(entry, m) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(rows, folder) -> dict:
    """Write summary.csv and summary.md into ``folder``; returns the table and paths."""
    from pathlib import Path
    folder = Path(folder)
    table = summarize(rows)
    write_text_atomic(folder / "summary.csv", to_csv(table))
    markdown = ("# Summary\n\nMean ± 95 % CI (Student t over per-image means; seeds averaged per "
                "image first).\n\n" + to_markdown(table))
    write_text_atomic(folder / "summary.md", markdown)
    return {"table": table, "csv": folder / "summary.csv", "markdown": folder / "summary.md"}
