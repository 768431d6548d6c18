# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of one model card per quantization setting: load time, memory, latency per image.

Each setting runs in a fresh Python process (``python -m ...models.bench JOB``), so memory
figures do not mix: on CPU ``peak_mem_mb`` is the process's peak resident memory minus its
resident memory after the imports (load + inference); on GPU it is
``torch.cuda.max_memory_allocated``. ``param_mb`` counts the bytes the model's parameters and
buffers really hold (quantized storage and scales included). ``latency_ms`` is the median of
``runs`` calls after one warm-up, on a ``image_px``-square image (astronaut from scikit-image).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from ..errors import GensemcomError

BENCH_FIELDS = ("card", "role", "quant", "dtype", "device", "load_s", "peak_mem_mb", "param_mb", "latency_ms",
                "runs", "error")


def backend_modules(backend) -> list:
    """The torch modules a loaded backend holds (model, or the pipeline's components)."""
    import torch
    if hasattr(backend, "pipe"):
        return [m for m in backend.pipe.components.values() if isinstance(m, torch.nn.Module)]
    model = getattr(backend, "model", None)
    return [model] if isinstance(model, torch.nn.Module) else []


def bench_inputs(image_px):
    """(image, mask, significance, prompt, known) for one call of each role."""
    from PIL import Image
    from skimage import data

    from ..semantic.interfaces import Significance
    from ..semantic.prompt import StructuredPrompt
    image = np.asarray(Image.fromarray(data.astronaut()).resize((image_px, image_px), Image.BICUBIC))
    mask = np.zeros((image_px, image_px), bool)
    mask[image_px // 5: image_px * 3 // 5, image_px // 4: image_px * 3 // 4] = True
    significance = Significance(importance=mask.astype(np.float32))
    prompt = StructuredPrompt(caption="a person in a space suit in front of a flag", scene="indoor scene")
    return image, mask, significance, prompt, mask.astype(np.float32)


def _import_for_baseline(card, quant):
    """Import what loading will import, so the memory baseline holds the libraries, not the model."""
    import importlib

    from .stack import BACKEND_CLASSES
    if card.backend in BACKEND_CLASSES:
        importlib.import_module(f".{BACKEND_CLASSES[card.backend][0]}", __package__)
    library, option = ("diffusers", "pipeline_class") if card.backend == "diffusers-inpaint" \
        else ("transformers", "model_class")
    getattr(importlib.import_module(library), card.option(option) or "__doc__", None)
    if card.backend == "clipseg":
        import transformers
        transformers.CLIPSegForImageSegmentation  # noqa: B018
    if quant in ("int8", "nf4"):
        import bitsandbytes  # noqa: F401
    if quant == "torchao-int8" or card.backend == "diffusers-inpaint":
        import torchao.quantization  # noqa: F401


def _rss_bytes():
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def bench_one(card_name, quant, device=None, runs=3, image_px=256, dtype=None, fresh_process=True) -> dict:
    """Measure one setting in this process (see module docstring). Returns a result row.

    ``fresh_process`` False: on CPU the peak resident memory of this process also holds earlier
    work, so ``peak_mem_mb`` is reported as None (GPU peaks are reset per setting and stay)."""
    import torch

    from .cards import load_card
    from .quant import parameter_bytes
    from .stack import load_backend
    card = load_card(card_name)
    image, mask, significance, prompt, known = bench_inputs(image_px)
    _import_for_baseline(card, quant)
    wanted = device or card.device
    cuda = wanted.startswith("cuda") or (wanted == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    baseline = _rss_bytes()
    start = time.perf_counter()
    backend = load_backend(card, quant=quant, device=device, dtype=dtype)
    load_s = time.perf_counter() - start
    call = {"segmenter": lambda: backend.analyze(image),
            "prompt_generator": lambda: backend.describe(image, mask, significance),
            "generator": lambda: backend.generate(prompt, image, known, seed=0)}[card.role]
    call()
    times = []
    for _ in range(runs):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if cuda:
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = max(0, _peak_rss_bytes() - baseline) if fresh_process else None
    params = sum(parameter_bytes(m) for m in backend_modules(backend))
    spec = backend.spec
    return {"card": card.name, "role": card.role, "quant": quant,
            "dtype": str(spec.dtype).replace("torch.", ""), "device": spec.device, "load_s": round(load_s, 3),
            "peak_mem_mb": None if peak is None else round(peak / 2 ** 20, 1),
            "param_mb": round(params / 2 ** 20, 2),
            "latency_ms": round(float(np.median(times)) * 1000, 1), "runs": runs, "error": None}


def bench_card(card_name, quants=("none", "int8", "nf4"), device=None, runs=3, image_px=256, isolate=True,
               timeout_s=1800, dtype=None) -> list:
    """One row per quantization mode (``BENCH_FIELDS``); a setting that fails gets its error."""
    rows = []
    for quant in quants:
        job = {"card": str(card_name), "quant": quant, "device": device, "runs": runs, "image_px": image_px,
               "dtype": dtype}
        if not isolate:
            try:
                rows.append(bench_one(job["card"], quant, device, runs, image_px, dtype, fresh_process=False))
            except GensemcomError:
                raise
            except Exception as exc:  # a backend/quantization combination this machine lacks
                rows.append(_error_row(job, f"{type(exc).__name__}: {exc}"))
            _release_memory()
            continue
        proc = subprocess.run([sys.executable, "-m", f"{__package__}.bench", json.dumps(job)],
                              capture_output=True, text=True, timeout=timeout_s)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode == 0 and lines:
            rows.append(json.loads(lines[-1]))
        else:
            tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            if proc.returncode == 2 and tail:  # a GensemcomError (missing weights ...): the user's problem
                raise _reraise(tail[-1])
            rows.append(_error_row(job, tail[-1] if tail else f"exit status {proc.returncode}"))
    return rows


def _release_memory():
    """Free what the last setting left (in-process runs), so the next one's peak is its own."""
    import gc
    gc.collect()
    import torch
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _reraise(line):
    from ..errors import BadInputError, MissingWeightsError
    kind, _, message = line.partition(": ")
    return (MissingWeightsError if kind == "MissingWeightsError" else BadInputError)(message or line)


def _error_row(job, error):
    row = dict.fromkeys(BENCH_FIELDS)
    row.update({key: job[key] for key in ("card", "quant", "dtype", "device", "runs")}, error=error[:300])
    return row


def format_table(rows) -> str:
    """Rows as a fixed-width text table (what ``gensemcom models bench`` prints)."""
    lines = [["card", "quant", "dtype", "device", "load s", "peak MiB", "params MiB", "latency ms"]]
    for r in rows:
        head = [r["card"], r["quant"], str(r.get("dtype") or ""), str(r.get("device") or "")]
        if r.get("error"):
            lines.append(head + ["failed: " + r["error"]])
        else:
            peak = "-" if r["peak_mem_mb"] is None else f"{r['peak_mem_mb']:.1f}"
            lines.append(head + [f"{r['load_s']:.2f}", peak, f"{r['param_mb']:.2f}",
                                 f"{r['latency_ms']:.1f}"])
    widths = [max(len(line[i]) for line in lines if len(line) == len(lines[0])) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def _main(argv):
    """Child process entry: run one job, print its row as JSON on the last line."""
    import warnings
    warnings.filterwarnings("ignore")
    job = json.loads(argv[0])
    try:
        row = bench_one(job["card"], job["quant"], job["device"], job["runs"], job["image_px"], job["dtype"])
    except GensemcomError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through bench_card
    sys.exit(_main(sys.argv[1:]))
