# SPDX-License-Identifier: GPL-3.0-or-later
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
from gnuradio.gensemcom.transport.container import Container, Section, SectionType
from gnuradio.gensemcom.transport.fragments import fragment

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz_receiver.py"
SHORT_RUN_INPUTS = 2500
MAX_RSS_MIB = 2048
PER_INPUT_TIMEOUT_S = 10


def test_short_fuzz_run_finds_nothing(tmp_path):
    """A few thousand structure-aware inputs through every receiver entry point: nothing but
    CorruptDataError, memory and time per input within their bounds."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--inputs", str(SHORT_RUN_INPUTS), "--images",
         "astronaut,coffee", "--sizes", "96", "--seed", "7", "--max-rss-mib", str(MAX_RSS_MIB),
         "--per-input-timeout-s", str(PER_INPUT_TIMEOUT_S), "--crash-dir", str(tmp_path),
         "--json", "--quiet"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["unique_exceptions"] == []
    assert summary["inputs"] >= SHORT_RUN_INPUTS * 0.98          # mutator failures are skipped
    assert set(summary["per_target"]) >= {"container", "decode_bytes", "decode_frags", "prompt", "mask",
                                          "still", "image_file", "bundle", "pdu", "phy", "baseline"}
    assert summary["peak_rss_mib"] <= MAX_RSS_MIB
    assert summary["slowest_input_s"] <= PER_INPUT_TIMEOUT_S
    decoded = sum(v for k, v in summary["outcomes"].items()
                  if k.startswith("decode") and k.endswith(":decoded"))
    assert decoded > 0.5 * (summary["per_target"]["decode_bytes"] + summary["per_target"]["decode_frags"])


# ---- the whole decode path, structure-aware, with hypothesis ---------------------------------
@pytest.fixture(scope="module")
def real_container():
    from skimage import data

    from gnuradio.gensemcom.semantic.codec import SemanticCodec
    image = np.ascontiguousarray(data.chelsea()[::4, ::4])          # 113x75
    return SemanticCodec().encode(image, 700, image_id=9).container


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_section_payload_and_any_loss_decode_to_full_size(real_container, data):
    """An adversarial sender (valid CRCs, any payload in any section) plus fragment loss,
    duplication and reordering: the decoder returns a full-size image or CorruptDataError."""
    from gnuradio.gensemcom.semantic.codec import SemanticCodec
    sections = list(real_container.sections)
    index = data.draw(st.integers(0, len(sections) - 1))
    payload = data.draw(st.one_of(st.binary(max_size=300),
                                  st.just(sections[index].payload[:len(sections[index].payload) // 2])))
    kind = data.draw(st.sampled_from([sections[index].type] + list(SectionType)))
    sections[index] = Section(int(kind), payload)
    container = Container(real_container.image_id, real_container.width, real_container.height, sections)
    packets = fragment(container, data.draw(st.sampled_from([24, 64, 200])))
    keep = data.draw(st.lists(st.booleans(), min_size=len(packets), max_size=len(packets)))
    packets = [p for p, k in zip(packets, keep) if k or p[3] == 0]      # the header always arrives
    packets = data.draw(st.permutations(packets + packets[:data.draw(st.integers(0, 3))]))
    try:
        result = SemanticCodec().decode(list(packets))
    except CorruptDataError:
        return
    assert result.image.shape == (container.height, container.width, 3)
    assert result.image.dtype == np.uint8


DECODE_BYTES_PER_PIXEL = 128       # traced numpy peak of a decode per claimed pixel (measured: ~87)


def test_decode_memory_is_bounded_by_the_claimed_size(real_container):
    """The output always has the size the header claims, so a decoder's memory is set by its
    max_pixels: a header claiming more is refused before anything is allocated, and below it
    the peak is proportional to the claimed pixels (docs/reliability.md states the bound)."""
    import tracemalloc

    from gnuradio.gensemcom.semantic.codec import SemanticCodec
    codec = SemanticCodec()
    claim = Container(real_container.image_id, 16384, 16384, list(real_container.sections)).to_bytes()
    tracemalloc.start()
    with pytest.raises(CorruptDataError, match="out of range"):
        codec.decode(claim, strict=False)
    assert tracemalloc.get_traced_memory()[1] < 8 << 20
    tracemalloc.stop()
    width, height = 1024, 512
    claim = Container(real_container.image_id, width, height, list(real_container.sections)).to_bytes()
    tracemalloc.start()
    result = codec.decode(claim, strict=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.image.shape == (height, width, 3)
    assert peak < DECODE_BYTES_PER_PIXEL * width * height, peak / (width * height)
    with pytest.raises(CorruptDataError):
        codec.decode(claim, strict=False, max_pixels=width * height - 1)


# ---- regression tests: one per bug the fuzzer found -------------------------------------------
def _jpeg(width=16, height=16):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(buf, "JPEG")
    return bytearray(buf.getvalue())


def test_whole_image_file_claiming_a_huge_size_is_corrupt_data():
    """A JPEG whose SOF claims 65000x65000 made Pillow raise DecompressionBombError, which is
    not an OSError: it escaped the whole-image receiver."""
    from gnuradio.gensemcom.classical.wholeimage import _decode_file
    data = _jpeg()
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
    for width, height in ((16, 16), (16384, 16384)):
        with pytest.raises(CorruptDataError, match="does not decode|larger than"):
            _decode_file(bytes(data), width, height)


def test_whole_image_decoder_refuses_a_claimed_size_over_max_pixels():
    """A 30-byte container claiming 16384x16384 made the baseline receiver allocate an 800 MB
    mean-grey image; the claimed size is now checked against max_pixels first."""
    from gnuradio.gensemcom.classical.wholeimage import WholeImageCodec
    tiny_lie = Container(3, 16384, 16384, [Section(SectionType.IMAGE, bytes(_jpeg()))]).to_bytes()
    with pytest.raises(CorruptDataError, match="out of range"):
        WholeImageCodec("jpeg").decode(tiny_lie)
    honest = Container(3, 16, 16, [Section(SectionType.IMAGE, bytes(_jpeg()))]).to_bytes()
    assert WholeImageCodec("jpeg").decode(honest).report["delivered"]
    with pytest.raises(CorruptDataError):
        WholeImageCodec("jpeg").decode(honest, max_pixels=100)


def test_image_pdu_with_an_infinite_size_is_corrupt_data():
    """width = inf in an image PDU's meta raised OverflowError from int()."""
    from gnuradio.gensemcom.blocks.pdus import pdu_to_image
    from gnuradio.gensemcom.phy.pdus import make_pdu
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


def _prompt_bytes(text: str) -> bytes:
    from gnuradio.gensemcom.semantic.prompt import PROMPT_FORMAT, ZDICT
    comp = zlib.compressobj(level=9, wbits=-15, memLevel=9, zdict=ZDICT)
    return bytes([PROMPT_FORMAT]) + comp.compress(text.encode("ascii")) + comp.flush()


def test_prompt_with_a_lone_surrogate_is_corrupt_data():
    """JSON \\ud800 escapes gave prompt text with lone surrogates, on which print() (`inspect`),
    pmt.to_pmt and Hugging Face tokenizers raise."""
    from gnuradio.gensemcom.semantic.prompt import StructuredPrompt
    with pytest.raises(CorruptDataError):
        StructuredPrompt.from_bytes(_prompt_bytes('{"v":1,"s":"\\ud800"}'))


def test_prompt_with_terminal_control_characters_is_corrupt_data():
    """An ESC sequence in the scene or a label reached the terminal through `gensemcom inspect`."""
    from gnuradio.gensemcom.semantic.prompt import StructuredPrompt
    with pytest.raises(CorruptDataError):
        StructuredPrompt.from_bytes(_prompt_bytes('{"v":1,"s":"\\u001b]0;owned\\u0007","a":["\\u001b[2J"]}'))


def test_prompt_text_beyond_ascii_is_still_fine():
    from gnuradio.gensemcom.semantic.prompt import StructuredPrompt
    prompt = StructuredPrompt.from_bytes(_prompt_bytes('{"v":1,"s":"caf\\u00e9 \\ud83d\\udcf7 \\u5c71"}'))
    assert prompt.scene == "café 📷 山"
