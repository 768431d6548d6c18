#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Paired verdicts and mean tables of a ``gensemcom bench`` sweep (see ``gensemcom.bench.headline``).

  python benchmarks/headline.py out/bench                         # means + paired tables (markdown)
  python benchmarks/headline.py out/bench --json                  # the paired entries as JSON
  python benchmarks/headline.py out/bench --baselines av1,jpeg    # against these baselines only

A verdict is a paired difference (semantic − baseline per image, seeds averaged first) with
its 95 % Student-t interval: win only where the interval excludes zero.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a sweep's output folder (holds results.csv)")
    parser.add_argument("--scheme", default="semantic", help="the scheme judged (default semantic)")
    parser.add_argument("--baselines", default="av1,webp,jpeg,roi-av1", help="comma-separated baselines")
    parser.add_argument("--json", action="store_true", help="print the paired entries as JSON")
    args = parser.parse_args(argv)
    from gnuradio.gensemcom.bench.headline import ablations, headline, markdown, verdict_markdown
    from gnuradio.gensemcom.bench.store import read_results
    if not (args.folder / "results.csv").is_file():
        print(f"headline: no results.csv in {args.folder}; run gensemcom bench --out {args.folder} first",
              file=sys.stderr)
        return 2
    rows = read_results(args.folder)
    result = headline(rows, args.scheme, tuple(args.baselines.split(",")))
    extra = ablations(rows, args.scheme)
    if args.json:
        print(json.dumps({"baselines": result, "ablations": extra}, indent=1, default=str))
        return 0
    schemes = [args.scheme] + args.baselines.split(",") + sorted(extra)
    print(markdown(rows, schemes))
    print(verdict_markdown(result, title=args.scheme + " − {baseline}"))
    print(verdict_markdown(extra, title=args.scheme + " − {baseline}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
