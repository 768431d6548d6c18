"""Semantic codec (layer 1): pure Python/torch, no GNU Radio import.

Entry points (imported lazily, so ``import gnuradio.gensemcom.semantic`` stays light):

  SemanticCodec, CodecConfig, EncodeResult, DecodeResult      (codec)
  Budget, shannon_symbols, fixed_rate_symbols                 (ratecontrol)
  Container, Section, SectionType, Importance, fragment, reassemble, Reassembler  (container)
  StructuredPrompt                                            (prompt)
  fit_whole_image                                             (baselines)
  Segmenter, PromptGenerator, Generator, Significance, KeyRegion  (interfaces)
"""
import importlib

_EXPORTS = {
    "SemanticCodec": "codec", "CodecConfig": "codec", "EncodeResult": "codec", "DecodeResult": "codec",
    "BudgetTooSmallError": "codec", "register_backend": "codec", "auto_key_fraction": "codec",
    "Budget": "ratecontrol", "shannon_symbols": "ratecontrol", "fixed_rate_symbols": "ratecontrol",
    "Container": "container", "Section": "container", "SectionType": "container",
    "Importance": "container", "fragment": "container", "reassemble": "container",
    "Reassembler": "container", "Received": "container",
    "StructuredPrompt": "prompt",
    "fit_whole_image": "baselines", "BaselineResult": "baselines",
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
