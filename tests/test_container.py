# SPDX-License-Identifier: GPL-3.0-or-later
"""The .gsc container and its fragments: round trips, damage, loss, reordering, duplication."""
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnuradio.gensemcom.errors import CorruptDataError
from gnuradio.gensemcom.transport.container import (HEADER_BYTES, Container, Importance, Section, SectionType,
                                                    container_bytes, decode_varint, encode_varint)
from gnuradio.gensemcom.transport.fragments import FRAGMENT_HEADER_BYTES, fragment, parse_fragment
from gnuradio.gensemcom.transport.reassembly import Reassembler, reassemble


def sample_container(image_id=7):
    return Container(image_id, 768, 512, [
        Section(SectionType.META, b"\x01\x01\x03meta"),
        Section(SectionType.PROMPT, b"Q" + bytes(range(150))),
        Section(SectionType.MASK, b"\x10" + b"\x55" * 30),
        Section(SectionType.HINTS, bytes(300)),
        Section(SectionType.KEY, bytes(random.Random(1).randrange(256) for _ in range(1400))),
        Section(SectionType.KEY, b"k" * 500),
    ])


def test_round_trip_keeps_everything():
    c = sample_container()
    data = c.to_bytes()
    assert len(data) == container_bytes([len(s.payload) for s in c.sections])
    back = Container.from_bytes(data)
    assert (back.image_id, back.width, back.height) == (7, 768, 512)
    assert [(s.type, s.payload, s.importance) for s in back.sections] == \
        [(s.type, s.payload, s.importance) for s in c.sections]


def test_importance_classes_follow_the_protection_order():
    c = sample_container()
    by_type = {s.type: s.importance for s in c.sections}
    assert by_type[SectionType.META] == by_type[SectionType.PROMPT] == Importance.CRITICAL
    assert by_type[SectionType.MASK] == by_type[SectionType.HINTS] == Importance.HIGH
    assert by_type[SectionType.KEY] == Importance.NORMAL
    # the class is readable from the section's first byte alone
    data = c.to_bytes()
    assert data[HEADER_BYTES] >> 5 == Importance.CRITICAL


@pytest.mark.parametrize("cut", [0, 1, 5, 13, 14, 15, 40, -5, -1])
def test_truncated_container_raises(cut):
    data = sample_container().to_bytes()
    with pytest.raises(CorruptDataError):
        Container.from_bytes(data[:cut] if cut >= 0 else data[:len(data) + cut])


def test_every_single_byte_flip_is_caught():
    data = bytearray(sample_container().to_bytes())
    rng = random.Random(3)
    for pos in rng.sample(range(len(data)), 200):
        damaged = bytearray(data)
        damaged[pos] ^= 1 << rng.randrange(8)
        with pytest.raises(CorruptDataError):
            Container.from_bytes(bytes(damaged))


def test_trailing_garbage_and_bad_version_raise():
    data = sample_container().to_bytes()
    with pytest.raises(CorruptDataError):
        Container.from_bytes(data + b"\0")
    header = bytearray(data[:10])
    header[2] = 9
    import zlib
    bad = bytes(header) + struct.pack(">I", zlib.crc32(bytes(header))) + data[14:]
    with pytest.raises(CorruptDataError, match="version"):
        Container.from_bytes(bad)


def test_huge_claimed_section_length_is_refused_before_use():
    data = bytearray(sample_container().to_bytes()[:HEADER_BYTES])
    data += bytes([SectionType.META]) + encode_varint(1 << 27) + b"xx"
    with pytest.raises(CorruptDataError):
        Container.from_bytes(bytes(data))


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_crash_the_parsers(blob):
    for parse in (Container.from_bytes, parse_fragment):
        try:
            parse(blob)
        except CorruptDataError:
            pass
    reassemble([blob, b"\xf1" + blob])


@given(st.integers(0, (1 << 28) - 1))
def test_varint_round_trip(value):
    encoded = encode_varint(value)
    assert decode_varint(encoded + b"tail", 0) == (value, len(encoded))


@pytest.mark.parametrize("mtu", [16, 64, 255, 1500])
def test_fragments_respect_the_mtu_and_reassemble_in_any_order_with_duplicates(mtu):
    c = sample_container()
    packets = fragment(c, mtu)
    assert all(len(p) <= mtu for p in packets)
    infos = [parse_fragment(p) for p in packets]
    assert {i.image_id for i in infos} == {7}
    assert all(0 <= i.index < i.count for i in infos)
    shuffled = packets + packets[::3]
    random.Random(mtu).shuffle(shuffled)
    received = reassemble(shuffled)
    assert received.header == (768, 512, len(c.sections))
    assert not received.missing and not received.corrupt
    payloads = [received.sections[i + 1].payload for i in range(len(c.sections))]
    assert payloads == [s.payload for s in c.sections]


def test_lost_fragments_lose_only_their_section():
    c = sample_container()
    packets = fragment(c, 100)
    key_index = 5                                  # the first KEY section
    kept = [p for p in packets
            if (parse_fragment(p).section_index, parse_fragment(p).index) != (key_index, 2)]
    received = reassemble(kept)
    assert key_index in received.missing
    assert received.missing[key_index] & 0x1F == SectionType.KEY       # its type is still known
    assert set(received.sections) == {1, 2, 3, 4, 6}


def test_lost_header_and_whole_sections_are_reported():
    c = sample_container()
    packets = [p for p in fragment(c, 120) if parse_fragment(p).section_index not in (0, 4)]
    received = reassemble(packets)
    assert received.header is None
    assert 4 not in received.sections and 4 not in received.missing      # unknown: nothing of it seen
    assert set(received.sections) == {1, 2, 3, 5, 6}


def test_fragment_with_a_corrupt_payload_fails_its_section_crc():
    packets = fragment(sample_container(), 200)
    victim = next(i for i, p in enumerate(packets) if parse_fragment(p).section_index == 2)
    damaged = bytearray(packets[victim])
    damaged[-1] ^= 0xFF
    packets[victim] = bytes(damaged)
    received = reassemble(packets)
    assert 2 in received.corrupt and 2 not in received.sections


def test_reassembler_ignores_other_images_and_contradictions():
    a, b = fragment(sample_container(1), 200), fragment(sample_container(2), 200)
    r = Reassembler(image_id=1)
    assert all(r.add(p) for p in a)
    assert not any(r.add(p) for p in b)
    forged = bytearray(a[3])
    forged[7:9] = struct.pack(">H", 99)            # contradicting fragment count
    assert not r.add(bytes(forged))
    assert len(r.result().sections) == 6


def test_fragment_header_layout():
    packet = fragment(sample_container(0x1234), 64)[0]
    assert packet[0] == 0xF1 and packet[1:3] == b"\x12\x34" and packet[3] == 0
    assert len(packet) == FRAGMENT_HEADER_BYTES + HEADER_BYTES
