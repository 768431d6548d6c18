# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline generative fill: structured texture synthesis guided by the prompt's layout.

No learned model is available offline, so the default generator synthesises what the prompt
describes on top of the decoder's smooth base (the canvas outside the key area): band-limited
noise whose amplitude, grain (fine/medium/coarse) and orientation follow the prompt's layout
cells, smoothly interpolated between cells. Texture is zero-mean, so the colours and layout of
the base, which come from the hints or the prompt, are kept. It is deterministic per ``seed``.
"""
from __future__ import annotations

import numpy as np

from ...imageops import smooth_upsample
from ..interfaces import Generator
from .describer import BAND_SIGMAS

# Mixing weights of the (fine, medium, coarse) noise bands for each grain index.
GRAIN_MIX = np.array([[1.0, 0.45, 0.2], [0.35, 1.0, 0.35], [0.2, 0.45, 1.0]], np.float32)


class OfflineGenerator(Generator):
    """Fills the unknown area with prompt-shaped texture on the canvas's smooth base.

    texture_strength  synthesised texture std as a fraction of the prompt's measured texture
                      amplitude (below 1: random texture cannot match the true one pixel by
                      pixel, so full strength would add error; see docs/semantic.md)
    chroma_strength   fraction of the texture added as colour variation
    """

    name = "offline"

    def __init__(self, texture_strength: float = 0.5, texture_knee: float = 12.0,
                 chroma_strength: float = 0.1):
        self.texture_strength = texture_strength
        self.texture_knee = texture_knee
        self.chroma_strength = chroma_strength

    def generate(self, prompt, canvas: np.ndarray, known: np.ndarray, seed: int = 0) -> np.ndarray:
        canvas = np.asarray(canvas)
        height, width = canvas.shape[:2]
        out = canvas.astype(np.float32)
        unknown = 1.0 - np.clip(np.asarray(known, np.float32), 0.0, 1.0)
        cols, rows = prompt.grid if prompt is not None else (0, 0)
        if prompt is None or not prompt.layout or cols * rows != len(prompt.layout) or not unknown.any():
            return canvas.astype(np.uint8)
        cells = prompt.layout
        amplitude = np.array([max(0.0, c.texture - self.texture_knee) for c in cells], np.float32)
        amplitude = smooth_upsample(amplitude.reshape(rows, cols), width, height, cells=True)
        if float(amplitude.max()) * self.texture_strength < 0.5:
            return canvas.astype(np.uint8)
        grain_weights = smooth_upsample(GRAIN_MIX[[c.grain for c in cells]].reshape(rows, cols, 3),
                                        width, height, cells=True)
        orient_onehot = np.eye(4, dtype=np.float32)[[c.orientation for c in cells]].reshape(rows, cols, 4)
        orient_weights = smooth_upsample(orient_onehot, width, height, cells=True)

        rng = np.random.default_rng(seed)
        unit = max(height, width) / 768.0
        bands = _noise_bands(rng.standard_normal((height, width), dtype=np.float32), unit)
        texture = np.einsum("hwk,khw->hw", grain_weights, bands)
        texture /= np.sqrt((grain_weights ** 2).sum(axis=2)) + 1e-6
        texture = _orient(texture, orient_weights, unit)
        texture *= amplitude * self.texture_strength * unknown
        out += texture[..., None]
        if self.chroma_strength > 0:
            tint = _noise_bands(rng.standard_normal((height, width), dtype=np.float32), unit)[2]
            tint *= amplitude * self.texture_strength * self.chroma_strength * unknown
            out += tint[..., None] * np.array([1.0, -0.5, -0.5], np.float32)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _noise_bands(white: np.ndarray, unit: float) -> np.ndarray:
    """(3, H, W) unit-variance band-pass versions of white noise (fine, medium, coarse)."""
    import cv2
    blurred = {0.0: white}
    for lo, hi in BAND_SIGMAS:
        for sigma in (lo, hi):
            if sigma not in blurred:
                blurred[sigma] = cv2.GaussianBlur(white, (0, 0), max(0.5, sigma * unit))
    out = []
    for lo, hi in BAND_SIGMAS:
        band = blurred[lo] - blurred[hi]
        out.append(band / (float(band.std()) + 1e-6))
    return np.stack(out)


def _orient(texture: np.ndarray, weights: np.ndarray, unit: float) -> np.ndarray:
    """Mix isotropic texture with versions smeared along horizontal/vertical/diagonal lines."""
    import cv2
    length = max(3, int(round(9 * unit)) | 1)
    kernels = [np.ones((1, length), np.float32), np.ones((length, 1), np.float32),
               np.eye(length, dtype=np.float32)]
    out = texture * weights[..., 0]
    for k, kernel in enumerate(kernels, start=1):
        if float(weights[..., k].max()) < 1e-3:
            continue
        smeared = cv2.filter2D(texture, -1, kernel / kernel.sum())
        smeared /= float(smeared.std()) + 1e-6
        out += smeared * float(texture.std()) * weights[..., k]
    return out
