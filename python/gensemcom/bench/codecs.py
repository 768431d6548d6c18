"""Whole-image codecs at the best quality and scale that fit a byte budget.

This is the classical-codec half of the separation baselines: JPEG, WebP and AVIF through
Pillow, each tried at scales 1, 1/2 and 1/4 (downscaling is what lets a classical codec fit
a tiny budget), at the highest quality whose file fits the budget (binary search on the
quality setting), keeping the scale with the best PSNR after upscaling back.

The byte count is the whole file Pillow writes (headers and container included). The
receiver is assumed to know the original size (H, W) to upscale to.

Note: the semantic package's ``semantic/baselines.py`` is meant to own this logic; when it
lands, the capacity schemes should call it and this module should go.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

CODECS = ("jpeg", "webp", "avif")
SCALES = (1.0, 0.5, 0.25)
MIN_SIDE = 16
# Pillow quality ranges; AVIF is encoded single-threaded so results never depend on cores.
_QUALITY_RANGE = {"jpeg": (1, 100), "webp": (0, 100), "avif": (0, 100)}


@dataclass
class CodecFit:
    """The best fit of one codec to a budget.

    codec, quality, scale   the settings chosen
    data                    the encoded file (len(data) <= budget)
    reconstruction          decoded and upscaled back to the original (H, W, 3) uint8
    psnr                    PSNR of ``reconstruction`` against the original (dB)
    """

    codec: str
    quality: int
    scale: float
    data: bytes
    reconstruction: np.ndarray
    psnr: float


def encode(image: np.ndarray, codec: str, quality: int) -> bytes:
    """Encode an (H, W, 3) uint8 RGB image with Pillow; 4:2:0 chroma for all three codecs."""
    from PIL import Image
    buf = io.BytesIO()
    pil = Image.fromarray(image)
    if codec == "jpeg":
        pil.save(buf, "JPEG", quality=int(quality), optimize=True, subsampling="4:2:0")
    elif codec == "webp":
        pil.save(buf, "WEBP", quality=int(quality), method=4)
    elif codec == "avif":
        pil.save(buf, "AVIF", quality=int(quality), speed=6, max_threads=1, subsampling="4:2:0")
    else:
        raise ValueError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    """Decode a file written by ``encode`` into (h, w, 3) uint8 RGB."""
    from PIL import Image
    with Image.open(io.BytesIO(data)) as pil:
        return np.array(pil.convert("RGB"))


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Lanczos resize (antialiased when downscaling)."""
    from PIL import Image
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return np.array(Image.fromarray(image).resize((width, height), Image.LANCZOS))


def best_quality(image: np.ndarray, codec: str, budget_bytes: int):
    """(quality, data) of the highest quality whose file fits ``budget_bytes``, or ``None``.

    Binary search assumes file size grows with quality, which holds for these encoders up
    to a few bytes; the file returned always fits.
    """
    low, high = _QUALITY_RANGE[codec]
    best = None
    while low <= high:
        quality = (low + high) // 2
        data = encode(image, codec, quality)
        if len(data) <= budget_bytes:
            best = (quality, data)
            low = quality + 1
        else:
            high = quality - 1
    return best


def fit_budget(image: np.ndarray, codec: str, budget_bytes: int, scales=SCALES):
    """The ``CodecFit`` with the best PSNR over ``scales``, or ``None`` if nothing fits."""
    from ..metrics import psnr
    height, width = image.shape[:2]
    best = None
    for scale in scales:
        w, h = max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale))
        fit = best_quality(resize(image, w, h), codec, budget_bytes)
        if fit is None:
            continue
        quality, data = fit
        reconstruction = resize(decode(data), width, height)
        score = psnr(image, reconstruction)
        if best is None or score > best.psnr:
            best = CodecFit(codec, quality, float(scale), data, reconstruction, score)
    return best
