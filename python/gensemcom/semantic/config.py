# SPDX-License-Identifier: GPL-3.0-or-later
"""Settings of the semantic encoder (``CodecConfig``) and the codec's own error."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..classical import stillcodec
from ..errors import BadInputError
from ..imageops import SCALE_FACTORS

STREAM_TUNE = "ssim"            # AV1 tuning of the hint and key streams (stillcodec.encode_still)


@dataclass
class CodecConfig:
    """Settings of the encoder (the decoder reads what it needs from the container).

    codec            key-stream codec: "avif" (bare AV1, default), "webp" or "jpeg"
    key_fraction     target share of the image in the key area; None = automatic from the
                     budget (``auto_key_fraction``: 0.10 at 0.031 bit/pixel, +0.07 per doubling)
    adapt_key_area   rate control may shrink the key area when even its coarsest coding does
                     not fit, and grow it when the finest coding leaves bytes unused
    hints            "auto" (rate control decides), "off", or "on" (always the finest that fits)
    nonkey_weight    weight of the non-key squared error against the key error when rate
                     control decides how many bytes the hints get
    hint_share       share of the bytes for hints and key streams that the hints get (None:
                     rate control chooses among ``HINT_SHARES`` with ``nonkey_weight``)
    prompt_share     largest share of the budget the prompt may take (at least
                     ``MIN_PROMPT_CAP`` bytes); it is shrunk step by step until it does
    nonkey_detail    share (0..1) of the non-key residual the key stream also codes (0: only
                     the key area; the hints alone carry the non-key area)
    key_bands        independently decodable key streams (None: ``default_bands``)
    cell_px          key-mask grid cell size (None = about 48 cells on the long side)
    feather_px       width of the key-boundary blend (None = cell_px // 2)
    speed            AV1 encoder speed of the stream sent (0 slow .. 10 fast)
    search_speed     AV1 encoder speed while choosing the scale
    refine_speed     AV1 encoder speed while choosing the quality and key area at that scale;
                     the stream is then re-encoded at ``speed`` (smaller and at least as good at
                     the same quality, so it still fits; checked)
    scale_factors    coded size = original / factor, tried by rate control
    prompt           "on", or "off": send the neutral one-colour prompt instead of the image's
                     description (an ablation: what the prompt adds)
    key_area         True, or False: send no key area, only the prompt and the hints (an
                     ablation: what the key/non-key split adds)
    """

    codec: str = "avif"
    key_fraction: float = None
    adapt_key_area: bool = True
    hints: str = "auto"
    nonkey_weight: float = 0.1
    hint_share: float = None
    prompt_share: float = 0.05
    nonkey_detail: float = 0.0
    key_bands: int = None
    cell_px: int = None
    feather_px: int = None
    speed: int = 6
    search_speed: int = 9
    refine_speed: int = 7
    scale_factors: tuple = SCALE_FACTORS
    prompt: str = "on"
    key_area: bool = True

    def __post_init__(self):
        if self.codec not in stillcodec.CODECS:
            raise BadInputError(f"unknown codec {self.codec!r}; choose from {', '.join(stillcodec.CODECS)}")
        if self.key_fraction is not None and not 0.0 < self.key_fraction <= 1.0:
            raise BadInputError(f"key_fraction must be in (0, 1], got {self.key_fraction}")
        if self.prompt not in ("on", "off"):
            raise BadInputError(f"prompt must be on or off, got {self.prompt!r}")
        if self.hints not in ("auto", "off", "on"):
            raise BadInputError(f"hints must be auto, off or on, got {self.hints!r}")
        if self.hint_share is not None and not 0.0 < self.hint_share < 1.0:
            raise BadInputError(f"hint_share must be in (0, 1), got {self.hint_share}")
        self.scale_factors = tuple(float(f) for f in self.scale_factors)

    @classmethod
    def from_dict(cls, values: dict) -> "CodecConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise BadInputError(f"unknown codec settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


class BudgetTooSmallError(BadInputError):
    """Not even the header, metadata and the smallest prompt fit the budget."""
