"""The headline checks of a sweep: does the semantic scheme do what it claims?

``headline(rows, ...)`` reads the rows of a sweep (``read_results``) and answers, per channel:

  low_snr       at every SNR <= ``low_snr_db``, the scheme's mean VSI and mean key-region PSNR
                are above those of every real separation baseline (``real``: codec + LDPC at
                the best MCS for the SNR);
  fixed_mcs     at every SNR, both means are above those of the fixed-MCS baseline (``fixed``);
  no_cliff      every row of the scheme holds a scored full-size image, and its mean PSNR never falls
                by more than ``cliff_db`` from one SNR to the next lower one (a cliff is the
                drop of a separation scheme whose packets stop arriving);
  split_kept    every row of the scheme reports a key-area fraction > 0 and a prompt size.

Means are over images (failed decodes score as the flat grey image, like every scheme). A
check whose metric is missing for a compared scheme is ``None`` (not computable), never true.
"""
from __future__ import annotations

import math

from ..errors import BadInputError
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


def _beats(mine, theirs, metric):
    if mine is None or theirs is None or mine.get(metric) is None or theirs.get(metric) is None:
        return None
    return mine[metric] > theirs[metric]


def _all(values):
    values = list(values)
    if any(v is None for v in values) or not values:
        return None
    return all(values)


def headline(rows, scheme="semantic", real=("jpeg", "avif"), fixed="jpeg@qpsk-1/2", low_snr_db=5.0,
             cliff_db=3.0) -> dict:
    """The checks above as {channel: {check: True/False/None, ...details}}."""
    table = mean_table(rows)
    channels = sorted({c for s, c, _ in table if s == scheme})
    out = {}
    for channel in channels:
        snrs = sorted(snr for s, c, snr in table if s == scheme and c == channel)
        mine = {snr: table[(scheme, channel, snr)] for snr in snrs}
        low = [snr for snr in snrs if snr <= low_snr_db]
        low_checks = {f"{snr:g} dB vs {other}, {metric}": _beats(mine[snr], table.get((other, channel, snr)), metric)
                      for snr in low for other in real for metric in ("vsi", "key_psnr")}
        fixed_checks = {f"{snr:g} dB, {metric}": _beats(mine[snr], table.get((fixed, channel, snr)), metric)
                        for snr in snrs for metric in ("vsi", "key_psnr")} if fixed else {}
        scheme_rows = [r for r in rows if r["scheme"] == scheme and r["channel"] == channel]
        # a row is scored only when its image has the original's size (metrics refuse others)
        full_size = all(r.get("psnr") is not None for r in scheme_rows)
        drops = [mine[a]["psnr"] - mine[b]["psnr"] for a, b in zip(snrs[1:], snrs[:-1])
                 if mine[a]["psnr"] is not None and mine[b]["psnr"] is not None]
        largest_drop = max(drops) if drops else None
        split = [r for r in scheme_rows if not (r.get("key_fraction") or 0) > 0 or r.get("prompt_bytes") is None]
        out[channel] = {
            "low_snr": _all(low_checks.values()), "low_snr_detail": low_checks,
            "fixed_mcs": _all(fixed_checks.values()) if fixed else None, "fixed_mcs_detail": fixed_checks,
            "no_cliff": bool(full_size and largest_drop is not None and largest_drop <= cliff_db),
            "largest_psnr_drop_db": largest_drop, "full_size_rows": full_size,
            "split_kept": not split, "rows_without_split": [(r["image"], r["snr_db"]) for r in split],
        }
    return out


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
