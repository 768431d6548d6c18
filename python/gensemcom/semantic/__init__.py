# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic codec (layer 1): pure Python/torch, no GNU Radio import.

Entry points (imported lazily, so ``import gnuradio.gensemcom.semantic`` stays light):

  SemanticCodec, CodecConfig, BudgetTooSmallError, register_backend     (codec)
  StructuredPrompt                                                      (prompt)
  Segmenter, PromptGenerator, Generator, Significance, KeyRegion        (interfaces)

What it builds on: ``transport`` (the ``.gsc`` container, fragments, ``Budget``) and
``classical`` (the still-image streams of key regions and hints).
"""
import importlib

_EXPORTS = {
    "SemanticCodec": "codec", "CodecConfig": "codec", "BudgetTooSmallError": "codec",
    "register_backend": "codec", "auto_key_fraction": "codec",
    "StructuredPrompt": "prompt",
    "Segmenter": "interfaces", "PromptGenerator": "interfaces", "Generator": "interfaces",
    "Significance": "interfaces", "KeyRegion": "interfaces",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
