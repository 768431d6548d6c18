#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reproduce GNU Radio 3.10's shutdown race: two threads in top_block.wait() at once.

GRC's generated SIGINT/SIGTERM handler calls tb.stop(); tb.wait() while the main thread is
already in tb.wait(). This script does the same with a plain flowgraph of stock blocks (no
ZeroMQ, no gensemcom block): start, one waiter thread, stop, a second waiter, many times.

  .venv/bin/python scripts/wait_race.py --waiters 2 --iterations 3000   # the GRC handler's pattern
  .venv/bin/python scripts/wait_race.py --waiters 1 --iterations 3000   # one waiter (our handler)

Prints how many waits raised (each such raise leaves Python's tb.wait() looping for ever: a
hang); a double free or segfault kills the process instead (exit status -6 / -11, run it under
load to see them). Exit status 0 when no wait raised.
"""
import argparse
import sys
import threading

from gnuradio import blocks, gr
from gnuradio.gr.gr_python import top_block_wait_unlocked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiters", type=int, default=2, help="threads in wait() at once (default 2)")
    parser.add_argument("--iterations", type=int, default=2000, help="flowgraphs started and stopped")
    parser.add_argument("--chains", type=int, default=8, help="source -> head -> sink chains (threads) each")
    args = parser.parse_args(argv)
    errors = []

    def wait(tb):
        try:
            top_block_wait_unlocked(tb._impl)      # what Python's tb.wait() runs in its helper thread
        except RuntimeError as exc:
            errors.append(str(exc))

    for _ in range(args.iterations):
        tb = gr.top_block()
        for _ in range(args.chains):
            tb.connect(blocks.null_source(8), blocks.head(8, 10**9), blocks.null_sink(8))
        tb.start()
        waiters = [threading.Thread(target=wait, args=(tb,)) for _ in range(args.waiters)]
        waiters[0].start()                         # the main thread's wait, already running
        tb.stop()                                  # the signal handler: stop ...
        for waiter in waiters[1:]:                 # ... and wait again
            waiter.start()
        for waiter in waiters:
            waiter.join()
    print(f"{args.iterations} flowgraphs, {args.waiters} waiter(s) each: {len(errors)} wait(s) raised"
          + (f" ({sorted(set(errors))[0]})" if errors else ""), flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
