# SPDX-License-Identifier: GPL-3.0-or-later
"""Backend registry: which segmenter, prompt generator and generator a codec built from data uses.

Backends are named per kind ("segmenter", "prompt_generator", "generator"); a name maps to a
class or factory, or to a "module:attribute" string imported on first use. ``register_backend``
adds one; ``build_backend`` makes one from ``{"name": ..., **params}``.
"""
from __future__ import annotations

import importlib

from ..errors import BadInputError

BACKENDS = {
    "segmenter": {"offline": "gnuradio.gensemcom.semantic.offline.segmenter:OfflineSegmenter"},
    "prompt_generator": {"offline": "gnuradio.gensemcom.semantic.offline.describer:OfflinePromptGenerator"},
    "generator": {"offline": "gnuradio.gensemcom.semantic.offline.generator:OfflineGenerator",
                  "plain": "gnuradio.gensemcom.semantic.offline.plain:PlainGenerator"},
}


def register_backend(kind: str, name: str, target):
    """Make a backend class available to ``SemanticCodec.from_config`` under ``name``.

    ``kind`` is "segmenter", "prompt_generator" or "generator"; ``target`` a class/factory
    or a "module:attribute" string imported on first use.
    """
    if kind not in BACKENDS:
        raise ValueError(f"unknown backend kind {kind!r}; choose from {', '.join(BACKENDS)}")
    BACKENDS[kind][name] = target


def build_backend(kind: str, spec):
    """Instantiate a backend from ``{"name": ..., **params}`` (or just a name)."""
    if spec is None:
        spec = {"name": "offline"}
    if isinstance(spec, str):
        spec = {"name": spec}
    spec = dict(spec)
    name = spec.pop("name", "offline")
    target = BACKENDS.get(kind, {}).get(name)
    if target is None:
        raise BadInputError(f"unknown {kind} backend {name!r}; known: {', '.join(BACKENDS.get(kind, {}))}")
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
    return target(**spec)
