# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline prompt generator: what can be measured and recognised without a captioning model."""
from __future__ import annotations

import numpy as np

from ...imageops import luminance
from ..interfaces import PromptGenerator, Significance
from ..prompt import LayoutCell, ObjectLabel, PaletteColour, StructuredPrompt

# Detail bands (Gaussian sigmas in pixels of a 768-px-wide image; scaled with the image).
BAND_SIGMAS = ((0.0, 1.5), (1.5, 4.0), (4.0, 10.0))


def layout_grid_for(width: int, height: int, cells: int = 12):
    """(cols, rows) of a layout grid with about ``cells`` roughly square cells."""
    cols = max(1, int(round(np.sqrt(cells * width / height))))
    rows = max(1, int(round(cells / cols)))
    return min(cols, 16), min(rows, 16)


def cell_slices(width: int, height: int, cols: int, rows: int):
    """Row-major list of (row slice, column slice) of the layout cells."""
    ys = np.linspace(0, height, rows + 1).round().astype(int)
    xs = np.linspace(0, width, cols + 1).round().astype(int)
    return [(slice(ys[r], ys[r + 1]), slice(xs[c], xs[c + 1])) for r in range(rows) for c in range(cols)]


def texture_bands(image: np.ndarray):
    """Luminance detail in three bands (fine, medium, coarse) and the structure-tensor terms.

    Returns (bands, (jxx, jyy, jxy)): ``bands`` a (3, H, W) float32 array of band-pass
    luminance; the tensor terms are smoothed gradient products for orientation estimates.
    """
    import cv2
    lum = luminance(image)
    unit = max(image.shape[:2]) / 768.0
    blurred = {0.0: lum}
    for lo, hi in BAND_SIGMAS:
        for sigma in (lo, hi):
            if sigma not in blurred:
                blurred[sigma] = cv2.GaussianBlur(lum, (0, 0), max(0.5, sigma * unit))
    bands = np.stack([blurred[lo] - blurred[hi] for lo, hi in BAND_SIGMAS])
    gx = cv2.Sobel(blurred[1.5], cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(blurred[1.5], cv2.CV_32F, 0, 1, ksize=3)
    return bands, (gx * gx, gy * gy, gx * gy)


def describe_texture(bands, tensor, where) -> tuple:
    """(texture amplitude in grey levels, grain index, orientation index) over ``where`` pixels."""
    energy = [float(np.mean(b[where] ** 2)) for b in bands]
    amplitude = float(np.sqrt(energy[0] + energy[1]))
    grain = int(np.argmax(energy))
    jxx, jyy, jxy = (float(np.mean(t[where])) for t in tensor)
    coherence = np.hypot(jxx - jyy, 2 * jxy) / (jxx + jyy + 1e-6)
    orientation = 0
    if coherence > 0.25:
        angle = 0.5 * np.degrees(np.arctan2(2 * jxy, jxx - jyy))   # gradient direction
        if abs(angle) < 22.5:
            orientation = 2          # gradients along x: vertical structures
        elif abs(angle) > 67.5:
            orientation = 1          # horizontal structures
        else:
            orientation = 3
    return int(min(255, round(amplitude))), grain, orientation


class OfflinePromptGenerator(PromptGenerator):
    """Fills a ``StructuredPrompt`` from measurements of the non-key area.

    objects     the classifier's labels (from ``significance.labels``; the classifier runs
                only when they are missing), those with probability >= ``min_confidence``
    scene       an ImageNet scene class if one is among the labels, else "outdoor"/"indoor"
                guessed from a bright, smooth, sky-coloured top band
    attributes  brightness, contrast, colourfulness and colour temperature words
    palette     ``palette_size`` dominant colours of the non-key area (k-means in RGB)
    layout      a grid of about ``layout_cells`` cells: mean colour (of the non-key pixels
                where there are enough, else of all) and texture statistics per cell
    """

    name = "offline"

    def __init__(self, layout_cells: int = 12, palette_size: int = 4, max_objects: int = 3,
                 min_confidence: float = 0.05):
        self.layout_cells = layout_cells
        self.palette_size = palette_size
        self.max_objects = max_objects
        self.min_confidence = min_confidence

    def describe(self, image: np.ndarray, mask: np.ndarray, significance: Significance = None):
        height, width = image.shape[:2]
        nonkey = ~np.asarray(mask, dtype=bool) if mask is not None else np.ones((height, width), bool)
        if nonkey.mean() < 0.02:
            nonkey = np.ones_like(nonkey)
        labels = list(significance.labels) if significance is not None and significance.labels else []
        if not labels:
            from .classifier import get_classifier
            labels, _ = get_classifier().analyze(image)
        objects = [ObjectLabel(name, round(p, 2)) for name, p in labels[:self.max_objects]
                   if p >= self.min_confidence] or [ObjectLabel(labels[0][0], round(labels[0][1], 2))]

        bands, tensor = texture_bands(image)
        cols, rows = layout_grid_for(width, height, self.layout_cells)
        layout = []
        for ys, xs in cell_slices(width, height, cols, rows):
            where = nonkey[ys, xs]
            if where.mean() < 0.1:
                where = np.ones_like(where)
            pixels = image[ys, xs][where].astype(np.float32)
            rgb = tuple(int(round(v)) for v in pixels.mean(axis=0))
            texture, grain, orientation = describe_texture([b[ys, xs] for b in bands],
                                                           [t[ys, xs] for t in tensor], where)
            layout.append(LayoutCell(rgb, texture, grain, orientation))

        prompt = StructuredPrompt(objects=objects, grid=(cols, rows), layout=layout,
                                  palette=self._palette(image, nonkey))
        prompt.scene = self._scene(labels, layout, cols, rows)
        prompt.attributes = self._attributes(image, nonkey, layout)
        return prompt

    def _palette(self, image, nonkey):
        import cv2
        pixels = image[nonkey].reshape(-1, 3)
        step = max(1, len(pixels) // 4000)
        sample = pixels[::step].astype(np.float32)
        k = min(self.palette_size, len(sample))
        if k < 1:
            return []
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
        cv2.setRNGSeed(0)
        _, assign, centres = cv2.kmeans(sample, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
        shares = np.bincount(assign.ravel(), minlength=k) / len(assign)
        order = np.argsort(shares)[::-1]
        return [PaletteColour(tuple(int(round(v)) for v in centres[i]), round(float(shares[i]), 2))
                for i in order if shares[i] >= 0.03]

    @staticmethod
    def _scene(labels, layout, cols, rows):
        from .classifier import get_classifier
        classifier = get_classifier()
        for name, p in labels:
            if p >= 0.05 and classifier.is_scene(name):
                return f"{name} scene"
        top = layout[:cols] if rows > 1 else []
        if top:
            rgb = np.mean([c.rgb for c in top], axis=0)
            texture = np.mean([c.texture for c in top])
            skyish = rgb[2] >= rgb[0] - 5 and rgb.mean() > 120 and texture < 12
            return "outdoor scene" if skyish else ""
        return ""

    @staticmethod
    def _attributes(image, nonkey, layout):
        pixels = image[nonkey].astype(np.float32)
        lum = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
        words = []
        mean, spread = float(lum.mean()), float(lum.std())
        if mean < 70:
            words.append("dark")
        elif mean > 170:
            words.append("bright")
        if spread < 30:
            words.append("low contrast")
        elif spread > 70:
            words.append("high contrast")
        r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
        colourfulness = float(np.hypot((r - g).std(), (0.5 * (r + g) - b).std()))
        if colourfulness < 15:
            words.append("muted colours")
        elif colourfulness > 55:
            words.append("vivid colours")
        warmth = float((r - b).mean())
        if warmth > 25:
            words.append("warm tones")
        elif warmth < -15:
            words.append("cool tones")
        return words
