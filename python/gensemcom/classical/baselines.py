# SPDX-License-Identifier: GPL-3.0-or-later
"""Whole-image classical baselines: the best quality and scale of a codec that fits a byte budget.

``fit_whole_image(image, budget_bytes, codec)`` tries every scale in ``SCALE_FACTORS``
(original size, 1/1.5, 1/2, 1/3, … 1/8), binary-searches the highest quality whose *file* fits
the budget at each scale, decodes, upsamples back (bicubic) and keeps the scale with the best
whole-image PSNR. A codec that cannot fit the budget at any scale and quality is scored as a
flat mean-grey image (``mean_grey``), the field's convention for a failed transmission.

By default the files are complete, standard files (AVIF with its HEIF boxes, WebP with RIFF,
JPEG/JFIF), as anyone would send them; ``standard_file=False`` measures the bare streams of
``stillcodec`` instead (what the semantic codec sends), to separate the gain of dropping
container overhead from the gain of spending bits on the key regions.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..classical import stillcodec
from ..imageops import SCALE_FACTORS, resize, scaled_size

MEAN_GREY = 128


@dataclass
class BaselineResult:
    """Outcome of ``fit_whole_image``.

    image         (H, W, 3) uint8 reconstruction at the original size (mean grey if not fits)
    fits          whether any scale/quality fit the budget
    n_bytes       bytes used (0 if not fits)
    quality       codec quality chosen (None if not fits)
    scale_factor  coded size = original / scale_factor (None if not fits)
    data          the coded file (or bare stream) itself (empty if not fits)
    """

    codec: str
    budget_bytes: int
    image: np.ndarray
    fits: bool
    n_bytes: int = 0
    quality: int = None
    scale_factor: float = None
    data: bytes = b""
    blur_px: float = None       # roi-av1: the low-pass filter of the non-key area (None: not ROI)


def mean_grey(shape) -> np.ndarray:
    """The flat mid-grey image that scores a failed decode."""
    return np.full(shape, MEAN_GREY, np.uint8)


def encode_file(rgb: np.ndarray, codec: str, quality: int, speed: int = 6) -> bytes:
    """A complete standard image file (AVIF / WebP / JPEG) as Pillow writes it."""
    from PIL import Image
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    buf = io.BytesIO()
    if codec == "avif":
        image.save(buf, "AVIF", quality=int(quality), speed=int(speed), max_threads=1, autotiling=False)
    elif codec == "webp":
        image.save(buf, "WEBP", quality=int(quality), method=4)
    elif codec == "jpeg":
        image.save(buf, "JPEG", quality=int(quality), optimize=True)
    else:
        raise ValueError(f"unknown codec {codec!r}")
    return buf.getvalue()


def _decode_file(data: bytes) -> np.ndarray:
    from PIL import Image
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def best_quality_that_fits(rgb: np.ndarray, budget_bytes: int, encode):
    """Highest quality q in 0..100 with ``len(encode(rgb, q)) <= budget_bytes``: (q, data) or None."""
    lo, hi, best = 0, 100, None
    while lo <= hi:
        q = (lo + hi) // 2
        data = encode(rgb, q)
        if len(data) <= budget_bytes:
            best, lo = (q, data), q + 1
        else:
            hi = q - 1
    return best


def fit_whole_image(image: np.ndarray, budget_bytes: int, codec: str = "avif",
                    scale_factors=SCALE_FACTORS, speed: int = 6,
                    standard_file: bool = True, **stream_options) -> BaselineResult:
    """Best whole-image reconstruction of ``codec`` within ``budget_bytes`` (see module docstring).

    ``stream_options``: encoder options of a bare stream (``stillcodec.encode_still``: tune,
    subsampling, method)."""
    from ..metrics import psnr
    height, width = image.shape[:2]
    lo_q, hi_q = stillcodec.QUALITY_RANGE[codec]

    def encode(rgb, q):
        q = lo_q + (hi_q - lo_q) * q // 100
        if standard_file:
            return encode_file(rgb, codec, q, speed)
        return stillcodec.encode_still(rgb, codec, q, speed, **stream_options)

    def decode(data, w, h):
        return _decode_file(data) if standard_file else stillcodec.decode_still(data, codec, w, h)

    best = None
    for factor in scale_factors:
        w, h = scaled_size(width, height, factor)
        if factor != 1.0 and (w >= width or h >= height):
            continue
        small = resize(image, w, h)
        found = best_quality_that_fits(small, budget_bytes, encode)
        if found is None:
            continue
        q, data = found
        recon = resize(decode(data, w, h), width, height)
        score = psnr(image, recon)
        if best is None or score > best[0]:
            best = (score, BaselineResult(codec, budget_bytes, recon, True, len(data),
                                          lo_q + (hi_q - lo_q) * q // 100, factor, data))
    if best is None:
        return BaselineResult(codec, budget_bytes, mean_grey(image.shape), False)
    return best[1]
