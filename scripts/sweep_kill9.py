#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kill a flowgraph sweep with SIGKILL midway, resume it, and compare with an uninterrupted run.

Runs the same ``gensemcom bench`` command three times on a few generated images:
  A  uninterrupted, into OUT/a;
  B  into OUT/b, killed with SIGKILL (the parent and its workers) once ``--kill-after`` rows
     are in OUT/b/results.csv;
  B' the same command into OUT/b again: it must skip the finished rows and run the rest.
Then every row of B' is compared with A, all columns but the timing ones
(``store.TIMING_COLUMNS``), with exact equality.

  scripts/sweep_kill9.py --out /tmp/k9                      # 2 images x semantic,jpeg x 2 SNRs x 2 channels
  scripts/sweep_kill9.py --out /tmp/k9 --kill-after 8 --json /tmp/k9.json

Exit status 0 when B' holds exactly A's rows.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def make_images(folder: Path):
    from PIL import Image
    from skimage import data
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(data.astronaut()[::4, ::4]).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()[::4, ::4]).save(folder / "coffee.png")
    return folder


def rows_of(path: Path):
    with open(path, newline="") as f:
        return {row["task_id"]: row for row in csv.DictReader(f)}


def count_rows(path: Path) -> int:
    try:
        with open(path) as f:
            return max(0, sum(1 for _ in f) - 1)
    except FileNotFoundError:
        return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="work folder (a, b, images)")
    parser.add_argument("--schemes", default="semantic,jpeg")
    parser.add_argument("--snr", default="0,10")
    parser.add_argument("--channel", default="awgn,rayleigh")
    parser.add_argument("--cpp", default="1/24")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-after", type=int, default=4, help="rows written before the SIGKILL")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args(argv)

    from gnuradio.gensemcom.bench.store import TIMING_COLUMNS
    images = make_images(args.out / "images")
    command = [sys.executable, "-m", "gnuradio.gensemcom.cli", "bench", "--images", str(images),
               "--schemes", args.schemes, "--snr", args.snr, "--channel", args.channel, "--cpp", args.cpp,
               "--workers", str(args.workers), "--no-agreement", "--no-progress"]
    for name in ("a", "b"):
        subprocess.run(["rm", "-rf", str(args.out / name)], check=True)
    started = time.monotonic()
    subprocess.run(command + ["--out", str(args.out / "a")], check=True, capture_output=True)
    uninterrupted_s = time.monotonic() - started

    victim = subprocess.Popen(command + ["--out", str(args.out / "b")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    while count_rows(args.out / "b" / "results.csv") < args.kill_after and victim.poll() is None:
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)       # the sweep and its worker processes
    victim.wait()
    rows_at_kill = count_rows(args.out / "b" / "results.csv")

    resumed = subprocess.run(command + ["--out", str(args.out / "b"), "--json"], capture_output=True, text=True)
    counts = json.loads(resumed.stdout) if resumed.returncode == 0 else {"error": resumed.stderr[-500:]}
    a, b = rows_of(args.out / "a" / "results.csv"), rows_of(args.out / "b" / "results.csv")
    differing = sorted(task for task in set(a) | set(b)
                       if task not in a or task not in b
                       or any(a[task].get(k) != b[task].get(k) for k in a[task] if k not in TIMING_COLUMNS))
    summary = {"tasks": len(a), "rows_at_kill": rows_at_kill, "resumed": counts, "rows_after_resume": len(b),
               "differing_tasks": differing, "uninterrupted_s": round(uninterrupted_s, 1),
               "identical": not differing and len(a) == len(b)}
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if summary["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
