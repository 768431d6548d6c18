# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarking: resumable sweeps of transmission schemes over channel models.

One task = (image, scheme, snr_db, channel, cpp, seed). A scheme is a registered function
``run(task) -> dict`` (``bench.schemes``); the sweep scores every scheme with the same
metrics (``gensemcom.metrics``, ``bench.semantic_agreement``) and the same
failed-decode rule, appends one row per task to results.csv (``bench.store``), and writes
a summary with 95 % CIs, plots and a report. ``gensemcom bench`` is the command;
docs/benchmarking.md describes the conventions.
"""
from .schemes import Scheme, get_scheme, register_scheme, registered_schemes
from .sweep import SweepConfig, plan, run_sweep, write_outputs
from .tasks import Task, make_tasks

__all__ = ["Scheme", "SweepConfig", "Task", "get_scheme", "make_tasks", "plan", "register_scheme",
           "registered_schemes", "run_sweep", "write_outputs"]
