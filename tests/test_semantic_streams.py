# SPDX-License-Identifier: GPL-3.0-or-later
"""Key-mask coding and the bare still-image streams (AV1 without HEIF boxes, VP8, JPEG)."""
import io
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnuradio.gensemcom.classical import stillcodec
from gnuradio.gensemcom.errors import CorruptDataError
from gnuradio.gensemcom.semantic import maskcode


@given(st.integers(1, 40), st.integers(1, 40), st.floats(0, 1), st.integers(0, 2 ** 32 - 1))
@settings(max_examples=200, deadline=None)
def test_mask_round_trip(rows, cols, density, seed):
    grid = np.random.default_rng(seed).random((rows, cols)) < density
    payload = maskcode.encode_mask(grid, 8)
    back, cell = maskcode.decode_mask(payload, cols * 8 - 3, rows * 8 - 5)
    assert cell == 8 and np.array_equal(back, grid)


def test_compact_masks_cost_few_bytes():
    grid = np.zeros((32, 48), bool)
    grid[8:20, 14:30] = True
    grid[22:26, 5:9] = True
    assert len(maskcode.encode_mask(grid, 16)) <= 24          # zlib needs ~60 for this


@given(st.binary(max_size=64), st.integers(1, 300), st.integers(1, 300))
@settings(max_examples=200, deadline=None)
def test_mask_decoder_never_crashes(blob, width, height):
    try:
        grid, cell = maskcode.decode_mask(blob, width, height)
        assert grid.shape == maskcode.grid_shape(width, height, cell)
    except CorruptDataError:
        pass


def test_mask_grid_helpers():
    mask = np.zeros((30, 50), bool)
    mask[0:10, 0:20] = True
    grid = maskcode.mask_to_grid(mask, 8)
    assert grid.shape == (4, 7)
    expanded = maskcode.grid_to_mask(grid, 50, 30, 8)
    assert expanded.shape == (30, 50) and expanded[:8, :16].all() and not expanded[16:].any()


@pytest.fixture(scope="module")
def small_rgb(astronaut):
    return np.ascontiguousarray(astronaut[100:228, 150:310])        # 160 x 128


@pytest.mark.parametrize("codec", stillcodec.available_codecs())
def test_bare_streams_decode_like_the_full_files(codec, small_rgb):
    from PIL import Image
    stream = stillcodec.encode_still(small_rgb, codec, 40)
    decoded = stillcodec.decode_still(stream, codec, 160, 128)
    assert decoded.shape == (128, 160, 3) and decoded.dtype == np.uint8
    buf = io.BytesIO()
    fmt = {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG"}[codec]
    extra = {"avif": dict(speed=6, max_threads=1, autotiling=False), "webp": dict(method=4),
             "jpeg": dict(optimize=True)}[codec]
    Image.fromarray(small_rgb).save(buf, fmt, quality=40, **extra)
    reference = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    assert np.array_equal(decoded, reference)
    if codec in ("avif", "webp"):
        assert len(stream) < len(buf.getvalue()) - 15         # the container overhead is gone


def test_av1_sequence_header_is_parsed(small_rgb):
    info = stillcodec.parse_av1_sequence_header(stillcodec.encode_still(small_rgb, "avif", 30))
    assert (info["width"], info["height"], info["depth"], info["mono"]) == (160, 128, 8, False)
    assert info["av1c"][0] == 0x81


@pytest.mark.parametrize("codec", stillcodec.available_codecs())
def test_streams_of_the_wrong_size_are_refused_before_decoding(codec, small_rgb):
    stream = stillcodec.encode_still(small_rgb, codec, 30)
    with pytest.raises(CorruptDataError):
        stillcodec.decode_still(stream, codec, 161, 128)


@pytest.mark.parametrize("codec", stillcodec.available_codecs())
def test_damaged_streams_raise_corrupt_data(codec, small_rgb):
    stream = stillcodec.encode_still(small_rgb, codec, 30)
    rng = random.Random(5)
    cases = [b"", stream[:5], stream[:len(stream) // 2], bytes(rng.randrange(256) for _ in range(300))]
    for _ in range(30):
        damaged = bytearray(stream)
        for _ in range(3):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        cases.append(bytes(damaged))
    for case in cases:
        try:
            out = stillcodec.decode_still(case, codec, 160, 128)
            assert out.shape == (128, 160, 3)             # some damage still decodes: fine
        except CorruptDataError:
            pass
