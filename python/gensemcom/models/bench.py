# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of one model card per quantization setting: load time, memory, latency per image.

Each setting runs in a fresh Python process (``python -m ...models.bench JOB``), so memory
figures do not mix: on CPU ``peak_mem_mb`` is the process's peak resident memory minus its
resident memory after the imports (load + inference); on GPU it is
``torch.cuda.max_memory_allocated``. ``param_mb`` counts the bytes the model's parameters and
buffers really hold (quantized storage and scales included). ``latency_ms`` is the median of
``runs`` calls after one warm-up, on a ``image_px``-square image (astronaut from scikit-image).

Generators that decode from the hints (``uses_hints``, e.g. Real-ESRGAN) are measured as the
receiver runs them: a whole ``SemanticCodec.decode`` of one container (coffee from scikit-image
at ``image_size``, coded once by the offline encoder at ``DECODE_BUDGET_BYTES``); each row then
also holds the decoded image's PSNR / SSIM / VSI against the original and, beside a ``none``
row, the change against it (``d_psnr`` ..., and ``psnr_vs_none``: the two decodes compared).
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
                "runs", "error", "image_size", "psnr", "ssim", "vsi", "d_psnr", "d_ssim", "d_vsi", "psnr_vs_none")
DECODE_BUDGET_BYTES = 3072
DECODE_IMAGE_SIZE = (768, 512)


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


def uses_hints(card) -> bool:
    """Whether ``card``'s backend is a generator that decodes from the hint thumbnail."""
    from .stack import BACKEND_CLASSES, backend_class
    if card.role != "generator" or card.backend not in BACKEND_CLASSES:
        return False
    return bool(getattr(backend_class(card), "uses_hints", False))


def decode_case(folder, image_size=DECODE_IMAGE_SIZE) -> dict:
    """Code the decode benchmark's container once (see module docstring) into ``folder``:
    {"container": path, "original": path}."""
    from pathlib import Path

    from ..imageio import save_png
    from ..imageops import resize
    from ..semantic.codec import SemanticCodec
    from .photos import load_photo
    image = resize(load_photo("coffee"), *image_size)
    encoded = SemanticCodec().encode(image, DECODE_BUDGET_BYTES)
    folder = Path(folder)
    (folder / "container.gsc").write_bytes(encoded.data)
    save_png(folder / "original.png", image)
    return {"container": str(folder / "container.gsc"), "original": str(folder / "original.png")}


def _import_for_baseline(card, quant):
    """Import what loading will import, so the memory baseline holds the libraries, not the model."""
    import importlib

    from .stack import BACKEND_CLASSES
    if card.backend in BACKEND_CLASSES:
        importlib.import_module(f".{BACKEND_CLASSES[card.backend][0]}", __package__)
    if card.backend == "realesrgan":
        if quant == "int8":
            import torch.ao.quantization.quantize_fx  # noqa: F401
        return
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


def bench_one(card_name, quant, device=None, runs=3, image_px=256, dtype=None, fresh_process=True,
              case=None) -> dict:
    """Measure one setting in this process (see module docstring). Returns a result row.

    ``fresh_process`` False: on CPU the peak resident memory of this process also holds earlier
    work, so ``peak_mem_mb`` is reported as None (GPU peaks are reset per setting and stay).
    ``case`` (``decode_case``'s dict): time whole decodes of its container; the decoded image is
    written beside it as ``decoded-QUANT.png``."""
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
    if case is not None:
        from pathlib import Path

        from ..semantic.codec import SemanticCodec
        data = Path(case["container"]).read_bytes()
        codec = SemanticCodec(generator=backend)

        def call():
            return codec.decode(data).image
    output = call()
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
    if hasattr(backend, "parameter_bytes"):
        params = backend.parameter_bytes()
    else:
        params = sum(parameter_bytes(m) for m in backend_modules(backend))
    spec = backend.spec
    row = dict.fromkeys(BENCH_FIELDS)
    row.update({"card": card.name, "role": card.role, "quant": quant,
                "dtype": str(spec.dtype).replace("torch.", ""), "device": spec.device, "load_s": round(load_s, 3),
                "peak_mem_mb": None if peak is None else round(peak / 2 ** 20, 1),
                "param_mb": round(params / 2 ** 20, 2),
                "latency_ms": round(float(np.median(times)) * 1000, 1), "runs": runs, "error": None})
    if case is not None:
        row.update(_decoded_quality(case, quant, output))
    return row


def _decoded_quality(case, quant, output) -> dict:
    """Quality of a decoded image against the original; the image is kept for comparisons."""
    from pathlib import Path

    from .. import metrics
    from ..imageio import load_image, save_png
    original = load_image(case["original"])
    save_png(Path(case["container"]).parent / f"decoded-{quant}.png", output)
    return {"image_size": f"{original.shape[1]}x{original.shape[0]}", "psnr": round(metrics.psnr(original, output), 3),
            "ssim": round(metrics.ssim(original, output), 4), "vsi": round(metrics.vsi(original, output), 4)}


def _changes_against_none(rows, case):
    """Fill d_psnr, d_ssim, d_vsi and psnr_vs_none of each row against the ``none`` row."""
    from pathlib import Path

    from .. import metrics
    from ..imageio import load_image
    reference = next((r for r in rows if r["quant"] == "none" and not r.get("error")), None)
    if reference is None:
        return
    folder = Path(case["container"]).parent
    none_image = load_image(folder / "decoded-none.png")
    for row in rows:
        if row.get("error") or row.get("psnr") is None:
            continue
        for key in ("psnr", "ssim", "vsi"):
            row[f"d_{key}"] = round(row[key] - reference[key], 4)
        row["psnr_vs_none"] = round(metrics.psnr(none_image, load_image(folder / f"decoded-{row['quant']}.png")), 2)


def bench_card(card_name, quants=("none", "int8", "nf4"), device=None, runs=3, image_px=256, isolate=True,
               timeout_s=1800, dtype=None, image_size=None) -> list:
    """One row per quantization mode (``BENCH_FIELDS``); a setting that fails gets its error.

    ``image_size`` (width, height): the decode benchmark's image (hint generators; default
    ``DECODE_IMAGE_SIZE``)."""
    import tempfile

    from .cards import load_card
    with tempfile.TemporaryDirectory(prefix="gensemcom-bench-") as folder:
        case = decode_case(folder, image_size or DECODE_IMAGE_SIZE) if uses_hints(load_card(card_name)) else None
        rows = _bench_rows(card_name, quants, device, runs, image_px, isolate, timeout_s, dtype, case)
        if case is not None:
            _changes_against_none(rows, case)
    return rows


def _bench_rows(card_name, quants, device, runs, image_px, isolate, timeout_s, dtype, case) -> list:
    rows = []
    for quant in quants:
        job = {"card": str(card_name), "quant": quant, "device": device, "runs": runs, "image_px": image_px,
               "dtype": dtype, "case": case}
        if not isolate:
            try:
                rows.append(bench_one(job["card"], quant, device, runs, image_px, dtype, fresh_process=False,
                                      case=case))
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
    quality = any(r.get("psnr") is not None for r in rows)
    lines = [["card", "quant", "dtype", "device", "load s", "peak MiB", "params MiB", "latency ms"]
             + (["PSNR", "SSIM", "VSI", "dPSNR", "dSSIM", "dVSI", "PSNR vs none"] if quality else [])]
    for r in rows:
        head = [r["card"], r["quant"], str(r.get("dtype") or ""), str(r.get("device") or "")]
        if r.get("error"):
            lines.append(head + ["failed: " + r["error"]])
        else:
            peak = "-" if r["peak_mem_mb"] is None else f"{r['peak_mem_mb']:.1f}"
            lines.append(head + [f"{r['load_s']:.2f}", peak, f"{r['param_mb']:.2f}",
                                 f"{r['latency_ms']:.1f}"]
                         + ([_number(r.get(k)) for k in ("psnr", "ssim", "vsi", "d_psnr", "d_ssim", "d_vsi",
                                                         "psnr_vs_none")] if quality else []))
    widths = [max(len(line[i]) for line in lines if len(line) == len(lines[0])) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def _number(value) -> str:
    return "-" if value is None else f"{value:g}"


def _main(argv):
    """Child process entry: run one job, print its row as JSON on the last line."""
    import warnings
    warnings.filterwarnings("ignore")
    job = json.loads(argv[0])
    try:
        row = bench_one(job["card"], job["quant"], job["device"], job["runs"], job["image_px"], job["dtype"],
                        case=job.get("case"))
    except GensemcomError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through bench_card
    sys.exit(_main(sys.argv[1:]))
