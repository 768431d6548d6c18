# SPDX-License-Identifier: GPL-3.0-or-later
"""Classical still-image coding of the key streams and hints, with minimal per-stream overhead.

At 1.5–12 KB a file format's own overhead matters, so streams carry only the coded bitstream:

  av1   (default) the AV1 OBUs of a one-frame AVIF, without its HEIF boxes (~275 bytes saved).
        The receiver parses the AV1 sequence header (checking the frame size before anything
        is decoded), derives the ``av1C`` record from it and rebuilds a minimal AVIF for
        Pillow's decoder (libavif + dav1d).
  webp  the VP8 bitstream of a lossy WebP, without the RIFF/VP8 chunk headers (20 bytes).
  jpeg  a baseline JPEG with optimised Huffman tables, without APP/COM segments (JPEG's tables
        are in-band; JFIF's APP0 header, 18 bytes, is dropped).

``encode_still``/``decode_still`` are the only entry points. Decoding is untrusted: any
malformed stream raises ``CorruptDataError``, and no decoder runs on a stream whose declared
size differs from the size the container expects.
"""
from __future__ import annotations

import io
import struct
import warnings

import numpy as np

from ..constants import KEY_CODECS
from ..errors import CorruptDataError

CODECS = KEY_CODECS
CODEC_IDS = {"avif": 1, "webp": 2, "jpeg": 3}
CODEC_NAMES = {v: k for k, v in CODEC_IDS.items()}
QUALITY_RANGE = {"avif": (0, 100), "webp": (0, 100), "jpeg": (1, 95)}
MAX_STREAM_PIXELS = 1 << 26


def available_codecs() -> list:
    """Codecs that this Pillow build can both encode and decode."""
    from PIL import features
    out = []
    for name in CODECS:
        if name == "jpeg" or features.check(name):
            out.append(name)
    return out


_TUNE_OK = {}


def encode_still(rgb: np.ndarray, codec: str, quality: int, speed: int = 6, tune: str = None,
                 subsampling: str = "4:2:0", method: int = 4) -> bytes:
    """Code an (h, w, 3) uint8 image; returns the stream bytes (see module docstring).

    ``quality`` is the codec's 0–100 quality; ``speed`` is the AV1 encoder speed (0 slow … 10);
    ``tune`` the AV1 encoder's distortion tuning ("ssim", "psnr"; None = libavif's default);
    ``subsampling`` the chroma subsampling of AV1 and JPEG ("4:2:0", "4:4:4"; WebP is 4:2:0);
    ``method`` WebP's effort (0 fast … 6 best compression).
    The semantic codec codes its streams with ``tune="ssim"``: at 0.02–0.1 bit/pixel it gives
    both a higher VSI/SSIM and a higher PSNR than the default on Kodak (measured in
    docs/semantic.md). Where the AV1 encoder does not take the option, it is ignored.
    """
    from PIL import Image
    image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    buf = io.BytesIO()
    if codec == "avif":
        options = dict(quality=int(quality), speed=int(speed), subsampling=subsampling, max_threads=1,
                       autotiling=False)
        if tune and _TUNE_OK.get(tune, True):
            try:
                image.save(buf, "AVIF", advanced={"tune": str(tune)}, **options)
                _TUNE_OK[tune] = True
                return avif_to_obus(buf.getvalue())
            except (OSError, ValueError, TypeError):
                _TUNE_OK[tune] = False          # an encoder without the option: default tuning
                buf = io.BytesIO()
        image.save(buf, "AVIF", **options)
        return avif_to_obus(buf.getvalue())
    if codec == "webp":
        image.save(buf, "WEBP", quality=int(quality), method=int(method))
        return _webp_to_vp8(buf.getvalue())
    if codec == "jpeg":
        image.save(buf, "JPEG", quality=int(quality), optimize=True, subsampling=subsampling)
        return strip_jpeg_app_segments(buf.getvalue())
    raise ValueError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")


def strip_jpeg_app_segments(jpeg: bytes) -> bytes:
    """A JPEG without its APPn and COM segments (JFIF's 18 bytes): what a decoder needs is in
    DQT, SOF, DHT and the scan; without an APP segment decoders assume YCbCr, as JFIF says."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG stream")
    out, pos = [jpeg[:2]], 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xDA:                       # start of scan: the rest is entropy-coded data
            break
        (length,) = struct.unpack(">H", jpeg[pos + 2:pos + 4])
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            out.append(jpeg[pos:pos + 2 + length])
        pos += 2 + length
    out.append(jpeg[pos:])
    return b"".join(out)


def decode_still(stream: bytes, codec: str, width: int, height: int) -> np.ndarray:
    """Decode a stream that must be ``width`` x ``height``; returns (height, width, 3) uint8."""
    if not (1 <= width and 1 <= height and width * height <= MAX_STREAM_PIXELS):
        raise CorruptDataError(f"stream size {width}x{height} out of range")
    stream = bytes(stream)
    if codec == "avif":
        info = parse_av1_sequence_header(stream)
        if (info["width"], info["height"]) != (width, height):
            raise CorruptDataError(f"AV1 stream is {info['width']}x{info['height']}, "
                                   f"expected {width}x{height}")
        data = obus_to_avif(stream, width, height, info)
    elif codec == "webp":
        w, h = _vp8_size(stream)
        if (w, h) != (width, height):
            raise CorruptDataError(f"VP8 stream is {w}x{h}, expected {width}x{height}")
        data = _vp8_to_webp(stream)
    elif codec == "jpeg":
        data = stream
    else:
        raise CorruptDataError(f"unknown stream codec {codec!r}")
    return _pillow_decode(data, width, height)


def _pillow_decode(data: bytes, width: int, height: int) -> np.ndarray:
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                if image.size != (width, height):
                    raise CorruptDataError(f"stream decodes to {image.size}, expected {(width, height)}")
                image.load()
                return np.asarray(image.convert("RGB"))
    except CorruptDataError:
        raise
    except Exception as exc:  # any decoder failure on untrusted bytes
        raise CorruptDataError(f"stream does not decode: {type(exc).__name__}: {exc}") from None


# ---- AV1 in AVIF --------------------------------------------------------------------------------
def _boxes(data: bytes, start: int, end: int):
    """Yield (type, payload start, box end) of the ISO-BMFF boxes in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        head = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise ValueError(f"bad ISO-BMFF box {kind!r}")
        yield kind, pos + head, pos + size
        pos += size


def avif_to_obus(avif: bytes) -> bytes:
    """The AV1 OBUs of a single-image AVIF written by our own encoder (sender side)."""
    items = {kind: (s, e) for kind, s, e in _boxes(avif, 0, len(avif))}
    meta = items.get(b"meta")
    mdat = items.get(b"mdat")
    if not meta or not mdat:
        raise ValueError("AVIF without meta or mdat box")
    inner = {kind: (s, e) for kind, s, e in _boxes(avif, meta[0] + 4, meta[1])}
    s, _ = inner[b"iloc"]
    version = avif[s]
    if version not in (0, 1):
        raise ValueError("unsupported iloc version")
    offset_size, length_size = avif[s + 4] >> 4, avif[s + 4] & 15
    base_size = avif[s + 5] >> 4
    pos = s + 6
    count = struct.unpack(">H", avif[pos:pos + 2])[0]
    if count != 1:
        raise ValueError(f"AVIF with {count} items (expected 1: no alpha, no grid)")
    pos += 2 + 2 + (2 if version == 1 else 0) + 2 + base_size
    extents = struct.unpack(">H", avif[pos:pos + 2])[0]
    pos += 2
    if extents != 1:
        raise ValueError("AVIF item in several extents")
    offset = int.from_bytes(avif[pos:pos + offset_size], "big")
    length = int.from_bytes(avif[pos + offset_size:pos + offset_size + length_size], "big")
    return avif[offset:offset + length]


def _obus(stream: bytes):
    """Yield (obu_type, payload bytes) of a low-overhead AV1 bitstream; checks every size."""
    pos = 0
    count = 0
    while pos < len(stream):
        count += 1
        if count > 64:
            raise CorruptDataError("AV1 stream has too many OBUs")
        header = stream[pos]
        if header & 0x80:
            raise CorruptDataError("AV1 OBU forbidden bit set")
        obu_type = (header >> 3) & 15
        has_ext, has_size = header & 4, header & 2
        pos += 2 if has_ext else 1
        if not has_size:
            raise CorruptDataError("AV1 OBU without size field")
        size, shift = 0, 0
        for i in range(8):
            if pos >= len(stream):
                raise CorruptDataError("AV1 OBU size truncated")
            byte = stream[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        else:
            raise CorruptDataError("AV1 OBU size field too long")
        if pos + size > len(stream):
            raise CorruptDataError("AV1 OBU truncated")
        yield obu_type, stream[pos:pos + size]
        pos += size


class _Bits:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise CorruptDataError("AV1 sequence header truncated")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value


def parse_av1_sequence_header(stream: bytes) -> dict:
    """Frame size and ``av1C`` fields from the (reduced still-picture) AV1 sequence header."""
    payload = None
    for obu_type, data in _obus(stream):
        if obu_type == 1:
            payload = data
            break
    if payload is None:
        raise CorruptDataError("AV1 stream has no sequence header")
    bits = _Bits(payload)
    profile = bits.read(3)
    bits.read(1)                                  # still_picture
    if not bits.read(1):                          # reduced_still_picture_header
        raise CorruptDataError("AV1 stream is not a reduced still-picture stream")
    level = bits.read(5)
    if profile > 2:
        raise CorruptDataError(f"AV1 profile {profile} invalid")
    width_bits, height_bits = bits.read(4) + 1, bits.read(4) + 1
    width, height = bits.read(width_bits) + 1, bits.read(height_bits) + 1
    bits.read(3)                                  # 128x128 superblocks, filter intra, intra edge filter
    bits.read(3)                                  # superres, cdef, restoration
    high_bitdepth = bits.read(1)
    twelve_bit = bits.read(1) if profile == 2 and high_bitdepth else 0
    mono = 0 if profile == 1 else bits.read(1)
    primaries, transfer, matrix = 2, 2, 2
    if bits.read(1):                              # color_description_present_flag
        primaries, transfer, matrix = bits.read(8), bits.read(8), bits.read(8)
    chroma_position = 0
    if mono:
        bits.read(1)
        ss_x = ss_y = 1
    elif primaries == 1 and transfer == 13 and matrix == 0:
        ss_x = ss_y = 0
    else:
        bits.read(1)                              # color_range
        if profile == 0:
            ss_x = ss_y = 1
        elif profile == 1:
            ss_x = ss_y = 0
        elif twelve_bit:
            ss_x = bits.read(1)
            ss_y = bits.read(1) if ss_x else 0
        else:
            ss_x, ss_y = 1, 0
        if ss_x and ss_y:
            chroma_position = bits.read(2)
    av1c = bytes([0x81, (profile << 5) | level,
                  (high_bitdepth << 6) | (twelve_bit << 5) | (mono << 4) | (ss_x << 3) | (ss_y << 2)
                  | chroma_position, 0])
    depth = 12 if twelve_bit else (10 if high_bitdepth else 8)
    return {"width": width, "height": height, "av1c": av1c, "mono": bool(mono), "depth": depth}


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def obus_to_avif(obus: bytes, width: int, height: int, info: dict = None) -> bytes:
    """A minimal, valid AVIF around AV1 OBUs (receiver side): ftyp, meta, mdat."""
    info = info or parse_av1_sequence_header(obus)
    channels = 1 if info["mono"] else 3
    ftyp = _box(b"ftyp", b"avif" + b"\0\0\0\0" + b"avifmif1miaf")
    hdlr = _full_box(b"hdlr", 0, 0, b"\0\0\0\0pict" + b"\0" * 12 + b"\0")
    pitm = _full_box(b"pitm", 0, 0, struct.pack(">H", 1))
    infe = _full_box(b"infe", 2, 0, struct.pack(">HH4s", 1, 0, b"av01") + b"\0")
    iinf = _full_box(b"iinf", 0, 0, struct.pack(">H", 1) + infe)
    ispe = _full_box(b"ispe", 0, 0, struct.pack(">II", width, height))
    pixi = _full_box(b"pixi", 0, 0, bytes([channels] + [info["depth"]] * channels))
    av1c = _box(b"av1C", info["av1c"])
    colr = _box(b"colr", b"nclx" + struct.pack(">HHHB", 1, 13, 6, 0x80))   # what our encoder writes
    ipco = _box(b"ipco", ispe + pixi + av1c + colr)
    ipma = _full_box(b"ipma", 0, 0, struct.pack(">IHB", 1, 1, 4) + bytes([0x01, 0x02, 0x83, 0x04]))
    iprp = _box(b"iprp", ipco + ipma)

    def meta_with(offset):
        extent = struct.pack(">HHHHII", 1, 1, 0, 1, offset, len(obus))
        iloc = _full_box(b"iloc", 0, 0, bytes([0x44, 0x00]) + extent)
        return _full_box(b"meta", 0, 0, hdlr + pitm + iloc + iinf + iprp)

    head_len = len(ftyp) + len(meta_with(0)) + 8
    return ftyp + meta_with(head_len) + _box(b"mdat", obus)


# ---- VP8 in WebP ---------------------------------------------------------------------------------
def _webp_to_vp8(webp: bytes) -> bytes:
    if webp[:4] != b"RIFF" or webp[8:12] != b"WEBP" or webp[12:16] != b"VP8 ":
        raise ValueError("expected a simple lossy WebP (RIFF/WEBP/VP8)")
    size = struct.unpack("<I", webp[16:20])[0]
    return webp[20:20 + size]


def _vp8_to_webp(vp8: bytes) -> bytes:
    pad = b"\0" if len(vp8) % 2 else b""
    chunk = b"VP8 " + struct.pack("<I", len(vp8)) + vp8 + pad
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _vp8_size(vp8: bytes):
    """Frame size from a VP8 key-frame header (RFC 6386 §9.1)."""
    if len(vp8) < 10 or vp8[0] & 1 or vp8[3:6] != b"\x9d\x01\x2a":
        raise CorruptDataError("VP8 stream is not a key frame")
    width, height = struct.unpack("<HH", vp8[6:10])
    return width & 0x3FFF, height & 0x3FFF
