# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference key masks for key-region metrics of schemes that have no mask of their own.

A scheme that sends a key region returns its own ``key_mask`` and is scored on it. For the
others (whole-image baselines, bounds) ``gensemcom bench --key-mask NAME`` computes a mask
from the original image with a registered provider, so that every scheme's key-region
PSNR/SSIM is measured on the same pixels. A provider is a module-level function
``provider(image, task) -> (H, W) bool mask``; it gets the task so that a mask may depend on
the task's budget (the semantic sender's key area grows with its budget). For a fair
comparison with the semantic scheme, register the semantic sender's own key-mask selection
under a name with ``register_key_mask``.

Built in:
  saliency   top 20 % of OpenCV's fine-grained static saliency, smoothed with a Gaussian
             (σ = 8 px) before thresholding: the mask of the calibration runs in
             ../shared/notes/field.md. No weights, deterministic.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import BadInputError

_PROVIDERS: dict = {}
SALIENCY_FRACTION = 0.20
SALIENCY_SIGMA_PX = 8.0


def register_key_mask(name: str, provider: Callable):
    """Register ``provider(image, task) -> (H, W) bool mask`` under ``name`` (module-level function)."""
    _PROVIDERS[name] = provider


def key_mask_names() -> list:
    return sorted(_PROVIDERS)


def get_key_mask(name: str) -> Callable:
    if name not in _PROVIDERS:
        raise BadInputError(f"unknown key mask {name!r}; choose from none, {', '.join(key_mask_names())}")
    return _PROVIDERS[name]


def saliency_mask(image: np.ndarray, task=None, fraction: float = SALIENCY_FRACTION,
                  sigma_px: float = SALIENCY_SIGMA_PX) -> np.ndarray:
    """Top ``fraction`` of the smoothed OpenCV fine-grained saliency map of ``image`` (any task)."""
    import cv2
    detector = cv2.saliency.StaticSaliencyFineGrained_create()
    ok, saliency = detector.computeSaliency(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV fine-grained saliency failed")
    saliency = cv2.GaussianBlur(saliency.astype(np.float32), (0, 0), sigma_px)
    threshold = np.quantile(saliency, 1.0 - fraction)
    return saliency >= threshold


register_key_mask("saliency", saliency_mask)
