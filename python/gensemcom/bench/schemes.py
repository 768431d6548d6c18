# SPDX-License-Identifier: GPL-3.0-or-later
"""The scheme registry: what ``gensemcom bench --schemes`` can run.

A scheme is a function ``run(task) -> dict``. It gets a ``Task`` (see ``bench.tasks``) and
returns what came out at the receiver plus the scheme's own fields:

  image            (H, W, 3) uint8 RGB reconstruction of ``task.load_image()``'s size, or
                   ``None`` when nothing could be decoded (the sweep then scores a flat
                   mean-gray image and records delivered = 0: the same rule for every scheme)
  delivered        optional bool; defaults to ``image is not None``
  key_mask         optional (H, W) bool: the sender's key mask (key-region metrics use it)
  prompt_sent      optional str: the text prompt the sender sent
  prompt_received  optional str: the prompt the receiver recovered (text similarity of the two)
  any other key    a scalar the results keep: the columns ``SCHEME_FIELDS`` of
                   ``bench.store`` (bytes, budget_bytes, codec, quality, scale, mcs,
                   key_fraction, prompt_bytes, symbols_used, samples, packets_sent,
                   packets_ok, sections_received) get their own column; others go into
                   the ``extra`` JSON column

The sweep computes every metric itself from ``image`` (the scheme does not), so every
scheme is scored by the same code. A scheme uses ``task.rng_seed`` / ``task.rng()`` as its
only source of randomness, and must be a module-level function (it is pickled by
reference into worker processes and Ray workers).

Register with ``register_scheme`` at import time of a module listed in
``SCHEME_MODULES`` (or imported through ``gensemcom bench --plugin MODULE``)::

    from gnuradio.gensemcom.bench.schemes import register_scheme

    def run_jpeg_fixed(task):
        mcs = task.scheme_param            # "qpsk-1/2" for --schemes jpeg@qpsk-1/2
        ...
        return {"image": rx, "bytes": n, "mcs": mcs, "packets_sent": p, "packets_ok": q}

    register_scheme("jpeg", run_jpeg_fixed, param="MCS", channels=("awgn", "rayleigh"),
                    description="JPEG + LDPC at a fixed MCS over the real flowgraph")
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import BadInputError

# Modules whose import registers schemes. Add a module here to make its schemes built in.
SCHEME_MODULES = [
    "gnuradio.gensemcom.bench.capacity",
    "gnuradio.gensemcom.bench.flowgraph",
]


@dataclass(frozen=True)
class Scheme:
    """A registered scheme.

    name         the name on the command line; ``family@PARAM`` form for a parametric one
    run          ``run(task) -> dict`` (see the module docstring)
    description  one line for ``gensemcom bench --list-schemes``
    channels     channel names the scheme supports, or ``None`` for any
    param        for a parametric family (``jpeg@MCS``): the parameter's name, else ``None``
    validate     for a parametric family: ``validate(value)`` raises ``ValueError`` on a bad value
    bound        True for an ideal bound (drawn dashed in every plot), not a real system
    """

    name: str
    run: Callable
    description: str = ""
    channels: Optional[tuple] = None
    param: Optional[str] = None
    validate: Optional[Callable] = None
    bound: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.name}@{self.param}" if self.param else self.name


# display name -> Scheme: "avif" (plain) and "jpeg@MCS" (a family) can coexist with "jpeg".
_REGISTRY: dict = {}
_loaded = {"builtins": False}


def register_scheme(name: str, run: Callable, *, description: str = "", channels=None,
                    param: Optional[str] = None, validate: Optional[Callable] = None,
                    bound: bool = False, replace: bool = False) -> Scheme:
    """Register ``run`` under ``name`` and return its ``Scheme``.

    With ``param`` the scheme is a family: ``--schemes name@VALUE`` runs it, and
    ``task.scheme_param`` is ``VALUE``; a plain scheme and a family may share a name
    (``jpeg`` at the best MCS, ``jpeg@MCS`` at a fixed one). Registering a name twice is an
    error unless ``replace`` is True (a module imported twice under one name re-registers
    the same function, which is allowed).
    """
    if not name or "@" in name or "," in name or any(c.isspace() for c in name):
        raise ValueError(f"scheme name must be non-empty without '@', ',' or spaces: {name!r}")
    if not callable(run):
        raise TypeError(f"scheme {name!r}: run must be callable")
    scheme = Scheme(name=name, run=run, description=description,
                    channels=tuple(channels) if channels is not None else None,
                    param=param, validate=validate, bound=bound)
    old = _REGISTRY.get(scheme.display_name)
    if old is not None and not replace and getattr(old.run, "__qualname__", None) != getattr(
            run, "__qualname__", None):
        raise ValueError(f"scheme {scheme.display_name!r} is already registered (by {old.run.__module__})")
    _REGISTRY[scheme.display_name] = scheme
    return scheme


def load_scheme_modules(extra=()):
    """Import the built-in scheme modules (once) and any ``extra`` plug-in modules."""
    if not _loaded["builtins"]:
        for module in SCHEME_MODULES:
            importlib.import_module(module)
        _loaded["builtins"] = True
    for module in extra:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise BadInputError(f"--plugin {module}: cannot import it ({exc})") from None


def registered_schemes() -> list:
    """All registered ``Scheme`` objects, by name."""
    load_scheme_modules()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_scheme(name: str) -> Scheme:
    """The ``Scheme`` that runs ``name`` (``jpeg@qpsk-1/2`` finds the ``jpeg`` family).

    Raises ``BadInputError`` for an unknown name or a parameter the family rejects.
    """
    load_scheme_modules()
    family, at, value = name.partition("@")
    plain = _REGISTRY.get(family)
    parametric = next((s for s in _REGISTRY.values() if s.param and s.name == family), None)
    scheme = parametric if at else plain
    if scheme is None:
        if plain is None and parametric is None:
            known = ", ".join(s.display_name for s in registered_schemes()) or "none"
            raise BadInputError(f"unknown scheme {name!r}; registered schemes: {known}")
        if at:
            raise BadInputError(f"scheme {family!r} takes no parameter (got {name!r})")
        raise BadInputError(f"scheme {parametric.display_name} needs a {parametric.param}: "
                            f"write {family}@{parametric.param}")
    if at and not value:
        raise BadInputError(f"scheme {scheme.display_name}: the {scheme.param} after '@' is empty")
    if scheme.validate is not None:
        try:
            scheme.validate(value)
        except ValueError as exc:
            raise BadInputError(f"scheme {name!r}: bad {scheme.param}: {exc}") from None
    return scheme


def check_channel(scheme: Scheme, channel: str):
    """Raise ``BadInputError`` when ``scheme`` cannot run over ``channel`` (``CHANNEL`` or
    ``CHANNEL+IMPAIRMENTS``, ``tasks.channel_parts``)."""
    from .tasks import channel_parts
    name, impairments = channel_parts(channel)
    if scheme.channels is not None and name not in scheme.channels:
        raise BadInputError(f"scheme {scheme.display_name} does not support channel {name!r} "
                            f"(supported: {', '.join(scheme.channels)})")
    if impairments != "none":
        from ..phy.impairments import IMPAIRMENT_PRESETS, preset_channel
        if impairments not in IMPAIRMENT_PRESETS:
            raise BadInputError(f"channel {channel!r}: unknown impairments {impairments!r}; choose from "
                                f"{', '.join(IMPAIRMENT_PRESETS)}")
        own = preset_channel(impairments)[0] or name
        if own != name:
            raise BadInputError(f"channel {channel!r}: impairments {impairments} bring channel {own}; "
                                f"write {own}+{impairments}")


def is_bound(name: str) -> bool:
    """Whether results of scheme ``name`` are an ideal bound (also for unregistered names)."""
    try:
        return get_scheme(name).bound
    except BadInputError:
        return name.endswith("+capacity")


__all__ = ["Scheme", "register_scheme", "get_scheme", "registered_schemes", "check_channel",
           "is_bound", "load_scheme_modules", "SCHEME_MODULES"]
