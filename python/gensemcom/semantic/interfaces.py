# SPDX-License-Identifier: GPL-3.0-or-later
"""Backend interfaces of the semantic codec.

The codec calls three pluggable backends. The offline default stack (this package) and
the large-model stack (``gensemcom.models``) both implement them, so a model card only
chooses classes; the codec, container and rate control never change.

Vocabulary (shared by every backend):
  image    ``np.ndarray`` (H, W, 3) uint8 RGB, row-major, H and W >= 16
  mask     ``np.ndarray`` (H, W) bool, True = key region (received at full fidelity)
  known    ``np.ndarray`` (H, W) float32 in [0, 1], 1 = pixel content received
  prompt   ``StructuredPrompt`` (see ``gensemcom.semantic.prompt``)
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


@dataclass
class KeyRegion:
    """One semantically significant region found by a segmenter.

    box     (x0, y0, x1, y1) in pixels, end exclusive
    label   what it is, e.g. "face", "person", "dog", "salient"
    score   importance in [0, 1]; regions are ranked by it
    source  which analysis found it: "saliency", "face", "person", "classifier", "user", "model"
    """

    box: tuple
    label: str
    score: float
    source: str


@dataclass
class Significance:
    """Output of a ``Segmenter``.

    importance  (H, W) float32 in [0, 1]: per-pixel semantic significance; the key mask for
                any key-area fraction is the top of this map (see ``key_mask``)
    regions     ranked ``KeyRegion`` list, most important first
    labels      image-level (label, confidence) pairs, best first, for the prompt
    """

    importance: np.ndarray
    regions: list = field(default_factory=list)
    labels: list = field(default_factory=list)

    def key_mask(self, key_fraction: float) -> np.ndarray:
        """Boolean (H, W) mask of the ``key_fraction`` most significant pixels."""
        if not 0.0 <= key_fraction <= 1.0:
            raise ValueError(f"key_fraction must be in [0, 1], got {key_fraction}")
        if key_fraction == 0.0:
            return np.zeros(self.importance.shape, dtype=bool)
        threshold = np.quantile(self.importance, 1.0 - key_fraction)
        return self.importance >= threshold


class Segmenter(abc.ABC):
    """Significance analysis: image -> ``Significance``."""

    name = "segmenter"

    @abc.abstractmethod
    def analyze(self, image: np.ndarray) -> Significance:
        """Return the per-pixel importance and ranked key regions of ``image``."""


class PromptGenerator(abc.ABC):
    """Image-to-text: describes the non-key area as a ``StructuredPrompt``."""

    name = "prompt-generator"

    @abc.abstractmethod
    def describe(self, image: np.ndarray, mask: np.ndarray, significance: Significance):
        """Return a ``StructuredPrompt`` for ``image``; ``mask`` marks the key area.

        The prompt describes what the receiver must regenerate (the area outside ``mask``);
        ``significance.labels`` may be reused instead of running a classifier again. Keep the
        serialised size small (``StructuredPrompt.to_bytes``): the default stays under 300 bytes.
        """


class Generator(abc.ABC):
    """Generative fill: regenerates the area not received, guided by the prompt.

    ``canvas`` holds the received content where ``known`` > 0 and, elsewhere, the decoder's
    best coarse estimate: a smooth colour field from the key stream's low-pass background,
    the visual hints or the prompt's layout (never garbage), so it can serve as an init
    image. ``known`` is soft (feathered) at the key boundary. ``seed`` makes the output
    reproducible. The result has the canvas's shape; the codec pastes the key regions back
    afterwards (fusion with seam blending), so a generator need not preserve them exactly.

    A generator whose ``uses_hints`` is True also gets ``thumbnail=``: the decoded hint
    thumbnail, (h, w, 3) uint8 at the size the metadata names, or None when no hint arrived.
    """

    name = "generator"
    uses_hints = False

    @abc.abstractmethod
    def generate(self, prompt, canvas: np.ndarray, known: np.ndarray, seed: int = 0) -> np.ndarray:
        """Return an (H, W, 3) uint8 image that fills the unknown area of ``canvas``."""
