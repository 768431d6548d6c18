# SPDX-License-Identifier: GPL-3.0-or-later
"""Reassembly: whatever fragments arrived (any order, duplicates, gaps) back into sections.

A section is usable when all its fragments arrived and its CRC matches; ``Received`` says
what is there, what is missing and what failed its CRC. ``parse_tolerant`` does the same for
a damaged container file.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CorruptDataError
from .container import HEADER_BYTES, Container, _read_section, decode_header, parse_section
from .erasure import ERASURE_MAGIC, ErasureStore
from .fragments import parse_fragment
from .packets import split_packet


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
        self._erasure = ErasureStore()

    @property
    def fragments(self) -> int:
        """Distinct fragments stored."""
        return self._stored

    def parts(self) -> dict:
        """{section index: (fragment count, set of fragment indices held)} (header = 0)."""
        return {index: (part["count"], set(part["chunks"])) for index, part in self._parts.items()}

    def announced_sections(self):
        """Sections the container header announced, once it arrived whole (else None)."""
        self.complete()
        return self._announced

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
        """Store a fragment, every fragment of an aggregate packet, or what an erasure-code
        share carries or rebuilds; False if none was ours."""
        if bytes(packet[:1]) == bytes([ERASURE_MAGIC]):
            try:
                inner = self._erasure.add(packet)
            except CorruptDataError:
                return False
            return any([self.add(p) for p in inner])
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


def parse_tolerant(data: bytes) -> Received:
    """Parse container bytes keeping every section that checks out (for damaged files)."""
    image_id, width, height, count = decode_header(data[:HEADER_BYTES])
    received = Received(image_id=image_id, header=(width, height, count))
    pos = HEADER_BYTES
    for index in range(1, count + 1):
        try:
            section, pos = _read_section(data, pos, index)
            received.sections[index] = section
        except CorruptDataError:
            received.corrupt.append(index)
            for rest in range(index, count + 1):
                received.missing[rest] = None
            break
    return received
