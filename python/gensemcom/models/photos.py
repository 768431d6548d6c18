# SPDX-License-Identifier: GPL-3.0-or-later
"""Openly licensed photos that pip packages install: int8 calibration, LoRA training, tuning.

Never Kodak (the benchmark set). Sources: scikit-image's ``skimage.data`` (CC0 / public domain),
scikit-learn's bundled photos (china, flower: CC BY 2.0 / public domain per its README) and
matplotlib's ``grace_hopper`` (public domain). Two disjoint groups:

  TRAIN_PHOTOS    LoRA training and int8 calibration (with crops, flips and rescales)
  HELDOUT_PHOTOS  only for measuring how a choice generalises (never trained or calibrated on)
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import BadInputError

TRAIN_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "china", "hubble_deep_field", "immunohistochemistry",
                "gravel")
HELDOUT_PHOTOS = ("motorcycle_left", "flower", "grace_hopper")


@functools.lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB photo ``name`` (read-only array; copy before writing)."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        image = load_sample_image(f"{name}.jpg")
    elif name == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image
        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f, Image.open(f) as im:
            image = np.asarray(im.convert("RGB"))
    else:
        from skimage import data
        if name == "motorcycle_left":
            image = data.stereo_motorcycle()[0]
        elif hasattr(data, name):
            image = getattr(data, name)()
        else:
            raise BadInputError(f"unknown photo {name!r}; known: {', '.join(TRAIN_PHOTOS + HELDOUT_PHOTOS)}")
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = np.ascontiguousarray(image[..., :3].astype(np.uint8))
    image.setflags(write=False)
    return image


def random_view(image: np.ndarray, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A ``width`` x ``height`` view of ``image``: random rescale (0.5..1 of the largest crop that
    fits), crop position and horizontal flip; (height, width, 3) uint8."""
    from ..imageops import resize
    h, w = image.shape[:2]
    fit = min(w / width, h / height)
    if fit < 1:
        image = resize(image, max(width, int(round(w / fit)) + 1), max(height, int(round(h / fit)) + 1))
        h, w = image.shape[:2]
        fit = min(w / width, h / height)
    zoom = rng.uniform(max(1.0, fit * 0.5), fit)
    cw, ch = min(w, int(round(width * zoom))), min(h, int(round(height * zoom)))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    view = resize(np.ascontiguousarray(image[y0:y0 + ch, x0:x0 + cw]), width, height)
    return np.ascontiguousarray(view[:, ::-1]) if rng.random() < 0.5 else view
