# SPDX-License-Identifier: GPL-3.0-or-later
"""Region-of-interest coding: one classical stream that spends its bytes on the key regions.

``fit_roi(image, key_mask, budget_bytes)`` is the ``roi-av1`` baseline's sender: the non-key
area is low-pass filtered (Gaussian, ``blur_px``) before coding, feathered into the key area,
so the encoder finds almost nothing to code there and spends the budget on the key regions;
no prompt, no hints, no generator. Its rate search is the semantic sender's: for each filter
strength and scale (fine to coarse, stopping at the first worse one) the highest quality that
fits, scored by key-region squared error plus ``nonkey_weight`` times the non-key area's
(``semantic.config.CodecConfig.nonkey_weight``, 0.1); the search runs at a fast encoder speed
and the stream sent is re-encoded at ``speed`` at the best quality that still fits.
"""
from __future__ import annotations

import numpy as np

from ..imageops import SCALE_FACTORS, feather_weight, resize, scaled_size
from . import stillcodec
from .baselines import BaselineResult, best_quality_that_fits, mean_grey

BLUR_PX = (0.0, 3.0, 8.0)
NONKEY_WEIGHT = 0.1


def _prefiltered(image, weight, blur_px):
    if blur_px <= 0:
        return image
    import cv2
    smooth = cv2.GaussianBlur(image, (0, 0), float(blur_px))
    w = weight[..., None]
    return np.clip(np.rint(w * image + (1.0 - w) * smooth), 0, 255).astype(np.uint8)


def _score(image_f, recon, key, nonkey_weight):
    err = np.mean((recon.astype(np.float32) - image_f) ** 2, axis=2)
    key_err = float(err[key].mean()) if key.any() else 0.0
    other_err = float(err[~key].mean()) if (~key).any() else 0.0
    return key_err + nonkey_weight * other_err


def fit_roi(image: np.ndarray, key_mask: np.ndarray, budget_bytes: int, codec: str = "avif",
            blur_px=BLUR_PX, nonkey_weight: float = NONKEY_WEIGHT, scale_factors=SCALE_FACTORS,
            search_speed: int = 9, speed: int = 6, feather_px: int = None, **stream_options) -> BaselineResult:
    """Best ROI-coded bare stream of ``image`` within ``budget_bytes`` (see module docstring).

    key_mask  (H, W) bool, the semantic sender's key mask; returns a ``BaselineResult`` whose
    ``image`` is the reconstruction at full size and ``blur_px`` the filter chosen.
    """
    height, width = image.shape[:2]
    key = np.asarray(key_mask, bool)
    feather = feather_px if feather_px is not None else max(2, min(width, height) // 64)
    weight = feather_weight(key, feather)
    image_f = image.astype(np.float32)
    lo_q, hi_q = stillcodec.QUALITY_RANGE[codec]

    def coder(spd):
        return lambda rgb, q: stillcodec.encode_still(rgb, codec, lo_q + (hi_q - lo_q) * q // 100, spd,
                                                      **stream_options)

    def reconstruct(data, w, h):
        return resize(stillcodec.decode_still(data, codec, w, h), width, height)

    best = None                          # (score, blur, factor)
    for blur in blur_px:
        source = _prefiltered(image, weight, blur)
        previous = None
        for factor in scale_factors:
            w, h = scaled_size(width, height, factor)
            if factor != 1.0 and (w >= width or h >= height):
                continue
            found = best_quality_that_fits(resize(source, w, h), budget_bytes, coder(search_speed))
            if found is None:
                continue
            score = _score(image_f, reconstruct(found[1], w, h), key, nonkey_weight)
            if best is None or score < best[0]:
                best = (score, blur, factor)
            if previous is not None and score > previous:
                break                    # coarser scales only get worse from here
            previous = score
    if best is None:
        return BaselineResult(codec, budget_bytes, mean_grey(image.shape), False)
    _, blur, factor = best
    w, h = scaled_size(width, height, factor)
    small = resize(_prefiltered(image, weight, blur), w, h)
    found = best_quality_that_fits(small, budget_bytes, coder(speed))
    if found is None:                    # the final speed's stream is larger: keep the search's
        found = best_quality_that_fits(small, budget_bytes, coder(search_speed))
    q, data = found
    return BaselineResult(codec, budget_bytes, reconstruct(data, w, h), True, len(data),
                          lo_q + (hi_q - lo_q) * q // 100, factor, data, blur_px=blur)


def roi_quality(key_mask, nonkey_weight: float = NONKEY_WEIGHT):
    """quality(image, reconstruction) -> dB of the ROI search's error (key MSE plus
    ``nonkey_weight`` times non-key MSE, as a PSNR): what the roi-av1 planner maximises."""
    key = np.asarray(key_mask, bool)

    def quality(image, recon):
        err = _score(image.astype(np.float32), recon, key, nonkey_weight) / (1.0 + nonkey_weight)
        return float(10 * np.log10(255.0 ** 2 / max(err, 1e-10)))
    return quality
