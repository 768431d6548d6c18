# SPDX-License-Identifier: GPL-3.0-or-later
"""Segmenter backends on transformers models: key classes named in text, or picked from a
semantic-segmentation model's label set.

Both turn per-class probability maps into the codec's ``Significance``:
  importance  max over key classes of weight(class) * probability, (H, W) float32 in [0, 1]
  regions     connected components of probability >= threshold, one ``KeyRegion`` each,
              scored by weight * mean probability, largest scores first
  labels      (class, peak probability) per key class, best first
"""
from __future__ import annotations

import numpy as np

from ..errors import BadInputError
from ..semantic.interfaces import KeyRegion, Segmenter, Significance
from .loading import LoadSpec, floating_dtype, inputs_to, load_processor, load_transformers_model


def _check_image(image):
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise BadInputError("image must be an (H, W, 3) uint8 RGB array")


def significance_from_probabilities(probs, classes, weights, threshold, min_region_fraction,
                                    max_regions) -> Significance:
    """``Significance`` from (C, H, W) class probabilities in [0, 1] (see the module docstring)."""
    from scipy import ndimage
    probs = np.clip(np.asarray(probs, dtype=np.float32), 0.0, 1.0)
    w = np.asarray([float(weights.get(c, 1.0)) for c in classes], dtype=np.float32)
    weighted = probs * w[:, None, None]
    importance = weighted.max(axis=0) if len(classes) else np.zeros(probs.shape[1:], np.float32)
    height, width = importance.shape
    min_pixels = max(1, int(min_region_fraction * height * width))
    regions = []
    for index, label in enumerate(classes):
        components, count = ndimage.label(probs[index] >= threshold)
        for number, box in enumerate(ndimage.find_objects(components), start=1):
            if box is None:
                continue
            inside = components[box] == number
            if inside.sum() < min_pixels:
                continue
            score = float(w[index] * probs[index][box][inside].mean())
            y, x = box
            regions.append(KeyRegion(box=(x.start, y.start, x.stop, y.stop), label=label,
                                     score=min(1.0, score), source="model"))
    regions.sort(key=lambda r: r.score, reverse=True)
    labels = sorted(((c, float(probs[i].max())) for i, c in enumerate(classes)), key=lambda t: -t[1])
    return Significance(importance=importance.astype(np.float32), regions=regions[:max_regions],
                        labels=labels)


class _ModelSegmenter(Segmenter):
    """Shared loading and option handling of the transformers segmenters."""

    model_class = None

    def __init__(self, card, quant=None, device=None, dtype=None):
        self.card = card
        self.spec = LoadSpec.resolve(card, quant=quant, device=device, dtype=dtype)
        self.model = load_transformers_model(self.spec, self.model_class or card.option("model_class"))
        self.processor = load_processor(self.spec)
        self.key_classes = [str(c) for c in card.option("key_classes")]
        self.class_weights = card.option("class_weights")
        self.threshold = float(card.option("threshold"))
        self.min_region_fraction = float(card.option("min_region_fraction"))
        self.max_regions = int(card.option("max_regions"))

    def _inputs_to_device(self, inputs):
        return inputs_to(inputs, self.spec.device, floating_dtype(self.model))

    def analyze(self, image: np.ndarray) -> Significance:
        _check_image(image)
        probs = self.class_probabilities(image)
        return significance_from_probabilities(probs, self.key_classes, self.class_weights, self.threshold,
                                               self.min_region_fraction, self.max_regions)

    @staticmethod
    def _resize(maps, height, width):
        """(C, h, w) torch maps -> (C, H, W) numpy float32 (bilinear)."""
        import torch
        maps = torch.nn.functional.interpolate(maps[None].float(), size=(height, width), mode="bilinear",
                                               align_corners=False)[0]
        return maps.cpu().numpy().astype(np.float32)


class ClipSegSegmenter(_ModelSegmenter):
    """CLIPSeg (``CLIPSegForImageSegmentation``): one probability map per key class named in text.

    Card options: key_classes (texts, e.g. ["person", "face"]), class_weights, threshold,
    min_region_fraction, max_regions. Input image (H, W, 3) uint8 -> ``Significance``.
    """

    name = "clipseg"
    model_class = "CLIPSegForImageSegmentation"

    def class_probabilities(self, image):
        """(C, H, W) float32 sigmoid probabilities, one map per key class."""
        import torch
        from PIL import Image
        pil = Image.fromarray(image)
        inputs = self.processor(text=self.key_classes, images=[pil] * len(self.key_classes),
                                return_tensors="pt", padding=True)
        with torch.inference_mode():
            logits = self.model(**self._inputs_to_device(inputs)).logits
        logits = logits.reshape(len(self.key_classes), *logits.shape[-2:])
        return self._resize(torch.sigmoid(logits.float()), *image.shape[:2])


class SemanticSegSegmenter(_ModelSegmenter):
    """A semantic-segmentation model (SegFormer, BEiT, DPT, UperNet ... through
    ``AutoModelForSemanticSegmentation``); key classes are names from its label set.

    A key class matches a model label equal to it or listing it among ';'/','-separated synonyms
    (ADE20K labels read "person;individual;someone ..."). Output as for ``ClipSegSegmenter``.
    """

    name = "semantic-segmentation"

    def __init__(self, card, quant=None, device=None, dtype=None):
        super().__init__(card, quant=quant, device=device, dtype=dtype)
        labels = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self.class_ids = []
        for key in self.key_classes:
            ids = [i for i, label in labels.items()
                   if key == label or key in [s.strip() for s in label.replace(",", ";").split(";")]]
            if not ids:
                raise BadInputError(f"model card {card.name!r}: key class {key!r} is not a label of this "
                                    f"model; labels include {', '.join(list(labels.values())[:40])}")
            self.class_ids.append(ids)

    def class_probabilities(self, image):
        """(C, H, W) float32 softmax probabilities summed over each key class's labels."""
        import torch
        from PIL import Image
        inputs = self.processor(images=Image.fromarray(image), return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(**self._inputs_to_device(inputs)).logits[0]
        probs = torch.softmax(logits.float(), dim=0)
        maps = torch.stack([probs[ids].sum(0) for ids in self.class_ids])
        return self._resize(maps, *image.shape[:2])
