# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``.gsc`` container: a header, then independently decodable sections.

Container (format version 1), all integers big-endian::

    header   "GS" | version u8 | image_id u16 | width u16 | height u16 | n_sections u8 | crc32 u32
    section  code u8 | length (LEB128 varint) | payload | crc32 u32   (crc over code, length, payload)

``code`` = ``importance << 5 | type``: the importance class (0 = most important) sits in the top
3 bits so the PHY can choose the protection of a section (or a fragment) from one byte without
parsing it. Section types are ``SectionType``; a decoder skips types it does not know.

``framed_pieces`` lists what travels: the header as piece 0, then each framed section;
``fragments`` cuts pieces into fragments, ``packets`` packs fragments into packets and
``reassembly`` rebuilds the sections at the receiver. Everything read here is untrusted: every
length and count is checked before use, and malformed input raises ``CorruptDataError``.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from ..constants import CONTAINER_HEADER_BYTES, MAX_IMAGE_SIDE_PX
from ..errors import CorruptDataError

MAGIC = b"GS"
FORMAT_VERSION = 1
HEADER_BYTES = CONTAINER_HEADER_BYTES
MAX_SECTIONS = 64
MAX_SECTION_BYTES = 1 << 24      # 16 MiB: no section of a sane container is larger
MAX_DIMENSION = MAX_IMAGE_SIDE_PX


class SectionType(IntEnum):
    """What a section holds."""

    META = 1      # codec parameters: how to decode the key stream(s)
    PROMPT = 2    # the structured prompt (``StructuredPrompt.to_bytes``)
    MASK = 3      # the key-region mask (block grid, arithmetic-coded)
    HINTS = 4     # compact visual hints for the non-key area (tiny thumbnail)
    KEY = 5       # one independently decodable key-region stream (a band of the image)
    IMAGE = 6     # a whole-image standard file (JPEG/WebP/AVIF): the AVIF-file reference baseline
    STILL = 7     # a whole-image bare stream: codec id u8 | coded width u16 | height u16 | stream


class Importance(IntEnum):
    """Protection class of a section: the PHY protects lower numbers more."""

    CRITICAL = 0    # header, metadata, prompt: without them nothing is sensible
    HIGH = 1        # mask, hints: small, and the key streams build on them
    NORMAL = 2      # key-region streams
    LOW = 3         # refinements


DEFAULT_IMPORTANCE = {
    SectionType.META: Importance.CRITICAL,
    SectionType.PROMPT: Importance.CRITICAL,
    SectionType.MASK: Importance.HIGH,
    SectionType.HINTS: Importance.HIGH,
    SectionType.KEY: Importance.NORMAL,
    SectionType.IMAGE: Importance.NORMAL,
    SectionType.STILL: Importance.NORMAL,
}


@dataclass
class Section:
    """One section: ``type`` (``SectionType`` or an unknown int), ``payload`` bytes, ``importance``."""

    type: int
    payload: bytes
    importance: int = None

    def __post_init__(self):
        if self.importance is None:
            self.importance = DEFAULT_IMPORTANCE.get(self.type, Importance.LOW)
        if not 0 <= int(self.type) < 32 or not 0 <= int(self.importance) < 8:
            raise ValueError(f"section type {self.type} / importance {self.importance} out of range")

    @property
    def code(self) -> int:
        return (int(self.importance) << 5) | int(self.type)

    @property
    def type_name(self) -> str:
        try:
            return SectionType(self.type).name.lower()
        except ValueError:
            return f"type{self.type}"

    def to_bytes(self) -> bytes:
        """Framed section: code, varint length, payload, CRC-32."""
        body = bytes([self.code]) + encode_varint(len(self.payload)) + bytes(self.payload)
        return body + struct.pack(">I", zlib.crc32(body))


def section_wire_bytes(payload_bytes: int) -> int:
    """Bytes a section with a ``payload_bytes`` payload takes in the container."""
    return 1 + len(encode_varint(payload_bytes)) + payload_bytes + 4


def container_bytes(payload_sizes) -> int:
    """Exact container size for sections with the given payload sizes."""
    return HEADER_BYTES + sum(section_wire_bytes(n) for n in payload_sizes)


@dataclass
class Container:
    """A whole container: image id, original image size and the sections in order."""

    image_id: int
    width: int
    height: int
    sections: list = field(default_factory=list)

    def to_bytes(self) -> bytes:
        return encode_header(self.image_id, self.width, self.height, len(self.sections)) + b"".join(
            s.to_bytes() for s in self.sections)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Container":
        """Parse a complete container; any damage raises ``CorruptDataError``."""
        data = bytes(data)
        image_id, width, height, count = decode_header(data[:HEADER_BYTES])
        sections, pos = [], HEADER_BYTES
        for index in range(count):
            section, pos = _read_section(data, pos, index + 1)
            sections.append(section)
        if pos != len(data):
            raise CorruptDataError(f"{len(data) - pos} unexpected bytes after the last section")
        return cls(image_id, width, height, sections)

    def find(self, section_type) -> list:
        return [s for s in self.sections if s.type == section_type]


def encode_header(image_id, width, height, n_sections) -> bytes:
    """The 14-byte container header."""
    if not (0 <= image_id < 65536 and 1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION
            and 0 <= n_sections <= MAX_SECTIONS):
        raise ValueError("container header field out of range")
    body = MAGIC + struct.pack(">BHHHB", FORMAT_VERSION, image_id, width, height, n_sections)
    return body + struct.pack(">I", zlib.crc32(body))


def decode_header(data: bytes):
    """Parse and check a header: returns (image_id, width, height, n_sections)."""
    if data[:2] != MAGIC[:len(data)] or not data:
        raise CorruptDataError("not a gensemcom container (it does not start with 'GS')")
    if len(data) < HEADER_BYTES:
        raise CorruptDataError(f"container header truncated ({len(data)} of {HEADER_BYTES} bytes)")
    if zlib.crc32(data[:10]) != struct.unpack(">I", data[10:14])[0]:
        raise CorruptDataError("container header CRC mismatch")
    version, image_id, width, height, count = struct.unpack(">BHHHB", data[2:10])
    if version != FORMAT_VERSION:
        raise CorruptDataError(f"container format version {version} is not supported "
                               f"(this reads {FORMAT_VERSION})")
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        raise CorruptDataError(f"container image size {width}x{height} out of range")
    if count > MAX_SECTIONS:
        raise CorruptDataError(f"container claims {count} sections (at most {MAX_SECTIONS})")
    return image_id, width, height, count


def _read_section(data: bytes, pos: int, index: int):
    """Parse the framed section at ``pos``; returns (Section, next position)."""
    if pos >= len(data):
        raise CorruptDataError(f"section {index} missing (container truncated)")
    code = data[pos]
    length, after = decode_varint(data, pos + 1)
    if length > MAX_SECTION_BYTES:
        raise CorruptDataError(f"section {index} claims {length} bytes")
    end = after + length
    if end + 4 > len(data):
        raise CorruptDataError(f"section {index} truncated ({len(data) - after} of {length + 4} bytes)")
    if zlib.crc32(data[pos:end]) != struct.unpack(">I", data[end:end + 4])[0]:
        raise CorruptDataError(f"section {index} CRC mismatch")
    return Section(code & 0x1F, data[after:end], code >> 5), end + 4


def parse_section(framed: bytes, index: int = 1) -> Section:
    """Parse one framed section (exactly, nothing after it)."""
    section, end = _read_section(bytes(framed), 0, index)
    if end != len(framed):
        raise CorruptDataError(f"section {index} has {len(framed) - end} trailing bytes")
    return section


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128."""
    if value < 0:
        raise ValueError("varint must be >= 0")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, pos: int, max_bytes: int = 4):
    """Unsigned LEB128 at ``pos`` (at most ``max_bytes`` bytes): returns (value, next position)."""
    value = 0
    for i in range(max_bytes):
        if pos + i >= len(data):
            raise CorruptDataError("length field truncated")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise CorruptDataError("length field too long")


def framed_pieces(container: Container) -> list:
    """[(section index, code, framed bytes)]: the header as index 0, then each section."""
    pieces = [(0, Importance.CRITICAL << 5, encode_header(container.image_id, container.width,
                                                          container.height, len(container.sections)))]
    return pieces + [(i + 1, s.code, s.to_bytes()) for i, s in enumerate(container.sections)]
