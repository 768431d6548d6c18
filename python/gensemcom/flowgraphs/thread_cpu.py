# SPDX-License-Identifier: GPL-3.0-or-later
"""CPU time per thread of this process, grouped by thread name (Linux ``/proc``).

GNU Radio names each block's thread after the block and its id (``fir_filter_blk<``,
``header_payload4``; the kernel keeps 15 characters, GNU Radio cuts the name to leave room for
the id: ``header_payloa14``), so the groups say which blocks a flowgraph's CPU went to.
Threads that end during the measurement are counted up to their last sample::

    with ThreadCpu() as cpu:
        tb.run()
    cpu.total_s, cpu.by_name()      # CPU seconds, {name without trailing digits: seconds}

Times come from ``utime + stime`` in ``/proc/self/task/<tid>/stat`` (clock ticks, usually 10 ms),
sampled every ``interval_s`` by a background thread whose own CPU is left out.
"""
import os
import re
import threading
import time

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
TASKS = "/proc/self/task"


def thread_times():
    """{tid: (name, cpu_s)} of this process's threads now (empty where /proc is missing)."""
    times = {}
    try:
        tids = os.listdir(TASKS)
    except OSError:
        return times
    for tid in tids:
        try:
            with open(f"{TASKS}/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"{TASKS}/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()   # the name may hold spaces and ')'
        except OSError:                                        # the thread ended meanwhile
            continue
        times[int(tid)] = (name, (int(fields[11]) + int(fields[12])) * TICK_S)
    return times


def block_name(thread_name):
    """A thread's name without GNU Radio's trailing block id or template arguments:
    'header_payload4' -> 'header_payload', 'fir_filter_blk<' -> 'fir_filter_blk'."""
    return re.sub(r"(<.*|\d+)$", "", thread_name) or thread_name


def merge_truncated(names):
    """{name: canonical name} for block names that are cuts of one another ('header_payloa' ->
    'header_payload', the longest one seen); a cut that more than one longer name extends
    differently ('gensemcom_p' of 'gensemcom_pay' and 'gensemcom_pac') stays as it is."""
    names = set(names)
    canonical = {}
    for name in names:
        longer = sorted((other for other in names if other.startswith(name)), key=len)
        chain = all(b.startswith(a) for a, b in zip(longer, longer[1:]))
        canonical[name] = longer[-1] if chain else name
    return canonical


class ThreadCpu:
    """Context manager: CPU seconds each thread used while it was open (see the module docstring).

    After exit: ``wall_s``, ``total_s``, ``by_thread`` ({tid: (name, cpu_s)}), ``by_name()``.
    """

    def __init__(self, interval_s=0.05):
        self.interval_s = float(interval_s)
        self.by_thread = {}
        self.wall_s = 0.0
        self._start = {}
        self._last = {}
        self._stop = threading.Event()
        self._sampler = None

    def _sample(self):
        for tid, value in thread_times().items():
            if tid != threading.get_native_id():
                self._last[tid] = value

    def _run(self):
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self):
        self._start = thread_times()
        self._last = dict(self._start)
        self._t0 = time.perf_counter()
        self._sampler = threading.Thread(target=self._run, name="thread-cpu", daemon=True)
        self._sampler.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._sampler.join()
        self._sample()
        self.wall_s = time.perf_counter() - self._t0
        sampler = self._sampler.native_id
        self.by_thread = {tid: (name, cpu - self._start.get(tid, (name, 0.0))[1])
                          for tid, (name, cpu) in self._last.items() if tid != sampler}
        return False

    @property
    def total_s(self):
        return sum(cpu for _, cpu in self.by_thread.values())

    def by_name(self):
        """{block name: CPU seconds}, largest first."""
        groups = {}
        canonical = merge_truncated(block_name(name) for name, _ in self.by_thread.values())
        for name, cpu in self.by_thread.values():
            key = canonical[block_name(name)]
            groups[key] = groups.get(key, 0.0) + cpu
        return dict(sorted(groups.items(), key=lambda item: -item[1]))
