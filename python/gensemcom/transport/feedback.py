# SPDX-License-Identifier: GPL-3.0-or-later
"""Feedback from receiver to sender: what arrived of an image, what is missing, how the link is.

Wire format (big-endian; at most ``MAX_FEEDBACK_BYTES``)::

    0xF4 | image_id u16 | round u8 | snr i8 (0.25 dB; -128 = unknown) | received u16 |
    n_missing u8 | n_missing x (section u8 | fragment u16; 0xFFFF = every fragment) |
    n_blocks u8 | n_blocks x (block u8 | have u8 | k u8)

``missing`` lists the fragments the receiver knows it lacks (a section of which nothing
arrived, or whose fragment count it does not know, is reported whole; a lost container header
is section 0 whole). ``blocks`` lists the erasure-code blocks it holds fewer than k shares
of. Everything read is untrusted: every count and length is checked.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import CorruptDataError

FEEDBACK_MAGIC = 0xF4
ALL_FRAGMENTS = 0xFFFF
MAX_MISSING = 255
MAX_BLOCKS = 255
MAX_FEEDBACK_BYTES = 8 + 3 * MAX_MISSING + 1 + 3 * MAX_BLOCKS
_HEAD = struct.Struct(">BHBbH")


@dataclass
class Feedback:
    """One report (see module docstring); ``snr_db`` None when the receiver has no estimate."""

    image_id: int
    round: int = 0
    snr_db: float = None
    received: int = 0
    missing: list = field(default_factory=list)     # [(section, fragment or ALL_FRAGMENTS)]
    blocks: list = field(default_factory=list)      # [(block, shares held, k)]

    @property
    def complete(self) -> bool:
        return not self.missing and not self.blocks

    def to_bytes(self) -> bytes:
        missing, blocks = self.missing[:MAX_MISSING], self.blocks[:MAX_BLOCKS]
        snr = -128 if self.snr_db is None else max(-127, min(127, int(round(self.snr_db * 4))))
        out = _HEAD.pack(FEEDBACK_MAGIC, self.image_id, self.round & 0xFF, snr, min(self.received, 0xFFFF))
        out += bytes([len(missing)]) + b"".join(struct.pack(">BH", s, f) for s, f in missing)
        out += bytes([len(blocks)]) + b"".join(struct.pack(">BBB", b, h, k) for b, h, k in blocks)
        return out

    @classmethod
    def from_bytes(cls, data: bytes) -> "Feedback":
        data = bytes(data)
        if len(data) < _HEAD.size + 2 or len(data) > MAX_FEEDBACK_BYTES or data[0] != FEEDBACK_MAGIC:
            raise CorruptDataError("not a feedback message (magic or length)")
        _, image_id, round_, snr, received = _HEAD.unpack_from(data)
        pos = _HEAD.size
        n_missing = data[pos]
        pos += 1
        if pos + 3 * n_missing + 1 > len(data):
            raise CorruptDataError("feedback message truncated (missing list)")
        missing = [struct.unpack_from(">BH", data, pos + 3 * i) for i in range(n_missing)]
        pos += 3 * n_missing
        n_blocks = data[pos]
        pos += 1
        if pos + 3 * n_blocks != len(data):
            raise CorruptDataError("feedback message length does not match its block list")
        blocks = [tuple(data[pos + 3 * i:pos + 3 * i + 3]) for i in range(n_blocks)]
        if any(h >= k or k == 0 for _, h, k in blocks):
            raise CorruptDataError("feedback block entry with have >= k")
        return cls(image_id, round_, None if snr == -128 else snr / 4.0, received,
                   [tuple(m) for m in missing], [tuple(b) for b in blocks])


def feedback_from(reassembler, erasure_store=None, round_=0, snr_db=None, received=0) -> Feedback:
    """The report a receiver sends about what its ``transport.reassembly.Reassembler`` holds."""
    missing = []
    parts = reassembler.parts()
    announced = reassembler.announced_sections()
    known = set(parts)
    if announced is None:
        if 0 not in known or len(parts[0][1]) < parts[0][0]:
            missing.append((0, ALL_FRAGMENTS))
    sections = range(0, announced + 1) if announced is not None else sorted(known)
    for index in sections:
        if index not in parts:
            missing.append((index, ALL_FRAGMENTS))
            continue
        count, have = parts[index]
        missing += [(index, f) for f in range(count) if f not in have]
    blocks = erasure_store.incomplete(reassembler.image_id) if erasure_store is not None else []
    return Feedback(int(reassembler.image_id or 0), round_, snr_db, received, missing, blocks)
