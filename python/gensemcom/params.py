# SPDX-License-Identifier: GPL-3.0-or-later
"""Parameters of blocks and commands, each declared once.

``Param`` declares one parameter: its name (the constructor keyword and the GRC id), type,
default, label, help text, choices or range, and whether it can change while running. A block
class lists its parameters in ``PARAMETERS`` (a ``Params``) and takes its keyword defaults from
there; ``grc_yaml`` writes the block's GRC YAML from the same declarations; a command adds the
options it shares with a block with ``Param.add_to(parser)``. The parameters that several blocks
and commands share (scheme, channel, codec, quantization, packet size ...) are declared below,
once; the MCS is ``phy.mcs.MCS_PARAMETER``.

``number`` validates one number and names the parameter in a one-line error.
"""
import argparse
import math
from dataclasses import dataclass, replace
from types import SimpleNamespace

from .constants import (CHANNELS, DECODING_EFFORTS, FRAGMENT_HEADER_BYTES, KEY_CODECS, MAX_IMAGE_SIDE_PX,
                        MAX_PAYLOAD_BYTES, QUANT_MODES, SCHEMES, SEMANTIC_SCHEME)
from .errors import BadInputError

DTYPES = ("int", "float", "str", "bool", "raw")


def number(owner, name, value, lo=None, hi=None, integer=False, lo_open=False):
    """``value`` as a finite float (or int), within [lo, hi] (``lo_open``: > lo); else BadInputError.

    owner names the block or command in the message, e.g. "fragmenter".
    """
    kind = "a whole number" if integer else "a number"
    try:
        if isinstance(value, bool) or value is None:
            raise TypeError
        converted = int(value) if integer else float(value)
        if integer and float(value) != converted:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise BadInputError(f"{owner}: {name} must be {kind}, got {value!r}") from None
    if not integer and not math.isfinite(converted):
        raise BadInputError(f"{owner}: {name} must be finite, got {value!r}")
    if lo is not None and (converted <= lo if lo_open else converted < lo):
        raise BadInputError(f"{owner}: {name} must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and converted > hi:
        raise BadInputError(f"{owner}: {name} must be <= {hi}, got {value!r}")
    return converted


class _Required:
    """The default of a parameter that has none: the caller must give it."""

    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()


@dataclass(frozen=True)
class Param:
    """One parameter of a block (and of the commands that share it).

    name            constructor keyword and GRC parameter id
    dtype           "int", "float", "str", "bool" or "raw" (any Python object, e.g. a numerology)
    default         the constructor's default (``REQUIRED``: none, the caller gives it)
    label           GRC label, Title Case; ``unit`` (a unit or short note) follows in parentheses
    doc             one line: what it means (the CLI help; GRC shows the block's documentation text)
    choices         the values allowed (a str parameter); ``choice_labels`` name them in GRC
    free_text       GRC also takes another expression than the choices (a flowgraph variable, as
                    the examples' command-line parameters need); else a GRC enum
    lo, hi          allowed range (``lo_open``: lo itself excluded): validation and GRC asserts
    hide            GRC: "none", "part", "all" or a Mako expression
    runtime_setter  method that changes it while the flowgraph runs (a GRC callback)
    cli_flag        the command-line flag of the commands that share it (default --name)
    grc             False: Python only (a hook or an object that a GRC block cannot give)
    default_text    how the default is written, where its repr is not (1/48): GRC and CLI help
    grc_default     GRC's default where Python has none (a required path: GRC needs a value) or
                    where GRC's convention differs (a sample rate: the flowgraph's samp_rate)
    """

    name: str
    dtype: str
    default: object
    label: str
    doc: str
    choices: tuple = None
    choice_labels: tuple = None
    free_text: bool = False
    lo: float = None
    hi: float = None
    lo_open: bool = False
    unit: str = ""
    hide: str = "none"
    runtime_setter: str = None
    cli_flag: str = None
    grc: bool = True
    default_text: str = None
    grc_default: str = None

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"Param {self.name}: dtype {self.dtype!r} is not one of {DTYPES}")
        if self.choices is not None:
            if self.dtype != "str":
                raise ValueError(f"Param {self.name}: choices need dtype str")
            if self.choice_labels is not None and len(self.choice_labels) != len(self.choices):
                raise ValueError(f"Param {self.name}: one label per choice")
            if not self.required and self.default not in self.choices:
                raise ValueError(f"Param {self.name}: default {self.default!r} is not a choice")
        if self.required and self.grc and self.grc_default is None:
            raise ValueError(f"Param {self.name}: a required parameter needs a grc_default")

    @property
    def required(self):
        return self.default is REQUIRED

    @property
    def flag(self):
        """The command-line flag."""
        return self.cli_flag or "--" + self.name.replace("_", "-")

    def with_(self, **changes):
        """This declaration with some fields changed (another block's variant of it)."""
        return replace(self, **changes)

    def check(self, owner, value):
        """``value`` validated against the declaration (type and range, or choices); returns it
        converted (numbers: int or float). BadInputError names ``owner`` and the parameter."""
        if self.dtype in ("int", "float"):
            return number(owner, self.name, value, self.lo, self.hi, integer=self.dtype == "int",
                          lo_open=self.lo_open)
        if self.choices is not None and value not in self.choices:
            raise BadInputError(f"{owner}: {self.name} must be one of {', '.join(map(repr, self.choices))}, "
                                f"got {value!r}")
        return value

    def add_to(self, parser, *flags, **options):
        """Add this parameter to an argparse parser as an option (``flags``: default ``flag``).

        Choices, default and help come from the declaration; ``options`` are argparse keywords
        that override them (a command's own ``type``, ``required``, ``metavar``, ``help`` ...).
        A numeric option without a ``type`` is checked against the declared range.
        """
        flags = flags or (self.flag,)
        options.setdefault("default", None if self.required else self.default)
        if "type" not in options:
            if self.choices is not None:
                options.setdefault("choices", self.choices)
            elif self.dtype in ("int", "float"):
                options["type"] = self._parse_option(flags[0])
        if "help" not in options:
            options["help"] = self.help_text(options["default"], options.get("required", False),
                                             list_choices="choices" not in options)
        return parser.add_argument(*flags, **options)

    def help_text(self, default=None, required=False, list_choices=False):
        """The CLI help: the doc, the unit or the choices, and the default (% escaped for argparse)."""
        numeric_unit = self.unit and self.dtype in ("int", "float") and self.unit not in self.doc
        text = self.doc + (f", {self.unit}" if numeric_unit else "")
        if list_choices and self.choices is not None:
            text += ": " + ", ".join(c for c in self.choices if c)
        if default not in (None, "") and not required:
            if default == self.default and self.default_text is not None:
                default = self.default_text
            text += f" (default {default:g})" if isinstance(default, float) else f" (default {default})"
        return text.replace("%", "%%")

    def _parse_option(self, flag):
        def parse(text):
            try:
                return self.check(flag, text)
            except BadInputError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        parse.__name__ = self.dtype      # argparse names the type in its messages
        return parse


class Params(tuple):
    """A block's parameters, in GRC order; ``params["name"]`` is one ``Param``."""

    def __new__(cls, *params):
        names = [p.name for p in params]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"parameters declared twice: {', '.join(repeated)}")
        return super().__new__(cls, params)

    def __getitem__(self, key):
        if isinstance(key, str):
            for param in self:
                if param.name == key:
                    return param
            raise KeyError(key)
        return super().__getitem__(key)

    def defaults(self):
        """The defaults by name (``.mtu_bytes``): what the constructor's keywords default to."""
        return SimpleNamespace(**{p.name: p.default for p in self})

    def check(self, owner, **values):
        """Each value checked by its declaration (``Param.check``); returns them by name."""
        return SimpleNamespace(**{name: self[name].check(owner, value) for name, value in values.items()})


# ---- parameters that several blocks and commands share ------------------------------------------

SCHEME = Param(
    "scheme", "str", SEMANTIC_SCHEME, "Scheme",
    "what is sent: the semantic scheme, or a whole-image baseline (a classical codec) over the same PHY",
    choices=SCHEMES, choice_labels=("Semantic", "AV1 (bare stream)", "WebP (bare VP8)", "JPEG", "ROI-coded AV1",
                                    "AVIF File", "Semantic without Generator", "Semantic without Prompt",
                                    "Semantic without Hints", "Semantic without Key Area"), free_text=True)
CHANNEL = Param(
    "channel", "str", "awgn", "Channel", "channel preset",
    choices=CHANNELS, choice_labels=("AWGN", "Rayleigh", "Rician", "Multipath"), free_text=True)
SNR_DB = Param("snr_db", "float", 30.0, "SNR Es/N0", "Es/N0 per data subcarrier", unit="dB",
               cli_flag="--snr")
PLANNING_SNR_DB = SNR_DB.with_(default=10.0, label="Planning SNR", lo=-50, hi=80,
                               doc="planning SNR: Es/N0 per data carrier expected at the receiver")
PLANNING_CHANNEL = CHANNEL.with_(label="Planning Channel", doc="channel statistics the MCS plan assumes",
                                 cli_flag="--plan-channel")
SEED = Param("seed", "int", 0, "Seed", "noise and fading seed", lo=0)
CFO = Param("cfo", "float", 0.0, "CFO", "carrier frequency offset in subcarrier spacings, |cfo| < 0.4",
            unit="subcarrier spacings")
DELAY_SAMPLES = Param("delay_samples", "float", 0.0, "Timing Offset", "timing offset in samples, fractional allowed",
                      unit="samples", lo=0)
NUMEROLOGY = Param(
    "numerology", "raw", None, "Numerology",
    "OFDM numerology: None = the 802.11a-like default, a Numerology or a dict of its fields; "
    "transmitter and receiver must agree", hide="part")
MTU_BYTES = Param(
    "mtu_bytes", "int", 400, "Packet Size",
    f"largest packet payload, the {FRAGMENT_HEADER_BYTES}-byte fragment header included",
    unit="bytes", lo=FRAGMENT_HEADER_BYTES + 1, hi=MAX_PAYLOAD_BYTES)
PROFILE = Param("profile", "str", "default", "Link Profile",
                "link profile name or .yaml path: numerology, packet size, MCS per importance class")
MODELS = Param("models", "str", "offline", "Models",
               "model card or stack (offline = the default stack; `gensemcom models list`)")
QUANT = Param("quant", "str", "none", "Quantization", "quantization of the large models",
              choices=QUANT_MODES, choice_labels=("None", "Int8", "NF4", "Torchao Int8"))
CODEC = Param("codec", "str", "avif", "Key-Stream Codec",
              "still-image codec of the key regions and hints; avif is bare AV1, the least overhead",
              choices=KEY_CODECS, choice_labels=("AVIF", "WebP", "JPEG"))
BUDGET_BYTES = Param("budget_bytes", "int", 3072, "Budget", "container size limit per image", unit="bytes",
                     lo=0)
CPP = Param("cpp", "float", 1 / 48, "Channel Uses per Pixel",
            "channel uses per pixel: complex data-carrier symbols per image / (H*W*3)", lo=0, default_text="1/48")
KEY_FRACTION = Param("key_fraction", "float", 0.0, "Key-Area Fraction", "target key-area share", unit="0 = auto",
                     lo=0, hi=1)
QUEUE_SIZE = Param("queue_size", "int", 4, "Queue Size",
                   "images waiting for the worker thread at most; more are dropped (counted)",
                   unit="images", lo=1, hide="part")
EXECUTOR = Param("executor", "str", "thread", "Model Executor",
                 "where the models run: a thread of this process, or a child process at low CPU priority "
                 "(keeps a radio's sample stream in real time while images are coded)",
                 choices=("thread", "process"), choice_labels=("Thread", "Child Process"), hide="part")
DECODING_EFFORT = Param("effort", "str", "full", "Decoding Effort",
                        "full: a packet's first two LDPC decodes with 50 sum-product iterations (simulations, "
                        "PER curves); fast: those with at most 12 min-sum iterations too, like the tracking passes, "
                        "up to 3.8x less CPU on fading channels (a radio's stream)",
                        choices=DECODING_EFFORTS, choice_labels=("Full", "Fast"), hide="part",
                        runtime_setter="set_effort")
DEFAULT_WIDTH = Param("default_width", "int", 0, "Width if Header Lost",
                      "image width when the container header was lost (0 = the last image's)",
                      unit="px", lo=0, hi=MAX_IMAGE_SIDE_PX, hide="part")
DEFAULT_HEIGHT = DEFAULT_WIDTH.with_(name="default_height", label="Height if Header Lost",
                                     doc="image height when the container header was lost (0 = the last image's)")
