# SPDX-License-Identifier: GPL-3.0-or-later
"""Executors: run ``execute_task`` over many tasks, yielding outcomes as they finish.

  LocalExecutor  a process pool over this machine's cores (``workers`` processes, each with
                 torch on one thread); ``workers=1`` runs the tasks in this process.
  RayExecutor    Ray tasks (1 CPU each) on a cluster (``address``) or on a local Ray
                 instance started for the sweep. Images travel through Ray's object store,
                 so the workers need the gensemcom package installed, not the image folder.

Both call the same ``execute_task`` with the same arguments, and a task's randomness comes
from its id only, so they give identical rows (timing columns aside).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .execute import execute_task, failed_outcome

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# A worker process is replaced after this many tasks: every GNU Radio top block leaves its
# stream buffers behind in the process (GNU Radio 3.10.5: about 72 System V shared-memory
# segments per transmission, freed only when the process exits), and the whole machine may
# hold at most kernel.shmmni (4096 by default) of them: 2 workers x 12 tasks x 72 = 1728.
TASKS_PER_WORKER = 12
PR_SET_PDEATHSIG = 1              # linux/prctl.h


def _die_with_parent(parent):
    """Linux: have the kernel SIGKILL this worker when the sweep process ``parent`` dies
    (SIGTERM, a crash), so that no orphan goes on running tasks nobody collects while holding
    GNU Radio's shared-memory segments. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return
    if os.getppid() != parent:          # the sweep died before prctl took effect
        os._exit(1)


def _init_worker(parent):
    """Process-pool initializer: dies with the sweep process ``parent``; one compute thread per
    worker process."""
    _die_with_parent(parent)
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


class LocalExecutor:
    """Run tasks on this machine: a process pool of ``workers`` (default: all cores)."""

    name = "local"

    def __init__(self, workers=None):
        self.workers = max(1, int(workers or os.cpu_count() or 1))

    def run(self, jobs, options):
        """Yield ``execute_task`` outcomes of ``jobs`` (pairs of task, scheme) as they finish."""
        jobs = list(jobs)
        if len(jobs) <= 1 or (self.workers == 1 and len(jobs) <= TASKS_PER_WORKER):
            for task, scheme in jobs:
                yield execute_task(task, scheme, options)
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # Fresh pools for each batch of workers x TASKS_PER_WORKER tasks: the pool's own
        # max_tasks_per_child hung here once its first workers retired (CPython 3.11.7).
        # spawn: no fork of a parent holding torch / GNU Radio threads.
        workers = min(self.workers, len(jobs))
        batch = workers * TASKS_PER_WORKER
        for start in range(0, len(jobs), batch):
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(os.getpid(),))
            try:
                futures = {pool.submit(execute_task, task, scheme, options): task
                           for task, scheme in jobs[start:start + batch]}
                for future in as_completed(futures):
                    try:
                        yield future.result()
                    except Exception as exc:  # a worker died (killed, out of memory)
                        yield failed_outcome(futures[future], exc)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


def _ray_execute(task, scheme, options, image_bytes):
    from .tasks import provide_image_bytes
    provide_image_bytes(task.image, image_bytes)
    return execute_task(task, scheme, options)


class RayExecutor:
    """Run tasks as Ray tasks of 1 CPU each.

    ``address``: a running cluster ("auto", "ray://host:10001", "host:6379"); ``None``
    starts a local Ray instance with ``workers`` CPUs (default: all cores) and stops it
    after the sweep.
    """

    name = "ray"

    def __init__(self, address=None, workers=None, max_in_flight=None):
        self.address = address
        self.workers = workers
        self.max_in_flight = max_in_flight

    def _start(self):
        import ray
        if ray.is_initialized():
            return False
        runtime_env = {"env_vars": {name: "1" for name in _THREAD_VARIABLES}}
        if self.address:
            ray.init(address=self.address, runtime_env=runtime_env, log_to_driver=False)
        else:
            ray.init(num_cpus=int(self.workers or os.cpu_count() or 1), include_dashboard=False,
                     runtime_env=runtime_env, log_to_driver=False)
        return True

    def run(self, jobs, options):
        """Yield ``execute_task`` outcomes of ``jobs`` (pairs of task, scheme) as they finish."""
        import ray
        jobs = list(jobs)
        started_here = self._start()
        try:
            remote = ray.remote(num_cpus=1, max_retries=0, max_calls=TASKS_PER_WORKER)(_ray_execute)
            image_refs = {}
            for task, _ in jobs:
                if task.image not in image_refs:
                    image_refs[task.image] = ray.put(Path(task.image).read_bytes())
            options_ref = ray.put(options)
            cpus = int(ray.cluster_resources().get("CPU", 1))
            window = self.max_in_flight or max(2, 4 * cpus)
            queue = iter(jobs)
            pending, submitted = [], {}
            while True:
                while len(pending) < window:
                    job = next(queue, None)
                    if job is None:
                        break
                    task, scheme = job
                    ref = remote.remote(task, scheme, options_ref, image_refs[task.image])
                    submitted[ref] = task
                    pending.append(ref)
                if not pending:
                    break
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    yield ray.get(done[0])
                except Exception as exc:  # the worker died or Ray lost the task
                    yield failed_outcome(submitted[done[0]], exc)
        finally:
            if started_here:
                ray.shutdown()
