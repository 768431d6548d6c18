# SPDX-License-Identifier: GPL-3.0-or-later
"""Large-model backends of the semantic codec, configured by model cards (no GNU Radio import).

  cards     YAML model/stack cards: parsing, validation, search path (models/, $GENSEMCOM_MODELS_DIR)
  stack     ``load_stack(--models value, quant=...)`` -> Stack(segmenter, prompt_generator, generator)
  segment   CLIPSeg / semantic-segmentation Segmenters        (transformers)
  caption   image-to-text PromptGenerator (BLIP, GIT, VLMs)   (transformers)
  inpaint   diffusion inpainting Generator (SD, SDXL)         (diffusers)
  quant     int8 / nf4 (bitsandbytes), torchao int8, weight-memory accounting
  weights   offline weight resolution, ``models download``, device and dtype
  lora      LoRA fine-tuning of the captioner and the generator (peft), resumable
  bench     load time, peak memory and latency per quantization setting
  tiny      tiny random models of the real classes, for tests and plumbing checks

Heavy libraries (torch, transformers, diffusers) are imported only when a backend loads.
"""
from .cards import (DEFAULT_STACK, QUANT_MODES, ROLES, LoraRef, ModelCard, card_search_path, find_card, list_cards,
                    load_card, save_card, stack_roles)
from .stack import Stack, load_backend, load_stack, parse_quant

__all__ = ["DEFAULT_STACK", "QUANT_MODES", "ROLES", "LoraRef", "ModelCard", "Stack", "card_search_path",
           "find_card", "list_cards", "load_backend", "load_card", "load_stack", "parse_quant", "save_card",
           "stack_roles"]
