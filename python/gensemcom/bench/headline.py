# SPDX-License-Identifier: GPL-3.0-or-later
"""The headline of a sweep: where does the semantic scheme win, tie or lose, and against what?

A claim is a paired difference with its interval (``paired``): per (channel, SNR) and metric,
the semantic scheme minus each baseline, over images (seeds averaged first), 95 % Student t;
``win`` only where the interval excludes zero on the better side. ``headline`` collects those
verdicts per baseline; ``ablations`` does the same for the semantic scheme against each of
its ablations (a win there is what the removed part adds). ``mean_table``/``markdown`` give
the plain means, for reading, never for verdicts.
"""
from __future__ import annotations

import math

from ..errors import BadInputError
from .paired import VERDICT_METRICS, paired, paired_markdown, tally
from .summary import summarize

HEADLINE_METRICS = ("vsi", "key_psnr", "psnr", "ssim", "delivered")


def mean_table(rows, metrics=HEADLINE_METRICS) -> dict:
    """{(scheme, channel, snr_db): {metric: mean over images or None, "images": n}} of a sweep
    at one cpp (``summary.summarize``: seeds averaged per image first)."""
    table = {}
    for entry in summarize(rows, metrics):
        key = (entry["scheme"], entry["channel"], float(entry["snr_db"]))
        if key in table:
            raise BadInputError("headline: the sweep holds several cpp values; give it the rows of one")
        table[key] = {m: None if math.isnan(entry[m]) else entry[m] for m in metrics}
        table[key]["images"] = entry["images"]
    return table


def headline(rows, scheme="semantic", baselines=("av1", "webp", "jpeg", "roi-av1"), metrics=VERDICT_METRICS) -> dict:
    """{baseline: {"entries": [paired rows], "tally": {verdict: n}}} for the baselines in ``rows``."""
    present = {r["scheme"] for r in rows}
    out = {}
    for baseline in baselines:
        if baseline in present and scheme in present:
            entries = [e for e in paired(rows, scheme, baseline, metrics) if e["n"] > 0]
            out[baseline] = {"entries": entries, "tally": tally(entries)}
    return out


def ablations(rows, scheme="semantic", metrics=VERDICT_METRICS) -> dict:
    """``headline`` of ``scheme`` against its ablations (``constants.SEMANTIC_ABLATIONS``) present."""
    from ..constants import SEMANTIC_ABLATIONS
    return headline(rows, scheme, SEMANTIC_ABLATIONS, metrics)


def verdict_markdown(result, title="semantic − {baseline}") -> str:
    """One paired table per baseline of a ``headline`` result."""
    parts = []
    for baseline, entry in result.items():
        counts = ", ".join(f"{n} {v}" for v, n in sorted(entry["tally"].items()))
        parts.append(f"\n**{title.format(baseline=baseline)}** ({counts})\n\n" + paired_markdown(entry["entries"]))
    return "".join(parts)


def markdown(rows, schemes, channel_order=("awgn", "rayleigh"), metrics=HEADLINE_METRICS) -> str:
    """One table per channel: SNR rows, a column per scheme with its means of ``metrics``."""
    table = mean_table(rows)
    names = {"vsi": "VSI", "key_psnr": "key PSNR", "psnr": "PSNR", "ssim": "SSIM", "delivered": "delivered"}
    formats = {"vsi": "{:.3f}", "key_psnr": "{:.2f}", "psnr": "{:.2f}", "ssim": "{:.3f}", "delivered": "{:.2f}"}
    lines = []
    channels = [c for c in channel_order if any(k[1] == c for k in table)]
    for channel in channels:
        present = [s for s in schemes if any(k[0] == s and k[1] == channel for k in table)]
        lines += [f"\n**{channel}** — " + " / ".join(names[m] for m in metrics), "",
                  "| SNR (dB) | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
        for snr in sorted({k[2] for k in table if k[1] == channel}):
            cells = []
            for scheme in present:
                entry = table.get((scheme, channel, snr))
                cells.append("–" if entry is None else " / ".join(
                    "–" if entry.get(m) is None else formats[m].format(entry[m]) for m in metrics))
            lines.append(f"| {snr:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
