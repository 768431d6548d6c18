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
  fading    qpsk-1/2 and 16qam-1/2 PER in awgn, rayleigh, rician, multipath (blocks of the
            stream, as benchmarks meet them, and one draw per packet)
  backtoback  1000 packets of 1500 bytes at 30 dB AWGN
  impairments qpsk-1/2 and 16qam-3/4 PER in AWGN with each radio impairment alone at its
            preset value, and the combined b200-indoor preset; SNR at PER 10 % against AWGN
            (targets: 1 dB alone, 2 dB combined)
  doppler   qpsk-1/2 PER of walking-nlos and vehicular (Jakes Doppler) against the same
            channel held constant over each packet, and flat Rayleigh; the coherence time
  txlevel   TX mean power and PAPR over 200 packets per MCS (TX flowgraph only)

Plots go to docs/img/phy_*.png, the summary to simulations/results/summary.json.

    python simulations/phy_report.py                 # everything (about an hour here)
    python simulations/phy_report.py --only uncoded robust
    python simulations/phy_report.py --only impairments doppler --jobs 2
"""
import argparse
import csv
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from gnuradio.gensemcom.cli.link import plot_rows
from gnuradio.gensemcom.fileio import write_text_atomic
from gnuradio.gensemcom.phy.impairments import IMPAIRMENT_PRESETS
from gnuradio.gensemcom.phy.mcs import MCS_TABLE, frame_size
from gnuradio.gensemcom.phy.modulation import ber_awgn, shannon_snr_db

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "simulations" / "results"
IMG = ROOT / "docs" / "img"
GAP_TARGET_DB = 4.0
UNCODED_GRID = {"bpsk": "2:9:1", "qpsk": "5:12:1", "16qam": "11:19:1", "64qam": "17:25:1"}
CODED = [m for m in MCS_TABLE.values() if m.coded and m.repetition == 1]
IMPAIRMENT_TARGET_DB = {"alone": 1.0, "combined": 2.0}
IMPAIRMENT_GRIDS = {"qpsk-1/2": "0:6:0.5", "16qam-3/4": "9:15:0.5"}
DOPPLER_GRID = "0:36:3"


def link_rows(name, args, rerun):
    """Rows of `gensemcom link ... --json` (cached in results/<name>.csv)."""
    path = RESULTS / f"{name}.csv"
    if path.exists() and not rerun:
        with path.open() as f:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]
    command = [sys.executable, "-m", "gnuradio.gensemcom.cli", "link", *args, "--json",
               "--csv", str(path)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    lines = ["$ gensemcom link " + " ".join(args)]    # printed at once: --jobs runs several
    lines += [f"  {row['snr_db']:6.2f} dB  per {row['per']:.3f}  ber {row['ber']:.3e}  "
              f"({row['packets_ok']}/{row['packets_sent']})" for row in rows]
    print("\n".join(lines), flush=True)
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


def _save(fig, name):
    """Lay out, write docs/img/<name> atomically, close."""
    import matplotlib.pyplot as plt

    from gnuradio.gensemcom.fileio import atomic_path
    fig.tight_layout()
    with atomic_path(IMG / name) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def plot_coded(rows, summary):
    """PER curves of every LDPC MCS and each one's gap to the Shannon limit at PER 10 %."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    _save(fig, "phy_coded_per.png")


def robust(args):
    rows = link_rows("robust_sweep", ["--mcs", "bpsk-1/2x4", "--sweep=-8:-4:1", "--packets",
                                      "100", "--payload-bytes", "200", "--seed", "3"], args.rerun)
    point = link_rows("robust_minus5", ["--mcs", "bpsk-1/2x4", "--snr", "-5", "--packets", "200",
                                        "--payload-bytes", "200", "--seed", "4"], args.rerun)[0]
    plot_rows(IMG / "phy_robust_per.png", rows, "Robust mode bpsk-1/2x4 (200-byte packets)")
    return {"per_at_minus_5_db": point["per"], "packets": point["packets_sent"],
            "snr_at_per_10pct": crossing([r["snr_db"] for r in rows], [r["per"] for r in rows], 0.1)}


def fading(args):
    """PER over the channel presets as a benchmark meets them (new gains every
    ``coherence_samples`` of the stream, so a packet may straddle a jump) and, for the fading
    ones, with one draw per packet (``--coherence-samples 0``, the textbook block-fading curve)."""
    cases = [(mcs, grid, channel, per_packet) for mcs, grid in (("qpsk-1/2", "0:30:3"), ("16qam-1/2", "6:33:3"))
             for channel in ("awgn", "rician", "rayleigh", "multipath")
             for per_packet in ((False, True) if channel != "awgn" else (False,))]
    jobs = [(f"fading_{mcs.replace('/', '')}_{channel}" + ("_per_packet" if per_packet else ""),
             ["--mcs", mcs, "--channel", channel, f"--sweep={grid}", "--packets", str(args.packets),
              "--payload-bytes", "500", "--seed", "5", *(["--coherence-samples", "0"] if per_packet else [])])
            for mcs, grid, channel, per_packet in cases]
    rows, summary = {False: [], True: []}, {}      # by per_packet
    for (mcs, _, channel, per_packet), part in zip(cases, _run_all(jobs, args)):
        label = f"{channel}, per packet" if per_packet else channel
        rows[per_packet] += [dict(row, channel=label) for row in part]
        summary[f"{mcs} {label}"] = crossing([r["snr_db"] for r in part], [r["per"] for r in part], 0.1)
    plot_rows(IMG / "phy_fading_per.png", rows[False],
              "PER over the channel presets (500-byte packets; new gains every coherence_samples)")
    plot_rows(IMG / "phy_fading_per_packet.png", rows[True],
              "PER over the fading presets with one draw per packet (500-byte packets)")
    return {"snr_at_per_10pct": summary}


def backtoback(args):
    row = link_rows("backtoback", ["--mcs", "qpsk-1/2", "--snr", "30", "--packets", "1000",
                                   "--payload-bytes", "1500", "--seed", "6"], args.rerun)[0]
    return {k: row[k] for k in ("packets_sent", "packets_ok", "per", "ber", "samples_per_s")}


def txlevel(args):
    """Mean TX power over bursts and its peaks (PAPR), measured on the TX's output."""
    from gnuradio import blocks, gr

    from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
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


def impairment_cases():
    """(label, kind, link options): each impairment of b200-indoor alone at its preset value
    (the clock offset at +-20 ppm, the CFO at 0.3 spacings, as the targets name them), then
    the whole preset. A clock offset alone keeps the carrier: ``carrier_hz`` 0."""
    b200 = IMPAIRMENT_PRESETS["b200-indoor"][0]
    return (("awgn", "reference", []),
            ("clock +20 ppm", "alone", ["--sro-ppm", "20"]),
            ("clock -20 ppm", "alone", ["--sro-ppm=-20"]),
            ("CFO 0.3 spacings", "alone", ["--cfo", "0.3"]),
            (f"phase noise {b200['phase_noise_dbc_hz']:g} dBc/Hz", "alone",
             ["--phase-noise-dbc=%g" % b200["phase_noise_dbc_hz"],
              "--phase-noise-offset-hz", "%g" % b200["phase_noise_offset_hz"],
              "--phase-noise-corner-hz", "%g" % b200["phase_noise_corner_hz"]]),
            (f"IQ {b200['iq_imbalance_db']:g} dB / {b200['iq_phase_deg']:g} deg", "alone",
             ["--iq-imbalance-db", "%g" % b200["iq_imbalance_db"], "--iq-phase-deg", "%g" % b200["iq_phase_deg"]]),
            (f"DC {b200['dc_offset_dbc']:g} dBc", "alone", ["--dc-offset-dbc=%g" % b200["dc_offset_dbc"]]),
            ("b200-indoor", "combined", ["--impairments", "b200-indoor"]))


def _slug(text):
    """A file name of a label: "clock +20 ppm" -> clock_p20_ppm, "-20" -> m20."""
    text = re.sub(r"-(?=\d)", "m", re.sub(r"\+(?=\d)", "p", text))
    return "_".join("".join(c if c.isalnum() else " " for c in text).lower().split())


def _run_all(jobs, args):
    """link_rows of every (name, options) in ``jobs``, ``args.jobs`` processes at a time."""
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        return list(pool.map(lambda job: link_rows(job[0], job[1], args.rerun), jobs))


def impairments(args):
    cases = impairment_cases()
    jobs = [(f"impair_{mcs.replace('/', '')}_{_slug(label)}",
             ["--mcs", mcs, f"--sweep={grid}", "--packets", str(args.packets), "--payload-bytes", "1500",
              "--seed", "8", *options])
            for mcs, grid in IMPAIRMENT_GRIDS.items() for label, _, options in cases]
    results = iter(_run_all(jobs, args))
    summary = {}
    for mcs in IMPAIRMENT_GRIDS:
        curves = {label: next(results) for label, _, _ in cases}
        at = {label: crossing([r["snr_db"] for r in rows], [r["per"] for r in rows], 0.1)
              for label, rows in curves.items()}
        reference = at["awgn"]
        for label, kind, _ in cases:
            loss = None if at[label] is None or reference is None else at[label] - reference
            summary[f"{mcs} | {label}"] = {
                "mcs": mcs, "impairment": label, "kind": kind, "snr_at_per_10pct": at[label], "loss_db": loss,
                "target_db": IMPAIRMENT_TARGET_DB.get(kind),
                "within_target": None if kind == "reference" else loss is not None
                and loss <= IMPAIRMENT_TARGET_DB[kind]}
        summary[f"{mcs} | curves"] = curves
    plot_impairments(summary, cases)
    return {k: v for k, v in summary.items() if not k.endswith("| curves")}


def plot_impairments(summary, cases):
    """PER curves per MCS, one line per impairment, and each one's SNR loss at PER 10 %."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(IMPAIRMENT_GRIDS) + 1, figsize=(15, 4.5))
    colors = plt.get_cmap("tab10").colors
    for ax, mcs in zip(axes, IMPAIRMENT_GRIDS):
        for i, (label, _, _) in enumerate(cases):
            rows = summary[f"{mcs} | curves"][label]
            ax.semilogy([r["snr_db"] for r in rows], [max(r["per"], 1e-3) for r in rows], "o-" if i else "-",
                        color=colors[i % 10] if i else "k", ms=3, lw=1.8 if not i else 1, label=label)
        ax.axhline(0.1, color="grey", lw=0.6)
        ax.set(xlabel="Es/N0 per data subcarrier (dB)", ylabel="PER", ylim=(1e-3, 1.1),
               title=f"{mcs}, 1500-byte packets")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    bars = axes[-1]
    labels = [label for label, kind, _ in cases if kind != "reference"]
    width = 0.8 / len(IMPAIRMENT_GRIDS)
    for j, mcs in enumerate(IMPAIRMENT_GRIDS):
        losses = [summary[f"{mcs} | {label}"]["loss_db"] for label in labels]
        y = np.arange(len(labels)) + j * width
        bars.barh(y, [np.nan if v is None else v for v in losses], height=width, label=mcs)
        for yy, v in zip(y, losses):
            if v is None:
                bars.text(0, yy, " beyond the grid", va="center", fontsize=7, color="r")
    bars.set_yticks(np.arange(len(labels)) + width / 2, labels, fontsize=8)
    bars.axvline(IMPAIRMENT_TARGET_DB["alone"], color="r", ls="--", lw=0.8, label="target alone 1 dB")
    bars.axvline(IMPAIRMENT_TARGET_DB["combined"], color="m", ls=":", lw=0.8, label="target combined 2 dB")
    bars.set(xlabel="SNR at PER 10 % minus AWGN's (dB)", title="Loss to each impairment")
    bars.invert_yaxis()
    bars.legend(fontsize=7)
    _save(fig, "phy_impairments_per.png")


DOPPLER_PAYLOAD_BYTES = 1500
SHORT_PAYLOAD_BYTES = 300


def doppler_cases():
    """(label, role, preset, link options, payload bytes) of the Doppler comparison: flat
    Rayleigh ("reference"); each Doppler preset with its channel held constant over each packet
    ("static": ``--doppler-hz 0 --coherence-samples 0``, one draw per packet), then fading
    continuously at its Doppler ("moving"); vehicular also with short packets ("short": a
    packet against the coherence time)."""
    cases = [("flat rayleigh, per packet", "reference", None, ["--channel", "rayleigh", "--coherence-samples", "0"],
              DOPPLER_PAYLOAD_BYTES)]
    for preset in ("walking-nlos", "vehicular"):
        hz = IMPAIRMENT_PRESETS[preset][0]["doppler_hz"]
        static = ["--impairments", preset, "--doppler-hz", "0", "--coherence-samples", "0"]
        cases.append((f"{preset}, static per packet", "static", preset, static, DOPPLER_PAYLOAD_BYTES))
        cases.append((f"{preset}, {hz:g} Hz Doppler", "moving", preset, ["--impairments", preset],
                      DOPPLER_PAYLOAD_BYTES))
    hz = IMPAIRMENT_PRESETS["vehicular"][0]["doppler_hz"]
    cases.append((f"vehicular, {hz:g} Hz Doppler, {SHORT_PAYLOAD_BYTES}-byte packets", "short", "vehicular",
                  ["--impairments", "vehicular"], SHORT_PAYLOAD_BYTES))
    return cases


def coherence_theory(doppler_hz, packet_s, symbol_s):
    """What the coherence time predicts for a packet of ``packet_s`` seconds at a Doppler of
    ``doppler_hz`` (Clarke/Jakes): T_c = 9 / (16 pi fD); the correlation J0(2 pi fD T) of the
    channel between a packet's start and end (what an equaliser fixed at the preamble meets);
    the signal-to-ICI ratio of OFDM symbols of ``symbol_s`` seconds, 3 / (pi fD T_sym)^2 (the
    floor that remains however well the receiver tracks)."""
    from scipy.special import j0
    coherence_s = 9 / (16 * np.pi * doppler_hz)
    return {"doppler_hz": doppler_hz, "coherence_ms": 1e3 * coherence_s, "packet_ms": 1e3 * packet_s,
            "packet_over_coherence": packet_s / coherence_s,
            "correlation_over_packet": float(j0(2 * np.pi * doppler_hz * packet_s)),
            "sir_ici_db": float(10 * np.log10(3 / (np.pi * doppler_hz * symbol_s) ** 2))}


def doppler(args):
    from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
    cases = doppler_cases()
    jobs = [(f"doppler_qpsk-12_{_slug(label)}",
             ["--mcs", "qpsk-1/2", f"--sweep={DOPPLER_GRID}", "--packets", str(args.packets), "--payload-bytes",
              str(payload), "--seed", "9", "--timeout", "900", *options]) for label, _, _, options, payload in cases]
    curves = dict(zip([label for label, *_ in cases], _run_all(jobs, args)))
    at = {label: crossing([r["snr_db"] for r in rows], [r["per"] for r in rows], 0.1) for label, rows in curves.items()}
    rate = IMPAIRMENT_PRESETS["vehicular"][0]["sample_rate_hz"]
    symbol_s = DEFAULT_NUMEROLOGY.fft_len / rate
    label_of = {(role, preset): label for label, role, preset, _, _ in cases}
    summary = {"snr_at_per_10pct": at}
    for label, role, preset, _, payload in cases:
        if role not in ("moving", "short"):
            continue
        theory = coherence_theory(IMPAIRMENT_PRESETS[preset][0]["doppler_hz"],
                                  frame_size(payload, "qpsk-1/2").samples / rate, symbol_s)
        entry = {**theory, "doppler_snr_at_per_10pct": at[label], "per_floor": min(r["per"] for r in curves[label])}
        if role == "moving":
            static = at[label_of[("static", preset)]]
            entry.update(static_snr_at_per_10pct=static,
                         doppler_minus_static_db=None if static is None or at[label] is None else at[label] - static)
            summary[preset] = entry
        else:
            summary["vehicular_short_packets"] = {**entry, "payload_bytes": payload}
    plot_rows(IMG / "phy_doppler_per.png", [dict(r, channel=label) for label, rows in curves.items() for r in rows],
              "qpsk-1/2: Doppler against the same channel held constant per packet (1500 bytes unless named)")
    return summary


SECTIONS = {"txlevel": txlevel, "uncoded": uncoded, "coded": coded, "robust": robust, "fading": fading,
            "backtoback": backtoback, "impairments": impairments, "doppler": doppler}


def _db(value, digits=1):
    return "beyond the grid" if value is None else f"{value:.{digits}f} dB"


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
        lines.append("")
    if "impairments" in summary:
        lines += ["| MCS | impairment | SNR at PER 10 % | loss against AWGN | target | met |",
                  "|---|---|---|---|---|---|"]
        for v in summary["impairments"].values():
            at = _db(v["snr_at_per_10pct"], 2)
            loss = "–" if v["loss_db"] is None else f"{v['loss_db']:+.2f} dB"
            target = "–" if v["target_db"] is None else f"≤ {v['target_db']:g} dB"
            met = "–" if v["within_target"] is None else ("yes" if v["within_target"] else "NO")
            lines.append(f"| {v['mcs']} | {v['impairment']} | {at} | {loss} | {target} | {met} |")
        lines.append("")
    if "doppler" in summary:
        lines += ["| preset | Doppler | coherence time | packet | channel correlation over a packet | "
                  "signal-to-ICI | SNR at PER 10 %, static | with Doppler | difference |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for preset in ("walking-nlos", "vehicular"):
            v = summary["doppler"][preset]
            diff = "–" if v["doppler_minus_static_db"] is None else f"{v['doppler_minus_static_db']:+.1f} dB"
            lines.append(f"| {preset} | {v['doppler_hz']:g} Hz | {v['coherence_ms']:.1f} ms | "
                         f"{v['packet_ms']:.1f} ms | "
                         f"{v['correlation_over_packet']:+.2f} | {v['sir_ici_db']:.0f} dB | "
                         f"{_db(v['static_snr_at_per_10pct'])} | {_db(v['doppler_snr_at_per_10pct'])} | {diff} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--packets", type=int, default=100, help="packets per SNR point")
    parser.add_argument("--rerun", action="store_true", help="ignore cached CSVs")
    parser.add_argument("--jobs", type=int, default=1, help="`gensemcom link` processes at a time (default 1)")
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
