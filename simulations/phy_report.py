#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every "must hold" measurement of the PHY, run through `gensemcom link`, with plots.

Sections (``--only`` picks some; results are cached as CSV in simulations/results/ and
reused unless ``--rerun``):

  uncoded   BER of bpsk/qpsk/16qam/64qam in AWGN vs the closed-form Gray curves; SNR at
            BER 1e-3 and its distance from theory
  coded     PER of every LDPC MCS in AWGN; SNR at PER 10 % and its gap to the Shannon limit
            of the MCS's spectral efficiency (target: gap <= 4 dB)
  robust    bpsk-1/2x4 around -5 dB (200 packets of 200 bytes at -5 dB)
  fading    qpsk-1/2 and 16qam-1/2 PER in awgn, rayleigh, rician, multipath
  backtoback  1000 packets of 1500 bytes at 30 dB AWGN
  txlevel   TX mean power and PAPR over 200 packets per MCS (TX flowgraph only)

Plots go to docs/img/phy_*.png, the summary to simulations/results/summary.json.

    python simulations/phy_report.py                 # everything (about an hour here)
    python simulations/phy_report.py --only uncoded robust
"""
import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from gnuradio.gensemcom.cli.link import plot_rows
from gnuradio.gensemcom.fileio import write_text_atomic
from gnuradio.gensemcom.phy.mcs import MCS_TABLE
from gnuradio.gensemcom.phy.modulation import ber_awgn, shannon_snr_db

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "simulations" / "results"
IMG = ROOT / "docs" / "img"
GAP_TARGET_DB = 4.0
UNCODED_GRID = {"bpsk": "2:9:1", "qpsk": "5:12:1", "16qam": "11:19:1", "64qam": "17:25:1"}
CODED = [m for m in MCS_TABLE.values() if m.coded and m.repetition == 1]


def link_rows(name, args, rerun):
    """Rows of `gensemcom link ... --json` (cached in results/<name>.csv)."""
    path = RESULTS / f"{name}.csv"
    if path.exists() and not rerun:
        with path.open() as f:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]
    command = [sys.executable, "-m", "gnuradio.gensemcom.cli", "link", *args, "--json",
               "--csv", str(path)]
    print("$ gensemcom link " + " ".join(args), flush=True)
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        print(f"  {row['snr_db']:6.2f} dB  per {row['per']:.3f}  ber {row['ber']:.3e}  "
              f"({row['packets_ok']}/{row['packets_sent']})", flush=True)
    return rows


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def crossing(snr, values, level):
    """SNR where ``values`` (decreasing with SNR) first falls to ``level`` (log-linear
    interpolation); None when it never does inside the grid."""
    snr, values = np.asarray(snr, float), np.asarray(values, float)
    for i in range(len(snr)):
        if values[i] <= level:
            if i == 0:
                return float(snr[0])
            lo, hi = np.log10(max(values[i - 1], 1e-9)), np.log10(max(values[i], 1e-9))
            frac = (lo - np.log10(level)) / (lo - hi) if lo != hi else 1.0
            return float(snr[i - 1] + frac * (snr[i] - snr[i - 1]))
    return None


def theory_snr_at(modulation, ber):
    return float(brentq(lambda x: np.log10(float(ber_awgn(modulation, x))) - np.log10(ber), -20, 40))


def uncoded(args):
    rows, summary = [], {}
    for mod, grid in UNCODED_GRID.items():
        part = link_rows(f"uncoded_{mod}", ["--mcs", mod, f"--sweep={grid}", "--packets",
                                            str(args.packets), "--payload-bytes", "1500",
                                            "--seed", "1"], args.rerun)
        rows += part
        snr = np.array([r["snr_db"] for r in part])
        ber = np.array([r["ber"] for r in part])
        theory = ber_awgn(mod, snr)
        # horizontal distance to the theory curve at each point, interpolated at BER 1e-3
        usable = (ber > 1e-5) & (ber < 0.05)
        shift = np.array([s - brentq(lambda x: np.log10(float(ber_awgn(mod, x))) - np.log10(b),
                                     -20, 40) for s, b in zip(snr[usable], ber[usable])])
        loss = float(np.interp(-3.0, np.log10(ber[usable])[::-1], shift[::-1]))
        # "better than theory" beyond noise: measured BER below theory by > 3 sigma
        sigma = np.sqrt(theory / np.array([max(r["bits_compared"], 1) for r in part]))
        better = [float(x) for x, b, t, sg in zip(snr, ber, theory, sigma) if b < t - 3 * sg and t > 1e-6]
        summary[mod] = {"theory_at_ber_1e-3": theory_snr_at(mod, 1e-3),
                        "loss_db_at_ber_1e-3": loss,
                        "loss_db_per_point": dict(zip(map(float, snr[usable]), np.round(shift, 3))),
                        "points_better_than_theory": better}
    plot_rows(IMG / "phy_uncoded_ber.png", rows, "Uncoded BER in AWGN (1500-byte packets)")
    return summary


def coded(args):
    rows, summary = [], {}
    for mcs in CODED:
        limit = float(shannon_snr_db(mcs.spectral_efficiency))
        target = limit + GAP_TARGET_DB
        grid = f"{round(target - 3.5, 1)}:{round(target + 0.5, 1)}:0.5"
        part = link_rows(f"coded_{mcs.name.replace('/', '')}",
                         ["--mcs", mcs.name, f"--sweep={grid}", "--packets", str(args.packets),
                          "--payload-bytes", "1500", "--seed", "2"], args.rerun)
        rows += part
        at = crossing([r["snr_db"] for r in part], [r["per"] for r in part], 0.1)
        summary[mcs.name] = {"spectral_efficiency": mcs.spectral_efficiency,
                             "shannon_db": limit, "snr_at_per_10pct": at,
                             "gap_db": None if at is None else at - limit,
                             "within_target": at is not None and at - limit <= GAP_TARGET_DB}
    plot_coded(rows, summary)
    return summary


def plot_coded(rows, summary):
    """PER curves of every LDPC MCS and each one's gap to the Shannon limit at PER 10 %."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gnuradio.gensemcom.fileio import atomic_path
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    colors = plt.get_cmap("tab20").colors
    for i, mcs in enumerate(CODED):
        sel = [r for r in rows if r["mcs"] == mcs.name]
        ax.semilogy([r["snr_db"] for r in sel], [max(r["per"], 1e-3) for r in sel], "o-",
                    color=colors[i % 20], ms=3, label=mcs.name)
        ax.axvline(summary[mcs.name]["shannon_db"], color=colors[i % 20], lw=0.6, ls=":")
    ax.axhline(0.1, color="k", lw=0.6)
    ax.set(xlabel="Es/N0 per data subcarrier (dB)", ylabel="PER", ylim=(1e-3, 1.1),
           title="PER, 1500-byte packets (dotted: Shannon limit)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    names = [m.name for m in CODED]
    gaps = [summary[n]["gap_db"] or np.nan for n in names]
    bars.barh(names, gaps, color=[colors[i % 20] for i in range(len(names))])
    bars.axvline(GAP_TARGET_DB, color="r", ls="--", label="target 4 dB")
    bars.set(xlabel="gap to Shannon at PER 10 % (dB)", title="Gap to Shannon")
    bars.invert_yaxis()
    bars.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(IMG / "phy_coded_per.png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def robust(args):
    rows = link_rows("robust_sweep", ["--mcs", "bpsk-1/2x4", "--sweep=-8:-4:1", "--packets",
                                      "100", "--payload-bytes", "200", "--seed", "3"], args.rerun)
    point = link_rows("robust_minus5", ["--mcs", "bpsk-1/2x4", "--snr", "-5", "--packets", "200",
                                        "--payload-bytes", "200", "--seed", "4"], args.rerun)[0]
    plot_rows(IMG / "phy_robust_per.png", rows, "Robust mode bpsk-1/2x4 (200-byte packets)")
    return {"per_at_minus_5_db": point["per"], "packets": point["packets_sent"],
            "snr_at_per_10pct": crossing([r["snr_db"] for r in rows], [r["per"] for r in rows], 0.1)}


def fading(args):
    rows, summary = [], {}
    for mcs, grid in (("qpsk-1/2", "0:30:3"), ("16qam-1/2", "6:33:3")):
        for channel in ("awgn", "rician", "rayleigh", "multipath"):
            part = link_rows(f"fading_{mcs.replace('/', '')}_{channel}",
                             ["--mcs", mcs, "--channel", channel, f"--sweep={grid}", "--packets",
                              str(args.packets), "--payload-bytes", "500", "--seed", "5"],
                             args.rerun)
            rows += part
            summary[f"{mcs} {channel}"] = crossing([r["snr_db"] for r in part],
                                                   [r["per"] for r in part], 0.1)
    plot_rows(IMG / "phy_fading_per.png", rows, "PER over the channel presets (500-byte packets)")
    return {"snr_at_per_10pct": summary}


def backtoback(args):
    row = link_rows("backtoback", ["--mcs", "qpsk-1/2", "--snr", "30", "--packets", "1000",
                                   "--payload-bytes", "1500", "--seed", "6"], args.rerun)[0]
    return {k: row[k] for k in ("packets_sent", "packets_ok", "per", "ber", "samples_per_s")}


def txlevel(args):
    """Mean TX power over bursts and its peaks (PAPR), measured on the TX's output."""
    from gnuradio import blocks, gr

    from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
    from gnuradio.gensemcom.phy.mcs import frame_size
    from gnuradio.gensemcom.phy.ofdm_qam_tx import ofdm_qam_tx
    out = {}
    rng = np.random.default_rng(7)
    for mcs in ("qpsk-1/2", "64qam-3/4", "bpsk-1/2x4"):
        tb = gr.top_block()
        tx = ofdm_qam_tx(mcs)
        sink = blocks.vector_sink_c()
        tb.connect(tx, sink)
        count = 200
        for seq in range(count):
            tx.post(rng.integers(0, 256, 1500, dtype=np.uint8).tobytes(), seq=seq)
        tx.post_done(filler=False)
        tb.run()
        size = frame_size(1500, mcs)
        x = np.array(sink.data())[:count * size.samples].reshape(count, size.samples)
        bursts = x[:, DEFAULT_NUMEROLOGY.gap_len:]
        power = float(np.mean(np.abs(bursts) ** 2))
        out[mcs] = {"mean_power_dbfs": 10 * np.log10(power), "max_abs": float(np.abs(x).max()),
                    "papr_max_db": 10 * np.log10(float(np.abs(x).max() ** 2) / power),
                    "papr_1e-4_db": 10 * np.log10(float(np.quantile(np.abs(bursts) ** 2, 1 - 1e-4)) / power),
                    "samples": int(bursts.size)}
    return out


SECTIONS = {"txlevel": txlevel, "uncoded": uncoded, "coded": coded, "robust": robust, "fading": fading,
            "backtoback": backtoback}


def markdown(summary):
    """The summary as the Markdown tables of docs/phy.md."""
    lines = []
    if "uncoded" in summary:
        lines += ["| modulation | theory SNR at BER 1e-3 | measured loss at BER 1e-3 "
                  "| points better than theory |", "|---|---|---|---|"]
        for mod, v in summary["uncoded"].items():
            lines.append(f"| {mod} | {v['theory_at_ber_1e-3']:.2f} dB | {v['loss_db_at_ber_1e-3']:+.2f} dB | "
                         f"{len(v['points_better_than_theory'])} |")
        lines.append("")
    if "coded" in summary:
        lines += ["| MCS | spectral efficiency | Shannon limit | SNR at PER 10 % | gap | within 4 dB |",
                  "|---|---|---|---|---|---|"]
        for name, v in summary["coded"].items():
            at = "n/a" if v["snr_at_per_10pct"] is None else f"{v['snr_at_per_10pct']:.2f} dB"
            gap = "n/a" if v["gap_db"] is None else f"{v['gap_db']:.2f} dB"
            lines.append(f"| {name} | {v['spectral_efficiency']:.3g} | {v['shannon_db']:.2f} dB | {at} | "
                         f"{gap} | {'yes' if v['within_target'] else 'NO'} |")
        lines.append("")
    if "txlevel" in summary:
        lines += ["| MCS | mean power | max abs(x) | PAPR (max) | PAPR at 1e-4 | samples |",
                  "|---|---|---|---|---|---|"]
        for name, v in summary["txlevel"].items():
            lines.append(f"| {name} | {v['mean_power_dbfs']:.2f} dBFS | {v['max_abs']:.3f} | "
                         f"{v['papr_max_db']:.1f} dB | {v['papr_1e-4_db']:.1f} dB | {v['samples']:,} |")
        lines.append("")
    if "fading" in summary:
        lines += ["| MCS, channel | SNR at PER 10 % |", "|---|---|"]
        for name, at in summary["fading"]["snr_at_per_10pct"].items():
            lines.append(f"| {name} | {'n/a' if at is None else f'{at:.1f} dB'} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--packets", type=int, default=100, help="packets per SNR point")
    parser.add_argument("--rerun", action="store_true", help="ignore cached CSVs")
    parser.add_argument("--markdown", action="store_true",
                        help="only print summary.json as the tables of docs/phy.md")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads((RESULTS / "summary.json").read_text())))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary_path = RESULTS / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for name in args.only:
        summary[name] = SECTIONS[name](args)
        write_text_atomic(summary_path, json.dumps(summary, indent=1))
        print(json.dumps({name: summary[name]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
