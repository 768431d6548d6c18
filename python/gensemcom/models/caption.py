# SPDX-License-Identifier: GPL-3.0-or-later
"""PromptGenerator backend on a transformers image-to-text model (BLIP, GIT, BLIP-2, chat VLMs).

describe(image, mask, significance) -> StructuredPrompt:
  caption     the model's caption of the whole image (``scene_prompt`` as its start or question)
  objects     one entry per crop of a ``region_grid`` over the image that is mostly non-key:
              the crop's caption (``region_prompt`` stripped) + where it is, e.g.
              "green grass at the bottom left"; confidence = the crop's non-key share
  attributes  style words found in the captions (bright, cloudy, blurry ...), after the base's
  scene, palette, layout  from the ``base`` prompt generator (the offline stack measures them)
                          when one is given; the captioner adds text, not numbers.

The model class is a card option (``model_class``: BlipForConditionalGeneration,
AutoModelForImageTextToText, AutoModelForVision2Seq ...) and so is the prompting style:
``prefix`` continues a text start (BLIP, GIT); ``chat`` asks a question through the
processor's chat template (LLaVA-style VLMs).
"""
from __future__ import annotations

import re

import numpy as np

from ..semantic.interfaces import PromptGenerator
from ..semantic.prompt import MAX_LABEL_CHARS, MAX_TEXT_CHARS, ObjectLabel, StructuredPrompt
from .loading import LoadSpec, floating_dtype, inputs_to, load_processor, load_transformers_model

STYLE_WORDS = ("bright", "dark", "sunny", "cloudy", "foggy", "snowy", "rainy", "blurry", "indoor", "outdoor",
               "night", "daylight", "sunset", "colorful", "colourful", "black and white", "vintage")
ROW_NAMES = {1: ["middle"], 2: ["top", "bottom"], 3: ["top", "middle", "bottom"]}
COL_NAMES = {1: [""], 2: ["left", "right"], 3: ["left", "centre", "right"]}
MIN_NONKEY_SHARE = 0.25  # crops less non-key than this are not described


def clean_caption(text, prefix="") -> str:
    """Caption text without the prompt it continued, special tokens or repeated spaces."""
    text = re.sub(r"\[[A-Z]+\]|<[^>]{1,20}>", " ", str(text))
    text = re.sub(r"\s+", " ", text).strip()
    if prefix and text.lower().startswith(prefix.lower()):
        text = text[len(prefix):].strip()
    return text


def where_name(row, col, rows, cols) -> str:
    """Position words of grid cell (row, col), e.g. "the top left" ("the image" for 1x1)."""
    r = ROW_NAMES.get(rows, [f"row {i + 1}" for i in range(rows)])[row]
    c = COL_NAMES.get(cols, [f"column {i + 1}" for i in range(cols)])[col]
    words = " ".join(w for w in (r, c) if w and not (r == "middle" and c == "centre"))
    return "the " + (words or "centre") if (rows, cols) != (1, 1) else "the image"


class ImageToTextPromptGenerator(PromptGenerator):
    """Structured prompts from a captioning / vision-language model (see the module docstring).

    image (H, W, 3) uint8, mask (H, W) bool (True = key), significance -> ``StructuredPrompt``.
    ``base``: an optional PromptGenerator whose prompt this one enriches with text.
    """

    name = "image-to-text"

    def __init__(self, card, quant=None, device=None, dtype=None, base=None):
        self.card = card
        self.base = base
        self.spec = LoadSpec.resolve(card, quant=quant, device=device, dtype=dtype)
        self.model = load_transformers_model(self.spec, card.option("model_class"))
        self.processor = load_processor(self.spec, card.option("processor_class"))
        self.style = card.option("prompt_style")
        self.scene_prompt = card.option("scene_prompt")
        self.region_prompt = card.option("region_prompt")
        self.grid_rows, self.grid_cols = (int(v) for v in card.option("region_grid"))
        self.max_new_tokens = int(card.option("max_new_tokens"))
        self.num_beams = int(card.option("num_beams"))
        self.crop_size_px = int(card.option("crop_size_px"))

    # ---- the model -----------------------------------------------------------------------
    def _pil(self, image):
        from PIL import Image
        pil = Image.fromarray(image)
        scale = self.crop_size_px / max(pil.size)
        if scale < 1:
            pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))),
                             Image.BICUBIC)
        return pil

    def _text_inputs(self, prompt, count):
        if self.style == "chat":
            messages = [{"role": "user", "content": [{"type": "image"},
                                                     {"type": "text",
                                                      "text": prompt or "Describe this image."}]}]
            return [self.processor.apply_chat_template(messages, add_generation_prompt=True)] * count
        return [prompt] * count if prompt else None

    def caption(self, images, prompt="") -> list:
        """Captions of a list of (H, W, 3) uint8 images, each continuing/answering ``prompt``."""
        import torch
        pils = [self._pil(im) for im in images]
        texts = self._text_inputs(prompt, len(pils))
        inputs = self.processor(images=pils, text=texts, return_tensors="pt", padding=True) if texts \
            else self.processor(images=pils, return_tensors="pt")
        inputs = inputs_to(inputs, self.spec.device, floating_dtype(self.model))
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
                                      do_sample=False)
        if self.style == "chat" and "input_ids" in inputs:  # keep only the answer
            out = out[:, inputs["input_ids"].shape[1]:]
        decoded = self.processor.batch_decode(out, skip_special_tokens=True)
        return [clean_caption(t, prompt if self.style == "prefix" else "") for t in decoded]

    # ---- the PromptGenerator interface ---------------------------------------------------
    def regions(self, mask):
        """Grid crops worth describing: [(row, col, (y0, y1, x0, x1), non-key share)]."""
        height, width = mask.shape
        out = []
        for row in range(self.grid_rows):
            for col in range(self.grid_cols):
                y0, y1 = row * height // self.grid_rows, (row + 1) * height // self.grid_rows
                x0, x1 = col * width // self.grid_cols, (col + 1) * width // self.grid_cols
                share = 1.0 - float(mask[y0:y1, x0:x1].mean()) if y1 > y0 and x1 > x0 else 0.0
                if share >= MIN_NONKEY_SHARE:
                    out.append((row, col, (y0, y1, x0, x1), share))
        return out

    def describe(self, image, mask, significance):
        mask = np.asarray(mask, dtype=bool)
        prompt = self.base.describe(image, mask,
                                    significance) if self.base is not None else StructuredPrompt()
        crops = self.regions(mask)
        captions = self.caption([image], self.scene_prompt)
        region_captions = self.caption([image[y0:y1, x0:x1] for _, _, (y0, y1, x0, x1), _ in crops],
                                       self.region_prompt) if crops else []
        prompt.caption = captions[0][:MAX_TEXT_CHARS]
        objects, seen = [], set()
        for (row, col, _, share), text in sorted(zip(crops, region_captions), key=lambda t: -t[0][3]):
            if not text or text.lower() in seen:
                continue
            seen.add(text.lower())
            label = f"{text} at {where_name(row, col, self.grid_rows, self.grid_cols)}"
            if len(label) > MAX_LABEL_CHARS:
                label = text[:MAX_LABEL_CHARS]
            objects.append(ObjectLabel(label, round(min(1.0, share), 2)))
        prompt.objects = (objects + list(prompt.objects))[:8]
        words = " ".join([prompt.caption] + region_captions).lower()
        found = [w for w in STYLE_WORDS if re.search(rf"\b{re.escape(w)}\b", words)]
        prompt.attributes = list(dict.fromkeys(list(prompt.attributes) + found))[:8]
        return prompt
