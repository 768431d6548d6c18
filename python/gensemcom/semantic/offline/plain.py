# SPDX-License-Identifier: GPL-3.0-or-later
"""The plain generator: no generation at all (the ablation that shows what a generator adds)."""
import numpy as np

from ..interfaces import Generator


class PlainGenerator(Generator):
    """Returns the decoder's canvas as it is: the base from the hints (or the prompt's layout)
    with the key regions; nothing is synthesised."""

    name = "plain"

    def generate(self, prompt, canvas: np.ndarray, known: np.ndarray, seed: int = 0) -> np.ndarray:
        return np.asarray(canvas, np.uint8)
