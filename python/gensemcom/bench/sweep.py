# SPDX-License-Identifier: GPL-3.0-or-later
"""A resumable sweep: plan the tasks, run the unfinished ones, write the outputs.

Folder layout (``out``):
  results.csv    one row per finished task (``bench.store``), appended as tasks finish
  errors.jsonl   one line per task that raised (not in results.csv: a rerun retries it)
  sweep.json     the last run's settings, versions and counts
  summary.csv, summary.md, plots/, report.md, images/   written after the run
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInputError
from ..fileio import dumps_json, write_bytes_atomic, write_text_atomic
from .execute import RunOptions, png_bytes
from .executors import LocalExecutor, RayExecutor
from .plots import safe_name, write_plots
from .report import write_report
from .schemes import check_channel, get_scheme, load_scheme_modules
from .store import ResultsStore
from .summary import write_summary
from .tasks import channel_parts, find_images, format_cpp, format_snr, load_image, make_tasks


@dataclass
class SweepConfig:
    """Everything a sweep needs (the CLI fills it from its arguments).

    bound     a bound scheme added for the channels it supports when ``schemes`` has no
              bound (``None``: add none)
    key_mask  name of a reference key-mask provider (``bench.keymask``) or ``None``
    examples  how many images (first by name) get their reconstructions saved (seed 0)
    """

    images: list
    schemes: list
    snrs_db: list
    channels: list = field(default_factory=lambda: ["awgn"])
    cpps: list = field(default_factory=lambda: ["1/48"])
    seeds: int = 1
    out: Path = Path("bench-out")
    executor: str = "local"
    ray_address: str = None
    workers: int = None
    bound: str = "av1+capacity"
    key_mask: str = None
    agreement: bool = True
    examples: int = 1
    plugins: tuple = ()


def plan(config: SweepConfig) -> list:
    """The sweep's tasks, each with its ``Scheme``: a list of (task, scheme), no duplicates.

    Raises ``BadInputError`` for an unknown scheme, a scheme that does not support a
    channel, or an unreadable image.
    """
    load_scheme_modules(config.plugins)
    images = config.images
    if isinstance(images, (str, Path)):
        images = find_images(images)
    if config.seeds < 1:
        raise BadInputError("--seeds must be >= 1")
    for name, values in (("--schemes", config.schemes), ("--snr", config.snrs_db),
                         ("--channel", config.channels), ("--cpp", config.cpps)):
        if not values:
            raise BadInputError(f"{name} is empty")
    cpps = [format_cpp(c) for c in config.cpps]
    schemes = {name: get_scheme(name) for name in config.schemes}
    for name, scheme in schemes.items():
        for channel in config.channels:
            check_channel(scheme, channel)
    tasks = make_tasks(images, list(schemes), config.snrs_db, config.channels, cpps, config.seeds)
    jobs = [(t, schemes[t.scheme]) for t in tasks]
    if config.bound and not any(s.bound for s in schemes.values()):
        bound = get_scheme(config.bound)
        channels = [c for c in config.channels if bound.channels is None or channel_parts(c)[0] in bound.channels]
        # A deterministic bound needs one seed only.
        jobs += [(t, bound) for t in make_tasks(images, [config.bound], config.snrs_db, channels,
                                                cpps, 1)]
    unique = {}
    for task, scheme in jobs:
        unique.setdefault(task.task_id, (task, scheme))
    return list(unique.values())


class SweepLock:
    """An exclusive lock on the output folder: one writer of results.csv at a time."""

    def __init__(self, folder):
        self.path = Path(folder) / ".bench.lock"
        self.handle = None

    def __enter__(self):
        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise BadInputError(f"another `gensemcom bench` is writing to {self.path.parent}; "
                                "wait for it or use another --out") from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def make_executor(config: SweepConfig):
    if config.executor == "local":
        return LocalExecutor(config.workers)
    if config.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            raise BadInputError(f"--executor ray needs the ray package ({exc})") from None
        return RayExecutor(config.ray_address, config.workers)
    raise BadInputError(f"unknown executor {config.executor!r}; choose local or ray")


def reconstruction_path(row: dict) -> str:
    """Where a task's saved reconstruction goes, relative to the sweep folder."""
    return (f"images/{safe_name(Path(row['image']).stem)}/{safe_name(row['scheme'])}__"
            f"{safe_name(row['channel'])}__snr{safe_name(format_snr(row['snr_db']))}__"
            f"cpp{safe_name(row['cpp'])}__s{row['seed']}.png")


class _Progress:
    """tqdm bar with ETA on a terminal; elsewhere a line to stderr every 30 s."""

    def __init__(self, total, initial, enabled):
        self.total, self.count, self.errors = total, initial, 0
        self.enabled = enabled
        self.bar = None
        self.last = self.start = time.monotonic()
        self.initial = initial
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, initial=initial, unit="task", file=sys.stderr,
                            dynamic_ncols=True, desc="bench")

    def update(self, error=False):
        self.count += 1
        self.errors += bool(error)
        if self.bar is not None:
            self.bar.update(1)
            if error:
                self.bar.set_postfix(errors=self.errors)
        elif self.enabled and (time.monotonic() - self.last > 30 or self.count == self.total):
            self.last = time.monotonic()
            done_here = self.count - self.initial
            rate = done_here / max(self.last - self.start, 1e-9)
            eta = (self.total - self.count) / rate if rate > 0 else float("nan")
            print(f"bench: {self.count}/{self.total} tasks, {self.errors} errors, "
                  f"ETA {eta / 60:.1f} min", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _versions() -> dict:
    from ..version import __version__
    versions = {"gensemcom": __version__, "python": platform.python_version()}
    for module in ("numpy", "torch", "PIL", "piq", "ray"):
        mod = sys.modules.get(module)
        if mod is not None:
            versions[module] = getattr(mod, "__version__", "?")
    return versions


def run_sweep(config: SweepConfig, progress=True, outputs=True, log=None) -> dict:
    """Run the unfinished tasks of ``config`` and write the outputs; returns the counts.

    Returns {"tasks", "skipped", "ran", "errors", "dropped_torn_line", "out", "results",
    "summary", "report", "plots"}. ``log`` is called with one-line notices.
    """
    log = log or (lambda message: print(f"gensemcom bench: {message}", file=sys.stderr))
    out = Path(config.out)
    jobs = plan(config)
    key_mask = None
    if config.key_mask:
        from .keymask import get_key_mask
        key_mask = get_key_mask(config.key_mask)
    out.mkdir(parents=True, exist_ok=True)
    # the semantic sender's key masks, computed once per image and budget for every scheme
    os.environ.setdefault("GENSEMCOM_KEYMASK_CACHE", str((out / "keymasks").resolve()))
    executor = make_executor(config)
    with SweepLock(out):
        store = ResultsStore(out)
        if store.dropped_torn_line is not None:
            log(f"dropped a torn last line of {store.path} (an interrupted write): "
                f"{store.dropped_torn_line[:60]!r}…")
        done = store.done_ids
        pending = [(t, s) for t, s in jobs if t.task_id not in done]
        example_images = sorted({t.image_name for t, _ in jobs})[:max(0, config.examples)]
        save_ids = frozenset(t.task_id for t, _ in jobs
                             if t.image_name in example_images and t.seed == 0)
        options = RunOptions(agreement=config.agreement, key_mask=key_mask,
                             key_mask_name=config.key_mask, save_ids=save_ids)
        counts = {"tasks": len(jobs), "skipped": len(jobs) - len(pending), "ran": 0, "errors": 0,
                  "dropped_torn_line": store.dropped_torn_line is not None, "out": str(out),
                  "results": str(store.path)}
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()
                    if k != "images"}
        settings["images"] = sorted({t.image_name for t, _ in jobs})
        write_text_atomic(out / "sweep.json", json.dumps(
            {"settings": settings, "versions": _versions(), "tasks": len(jobs),
             "pending_at_start": len(pending), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
            indent=2, default=str) + "\n")
        bar = _Progress(len(jobs), counts["skipped"], progress)
        try:
            for outcome in executor.run(pending, options):
                _record(outcome, store, out)
                counts["ran"] += outcome["row"] is not None
                counts["errors"] += outcome["error"] is not None
                bar.update(error=outcome["error"] is not None)
        finally:
            bar.close()
        if counts["errors"]:
            log(f"{counts['errors']} task(s) failed: see {out / 'errors.jsonl'}; "
                "rerun the same command to retry them")
        if outputs:
            _save_originals(jobs, out, example_images)
            counts.update(write_outputs(out, store.rows, errors=counts["errors"]))
    return counts


def _record(outcome, store, out):
    row = outcome["row"]
    if row is None:
        line = dumps_json({"task_id": outcome["task_id"], "error": outcome["error"],
                           "traceback": outcome["traceback"]})
        with open(out / "errors.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return
    if outcome["png"] is not None:
        relative = reconstruction_path(row)
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(out / relative, outcome["png"])
        row = dict(row, reconstruction=relative)
    store.append(row)


def _save_originals(jobs, out, example_images):
    for task, _ in jobs:
        if task.image_name in example_images:
            target = out / "images" / safe_name(Path(task.image_name).stem) / "original.png"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(target, png_bytes(load_image(task.image)))


def write_outputs(out, rows, errors=0) -> dict:
    """summary.csv/.md, plots/ and report.md from ``rows`` (all of results.csv)."""
    out = Path(out)
    summary = write_summary(rows, out)
    plots = write_plots(summary["table"], out)
    report = write_report(rows, summary["table"], out, plots, errors=errors)
    return {"summary": str(summary["markdown"]), "report": str(report),
            "plots": [str(p) for p in plots]}
