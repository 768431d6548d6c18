#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure each coded MCS's SNR threshold and write python/gensemcom/phy/mcs_thresholds.yaml.

The transmitter's MCS planning (``link.per.best_mcs``, profiles with ``mcs: auto``) reads
that file. Method:
  * AWGN: PER vs SNR of every coded MCS (and the robust mode) on the real flowgraph
    (``phy.link.run_link``), payload = the default profile's MTU, on a 0.5 dB grid from the
    Shannon limit of its spectral efficiency upward until PER reaches 0; the threshold is
    the lowest SNR from which every measured PER is <= the target (linear interpolation of
    log PER between grid points).
  * rayleigh / rician (flat block fading, one gain per packet): the measured AWGN PER curve
    averaged over the fading distribution, PER(snr) = E_h[PER_awgn(|h|² snr)] (Monte Carlo,
    10^5 draws; perfect channel estimation assumed; documented as derived, not measured).
  * multipath: the rayleigh row (frequency-selective fading with coding across carriers does
    at least as well as flat fading: a conservative plan).

Usage: scripts/measure_mcs_thresholds.py [--packets 200] [--per-target 0.01] [--out FILE]
"""
import argparse
import datetime
import math
import sys
from pathlib import Path

import numpy as np
import yaml

from gnuradio.gensemcom.link.per import THRESHOLDS_FILE
from gnuradio.gensemcom.link.profile import LinkProfile
from gnuradio.gensemcom.phy.link import run_link
from gnuradio.gensemcom.phy.mcs import MCS_TABLE
from gnuradio.gensemcom.phy.modulation import shannon_snr_db


def threshold_from_curve(snrs, pers, target):
    """Lowest SNR from which PER stays <= target (log-linear interpolation); None if never."""
    snrs, pers = np.asarray(snrs, float), np.asarray(pers, float)
    order = np.argsort(snrs)
    snrs, pers = snrs[order], pers[order]
    ok = pers <= target
    if not ok[-1]:
        return None
    first = len(ok) - np.argmin(ok[::-1]) if not ok.all() else 0
    if first == 0:
        return float(snrs[0])
    lo_s, hi_s = snrs[first - 1], snrs[first]
    lo_p, hi_p = max(pers[first - 1], 1e-6), max(pers[first], 1e-6)
    if lo_p <= hi_p:
        return float(hi_s)
    frac = (math.log(lo_p) - math.log(target)) / (math.log(lo_p) - math.log(hi_p))
    return float(lo_s + frac * (hi_s - lo_s))


def _measure(name, snr, packets, payload):
    """One PER point in a worker process (GNU Radio flowgraphs are run in recycled workers)."""
    return run_link(name, snr, "awgn", packets, payload, seed=int(snr * 10) & 0xFFFF).per


def faded_per(snrs, pers, snr_db, gains_sq):
    """E_h[PER_awgn(|h|² snr)] with PER_awgn interpolated in SNR (1 below, 0 above the grid)."""
    effective = snr_db + 10 * np.log10(np.maximum(gains_sq, 1e-12))
    return float(np.interp(effective, snrs, pers, left=1.0, right=0.0).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=200)
    parser.add_argument("--per-target", type=float, default=0.01)
    parser.add_argument("--step-db", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=THRESHOLDS_FILE)
    args = parser.parse_args(argv)
    payload = LinkProfile.load("default").mtu_bytes
    names = [m.name for m in MCS_TABLE.values() if m.coded]
    from concurrent.futures import ProcessPoolExecutor
    pool = ProcessPoolExecutor(max_workers=1, max_tasks_per_child=20)
    curves = {}
    for name in names:
        mcs = MCS_TABLE[name]
        snr = math.floor(shannon_snr_db(mcs.spectral_efficiency) * 2) / 2
        snrs, pers = [], []
        while True:
            per = pool.submit(_measure, name, snr, args.packets, payload).result()
            snrs.append(snr)
            pers.append(per)
            print(f"{name:12s} {snr:6.1f} dB  PER {per:.4f}", file=sys.stderr, flush=True)
            if per == 0.0 and len(pers) >= 2 and pers[-2] <= args.per_target:
                break
            if snr > 45:
                break
            snr += args.step_db
        curves[name] = (snrs, pers)
    pool.shutdown()
    rng = np.random.default_rng(2026)
    draws = 100_000
    rayleigh = np.abs((rng.normal(size=draws) + 1j * rng.normal(size=draws)) / np.sqrt(2)) ** 2
    k = 4.0   # ChannelConfig's default k_factor
    los = np.sqrt(k / (k + 1)) * np.exp(1j * rng.uniform(0, 2 * np.pi, draws))
    scatter = np.sqrt(1 / (k + 1)) * (rng.normal(size=draws) + 1j * rng.normal(size=draws)) / np.sqrt(2)
    rician = np.abs(los + scatter) ** 2
    table = {"awgn": {}, "rayleigh": {}, "rician": {}}
    for name, (snrs, pers) in curves.items():
        table["awgn"][name] = round(threshold_from_curve(snrs, pers, args.per_target), 2)
        for channel, gains in (("rayleigh", rayleigh), ("rician", rician)):
            grid = np.arange(snrs[0], 80.0, 0.25)
            faded = [faded_per(snrs, pers, s, gains) for s in grid]
            value = threshold_from_curve(grid, faded, args.per_target)
            table[channel][name] = round(value, 2) if value is not None else 99.0
    table["multipath"] = dict(table["rayleigh"])
    out = {"per_target": args.per_target, "payload_bytes": payload, "packets_per_point": args.packets,
           "measured": datetime.date.today().isoformat(),
           "method": "awgn measured with scripts/measure_mcs_thresholds.py on the real flowgraph; "
                     "rayleigh/rician = AWGN PER curve averaged over the fading distribution; "
                     "multipath = rayleigh (conservative)",
           "awgn_curves": {n: {"snr_db": [float(s) for s in c[0]], "per": [float(p) for p in c[1]]}
                           for n, c in curves.items()},
           "thresholds_db": table}
    args.out.write_text("# Generated by scripts/measure_mcs_thresholds.py; do not edit by hand.\n"
                        + yaml.safe_dump(out, sort_keys=False))
    print(yaml.safe_dump(table, sort_keys=False))


if __name__ == "__main__":
    main()
