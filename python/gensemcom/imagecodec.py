# SPDX-License-Identifier: GPL-3.0-or-later
"""What every image codec returns: the semantic codec and the whole-image baselines alike.

An image codec has ``encode(image, budget, image_id=...) -> EncodeResult`` and
``decode(received, size=...) -> DecodeResult``; blocks, flowgraphs and the benchmark use
nothing else of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EncodeResult:
    """What ``encode`` produced.

    container     the ``transport.container.Container`` sent
    data          the container bytes (``container.to_bytes()``)
    key_mask      (H, W) bool: the sender's key mask (all False for whole-image codecs)
    prompt        the ``StructuredPrompt`` sent (None for whole-image codecs)
    significance  the segmenter's ``Significance`` (None for whole-image codecs)
    report        sizes per section, the byte split, the choices of rate control, the cost
    """

    container: object
    data: bytes
    key_mask: np.ndarray
    prompt: object
    significance: object
    report: dict = field(default_factory=dict)


@dataclass
class DecodeResult:
    """What ``decode`` produced: the (H, W, 3) uint8 image, the key mask used, the prompt
    recovered (None if none) and a report."""

    image: np.ndarray
    key_mask: np.ndarray
    prompt: object
    report: dict = field(default_factory=dict)
