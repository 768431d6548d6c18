# SPDX-License-Identifier: GPL-3.0-or-later
"""Smaller versions of a prompt, for budgets that cannot carry the whole description."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .prompt import LayoutCell, StructuredPrompt


def shrinking(prompt: StructuredPrompt):
    """The prompt, then smaller versions of it, each still a schema-1 prompt a person can read.

    1. the prompt as described; 2. at most two objects, attributes and palette colours;
    3. one object and the scene, attributes, a 2x2 layout (colour and texture: what the
    generator uses); 4. one object and a 1x1 layout; 5. a 1x1 layout; 6. ``neutral()``.
    """
    yield prompt
    p = replace(prompt, objects=prompt.objects[:2], attributes=prompt.attributes[:2], palette=prompt.palette[:2])
    yield p
    cols, rows = prompt.grid
    if prompt.layout and cols * rows == len(prompt.layout) and cols * rows > 4:
        yield replace(p, objects=p.objects[:1], attributes=p.attributes[:2], palette=[],
                      grid=(min(cols, 2), min(rows, 2)), layout=coarse_layout(prompt, min(cols, 2), min(rows, 2)))
    if prompt.layout and cols * rows == len(prompt.layout):
        one = coarse_layout(prompt, 1, 1)
        yield StructuredPrompt(scene=prompt.scene, objects=prompt.objects[:1], grid=(1, 1), layout=one)
        yield StructuredPrompt(grid=(1, 1), layout=one)
    else:
        mean = [LayoutCell(tuple(int(round(v)) for v in prompt.mean_rgb()))]
        yield StructuredPrompt(objects=prompt.objects[:1], grid=(1, 1), layout=mean)
        yield StructuredPrompt(grid=(1, 1), layout=mean)
    yield StructuredPrompt.neutral()


def coarse_layout(prompt: StructuredPrompt, cols: int, rows: int) -> list:
    """The prompt's layout on a coarser cols x rows grid: area-weighted mean colour, RMS
    texture amplitude, and the grain and orientation that cover the most texture energy."""
    src_cols, src_rows = prompt.grid
    cells = prompt.layout

    def overlaps(n_src, n_dst):
        # w[i, j]: share of source cell i inside destination cell j (unit interval split evenly)
        w = np.zeros((n_src, n_dst))
        for i in range(n_src):
            a0, a1 = i / n_src, (i + 1) / n_src
            for j in range(n_dst):
                b0, b1 = j / n_dst, (j + 1) / n_dst
                w[i, j] = max(0.0, min(a1, b1) - max(a0, b0))
        return w

    wx, wy = overlaps(src_cols, cols), overlaps(src_rows, rows)
    out = []
    for r in range(rows):
        for c in range(cols):
            weights = np.array([wy[i // src_cols, r] * wx[i % src_cols, c] for i in range(len(cells))])
            total = weights.sum() or 1.0
            rgb = tuple(int(round(sum(w * cell.rgb[k] for w, cell in zip(weights, cells)) / total)) for k in range(3))
            energy = [w * cell.texture ** 2 for w, cell in zip(weights, cells)]
            texture = int(round(math.sqrt(sum(energy) / total)))
            grain = max(range(3), key=lambda g: sum(e + w * 1e-3 for e, w, cell in zip(energy, weights, cells)
                                                    if cell.grain == g))
            orientation = max(range(4), key=lambda o: sum(e + w * 1e-3 for e, w, cell in zip(energy, weights, cells)
                                                          if cell.orientation == o))
            out.append(LayoutCell(rgb, min(255, texture), grain, orientation))
    return out
