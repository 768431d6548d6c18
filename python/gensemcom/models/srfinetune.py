# SPDX-License-Identifier: GPL-3.0-or-later
"""LoRA fine-tuning of the Real-ESRGAN generator on what the receiver really decodes.

Examples: views of the training images (``photos.random_view``: rescales, crops, flips) at
``VIEW_SIZE`` are coded by the real semantic encoder (``SemanticCodec().encode``) at
``VIEW_BUDGETS`` (the 768x512 budgets 1536..12288 B scaled to the view's area, so rate control
picks the same thumbnail scales and AV1 qualities), then decoded by the real decoder with a
recording generator: the hint thumbnail, the canvas (key regions) and the key weight it is
given. Containers without hints are skipped (the generator is not used there). The examples are
kept in OUT/examples.safetensors, so ``--resume`` does not code them again.

Loss: the fused image ``known * canvas + (1 - known) * upscale(thumbnail)`` (the decoder's
fusion, ``SuperResolver.upscale``'s resampling rules, in torch) against the original view:
L1 + ``SSIM_WEIGHT`` x (1 - SSIM), on [0, 1] pixels. LoRA (peft) sits on ``DEFAULT_TARGETS``:
the last RRDB blocks and the upsampling convolutions. The frozen blocks before the first adapted
one give the same features at every step, so they run once per example (kept in memory) and a
step runs only the adapted part: about a quarter of the network's work.

Data (``--data``): ``photos`` = ``photos.TRAIN_PHOTOS`` (never Kodak), or a folder of images.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from .finetune import _read_rgb, _Trainer, _training_card, load_pairs

VIEW_SIZE = (384, 256)
VIEW_BUDGETS = (384, 768, 1536, 3072)     # 1536, 3072, 6144, 12288 B at 768x512, by area
VIEWS_PER_IMAGE = 3
SSIM_WEIGHT = 0.5
DEFAULT_TARGETS = r".*(body\.(19|20|21|22)\.rdb[123]\.conv[1-5]|conv_body|conv_up1|conv_up2|conv_hr)"
EXAMPLE_KEYS = ("source", "thumb", "known", "canvas", "original")


class _Recorder:
    """A generator that records what the decoder gives it and returns the canvas."""

    name = "recorder"
    uses_hints = True

    def __init__(self):
        self.calls = []

    def generate(self, prompt, canvas, known, seed=0, thumbnail=None):
        self.calls.append((canvas.copy(), np.asarray(known, np.float32).copy(), thumbnail))
        return canvas


def training_images(data) -> list:
    """[(name, image)]: ``photos`` (the bundled non-Kodak photos) or the images in a folder."""
    if str(data) == "photos":
        from .photos import TRAIN_PHOTOS, load_photo
        return [(name, load_photo(name)) for name in TRAIN_PHOTOS]
    return [(Path(path).name, _read_rgb(path)) for path, _ in load_pairs(data, need_captions=False)]


def receiver_examples(images, seed, prescale_below, on_example=None) -> list:
    """Coded and decoded views of ``images`` (see the module docstring): a list of dicts with
    EXAMPLE_KEYS (``source`` is what the network sees: the thumbnail, or its 1/4-size copy)."""
    from ..imageops import resize
    from ..semantic.codec import SemanticCodec
    from .photos import random_view
    rng = np.random.default_rng(seed)
    width, height = VIEW_SIZE
    recorder = _Recorder()
    codec = SemanticCodec(generator=recorder)
    examples = []
    for index, (_, image) in enumerate(images):
        for view_number in range(VIEWS_PER_IMAGE):
            view = random_view(image, rng, width, height)
            for budget in VIEW_BUDGETS:
                image_id = (index * VIEWS_PER_IMAGE + view_number) % 65536
                try:
                    encoded = codec.encode(view, budget, image_id=image_id)
                except BadInputError:         # budget too small for this view: nothing to learn
                    continue
                recorder.calls.clear()
                codec.decode(encoded.data)
                canvas, known, thumb = recorder.calls[-1]
                if thumb is None or known.min() >= 1.0:
                    continue
                th, tw = thumb.shape[:2]
                source = thumb
                if min(width / tw, height / th) < prescale_below:
                    source = resize(thumb, math.ceil(width / 4), math.ceil(height / 4))
                examples.append({"source": source, "thumb": thumb, "known": known, "canvas": canvas,
                                 "original": view})
                if on_example:
                    on_example(len(examples))
    if not examples:
        raise BadInputError("no training example carried hints: give larger images")
    return examples


def save_examples(path, examples, meta):
    from safetensors.numpy import save_file

    from ..fileio import atomic_path
    tensors = {f"{i}.{k}": np.ascontiguousarray(e[k]) for i, e in enumerate(examples) for k in EXAMPLE_KEYS}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"meta": json.dumps(meta), "count": str(len(examples))})


def load_examples(path, meta):
    """The examples saved at ``path`` if they were made with ``meta``, else None."""
    from safetensors import safe_open
    from safetensors.numpy import load_file
    try:
        with safe_open(str(path), "np") as f:
            stored = f.metadata() or {}
        if json.loads(stored.get("meta", "null")) != meta:
            return None
        tensors = load_file(str(path))
    except Exception:  # missing or damaged: code the examples again
        return None
    return [{k: tensors[f"{i}.{k}"] for k in EXAMPLE_KEYS} for i in range(int(stored["count"]))]


def resize_t(x, height, width):
    """torch counterpart of ``imageops.resize``: area averaging when shrinking, bicubic otherwise."""
    import torch.nn.functional as F
    if x.shape[-2:] == (height, width):
        return x
    if height <= x.shape[-2] and width <= x.shape[-1]:
        return F.interpolate(x, size=(height, width), mode="area")
    return F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False)


def torch_upscale(model, source, thumb, height, width):
    """``SuperResolver.upscale`` in torch, differentiable: (1, 3, H, W) in [0, 1]-ish.
    ``model(source)`` gives the x4 image (a callable: the network or its cached tail)."""
    sr = resize_t(model(source).clamp(0.0, 1.0), height, width)
    if source.shape[-2:] == thumb.shape[-2:]:
        return sr
    th, tw = thumb.shape[-2:]
    return resize_t(thumb, height, width) + sr - resize_t(resize_t(sr, th, tw), height, width)


class SuperResolutionTrainer(_Trainer):
    """LoRA on RRDBNet's convolutions with the fused-image loss (module docstring)."""

    def __init__(self, config, card, on_example=None):
        super().__init__(config, card)
        from peft import LoraConfig, get_peft_model

        from .realesrgan import load_float_model
        if self.spec.quant != "none":
            raise BadInputError("Real-ESRGAN LoRA trains on the float model (--quant none); int8 inference "
                                "quantizes the model with the adapter merged")
        self.prescale_below = float(card.option("prescale_below"))
        meta = {"data": str(config.data), "seed": config.seed, "view": list(VIEW_SIZE),
                "budgets": list(VIEW_BUDGETS), "views": VIEWS_PER_IMAGE, "prescale_below": self.prescale_below}
        cache = Path(config.out) / "examples.safetensors"
        self.pairs = load_examples(cache, meta)
        if self.pairs is None:
            self.pairs = receiver_examples(training_images(config.data), config.seed, self.prescale_below,
                                           on_example)
            save_examples(cache, self.pairs, meta)
        model = load_float_model(_training_card(card)).to(self.spec.device)
        targets = lora_targets(config.targets)
        lora = LoraConfig(r=config.rank, lora_alpha=config.alpha or config.rank, target_modules=targets,
                          lora_dropout=0.0, bias="none")
        self.model = get_peft_model(model, lora)
        self.config.targets = list(targets) if isinstance(targets, list) else [targets]

        self.net = self.model.base_model.model
        self.first_block = first_adapted_block(self.net)
        self._prefix = {}

    def _tensor(self, array):
        import torch
        x = torch.from_numpy(np.array(array, dtype=np.float32)).to(self.spec.device)
        return x.permute(2, 0, 1)[None] / 255.0 if x.ndim == 3 else x[None, None]

    def batch(self, first=False):
        return [{"index": i, **{k: self._tensor(self.pairs[i][k]) for k in EXAMPLE_KEYS}}
                for i in self.sample_indices(first)]

    def _x4(self, index, source):
        """The x4 image of example ``index``: the frozen prefix from the cache, the rest run."""
        import torch
        net = self.net
        if self.first_block is None:
            return self.model(source)
        if index not in self._prefix:
            with torch.no_grad():
                feat = net.conv_first(source)
                self._prefix[index] = (feat, net.body[:self.first_block](feat))
        feat, trunk = self._prefix[index]
        feat = feat + net.conv_body(net.body[self.first_block:](trunk))
        return net.tail(feat)

    def loss(self, batch):
        from pytorch_msssim import ssim
        total = 0.0
        for example in batch:
            original = example["original"]
            height, width = original.shape[-2:]
            upscaled = torch_upscale(lambda x: self._x4(example["index"], x), example["source"], example["thumb"],
                                     height, width)
            known = example["known"]
            fused = known * example["canvas"] + (1.0 - known) * upscaled
            total = total + (fused - original).abs().mean() \
                + SSIM_WEIGHT * (1.0 - ssim(fused.clamp(0, 1), original, data_range=1.0, size_average=True))
        return total / len(batch)

    def save_adapter(self):
        self.model.save_pretrained(str(self.out), safe_serialization=True)
        (self.out / "README.md").unlink(missing_ok=True)   # peft's empty model-card template


def lora_targets(names):
    """peft ``target_modules`` of ``--targets``: module names (a list), or one regular expression
    (a string: a single entry that is not a plain dotted name, such as ``DEFAULT_TARGETS``);
    empty = ``DEFAULT_TARGETS``."""
    import re
    names = list(names or [])
    if not names:
        return DEFAULT_TARGETS
    return names[0] if len(names) == 1 and not re.fullmatch(r"[\w.]+", names[0]) else names


def first_adapted_block(net):
    """Index of the first RRDB block holding LoRA layers (blocks before it are frozen), or None
    when the first convolution is adapted (nothing can be cached)."""
    def adapted(module):
        return any("lora_" in name for name, _ in module.named_parameters())
    if adapted(net.conv_first):
        return None
    for index, block in enumerate(net.body):
        if adapted(block):
            return index
    return len(net.body)
