# SPDX-License-Identifier: GPL-3.0-or-later
"""Fragments: each framed piece of a container cut into chunks that fit a packet.

Each section's framed bytes (and the container header, as section index 0) are cut into
fragments of at most ``mtu_bytes``, each with a 9-byte header (``FRAGMENT_HEADER_BYTES``)::

    0xF1 | image_id u16 | section_index u8 | code u8 | fragment_index u16 | fragment_count u16
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..constants import FRAGMENT_HEADER_BYTES
from ..errors import CorruptDataError
from .container import MAX_SECTIONS, Container, framed_pieces

FRAGMENT_MAGIC = 0xF1
_FRAGMENT_HEADER = struct.Struct(">BHBBHH")
assert _FRAGMENT_HEADER.size == FRAGMENT_HEADER_BYTES


# ---- fragments ------------------------------------------------------------------------------
def fragment(container, mtu_bytes: int) -> list:
    """Cut a container (``Container`` or its bytes) into packets of at most ``mtu_bytes``.

    Returns a list of bytes objects, header fragments first, then each section's in order.
    """
    if isinstance(container, (bytes, bytearray, memoryview)):
        container = Container.from_bytes(container)
    packets = []
    for index, code, framed in framed_pieces(container):
        packets += fragment_framed(container.image_id, index, code, framed, mtu_bytes)
    return packets


def fragment_framed(image_id: int, index: int, code: int, framed: bytes, mtu_bytes: int) -> list:
    """Cut one framed piece (section ``index``, header = 0) into fragments of <= ``mtu_bytes``."""
    chunk = mtu_bytes - FRAGMENT_HEADER_BYTES
    if chunk < 1:
        raise ValueError(f"mtu_bytes must exceed the {FRAGMENT_HEADER_BYTES}-byte fragment header")
    count = -(-len(framed) // chunk)
    if count > 0xFFFF:
        raise ValueError(f"section {index} needs {count} fragments; use a larger mtu_bytes")
    return [_FRAGMENT_HEADER.pack(FRAGMENT_MAGIC, image_id, index, code, k, count) + framed[k * chunk:(k + 1) * chunk]
            for k in range(count)]


def fragment_count(framed_bytes: int, mtu_bytes: int) -> int:
    """How many fragments a framed section of ``framed_bytes`` needs at ``mtu_bytes``."""
    return -(-framed_bytes // (mtu_bytes - FRAGMENT_HEADER_BYTES))


def fragment_lengths(framed_bytes: int, mtu_bytes: int) -> list:
    """Lengths (fragment header included) of the fragments of a framed piece."""
    chunk = mtu_bytes - FRAGMENT_HEADER_BYTES
    count = fragment_count(framed_bytes, mtu_bytes)
    return [FRAGMENT_HEADER_BYTES + min(chunk, framed_bytes - k * chunk) for k in range(count)]


@dataclass
class FragmentInfo:
    """Parsed fragment header (see module docstring)."""

    image_id: int
    section_index: int
    code: int
    index: int
    count: int
    data: bytes

    @property
    def importance(self) -> int:
        return self.code >> 5


def parse_fragment(packet: bytes) -> FragmentInfo:
    """Parse one fragment's header; raises ``CorruptDataError`` if it cannot be a fragment."""
    packet = bytes(packet)
    if len(packet) <= FRAGMENT_HEADER_BYTES:
        raise CorruptDataError(f"fragment of {len(packet)} bytes is shorter than its header")
    magic, image_id, section_index, code, index, count = _FRAGMENT_HEADER.unpack_from(packet)
    if magic != FRAGMENT_MAGIC:
        raise CorruptDataError(f"not a gensemcom fragment (first byte 0x{magic:02x})")
    if count == 0 or index >= count or section_index > MAX_SECTIONS:
        raise CorruptDataError(f"fragment index {index}/{count} of section {section_index} invalid")
    return FragmentInfo(image_id, section_index, code, index, count, packet[FRAGMENT_HEADER_BYTES:])
