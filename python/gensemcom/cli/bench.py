# SPDX-License-Identifier: GPL-3.0-or-later
"""Resumable benchmark sweep: images × schemes × SNRs × channels × cpp × seeds.

Each combination is one task. Finished tasks are appended to OUT/results.csv as they
finish (one row each: all metrics, wall time, the scheme's own fields); rerunning the same
command skips them, so an interrupted sweep loses nothing and resumes where it stopped.
Every task derives its randomness from its own id, so a resumed, a local and a Ray sweep
give the same results. After the run: OUT/summary.csv and summary.md (mean ± 95 % CI over
images), OUT/plots/*.png|pdf (each metric vs SNR per channel, with the ideal
"codec + capacity" bound), OUT/report.md with example reconstructions from OUT/images/.

A failed decode is scored as a flat mean-gray image and counted in the `delivered` column,
for every scheme alike. Conventions: docs/benchmarking.md.

examples:
  gensemcom bench --images kodak/ --schemes av1+capacity,jpeg+capacity --snr=-5:20:5 \\
      --channel awgn,rayleigh --cpp 1/48 --out out/bench
  gensemcom bench --images kodak/ --schemes jpeg+capacity --snr 0,10 --out out/b --executor ray
  gensemcom bench --images kodak/ --schemes semantic,av1 --snr 0,5,10 \
      --channel awgn,awgn+b200-indoor,multipath+vehicular --out out/radios   (radio impairments)
  gensemcom bench --list-schemes
"""
import os
import re
import sys

from ..errors import BadInputError
from .common import fraction, nonnegative_int, positive_int, print_json, snr_list

EXECUTORS = ("local", "ray")


def _name_list(text):
    return [part.strip() for part in text.split(",") if part.strip()]


def _cpp_list(text):
    return [fraction(part) for part in text.split(",") if part.strip()]


def add_arguments(parser, name):
    # Let "--snr -5:20:5" and "--snr -5,0,5" through as values, not as unknown options.
    parser._negative_number_matcher = re.compile(r"^-\.?\d")
    parser.add_argument("--images", metavar="DIR", help="folder of images (PNG, JPEG, ...)")
    parser.add_argument("--feedback", choices=("none", "csi", "ack", "full"), default="none",
                        help="run every flowgraph scheme in this closed-loop mode (names become SCHEME~MODE; "
                             "see gensemcom transmit --help; default none = open loop)")
    parser.add_argument("--schemes", metavar="LIST", type=_name_list,
                        help="comma-separated scheme names (see --list-schemes)")
    parser.add_argument("--snr", metavar="LIST", type=snr_list,
                        help="SNRs in dB: 0,5,10 or START:STOP:STEP, e.g. -5:20:5")
    parser.add_argument("--channel", metavar="LIST", type=_name_list, default=["awgn"],
                        help="comma-separated channel models (default: awgn); CHANNEL+IMPAIRMENTS adds a "
                             "radio-impairment preset: awgn+b200-indoor, multipath+vehicular (docs/phy.md)")
    parser.add_argument("--cpp", metavar="LIST", type=_cpp_list, default=[1 / 48],
                        help="channel uses per pixel, complex symbols / (H·W·3): 1/48,1/16 "
                             "(default: 1/48)")
    parser.add_argument("--seeds", metavar="N", type=positive_int, default=1,
                        help="repetitions per combination (default: 1)")
    parser.add_argument("--out", metavar="DIR", help="output folder (created; reused to resume)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local: a process pool on this machine; ray: Ray tasks (default: local)")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="Ray cluster to join (auto, host:6379, ray://host:10001); "
                             "default: start a local Ray instance")
    parser.add_argument("--workers", metavar="N", type=positive_int,
                        help=f"worker processes / local Ray CPUs (default: all cores, {os.cpu_count()})")
    parser.add_argument("--bound", metavar="SCHEME", default="av1+capacity",
                        help="ideal bound added to the sweep when --schemes has none, so every "
                             "plot shows it; 'none' to add none (default: av1+capacity)")
    parser.add_argument("--key-mask", metavar="NAME", default="none",
                        help="reference key mask for key-region metrics of schemes without a mask "
                             "of their own: none, saliency, or semantic (the semantic sender's key "
                             "mask at the task's budget; fairest against the semantic scheme) "
                             "(default: none)")
    parser.add_argument("--no-agreement", action="store_true",
                        help="skip the semantic-agreement measures (classifier, text embedding)")
    parser.add_argument("--examples", metavar="N", type=nonnegative_int, default=1,
                        help="save reconstructions of the first N images for the report (default: 1)")
    parser.add_argument("--plugin", metavar="MODULE", action="append", default=[],
                        help="import MODULE to register more schemes (repeatable)")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: rewrite summary, plots and report from OUT/results.csv")
    parser.add_argument("--list-schemes", action="store_true", help="list the registered schemes and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar / progress lines")
    parser.add_argument("--json", action="store_true", help="print the counts and output paths as JSON")


def _list_schemes(args):
    from ..bench.schemes import load_scheme_modules, registered_schemes
    load_scheme_modules(args.plugin)
    schemes = registered_schemes()
    if args.json:
        print_json([{"name": s.display_name, "description": s.description, "bound": s.bound,
                     "channels": list(s.channels) if s.channels else None} for s in schemes])
    else:
        for s in schemes:
            channels = ", ".join(s.channels) if s.channels else "any"
            print(f"{s.display_name:<18} {s.description} [channels: {channels}]")
    return 0


def run(args):
    if args.list_schemes:
        return _list_schemes(args)
    from pathlib import Path

    from ..bench.sweep import SweepConfig, run_sweep, write_outputs
    if not args.out:
        raise BadInputError("--out DIR is required")
    if args.report_only:
        from ..bench.store import RESULTS_NAME, read_results
        if not (Path(args.out) / RESULTS_NAME).is_file():
            raise BadInputError(f"--report-only: no {RESULTS_NAME} in {args.out}")
        rows = read_results(args.out)
        result = write_outputs(args.out, rows)
        result.update(rows=len(rows), out=args.out)
    else:
        missing = [flag for flag, value in (("--images", args.images), ("--schemes", args.schemes),
                                            ("--snr", args.snr)) if not value]
        if missing:
            raise BadInputError(f"{', '.join(missing)} required (or --report-only / --list-schemes)")
        if args.ray_address and args.executor != "ray":
            raise BadInputError("--ray-address needs --executor ray")
        schemes = args.schemes
        if args.feedback != "none":
            from ..bench.schemes import get_scheme
            schemes = [s if get_scheme(s).bound or "~" in s else f"{s.split('@')[0]}~{args.feedback}"
                       + (f"@{s.split('@')[1]}" if "@" in s else "") for s in schemes]
        config = SweepConfig(images=Path(args.images), schemes=schemes, snrs_db=args.snr,
                             channels=args.channel, cpps=args.cpp, seeds=args.seeds, out=Path(args.out),
                             executor=args.executor, ray_address=args.ray_address, workers=args.workers,
                             bound=None if args.bound == "none" else args.bound,
                             key_mask=None if args.key_mask == "none" else args.key_mask,
                             agreement=not args.no_agreement, examples=args.examples,
                             plugins=tuple(args.plugin))
        result = run_sweep(config, progress=not args.no_progress)
    if args.json:
        print_json(result)
    else:
        if "tasks" in result:
            print(f"tasks: {result['tasks']} ({result['skipped']} already done, {result['ran']} run, "
                  f"{result['errors']} failed)")
        print(f"results: {Path(args.out) / 'results.csv'}")
        print(f"summary: {result['summary']}")
        print(f"report:  {result['report']}")
        print(f"plots:   {len(result['plots'])} files in {Path(args.out) / 'plots'}")
    sys.stdout.flush()
    return 1 if result.get("errors") else 0
