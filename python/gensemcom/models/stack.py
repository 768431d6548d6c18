# SPDX-License-Identifier: GPL-3.0-or-later
"""From a ``--models`` value to the three backends the codec calls.

    stack = load_stack("large", quant="nf4")      # or "offline" (default), "tiny", a card path,
    stack.segmenter.analyze(image)                # "blip-base" (replaces one role), "a,b" ...
    stack.prompt_generator.describe(image, mask, significance)
    stack.generator.generate(prompt, canvas, known, seed)

Backends load lazily, on first use: an encoder never loads the generator, a decoder never loads
the segmenter or captioner.
"""
from __future__ import annotations

import threading

from ..errors import BadInputError
from .cards import QUANT_MODES, ROLES, ModelCard, check_device, load_card, stack_roles
from .quant import check_mode

BACKEND_CLASSES = {
    "clipseg": ("segment", "ClipSegSegmenter"),
    "semantic-segmentation": ("segment", "SemanticSegSegmenter"),
    "image-to-text": ("caption", "ImageToTextPromptGenerator"),
    "diffusers-inpaint": ("inpaint", "DiffusersInpaintGenerator"),
    "realesrgan": ("realesrgan", "RealEsrganGenerator"),
}


def parse_quant(text) -> dict:
    """A ``--quant`` value -> {role: mode}. "nf4" applies to every large model;
    "prompt_generator=nf4,generator=int8" per role; None/"" -> {} (the cards' own setting)."""
    if not text:
        return {}
    if isinstance(text, dict):
        return {role: check_mode(mode) for role, mode in text.items()}
    out = {}
    for item in str(text).split(","):
        role, _, mode = item.strip().rpartition("=")
        if role and role not in ROLES:
            raise BadInputError(f"--quant: unknown role {role!r}; use MODE or ROLE=MODE with roles "
                                f"{', '.join(ROLES)} and modes {', '.join(QUANT_MODES)}")
        for r in ([role] if role else ROLES):
            out[r] = check_mode(mode.strip())
    return out


# role -> (module under gensemcom, class) of the offline default stack's backends
OFFLINE_CLASSES = {
    "segmenter": ("semantic.offline.segmenter", "OfflineSegmenter"),
    "prompt_generator": ("semantic.offline.describer", "OfflinePromptGenerator"),
    "generator": ("semantic.offline.generator", "OfflineGenerator"),
}


def offline_backend(role, **options):
    """The offline (default-stack) backend of ``role``, implemented by ``gensemcom.semantic``;
    ``options`` (an offline card's options) go to its constructor."""
    import importlib
    module_name, class_name = OFFLINE_CLASSES[role]
    root = __package__.rsplit(".", 1)[0]
    try:
        cls = getattr(importlib.import_module(f"{root}.{module_name}"), class_name)
    except (ImportError, AttributeError):
        raise BadInputError(f"the offline {role} is not available in this build "
                            f"({root}.{module_name}.{class_name} is missing)") from None
    try:
        return cls(**options)
    except TypeError as exc:
        raise BadInputError(f"offline {role}: bad option in the card: {exc}") from None


def backend_class(card):
    """The class that implements ``card``'s backend (a ModelCard not of backend 'offline')."""
    import importlib
    module_name, class_name = BACKEND_CLASSES[card.backend]
    return getattr(importlib.import_module(f".{module_name}", __package__), class_name)


def load_backend(card, quant=None, device=None, dtype=None, base=None):
    """Instantiate the backend a model card names (``card``: a ModelCard, name or path).

    quant   none | int8 | nf4 | torchao-int8, None = the card's setting
    device  auto | cpu | cuda | cuda:N, None = the card's;  dtype  float32 | float16 | bfloat16
    base    for a prompt generator: the PromptGenerator whose measured prompt it enriches
    """
    card = load_card(card)
    if card.kind != "model":
        raise BadInputError(f"model card {card.name!r} is a stack; load it with load_stack")
    if device:
        check_device(device, "--device")
    if card.backend == "offline":
        return offline_backend(card.role, **card.options)
    cls = backend_class(card)
    kwargs = {"base": base} if card.role == "prompt_generator" else {}
    return cls(card, quant=quant, device=device, dtype=dtype, **kwargs)


class Stack:
    """One backend per role, loaded on first access. ``cards`` maps role -> ModelCard."""

    def __init__(self, cards: dict, quant=None, device=None, dtype=None, name=""):
        self.cards = dict(cards)
        self.quant = parse_quant(quant)
        self.device, self.dtype, self.name = device, dtype, name
        self._loaded = {}
        self._lock = threading.Lock()

    def backend(self, role):
        """The backend of ``role`` (loads it on first call; thread-safe)."""
        if role not in ROLES:
            raise BadInputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        with self._lock:
            if role not in self._loaded:
                base = None
                card = self.cards[role]
                if role == "prompt_generator" and card.is_large:
                    base = _offline_or_none(role)
                quant = self.quant.get(role) if card.is_large else None
                self._loaded[role] = load_backend(card, quant=quant, device=self.device, dtype=self.dtype,
                                                  base=base)
            return self._loaded[role]

    def check_weights(self, roles=ROLES):
        """Raise ``MissingWeightsError`` now, before any flowgraph runs, when a large card of
        ``roles`` has no weights on this machine (looks them up; loads nothing)."""
        from .weights import resolve_weights
        for role in roles:
            card = self.cards.get(role)
            if card is not None and card.is_large:
                resolve_weights(card)

    @property
    def loaded(self) -> set:
        """Roles whose backend has been loaded so far."""
        return set(self._loaded)

    @property
    def segmenter(self):
        return self.backend("segmenter")

    @property
    def prompt_generator(self):
        return self.backend("prompt_generator")

    @property
    def generator(self):
        return self.backend("generator")

    def describe(self) -> dict:
        """{role: card name} plus the quantization asked for, for reports."""
        return {"stack": self.name, **{r: c.name for r, c in self.cards.items()},
                "quant": {r: self.quant.get(r, c.quantization) for r, c in self.cards.items() if c.is_large}}


def _offline_or_none(role):
    try:
        return offline_backend(role)
    except BadInputError:
        return None


def load_stack(models=None, quant=None, device=None, dtype=None, search_path=None) -> Stack:
    """The ``Stack`` a ``--models`` value selects (validated now, loaded lazily).

    models  a stack card ("offline", "large", "tiny"), a model card (replaces its role in the
            default offline stack), a comma-separated list of these, or a path to a .yaml card;
            None = the default offline stack
    quant   "nf4", "int8", "torchao-int8", "none", or per role "generator=nf4,prompt_generator=int8"
    """
    cards = stack_roles(models, search_path)
    if device:
        check_device(device, "--device")
    name = models.name if isinstance(models, ModelCard) else (models or "offline")
    return Stack(cards, quant=quant, device=device, dtype=dtype, name=str(name))
