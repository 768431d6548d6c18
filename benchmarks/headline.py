#!/usr/bin/env python3
"""Headline checks and mean tables of a ``gensemcom bench`` sweep (see ``gensemcom.bench.headline``).

  python benchmarks/headline.py out/bench                       # markdown tables + checks
  python benchmarks/headline.py out/bench --json                # the checks as JSON
  python benchmarks/headline.py out/bench --schemes semantic,jpeg,avif,jpeg@qpsk-1/2,avif+capacity
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a sweep's output folder (holds results.csv)")
    parser.add_argument("--schemes", default="semantic,jpeg,avif,jpeg@qpsk-1/2,avif+capacity")
    parser.add_argument("--fixed", default="jpeg@qpsk-1/2", help="the fixed-MCS baseline")
    parser.add_argument("--low-snr-db", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from gnuradio.gensemcom.bench.headline import headline, markdown
    from gnuradio.gensemcom.bench.store import read_results
    if not (args.folder / "results.csv").is_file():
        print(f"headline: no results.csv in {args.folder}; run gensemcom bench --out {args.folder} first",
              file=sys.stderr)
        return 2
    rows = read_results(args.folder)
    checks = headline(rows, fixed=args.fixed, low_snr_db=args.low_snr_db)
    if args.json:
        print(json.dumps(checks, indent=1))
        return 0
    print(markdown(rows, args.schemes.split(",")))
    for channel, result in checks.items():
        print(f"\n{channel}: low SNR (<= {args.low_snr_db:g} dB) beats every real baseline on VSI and key PSNR: "
              f"{result['low_snr']}; beats {args.fixed} at every SNR: {result['fixed_mcs']}; no cliff: "
              f"{result['no_cliff']} (largest mean-PSNR drop per step {result['largest_psnr_drop_db']}); "
              f"split kept: {result['split_kept']}")
        for name, ok in {**result["low_snr_detail"], **result["fixed_mcs_detail"]}.items():
            if not ok:
                print(f"  not met: {name} ({'not computable' if ok is None else 'lower'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
