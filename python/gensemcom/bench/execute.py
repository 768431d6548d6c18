# SPDX-License-Identifier: GPL-3.0-or-later
"""Running one task: the scheme, then the same scoring for every scheme.

``execute_task`` is what every executor calls, in whatever process. It never raises: a
scheme's exception comes back as an error outcome, so one bad task cannot stop a sweep.

Scoring rule (the same for every scheme): when a scheme returns no image (nothing could be
decoded), the reconstruction is a flat gray image of the original's size whose level is
the original's mean over all pixels and channels, rounded; the row gets delivered = 0.
"""
from __future__ import annotations

import io
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from .store import COLUMNS, SCHEME_FIELDS

# Keys of a scheme's result that are not columns of their own.
_SPECIAL_KEYS = ("image", "delivered", "key_mask", "prompt_sent", "prompt_received")


@dataclass(frozen=True)
class RunOptions:
    """How tasks are scored (the same for every task of a sweep).

    agreement       compute the semantic-agreement measures (``semantic_agreement``)
    key_mask        ``provider(image, task) -> mask`` for schemes without their own mask, or None
    key_mask_name   the provider's name, recorded in ``key_mask_source``
    save_ids        task ids whose reconstruction comes back as PNG bytes (report examples)
    single_thread   run torch on one thread (one task per core; also makes results
                    independent of the machine's core count)
    """

    agreement: bool = True
    key_mask: Optional[Callable] = None
    key_mask_name: Optional[str] = None
    save_ids: frozenset = field(default_factory=frozenset)
    single_thread: bool = True


def mean_gray(image: np.ndarray) -> np.ndarray:
    """The failed-decode stand-in: a flat image at the original's mean level (all channels)."""
    return np.full_like(image, int(round(float(image.mean()))), dtype=np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def _check_reconstruction(image, shape):
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.shape != shape:
        raise ValueError(f"scheme returned an image of shape {image.shape} and dtype {image.dtype}; "
                         f"expected {shape} uint8 (the original's size)")
    return image


def score(task, original: np.ndarray, result: dict, options: RunOptions) -> dict:
    """The results.csv row of ``task`` from the scheme's ``result`` (see ``bench.schemes``)."""
    from ..metrics import image_metrics
    result = dict(result)
    image = result.pop("image", None)
    delivered = bool(result.pop("delivered", image is not None))
    key_mask = result.pop("key_mask", None)
    prompt_sent = result.pop("prompt_sent", None)
    prompt_received = result.pop("prompt_received", None)
    height, width = original.shape[:2]
    reconstruction = mean_gray(original) if image is None else _check_reconstruction(image, original.shape)

    own_mask = key_mask is not None
    if own_mask:
        key_mask = np.asarray(key_mask, dtype=bool)
        key_source = "scheme"
    elif options.key_mask is not None:
        key_mask = np.asarray(options.key_mask(original, task), dtype=bool)
        key_source = options.key_mask_name
    else:
        key_source = None
    started = time.perf_counter()
    metrics = image_metrics(original, reconstruction, key_mask)
    metrics_fraction = metrics.pop("key_fraction", None)
    if options.agreement:
        from .semantic_agreement import semantic_agreement
        metrics.update(semantic_agreement(original, reconstruction, prompt_sent, prompt_received))
    else:
        metrics["semantic_status"] = "not computed (--no-agreement)"
    row = {"task_id": task.task_id, "image": task.image_name, "scheme": task.scheme,
           "channel": task.channel, "snr_db": task.snr_db, "cpp": task.cpp, "seed": task.seed,
           "delivered": delivered, "height": height, "width": width,
           "symbols": task.channel_uses(height, width), "key_mask_source": key_source}
    row.update({k: v for k, v in metrics.items() if k in COLUMNS})
    if "key_fraction" not in result and own_mask:
        row["key_fraction"] = metrics_fraction
    extra = {}
    for name, value in result.items():
        if name in SCHEME_FIELDS:
            row[name] = value
        elif name in COLUMNS:
            raise ValueError(f"scheme result field {name!r} is computed by the sweep, not the scheme")
        else:
            extra[name] = value
    row["extra"] = extra or None
    row["metrics_s"] = time.perf_counter() - started
    return row, reconstruction


def failed_outcome(task, exc) -> dict:
    """The outcome of a task that raised ``exc`` (or whose worker died)."""
    return {"task_id": task.task_id, "row": None, "png": None,
            "error": f"{type(exc).__name__}: {exc}".replace("\n", " "),
            "traceback": "".join(traceback.format_exception(exc))}


def execute_task(task, scheme, options: RunOptions = RunOptions()) -> dict:
    """Run ``scheme`` on ``task`` and score it.

    Returns {"task_id", "row" (dict or None), "png" (bytes or None), "error" (None or a
    one-line message), "traceback"}.
    """
    outcome = {"task_id": task.task_id, "row": None, "png": None, "error": None, "traceback": None}
    torch = threads = None
    try:
        if options.single_thread:
            import torch
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
        original = task.load_image()
        started = time.perf_counter()
        result = scheme.run(task)
        wall_s = time.perf_counter() - started
        if not isinstance(result, dict):
            raise TypeError(f"scheme {task.scheme!r} returned {type(result).__name__}, expected dict")
        row, reconstruction = score(task, original, result, options)
        row["wall_s"] = wall_s
        if task.task_id in options.save_ids:
            outcome["png"] = png_bytes(reconstruction)
        outcome["row"] = row
    except Exception as exc:  # reported per task; the sweep goes on
        outcome = failed_outcome(task, exc)
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
    return outcome
