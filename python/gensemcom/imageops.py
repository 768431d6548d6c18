# SPDX-License-Identifier: GPL-3.0-or-later
"""Small deterministic image operations shared by the encoder, the decoder and the baselines.

The sender and the receiver must compute the same base image and the same key weight map from
the same received data, so these functions use only OpenCV/numpy operations with fixed
parameters (no randomness, no platform-dependent threading differences in the results).
"""
from __future__ import annotations

import numpy as np

# Scale ladder (coded size = original / factor) tried by rate control and by the baselines.
SCALE_FACTORS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)


def scaled_size(width: int, height: int, factor: float):
    """(w, h) of an image coded at 1/``factor`` of its size (at least 8 px on a side)."""
    return max(8, int(round(width / factor))), max(8, int(round(height / factor)))


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize (area averaging down, bicubic up); keeps the dtype (uint8 results are clipped)."""
    import cv2
    if image.shape[1] == width and image.shape[0] == height:
        return image.copy()
    shrinking = width <= image.shape[1] and height <= image.shape[0]
    out = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    if out.ndim == 2 and image.ndim == 3:
        out = out[..., None]
    return out


def to_uint8(image) -> np.ndarray:
    """Round and clip a float image to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def smooth_upsample(grid: np.ndarray, width: int, height: int, cells: bool = False) -> np.ndarray:
    """A smooth float32 field of (height, width[, C]) from a coarse grid.

    ``cells=False`` treats the grid as samples (a thumbnail): bilinear interpolation, then a
    Gaussian blur of 0.35 samples. ``cells=True`` treats it as the mean values of cells (a
    layout): piecewise constant, then a Gaussian blur of 0.2 cells, so that each cell keeps
    about its mean. Work happens at an intermediate size of about 8 px per pixel of it, which
    keeps large blurs fast; the result is interpolated bilinearly to the full size.
    """
    import cv2
    grid = np.asarray(grid, dtype=np.float32)
    rows, cols = grid.shape[:2]
    mid_w, mid_h = max(cols, -(-width // 8)), max(rows, -(-height // 8))
    interpolation = cv2.INTER_NEAREST if cells else cv2.INTER_LINEAR
    field = cv2.resize(grid, (mid_w, mid_h), interpolation=interpolation)
    sigma = (0.2 if cells else 0.35) * max(mid_w / cols, mid_h / rows)
    if sigma >= 0.5:
        field = cv2.GaussianBlur(field, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    field = cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)
    return field.reshape((height, width) + grid.shape[2:])


def feather_weight(mask: np.ndarray, feather_px: int) -> np.ndarray:
    """Key weight map: 1 on the mask, falling linearly to 0 over ``feather_px`` pixels outside it."""
    import cv2
    mask = np.asarray(mask, dtype=bool)
    if feather_px <= 0 or not mask.any():
        return mask.astype(np.float32)
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(1.0 - dist / float(feather_px + 1), 0.0, 1.0).astype(np.float32)


def luminance(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image, float32."""
    image = np.asarray(image, dtype=np.float32)
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
