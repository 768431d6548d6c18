"""The ``.gsc`` container: a header, then independently decodable sections, and its fragments.

Container (format version 1), all integers big-endian::

    header   "GS" | version u8 | image_id u16 | width u16 | height u16 | n_sections u8 | crc32 u32
    section  code u8 | length (LEB128 varint) | payload | crc32 u32   (crc over code, length, payload)

``code`` = ``importance << 5 | type``: the importance class (0 = most important) sits in the top
3 bits so the PHY can choose the protection of a section (or a fragment) from one byte without
parsing it. Section types are ``SectionType``; a decoder skips types it does not know.

Fragments (``fragment``/``Reassembler``): each section's framed bytes (and the header, as
section index 0) are cut into packets of at most ``mtu_bytes``, each with a 9-byte header::

    0xF1 | image_id u16 | section_index u8 | code u8 | fragment_index u16 | fragment_count u16

Packets (``packetize``/``plan_packets``): small fragments that share a protection group (the
same MCS) travel together in one aggregate packet, so that a prompt or a mask does not pay a
PHY packet of its own::

    0xF2 | count u8 | count x (length u16 | fragment)

A single fragment travels as it is. Packing is first-fit decreasing per group, so its cost
depends only on the sizes, not on the order of the sections (rate control counts the same
packets the fragmenter sends).

A receiver reassembles whatever arrived (any order, duplicates, gaps); a section is usable when
all its fragments arrived and its CRC matches. Everything read here is untrusted: every length
and count is checked before use, and malformed input raises ``CorruptDataError``.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from ..errors import CorruptDataError

MAGIC = b"GS"
FORMAT_VERSION = 1
HEADER_BYTES = 14
FRAGMENT_MAGIC = 0xF1
FRAGMENT_HEADER_BYTES = 9
AGGREGATE_MAGIC = 0xF2
AGGREGATE_HEADER_BYTES = 2       # magic, count
AGGREGATE_ITEM_BYTES = 2         # u16 length before each fragment
MAX_AGGREGATE_ITEMS = 255
MAX_SECTIONS = 64
MAX_SECTION_BYTES = 1 << 24      # 16 MiB: no section of a sane container is larger
MAX_DIMENSION = 16384            # image width/height limit, pixels
_FRAGMENT_HEADER = struct.Struct(">BHBBHH")


class SectionType(IntEnum):
    """What a section holds."""

    META = 1      # codec parameters: how to decode the key stream(s)
    PROMPT = 2    # the structured prompt (``StructuredPrompt.to_bytes``)
    MASK = 3      # the key-region mask (block grid, arithmetic-coded)
    HINTS = 4     # compact visual hints for the non-key area (tiny thumbnail)
    KEY = 5       # one independently decodable key-region stream (a band of the image)
    IMAGE = 6     # a whole-image standard file (JPEG/WebP/AVIF): the separation baselines


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


def framed_pieces(container: Container) -> list:
    """[(section index, code, framed bytes)]: the header as index 0, then each section."""
    pieces = [(0, Importance.CRITICAL << 5, encode_header(container.image_id, container.width,
                                                          container.height, len(container.sections)))]
    return pieces + [(i + 1, s.code, s.to_bytes()) for i, s in enumerate(container.sections)]


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


def packet_size(lengths) -> int:
    """Bytes of a packet holding fragments of these lengths (one: as is; more: aggregate)."""
    lengths = list(lengths)
    if len(lengths) == 1:
        return lengths[0]
    return AGGREGATE_HEADER_BYTES + sum(AGGREGATE_ITEM_BYTES + n for n in lengths)


def plan_packets(items, mtu_bytes: int) -> list:
    """Pack fragments into packets of at most ``mtu_bytes``.

    items: [(group key, fragment length, reference)]; only fragments of one group share a
    packet. Returns [(group key, [references])], first-fit decreasing per group, so the packet
    sizes depend only on each group's lengths; packets come out in the order of their first
    item in ``items`` (the most important sections first, as the container lists them).
    """
    groups, position = {}, {}
    for order, (key, length, ref) in enumerate(items):
        groups.setdefault(key, []).append((int(length), ref, order))
    packets = []
    for key, members in groups.items():
        bins = []          # [lengths, refs]
        smallest = min(length for length, _, _ in members)
        for length, ref, order in sorted(members, key=lambda m: (-m[0], m[2])):
            if len(members) == 1 or packet_size([length, smallest]) > mtu_bytes:
                packets.append((key, [ref]))        # cannot share a packet with anything
                position[id(packets[-1])] = order
                continue
            for lengths, refs, first in bins:
                if len(lengths) < MAX_AGGREGATE_ITEMS and packet_size(lengths + [length]) <= mtu_bytes:
                    lengths.append(length)
                    refs.append(ref)
                    first[0] = min(first[0], order)
                    break
            else:
                bins.append(([length], [ref], [order]))
        for _, refs, first in bins:
            packets.append((key, refs))
            position[id(packets[-1])] = first[0]
    return sorted(packets, key=lambda packet: position[id(packet)])


def fragment_lengths(framed_bytes: int, mtu_bytes: int) -> list:
    """Lengths (fragment header included) of the fragments of a framed piece."""
    chunk = mtu_bytes - FRAGMENT_HEADER_BYTES
    count = fragment_count(framed_bytes, mtu_bytes)
    return [FRAGMENT_HEADER_BYTES + min(chunk, framed_bytes - k * chunk) for k in range(count)]


def packet_costs(pieces, mtu_bytes: int, group_of=None) -> list:
    """[(importance, packet bytes)] of the packets that carry pieces [(importance, framed bytes)].

    ``group_of(importance)`` names the protection group (the MCS); None = the importance.
    A packet's importance is its most important fragment's.
    """
    items = []
    for importance, framed in pieces:
        key = group_of(int(importance)) if group_of else int(importance)
        items += [(key, n, (int(importance), n)) for n in fragment_lengths(int(framed), mtu_bytes)]
    return [(min(imp for imp, _ in refs), packet_size([n for _, n in refs]))
            for _, refs in plan_packets(items, mtu_bytes)]


def packetize_pieces(image_id: int, pieces, mtu_bytes: int, group_of=None) -> list:
    """Packets of pieces [(section index, code, framed bytes)]: [(importance, group, bytes)]."""
    items = []
    for index, code, framed in pieces:
        importance = code >> 5
        key = group_of(importance) if group_of else importance
        for fragment_bytes in fragment_framed(image_id, index, code, framed, mtu_bytes):
            items.append((key, len(fragment_bytes), (importance, fragment_bytes)))
    packets = []
    for key, refs in plan_packets(items, mtu_bytes):
        importance = min(imp for imp, _ in refs)
        if len(refs) == 1:
            data = refs[0][1]
        else:
            data = bytes([AGGREGATE_MAGIC, len(refs)]) + b"".join(
                struct.pack(">H", len(f)) + f for _, f in refs)
        packets.append((importance, key, data))
    return packets


def packetize(container, mtu_bytes: int, group_of=None) -> list:
    """Packets of a whole container (see ``packetize_pieces``)."""
    if isinstance(container, (bytes, bytearray, memoryview)):
        container = Container.from_bytes(container)
    return packetize_pieces(container.image_id, framed_pieces(container), mtu_bytes, group_of)


def split_packet(packet: bytes) -> list:
    """The fragments in a received packet (an aggregate or one fragment); validates lengths."""
    packet = bytes(packet)
    if not packet or packet[0] != AGGREGATE_MAGIC:
        return [packet]
    if len(packet) < AGGREGATE_HEADER_BYTES:
        raise CorruptDataError("aggregate packet truncated")
    count, pos, fragments = packet[1], AGGREGATE_HEADER_BYTES, []
    for _ in range(count):
        if pos + AGGREGATE_ITEM_BYTES > len(packet):
            raise CorruptDataError("aggregate packet truncated")
        (length,) = struct.unpack_from(">H", packet, pos)
        pos += AGGREGATE_ITEM_BYTES
        if pos + length > len(packet):
            raise CorruptDataError("aggregate fragment runs past the end of the packet")
        fragments.append(packet[pos:pos + length])
        pos += length
    if pos != len(packet) or not fragments:
        raise CorruptDataError("aggregate packet has trailing bytes or no fragments")
    return fragments


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


@dataclass
class Received:
    """What a receiver could rebuild from fragments.

    header      (width, height, n_sections) or None if the header was lost
    sections    {section index: Section} for each complete section whose CRC matched
    missing     {section index: code or None}: sections known to exist that are not usable
    corrupt     section indices whose fragments were all there but failed the CRC
    """

    image_id: int
    header: tuple = None
    sections: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)
    corrupt: list = field(default_factory=list)
    fragments_received: int = 0
    fragments_expected: int = 0

    def find(self, section_type) -> list:
        return [self.sections[i] for i in sorted(self.sections) if self.sections[i].type == section_type]


class Reassembler:
    """Collects fragments of one image (any order, duplicates ignored) into a ``Received``.

    ``add`` returns False for fragments of another image or that do not parse; a fragment
    that contradicts earlier ones (different count or code for its section) is dropped.
    """

    def __init__(self, image_id: int = None, max_fragments: int = 1 << 16, max_bytes: int = 1 << 26):
        self.image_id = image_id
        self.max_fragments = max_fragments
        self.max_bytes = max_bytes
        self._parts = {}       # section index -> {"code", "count", "chunks": {index: bytes}}
        self._stored = 0
        self._stored_bytes = 0
        self.duplicates = 0
        self._announced = None   # sections the header announced, once it arrived

    @property
    def fragments(self) -> int:
        """Distinct fragments stored."""
        return self._stored

    def complete(self) -> bool:
        """True when the header and every section it announces have all their fragments."""
        if self._announced is None:
            header = self._parts.get(0)
            if not header or len(header["chunks"]) < header["count"]:
                return False
            try:
                self._announced = decode_header(_join(header))[3]
            except CorruptDataError:
                return False
        for index in range(self._announced + 1):
            part = self._parts.get(index)
            if part is None or len(part["chunks"]) < part["count"]:
                return False
        return True

    def add(self, packet: bytes) -> bool:
        """Store a fragment, or every fragment of an aggregate packet; False if none was ours."""
        try:
            fragments = split_packet(packet)
        except CorruptDataError:
            return False
        if len(fragments) > 1:
            return any([self._add_fragment(f) for f in fragments])
        return self._add_fragment(fragments[0])

    def _add_fragment(self, packet: bytes) -> bool:
        try:
            info = parse_fragment(packet)
        except CorruptDataError:
            return False
        if self.image_id is None:
            self.image_id = info.image_id
        if (info.image_id != self.image_id or self._stored >= self.max_fragments
                or self._stored_bytes + len(info.data) > self.max_bytes):
            return False
        part = self._parts.setdefault(info.section_index,
                                      {"code": info.code, "count": info.count, "chunks": {}})
        if part["code"] != info.code or part["count"] != info.count:
            return False
        if info.index in part["chunks"]:
            self.duplicates += 1
        else:
            part["chunks"][info.index] = info.data
            self._stored += 1
            self._stored_bytes += len(info.data)
        return True

    def result(self) -> Received:
        received = Received(image_id=self.image_id if self.image_id is not None else 0)
        header_part = self._parts.get(0)
        if header_part and len(header_part["chunks"]) == header_part["count"]:
            try:
                _, width, height, count = decode_header(_join(header_part))
                received.header = (width, height, count)
            except CorruptDataError:
                received.corrupt.append(0)
        for index, part in sorted(self._parts.items()):
            received.fragments_received += len(part["chunks"])
            received.fragments_expected += part["count"]
            if index == 0:
                continue
            if received.header and index > received.header[2]:
                continue    # beyond the section count the header announced: not ours
            if len(part["chunks"]) < part["count"]:
                received.missing[index] = part["code"]
                continue
            try:
                received.sections[index] = parse_section(_join(part), index)
            except CorruptDataError:
                received.corrupt.append(index)
                received.missing[index] = part["code"]
        if received.header:
            for index in range(1, received.header[2] + 1):
                if index not in received.sections and index not in received.missing:
                    received.missing[index] = None
        return received


def _join(part) -> bytes:
    return b"".join(part["chunks"][k] for k in range(part["count"]))


def reassemble(packets, image_id: int = None) -> Received:
    """Reassemble an iterable of fragment packets (see ``Reassembler``)."""
    reassembler = Reassembler(image_id)
    for packet in packets:
        reassembler.add(packet)
    return reassembler.result()


def received_from_container(container: Container) -> Received:
    """A ``Received`` holding every section of a complete container (nothing lost)."""
    return Received(image_id=container.image_id,
                    header=(container.width, container.height, len(container.sections)),
                    sections={i + 1: s for i, s in enumerate(container.sections)})
