# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline significance analysis: saliency, faces, people and classifier evidence, no downloads."""
from __future__ import annotations

import functools

import numpy as np

from ..interfaces import KeyRegion, Segmenter, Significance


@functools.lru_cache(maxsize=None)
def _cascade(name: str):
    import cv2
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if cascade.empty():
        raise RuntimeError(f"OpenCV Haar cascade {name} could not be loaded")
    return cascade


@functools.lru_cache(maxsize=1)
def _people_detector():
    import cv2
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def _normalise(values: np.ndarray, top_percentile: float = 99.0) -> np.ndarray:
    values = values.astype(np.float32) - float(values.min())
    top = float(np.percentile(values, top_percentile))
    if top <= 1e-9:
        return np.zeros_like(values)
    return np.clip(values / top, 0.0, 1.0)


class OfflineSegmenter(Segmenter):
    """Per-pixel significance from classical detectors and a small classifier.

    importance = ``saliency_weight`` x OpenCV fine-grained saliency
               + ``object_weight`` x EfficientNet-Lite0 class activation map (top-5 classes)
               + ``centre_weight`` x a centre prior,
    raised to 1.0 on detected faces and ``person_importance`` on people (OpenCV HOG detector,
    and a head-and-shoulders box under each face), then smoothed (``smooth_fraction`` of the
    long side) so the key mask is made of a few compact blobs, which cost far fewer bits to
    code than scattered salient pixels. Work is done at ``analysis_long_side`` pixels.

    ``labels`` of the result are the classifier's top-5 (name, probability), reused by the
    prompt generator.
    """

    name = "offline"

    def __init__(self, analysis_long_side: int = 320, saliency_weight: float = 0.45,
                 object_weight: float = 0.35, centre_weight: float = 0.2, person_importance: float = 0.8,
                 smooth_fraction: float = 0.035, detect_faces: bool = True, detect_people: bool = True,
                 use_classifier: bool = True):
        self.analysis_long_side = analysis_long_side
        self.saliency_weight = saliency_weight
        self.object_weight = object_weight
        self.centre_weight = centre_weight
        self.person_importance = person_importance
        self.smooth_fraction = smooth_fraction
        self.detect_faces = detect_faces
        self.detect_people = detect_people
        self.use_classifier = use_classifier

    def analyze(self, image: np.ndarray) -> Significance:
        import cv2
        height, width = image.shape[:2]
        scale = min(1.0, self.analysis_long_side / max(height, width))
        aw, ah = max(16, int(round(width * scale))), max(16, int(round(height * scale)))
        small = cv2.resize(image, (aw, ah), interpolation=cv2.INTER_AREA)
        sx, sy = width / aw, height / ah

        saliency = self._saliency(small)
        labels, cam = [], np.zeros((ah, aw), np.float32)
        if self.use_classifier:
            from .classifier import get_classifier
            labels, cam_small = get_classifier().analyze(image)
            cam = cv2.resize(cam_small, (aw, ah), interpolation=cv2.INTER_CUBIC).clip(0, 1)
        yy, xx = np.mgrid[0:ah, 0:aw].astype(np.float32)
        centre = np.exp(-(((xx - aw / 2) / (0.35 * aw)) ** 2 + ((yy - ah / 2) / (0.35 * ah)) ** 2) / 2)
        importance = (self.saliency_weight * saliency + self.object_weight * cam
                      + self.centre_weight * centre).astype(np.float32)
        importance = _normalise(importance, 99.5) * 0.7

        regions = []
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        faces = self._faces(gray) if self.detect_faces else []
        for (x, y, w, h) in faces:
            regions.append(KeyRegion(_box(x, y, x + w, y + h, sx, sy, width, height), "face", 1.0, "face"))
            body = (x - 0.75 * w, y + 0.8 * h, x + 1.75 * w, y + 3.5 * h)
            regions.append(KeyRegion(_box(*body, sx, sy, width, height), "person", self.person_importance,
                                     "face"))
            _raise_ellipse(importance, x - 0.15 * w, y - 0.2 * h, x + 1.15 * w, y + 1.15 * h, 1.0)
            _raise_ellipse(importance, *body, self.person_importance)
        for (x, y, w, h), score in (self._people(small) if self.detect_people else []):
            regions.append(KeyRegion(_box(x, y, x + w, y + h, sx, sy, width, height), "person",
                                     self.person_importance * score, "person"))
            _raise_ellipse(importance, x + 0.15 * w, y, x + 0.85 * w, y + h, self.person_importance * score)

        sigma = self.smooth_fraction * max(aw, ah)
        importance = cv2.GaussianBlur(importance, (0, 0), sigma)
        importance = _normalise(importance, 100.0)
        regions += self._blobs(importance, cam, labels, sx, sy, width, height)
        regions.sort(key=lambda r: r.score, reverse=True)
        full = cv2.resize(importance, (width, height), interpolation=cv2.INTER_LINEAR)
        return Significance(importance=full.astype(np.float32), regions=regions, labels=labels)

    @staticmethod
    def _saliency(small):
        import cv2
        detector = cv2.saliency.StaticSaliencyFineGrained_create()
        ok, sal = detector.computeSaliency(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        if not ok:
            return np.zeros(small.shape[:2], np.float32)
        sal = cv2.GaussianBlur(sal.astype(np.float32), (0, 0), 0.02 * max(small.shape[:2]))
        return _normalise(sal)

    @staticmethod
    def _faces(gray):
        min_side = max(12, int(0.05 * min(gray.shape)))
        found = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
            gray, scaleFactor=1.15, minNeighbors=6, minSize=(min_side, min_side))
        return [tuple(int(v) for v in f) for f in found] if len(found) else []

    @staticmethod
    def _people(small):
        if min(small.shape[:2]) < 128:
            return []
        boxes, weights = _people_detector().detectMultiScale(small, winStride=(8, 8), padding=(8, 8),
                                                             scale=1.1)
        out = []
        for box, weight in zip(boxes, np.ravel(weights) if len(boxes) else []):
            if weight > 0.5:
                out.append((tuple(int(v) for v in box), float(min(1.0, 0.5 + weight / 2))))
        return out

    @staticmethod
    def _blobs(importance, cam, labels, sx, sy, width, height):
        """Connected regions of the top-15 % importance, labelled by the classifier where it agrees."""
        import cv2
        threshold = np.quantile(importance, 0.85)
        count, comp, stats, _ = cv2.connectedComponentsWithStats((importance >= threshold).astype(np.uint8))
        regions = []
        for k in range(1, count):
            x, y, w, h, area = stats[k]
            inside = comp == k
            score = float(importance[inside].mean())
            label, source = "salient", "saliency"
            if labels and float(cam[inside].mean()) > 0.4:
                label, source = labels[0][0], "classifier"
            regions.append(KeyRegion(_box(x, y, x + w, y + h, sx, sy, width, height), label, score, source))
        return regions


def _box(x0, y0, x1, y1, sx, sy, width, height):
    return (int(max(0, round(x0 * sx))), int(max(0, round(y0 * sy))),
            int(min(width, round(x1 * sx))), int(min(height, round(y1 * sy))))


def _raise_ellipse(importance, x0, y0, x1, y1, value):
    """Raise ``importance`` to at least ``value`` inside the ellipse inscribed in the box."""
    h, w = importance.shape
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = max(1.0, (x1 - x0) / 2), max(1.0, (y1 - y0) / 2)
    ys, xs = np.ogrid[0:h, 0:w]
    inside = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    np.maximum(importance, np.where(inside, value, 0.0).astype(np.float32), out=importance)
