# SPDX-License-Identifier: GPL-3.0-or-later
"""The key area: how large it is, which grid cells it takes, and how a receiver infers it."""
from __future__ import annotations

import math

import numpy as np

from . import maskcode


def auto_key_fraction(budget_bytes: int, width: int, height: int) -> float:
    """Default key-area share: 0.10 at 0.031 bit/pixel (1536 B at 768x512), +0.07 per doubling,
    within 0.03..0.45 (0.17 at 3072 B, 0.24 at 6144 B, 0.31 at 12288 B for 768x512)."""
    bpp = 8.0 * max(1, budget_bytes) / (width * height)
    return float(np.clip(0.10 + 0.07 * math.log2(bpp / 0.03125), 0.03, 0.45))


def select_key_grid(importance: np.ndarray, key_fraction: float, cell_px: int) -> np.ndarray:
    """The ``key_fraction`` most important grid cells (by mean importance), holes filled."""
    from scipy import ndimage
    height, width = importance.shape
    rows, cols = maskcode.grid_shape(width, height, cell_px)
    padded = np.zeros((rows * cell_px, cols * cell_px), np.float32)
    padded[:height, :width] = importance
    cells = padded.reshape(rows, cell_px, cols, cell_px).mean(axis=(1, 3))
    count = int(round(key_fraction * rows * cols))
    grid = np.zeros(rows * cols, bool)
    if count > 0:
        order = np.argsort(-cells.ravel(), kind="stable")
        grid[order[:count]] = True
    grid = grid.reshape(rows, cols)
    return ndimage.binary_fill_holes(grid)


def infer_mask(energy: np.ndarray) -> np.ndarray:
    import cv2
    smooth = cv2.GaussianBlur(energy.astype(np.float32), (0, 0), 4)
    return smooth > 2.0
