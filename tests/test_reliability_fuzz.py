"""What the receiver survives: fuzzing of everything that comes off the air (issue 7).

A short bounded run of ``scripts/fuzz_receiver.py`` (the 100k-input run and its figures are in
docs/reliability.md), a structure-aware hypothesis test of the whole decode path, and one
regression test per bug the fuzzer found.
"""
import binascii
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnuradio.gensemcom.errors import CorruptDataError
from gnuradio.gensemcom.semantic.container import Container, Section, SectionType, fragment

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_receiver.py"
SHORT_RUN_INPUTS = 2500
MAX_RSS_MIB = 2048
PER_INPUT_TIMEOUT_S = 10


# ---- regression tests: one per bug the fuzzer found -------------------------------------------
def _jpeg(width=16, height=16):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(buf, "JPEG")
    return bytearray(buf.getvalue())


def test_whole_image_file_claiming_a_huge_size_is_corrupt_data():
    """A JPEG whose SOF claims 65000x65000 made Pillow raise DecompressionBombError, which is
    not an OSError: it escaped the whole-image receiver."""
    from gnuradio.gensemcom.semantic.wholeimage import _decode_file
    data = _jpeg()
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
    for width, height in ((16, 16), (16384, 16384)):
        with pytest.raises(CorruptDataError, match="does not decode|larger than"):
            _decode_file(bytes(data), width, height)


def test_whole_image_decoder_refuses_a_claimed_size_over_max_pixels():
    """A 30-byte container claiming 16384x16384 made the baseline receiver allocate an 800 MB
    mean-grey image; the claimed size is now checked against max_pixels first."""
    from gnuradio.gensemcom.semantic.wholeimage import WholeImageCodec
    tiny_lie = Container(3, 16384, 16384, [Section(SectionType.IMAGE, bytes(_jpeg()))]).to_bytes()
    with pytest.raises(CorruptDataError, match="out of range"):
        WholeImageCodec("jpeg").decode(tiny_lie)
    honest = Container(3, 16, 16, [Section(SectionType.IMAGE, bytes(_jpeg()))]).to_bytes()
    assert WholeImageCodec("jpeg").decode(honest).report["delivered"]
    with pytest.raises(CorruptDataError):
        WholeImageCodec("jpeg").decode(honest, max_pixels=100)


def test_image_pdu_with_an_infinite_size_is_corrupt_data():
    """width = inf in an image PDU's meta raised OverflowError from int()."""
    from gnuradio.gensemcom.blocks.pdus import make_pdu, pdu_to_image
    for bad in (float("inf"), float("-inf"), float("nan"), "x", None):
        with pytest.raises(CorruptDataError):
            pdu_to_image(make_pdu(b"\0" * 12, {"width": bad, "height": 2}))


def _header_bits(mcs_index, length, seq=0, flags=0):
    from gnuradio.gensemcom.phy.framing import bytes_to_bits
    word = (((mcs_index << 13 | (length - 1)) << 16 | seq) << 6) | flags
    info = word.to_bytes(5, "big")
    return bytes_to_bits(info + binascii.crc_hqx(info, 0xFFFF).to_bytes(2, "big"))


def test_phy_header_announcing_more_than_the_largest_payload_is_rejected():
    """The 13-bit length field can say 8192 bytes; a CRC-valid header saying more than
    MAX_PAYLOAD_BYTES parsed, and frame_size() then raised inside the receiver's work()."""
    from gnuradio.gensemcom.phy.framing import parse_header_bits
    from gnuradio.gensemcom.phy.mcs import MAX_PAYLOAD_BYTES, MCS_BY_INDEX
    index = next(iter(MCS_BY_INDEX))
    assert parse_header_bits(_header_bits(index, MAX_PAYLOAD_BYTES)).payload_len == MAX_PAYLOAD_BYTES
    assert parse_header_bits(_header_bits(index, MAX_PAYLOAD_BYTES + 1)) is None
    assert parse_header_bits(_header_bits(index, 8192)) is None


@settings(max_examples=300, deadline=None)
@given(word=st.integers(0, (1 << 40) - 1))
def test_every_phy_header_that_parses_is_usable(word):
    from gnuradio.gensemcom.phy.framing import bytes_to_bits, parse_header_bits
    from gnuradio.gensemcom.phy.mcs import DEFAULT_NUMEROLOGY, frame_size
    info = word.to_bytes(5, "big")
    header = parse_header_bits(bytes_to_bits(info + binascii.crc_hqx(info, 0xFFFF).to_bytes(2, "big")))
    if header is not None:
        frame_size(header.payload_len, header.mcs, DEFAULT_NUMEROLOGY)
