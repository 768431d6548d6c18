#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Closed loop vs open loop on the real PHY over a fluctuating channel (docs/adaptation.md).

    python simulations/closed_loop_report.py --packets 1000 --json simulations/results/closed_loop.json

Each run: ``flowgraphs.closed_loop.run_closed_loop`` (Rayleigh block fading with the preset's
coherence time, log-normal shadowing σ = 6 dB with a correlation time of 200,000 samples, mean
SNR 0 / 5 / 10 dB). Printed per run: measured PER against the target, the outer loop's final
offset, goodput (payload bits per channel sample, the filler bursts and the feedback's effect
on the sender all included) and the MCS it used. Runs: the outer loop at targets 0.01, 0.1 and
0.3; the feedback delay 0, 1 and 10 packets; 0 %, 20 % and 50 % of reports lost; open loop;
and a sender that waits (``defer``: probes instead of data while even the robust mode would miss
the target; the probes' share of the channel time is printed), from an outer-loop offset of
0 dB and warm-started ("wait+") at the planning model's fading margin.

``--only defer`` runs just the waiting sender's rows (``warm``: those with ``warm_start``;
``strict``: the closed and waiting senders at target 0.01, ``strict-warm`` the warm-started
waiting sender's row of those); with ``--json`` the rows of an
existing file are kept and those run again are replaced. ``--impairments PRESET`` replaces the
block fading by an impairment preset's channel (``walking-nlos``: TGn D multipath with 6.8 Hz
Doppler, continuous fading without the blocks' jumps); its rows are kept apart in the JSON.
"""
import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=1000, help="packets per run (default 1000)")
    parser.add_argument("--payload-bytes", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=1, help="runs per setting (different channel seeds)")
    parser.add_argument("--json", type=Path, help="write every run as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer settings (a smoke run)")
    parser.add_argument("--first-seed", type=int, default=0, help="channel seed of the first run (default 0)")
    parser.add_argument("--only", choices=("all", "defer", "warm", "strict", "strict-warm"), default="all",
                        help="which rows to run: all, the waiting sender's, its warm-started ones, those at target "
                             "0.01, or the warm-started waiting sender's at 0.01 (default all)")
    parser.add_argument("--target", type=float, help="only the rows with this PER target (e.g. 0.1)")
    parser.add_argument("--impairments", default="none",
                        help="impairment preset whose channel replaces the Rayleigh block fading, e.g. walking-nlos "
                             "(default none)")
    args = parser.parse_args(argv)
    from gnuradio.gensemcom.flowgraphs.closed_loop import run_closed_loop
    from gnuradio.gensemcom.phy.impairments import IMPAIRMENT_PRESETS, preset_channel
    if args.impairments not in IMPAIRMENT_PRESETS:
        parser.error(f"unknown impairment preset {args.impairments!r}; choose from {', '.join(IMPAIRMENT_PRESETS)}")
    channel, options = preset_channel(args.impairments)
    channel = channel or "rayleigh"
    settings = []
    for snr in (0.0, 5.0, 10.0):
        settings.append(dict(snr_db=snr, adapt=False, target=0.1, feedback_delay=1, feedback_loss=0.0))
        settings.append(dict(snr_db=snr, adapt=True, target=0.1, feedback_delay=1, feedback_loss=0.0))
    for target in (0.01, 0.3):
        settings.append(dict(snr_db=10.0, adapt=True, target=target, feedback_delay=1, feedback_loss=0.0))
    for delay in (0, 10):
        settings.append(dict(snr_db=10.0, adapt=True, target=0.1, feedback_delay=delay, feedback_loss=0.0))
    for loss in (0.2, 0.5):
        settings.append(dict(snr_db=10.0, adapt=True, target=0.1, feedback_delay=1, feedback_loss=loss))
    settings = [{**setting, "defer": False, "warm_start": False} for setting in settings]
    waiting = []
    for warm in (False, True):
        waiting += [dict(snr_db=snr, adapt=True, target=0.1, feedback_delay=1, feedback_loss=0.0, defer=True,
                         warm_start=warm) for snr in (0.0, 5.0, 10.0)]
        waiting.append(dict(snr_db=10.0, adapt=True, target=0.01, feedback_delay=1, feedback_loss=0.0, defer=True,
                            warm_start=warm))
    settings = {"all": settings + waiting, "defer": waiting,
                "warm": [row for row in waiting if row["warm_start"]],
                "strict": [row for row in settings + waiting if row["target"] == 0.01],
                "strict-warm": [row for row in waiting if row["target"] == 0.01 and row["warm_start"]]}[args.only]
    if args.target is not None:
        settings = [row for row in settings if row["target"] == args.target]
        if not settings:
            parser.error(f"no --only {args.only} row has target {args.target:g}")
    if args.quick:
        settings = settings[:2]
    runs = []
    print(f"{'mean SNR':>8} {'loop':>6} {'target':>6} {'delay':>5} {'fb lost':>7} {'PER':>6} {'offset dB':>9} "
          f"{'bits/sample':>11} {'probes':>6} {'s':>5}  MCS used")
    for setting in settings:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            started = time.perf_counter()
            result = run_closed_loop(packets=args.packets, payload_bytes=args.payload_bytes, channel=channel,
                                     shadowing_db=6.0, seed=seed, channel_options=options, **setting)
            wall = time.perf_counter() - started
            runs.append({**setting, "seed": seed, "impairments": args.impairments, **result.to_dict(),
                         "wall_s": round(wall, 1)})
            top = ", ".join(f"{m} {n}" for m, n in sorted(result.mcs_used.items(), key=lambda kv: -kv[1])[:3])
            loop = ("wait+" if setting["warm_start"] else "wait") if setting["defer"] else \
                "closed" if setting["adapt"] else "open"
            print(f"{setting['snr_db']:>8g} {loop:>6} {setting['target']:>6g} "
                  f"{setting['feedback_delay']:>5d} {setting['feedback_loss']:>7.0%} {result.per:>6.3f} "
                  f"{result.offset_db:>9.2f} {result.goodput_bits_per_sample:>11.4f} {result.probe_share:>6.0%} "
                  f"{wall:>5.0f}  {top}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        fields = ("snr_db", "adapt", "target", "feedback_delay", "feedback_loss", "defer", "warm_start", "seed")

        def key(run):
            return tuple(run.get(name, False) for name in fields) + (run.get("impairments", "none"),)
        new = {key(run) for run in runs}
        kept = [run for run in (json.loads(args.json.read_text()) if args.json.exists() else []) if key(run) not in new]
        args.json.write_text(json.dumps(kept + runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
