# SPDX-License-Identifier: GPL-3.0-or-later
"""The META section: how the receiver decodes the key streams and the hints.

Wire format (big-endian), ``META_VERSION`` 1::

    version u8 | key codec id u8 | flags u8 (1 = hints, 2 = key) | stream width u16 |
    stream height u16 | quality u8 | feather px u8 | bands u8 | (bands - 1) x band row u16 |
    [hint thumbnail width u8 | height u8]   (when the hints flag is set)

Everything is validated against the image size from the container header: it came off the air.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..classical import stillcodec
from ..errors import CorruptDataError

META_VERSION = 1
FLAG_HINTS = 1
FLAG_KEY = 2


@dataclass
class Meta:
    codec: str
    hints: bool
    key: bool
    stream_size: tuple = (0, 0)
    quality: int = 0
    feather_px: int = 0
    band_rows: tuple = ()
    thumb_size: tuple = (0, 0)

    def to_bytes(self) -> bytes:
        flags = (FLAG_HINTS if self.hints else 0) | (FLAG_KEY if self.key else 0)
        out = struct.pack(">BBBHHBBB", META_VERSION, stillcodec.CODEC_IDS[self.codec], flags,
                          self.stream_size[0], self.stream_size[1], self.quality, self.feather_px,
                          len(self.band_rows) + 1)
        out += b"".join(struct.pack(">H", r) for r in self.band_rows)
        if self.hints:
            out += struct.pack(">BB", *self.thumb_size)
        return out

    @classmethod
    def from_bytes(cls, data: bytes, width: int, height: int) -> "Meta":
        if len(data) < 10:
            raise CorruptDataError("metadata section truncated")
        version, codec_id, flags, sw, sh, quality, feather, n_bands = struct.unpack(">BBBHHBBB", data[:10])
        if version != META_VERSION:
            raise CorruptDataError(f"metadata version {version} not supported")
        if codec_id not in stillcodec.CODEC_NAMES:
            raise CorruptDataError(f"unknown key codec id {codec_id}")
        key, hints = bool(flags & FLAG_KEY), bool(flags & FLAG_HINTS)
        if flags & ~(FLAG_KEY | FLAG_HINTS):
            raise CorruptDataError(f"unknown metadata flags 0x{flags:02x}")
        if key and not (8 <= sw <= width and 8 <= sh <= height) and (sw, sh) != (width, height):
            raise CorruptDataError(f"key stream size {sw}x{sh} impossible for a {width}x{height} image")
        if not 1 <= n_bands <= 16:
            raise CorruptDataError(f"metadata claims {n_bands} key bands")
        need = 10 + 2 * (n_bands - 1) + (2 if hints else 0)
        if len(data) != need:
            raise CorruptDataError(f"metadata section is {len(data)} bytes, expected {need}")
        rows = tuple(struct.unpack(">H", data[10 + 2 * i:12 + 2 * i])[0] for i in range(n_bands - 1))
        if key and any(not 0 < r < sh for r in rows) or list(rows) != sorted(set(rows)):
            raise CorruptDataError("metadata key band boundaries invalid")
        thumb = struct.unpack(">BB", data[need - 2:need]) if hints else (0, 0)
        if hints and not (1 <= thumb[0] <= width and 1 <= thumb[1] <= height):
            raise CorruptDataError(f"hint thumbnail size {thumb} invalid")
        return cls(stillcodec.CODEC_NAMES[codec_id], hints, key, (sw, sh), quality, feather, rows, thumb)

    def bands(self):
        edges = (0,) + tuple(self.band_rows) + (self.stream_size[1],)
        return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
