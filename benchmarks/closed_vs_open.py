#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Closed loop against open loop, paired, from one benchmark folder (docs/adaptation.md).

A sweep run twice into the same folder, once with ``--feedback none`` and once with
``--feedback MODE``, holds each scheme as SCHEME (open loop) and SCHEME~MODE (closed loop) on
the same images, channel realisations (the channel seed excludes the scheme and the mode), SNRs
and budgets. Per scheme, channel, cpp and SNR this prints the paired difference closed − open
over images (mean ± 95 % Student-t interval; a win only where the interval excludes zero) of:
delivered (the decoder produced an image), key-region PSNR (images where both have one), VSI
and PSNR, and the channel time each used (samples on the air, feedback and repeats included,
as a share of the image's sample budget: equal channel time means both stay within 1.0).

    gensemcom bench --images IMGS --schemes semantic,av1 --snr 0,5,10 --channel multipath+walking-shadowed \\
        --cpp 1/48 --feedback none --out out/closed
    gensemcom bench ... --feedback ack --out out/closed
    python benchmarks/closed_vs_open.py out/closed --json out/closed/closed_vs_open.json --figure closed.png
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

METRICS = (("delivered", "{:+.2f}"), ("key_psnr", "{:+.2f}"), ("vsi", "{:+.4f}"), ("psnr", "{:+.2f}"))


def _number(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def pairs(rows):
    """{(scheme, mode, channel, cpp, snr): [(open row, closed row)]} matched on image and seed."""
    open_rows = {(r["scheme"], r["channel"], r["cpp"], r["snr_db"], r["image"], r["seed"]): r
                 for r in rows if "~" not in r["scheme"]}
    out = defaultdict(list)
    for row in rows:
        scheme, _, mode = row["scheme"].partition("~")
        if not mode:
            continue
        other = open_rows.get((scheme, row["channel"], row["cpp"], row["snr_db"], row["image"], row["seed"]))
        if other is not None:
            out[scheme, mode, row["channel"], row["cpp"], row["snr_db"]].append((other, row))
    return dict(sorted(out.items()))


def summarise(matched):
    """{metric: (mean, half, n)} of closed − open, and the channel-time shares of both."""
    from gnuradio.gensemcom.bench.summary import t_interval
    out = {}
    for metric, _ in METRICS:
        diffs = []
        for a, b in matched:
            x, y = _number(a.get(metric)), _number(b.get(metric))
            if x is not None and y is not None:
                diffs.append(y - x)
        out[metric] = t_interval(diffs)
    for label, index in (("open_time", 0), ("closed_time", 1)):
        shares = [_number(p[index].get("samples_used")) / _number(p[index].get("samples_budget"))
                  for p in matched if _number(p[index].get("samples_budget"))]
        out[label] = t_interval(shares)
    return out


def cell(entry, fmt):
    mean, half, n = entry
    if n == 0:
        return "–"
    text = fmt.format(mean) + ("" if math.isnan(half) else " ± " + fmt.format(half)[1:])
    return f"**{text}**" if not math.isnan(half) and abs(mean) > half else text


def figure(report, path):
    """Closed − open against SNR with 95 % intervals: one panel per metric (PSNR, VSI, key PSNR,
    delivered), a line per scheme and feedback mode; filled markers where the interval excludes 0."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = (("psnr", "Δ PSNR (dB)"), ("vsi", "Δ VSI"), ("key_psnr", "Δ key-region PSNR (dB)"),
              ("delivered", "Δ delivered (share)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4))
    lines = sorted({(r["scheme"], r["feedback"], r["channel"], r["cpp"]) for r in report})
    for ax, (metric, label) in zip(axes, panels):
        for index, key in enumerate(lines):
            rows = sorted((r for r in report if (r["scheme"], r["feedback"], r["channel"], r["cpp"]) == key),
                          key=lambda r: r["snr_db"])
            points = [(r["snr_db"] + 0.25 * (index - len(lines) / 2), *r[metric][:2]) for r in rows if r[metric][2]]
            if not points:
                continue
            x, mean, half = zip(*points)
            half = [0.0 if math.isnan(h) else h for h in half]
            bar = ax.errorbar(x, mean, yerr=half, capsize=3, marker="o", mfc="none", label=f"{key[0]} {key[1]}")
            wins = [(xi, m) for xi, m, h in zip(x, mean, half) if h and abs(m) > h]
            if wins:
                ax.plot(*zip(*wins), "o", color=bar[0].get_color())
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_xlabel("mean SNR (dB)")
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.suptitle("closed − open loop at equal channel time, paired, 95 % intervals", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="benchmark folder holding both the open and the closed runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--figure", type=Path, default=None, help="also plot the differences against SNR here (PNG)")
    args = parser.parse_args(argv)
    from gnuradio.gensemcom.bench.store import read_results
    if not (args.folder / "results.csv").is_file():
        print(f"closed_vs_open: no results.csv in {args.folder}", file=sys.stderr)
        return 2
    matched = pairs(read_results(args.folder))
    if not matched:
        print(f"closed_vs_open: {args.folder} has no SCHEME~MODE rows with open-loop partners", file=sys.stderr)
        return 2
    print("| scheme | feedback | channel | cpp | SNR (dB) | images | Δ delivered | Δ key PSNR (dB) | Δ VSI | "
          "Δ PSNR (dB) | channel time open / closed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    report = []
    for (scheme, mode, channel, cpp, snr), rows in matched.items():
        numbers = summarise(rows)
        times = f"{numbers['open_time'][0]:.2f} / {numbers['closed_time'][0]:.2f}"
        print(f"| {scheme} | {mode} | {channel} | {cpp} | {snr:g} | {len(rows)} | "
              + " | ".join(cell(numbers[m], fmt) for m, fmt in METRICS) + f" | {times} |")
        report.append({"scheme": scheme, "feedback": mode, "channel": channel, "cpp": cpp, "snr_db": snr,
                       "images": len(rows), **{k: list(v) for k, v in numbers.items()}})
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.figure:
        figure(report, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
