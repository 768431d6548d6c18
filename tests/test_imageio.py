# SPDX-License-Identifier: GPL-3.0-or-later
"""Image loading: every accepted form becomes RGB uint8; everything else is a one-line BadInputError."""
import struct
import zlib

import numpy as np
import pytest

from gnuradio.gensemcom.errors import BadInputError
from gnuradio.gensemcom.imageio import load_image, load_mask, parse_boxes, save_png


@pytest.fixture(scope="module")
def picture():
    from skimage import data
    return np.ascontiguousarray(data.astronaut()[::4, ::4])        # 128 x 128


def write(tmp_path, name, array, **kw):
    from PIL import Image
    path = tmp_path / name
    Image.fromarray(array).save(path, **kw)
    return path


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.webp", "a.tif", "a.bmp"])
def test_formats_load_as_rgb8(tmp_path, picture, name):
    out = load_image(write(tmp_path, name, picture))
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    tolerance = 0 if name.endswith(("png", "tif", "bmp")) else 40
    assert np.abs(out.astype(int) - picture).mean() <= tolerance


def test_modes_grey_rgba_palette_16bit(tmp_path, picture):
    import cv2
    grey = picture.mean(axis=2).astype(np.uint8)
    assert np.array_equal(load_image(write(tmp_path, "g.png", grey))[..., 1], grey)
    rgba = np.dstack([picture, np.zeros(grey.shape, np.uint8)])      # fully transparent
    assert (load_image(write(tmp_path, "t.png", rgba)) == 255).all()  # composited over white
    assert load_image(write(tmp_path, "p.png", picture, bits=8)).shape == (128, 128, 3)
    path16 = tmp_path / "g16.png"
    cv2.imwrite(str(path16), grey.astype(np.uint16) * 257)
    assert np.abs(load_image(path16)[..., 0].astype(int) - grey).max() <= 1
    rgb16 = tmp_path / "c16.tif"
    cv2.imwrite(str(rgb16), picture[..., ::-1].astype(np.uint16) * 257)
    assert np.abs(load_image(rgb16).astype(int) - picture).max() <= 1


def _png_header_only(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello, not an image", "not a readable image"),
    (_png_header_only(60000, 60000), "pixel limit"),
    (_png_header_only(8, 8), "too small"),
    (b"GIF89a" + bytes(40), "not a readable image"),
])
def test_bad_files_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=message) as info:
        load_image(path)
    assert "\n" not in str(info.value)


def test_truncated_and_unsupported_files(tmp_path, picture):
    good = write(tmp_path, "a.png", picture).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(good[:len(good) // 2])
    with pytest.raises(BadInputError, match="damaged"):
        load_image(cut)
    with pytest.raises(BadInputError, match="GIF images are not supported"):
        load_image(write(tmp_path, "a.gif", picture))
    with pytest.raises(BadInputError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_masks_and_boxes(tmp_path):
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 5:25] = 255
    path = tmp_path / "m.png"
    save_png(path, mask)
    assert np.array_equal(load_mask(path, 60, 40), mask > 0)
    with pytest.raises(BadInputError, match="mask is 60x40"):
        load_mask(path, 61, 40)
    boxes = parse_boxes("5,10,25,20; 50,30,70,45", 60, 40)
    assert boxes[10:20, 5:25].all() and boxes[30:40, 50:60].all() and boxes.sum() == 200 + 100
    for bad in ("1,2,3", "a,b,c,d", "70,50,80,60", ""):
        with pytest.raises(BadInputError):
            parse_boxes(bad, 60, 40)
