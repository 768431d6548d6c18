#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Structure-aware fuzzing of everything the receiver parses off the air (issue 7).

Seeds are real: containers, fragments, prompts, masks, key streams and whole-image files
made by the project's own encoders from scikit-image pictures. Each input is one seed
mutated at one level, then fed to one receiver entry point (a *target*):

  container       raw damage (bit flips, truncation, insertion, splices, length-field edits)
                  -> Container.from_bytes, parse_tolerant, describe_container (``inspect``)
  decode_bytes    section-level edits re-framed with valid CRCs (an adversarial sender):
                  payload mutations, reordering, duplication, unknown types, header fields
                  (size, section count, version) -> SemanticCodec().decode(strict=False)
  decode_frags    fragment loss, reordering, duplication, header-field edits (count, index,
                  section, code, image id), truncation, foreign and random packets, floods
                  of huge fragment counts; aggregate packets (0xF2) with count/length edits
                  and nesting -> SemanticCodec().decode(packets)
  baseline        the same for the whole-image baselines -> WholeImageCodec.decode
  prompt          raw and JSON-structured prompt edits re-compressed with the preset
                  dictionary, deflate bombs -> StructuredPrompt.from_bytes, to_text, to_dict
  mask            MASK payloads -> maskcode.decode_mask
  still           bare AV1 / VP8 / JPEG key and hint streams with size-field edits
                  -> stillcodec.decode_still
  image_file      whole JPEG / WebP / AVIF files with dimension and box-size edits
                  -> wholeimage._decode_file
  bundle          reassembler bundles -> blocks.reassembler.unpack_bundle + reassemble
  pdu             malformed PMT messages -> blocks.pdus.split_pdu, pdu_to_image
  phy             PHY header bits and LLRs -> framing.parse_header_bits, decode_header_llr,
                  decode_payload_llr

What must hold for every input: it raises nothing but ``CorruptDataError`` (or decodes, with
an image of exactly the announced size), the process never exceeds ``--max-rss-mib`` of
resident memory, and no input takes longer than ``--per-input-timeout-s``. A watchdog thread
enforces both bounds while an input runs: it saves the input and ends the run (exit 3 for a
hang, 4 for memory). Failing inputs are saved as JSON under ``--crash-dir``; ``--replay FILE``
runs one again with its traceback.

Usage:
  python scripts/fuzz_receiver.py --inputs 100000 --max-rss-mib 2048 --per-input-timeout-s 10
  python scripts/fuzz_receiver.py --inputs 2000 --json          # what the tests run
Prints a summary (inputs run per target, outcomes, unique exceptions, peak RSS, slowest
input); exit status 0 when nothing was found, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import struct
import sys
import threading
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

# Inputs whose failure is a known, reported bug in a module this harness may not fix yet:
# {(exception type, "file:function"): reason}. They are counted apart ("known") and do not
# fail the run; each has an xfail(strict=True) regression test in tests/test_reliability_fuzz.py,
# so fixing the bug turns that test red until the entry here is removed.
KNOWN_ISSUES = {}

DEFAULT_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "colorwheel")
TARGET_WEIGHTS = {
    "container": 8, "decode_bytes": 16, "decode_frags": 20, "baseline": 6, "prompt": 12,
    "mask": 6, "still": 8, "image_file": 6, "bundle": 6, "pdu": 5, "phy": 7,
}
INTERESTING_16 = (0, 1, 2, 7, 8, 15, 16, 127, 128, 255, 256, 1023, 1024, 4096, 16384, 16385,
                  32767, 32768, 65534, 65535)
INTERESTING_8 = (0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 65, 127, 128, 254, 255)


class InvariantError(AssertionError):
    """A target returned, but what it returned breaks the contract (wrong size, bad text)."""


def check_text(text, what):
    """Text from the air must be printable UTF-8: no lone surrogates (print(), pmt.to_pmt and the
    Hugging Face tokenizers all raise on them) and no terminal control sequences."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvariantError(f"{what} holds lone surrogates: {text[:60]!r}") from None
    if any(ord(c) < 32 and c not in "\t\n" or c == "\x7f" for c in text):
        raise InvariantError(f"{what} holds control characters: {text[:60]!r}")


def finding_key(exc):
    """What makes two failures the same: exception type and where it was raised (an invariant:
    the invariant's name)."""
    if isinstance(exc, InvariantError):
        return type(exc).__name__, str(exc).split(":")[0]
    return type(exc).__name__, _location(exc)


# ---------------------------------------------------------------------------------- seeds
def _downscale(image, long_side):
    from gnuradio.gensemcom.imageops import resize
    h, w = image.shape[:2]
    f = long_side / max(h, w)
    return np.ascontiguousarray(resize(image, max(16, round(w * f)), max(16, round(h * f))))


class Corpus:
    """Real encoder outputs from scikit-image pictures (small sizes keep a decode ~10 ms)."""

    def __init__(self, image_names=DEFAULT_IMAGES, sizes=(96, 192), log=print):
        from skimage import data as skdata

        from gnuradio.gensemcom.classical.baselines import encode_file
        from gnuradio.gensemcom.classical.wholeimage import WholeImageCodec
        from gnuradio.gensemcom.semantic import codec as semcodec
        from gnuradio.gensemcom.transport import fragments as TF
        from gnuradio.gensemcom.transport import packets as TP

        self.containers = []    # (label, bytes, Container)
        self.baselines = []     # (codec, container bytes, w, h)
        self.files = []         # (codec, file bytes, w, h)
        self.prompts, self.masks, self.metas, self.streams = [], [], [], []
        t0 = time.perf_counter()
        image_id = 0
        for n, name in enumerate(image_names):
            full = getattr(skdata, name)()
            if full.ndim == 2:
                full = np.stack([full] * 3, axis=2)
            full = np.ascontiguousarray(full[..., :3])
            for size in sizes:
                image = _downscale(full, size)
                h, w = image.shape[:2]
                pixels = h * w
                key_codec = ("avif", "webp", "jpeg")[(n + size) % 3] if size <= 96 else "avif"
                codec = semcodec.SemanticCodec(config=semcodec.CodecConfig(codec=key_codec))
                for bpp in (0.08, 0.4):
                    image_id += 1
                    budget = max(160, int(pixels * bpp / 8))
                    try:
                        result = codec.encode(image, budget, image_id=image_id)
                    except Exception as exc:   # budget too small for this picture: skip the seed
                        log(f"  seed {name} {w}x{h} {budget} B skipped: {exc}")
                        continue
                    self.containers.append((f"{name}-{w}x{h}-{key_codec}-{budget}B", result.data,
                                            result.container))
                    self._collect(result.container, semcodec)
                if size == sizes[0]:
                    for base in ("jpeg", "webp", "avif"):
                        enc = WholeImageCodec(base).encode(image, max(400, pixels // 6), image_id=image_id)
                        if enc.report["fits"]:
                            self.baselines.append((base, enc.data, w, h))
                        self.files.append((base, encode_file(image, base, 30), w, h))
        if not self.containers:
            raise SystemExit("no seed container could be encoded")
        self.fragment_sets = [(label, TF.fragment(data, mtu), container)
                              for label, data, container in self.containers for mtu in (48, 120, 400)]
        # what the fragmenter sends: small fragments of one protection group in aggregate packets
        self.packet_sets = ([(label, [p for _, _, p in TP.packetize(container, mtu)], container)
                             for label, _, container in self.containers for mtu in (120, 400)]
                            if hasattr(TP, "packetize") else [])
        log(f"corpus: {len(self.containers)} containers, {len(self.baselines)} baseline containers, "
            f"{len(self.prompts)} prompts, {len(self.masks)} masks, {len(self.streams)} streams, "
            f"{len(self.files)} files in {time.perf_counter() - t0:.1f} s")

    def _collect(self, container, semcodec):
        from gnuradio.gensemcom.semantic import meta as semmeta
        from gnuradio.gensemcom.transport.container import SectionType
        w, h = container.width, container.height
        meta = None
        keys = []
        for s in container.sections:
            if s.type == SectionType.PROMPT:
                self.prompts.append(s.payload)
            elif s.type == SectionType.MASK:
                self.masks.append((s.payload, w, h))
            elif s.type == SectionType.META:
                self.metas.append((s.payload, w, h))
                meta = semmeta.Meta.from_bytes(s.payload, w, h)
            elif s.type == SectionType.KEY:
                keys.append(s.payload)
            elif s.type == SectionType.HINTS:
                hints = s.payload
        if meta is not None and meta.hints:
            self.streams.append(("avif", hints, *meta.thumb_size))
        if meta is not None and meta.key:
            for (r0, r1), payload in zip(meta.bands(), keys):
                self.streams.append((meta.codec, payload, meta.stream_size[0], r1 - r0))


# ------------------------------------------------------------------------ byte mutations
def flip_bits(rng, data, count=None):
    data = bytearray(data)
    if not data:
        return bytes(data)
    for _ in range(count or rng.choice((1, 1, 2, 3, 8))):
        pos = rng.randrange(len(data) * 8)
        data[pos >> 3] ^= 1 << (pos & 7)
    return bytes(data)


def mutate_bytes(rng, data, pool=()):
    """One or a few generic edits of ``data``."""
    data = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(11)
        n = len(data)
        if op == 0 or n == 0:
            data += bytes(rng.randrange(256) for _ in range(rng.choice((1, 4, 16, 200))))
        elif op == 1:
            data = bytearray(flip_bits(rng, data))
        elif op == 2:
            data = data[:rng.randrange(n)]                      # truncate
        elif op == 3:
            data = data[rng.randrange(n):]                      # lose the start
        elif op == 4:
            pos = rng.randrange(n)
            data[pos] = rng.choice(INTERESTING_8 + (rng.randrange(256),))
        elif op == 5 and n >= 2:
            pos = rng.randrange(n - 1)
            data[pos:pos + 2] = struct.pack(">H", rng.choice(INTERESTING_16))
        elif op == 6 and n >= 4:
            pos = rng.randrange(n - 3)
            data[pos:pos + 4] = struct.pack(">I", rng.choice((0, 1, 0x7FFFFFFF, 0xFFFFFFFF, n, n + 1)))
        elif op == 7:
            a, b = sorted(rng.randrange(n + 1) for _ in range(2))
            del data[a:b]
        elif op == 8:
            a, b = sorted(rng.randrange(n + 1) for _ in range(2))
            pos = rng.randrange(n + 1)
            data[pos:pos] = data[a:b] * rng.choice((1, 2, 8))  # duplicate a chunk
        elif op == 9 and pool:
            other = rng.choice(pool)
            cut = rng.randrange(n + 1)
            data = data[:cut] + bytearray(other[rng.randrange(len(other) + 1):])   # splice
        else:
            pos = rng.randrange(n)
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 3, 17))))
    return bytes(data)


def random_blob(rng, max_len=600):
    return bytes(rng.randrange(256) for _ in range(rng.randrange(max_len)))


# ------------------------------------------------------------- structure-aware: sections
def framed(code, payload, length=None):
    from gnuradio.gensemcom.transport.container import encode_varint
    body = bytes([code & 0xFF]) + encode_varint(len(payload) if length is None else length) + payload
    return body + struct.pack(">I", zlib.crc32(body))


def header_bytes(image_id, width, height, count, version=1):
    body = b"GS" + struct.pack(">BHHHB", version & 0xFF, image_id & 0xFFFF, width & 0xFFFF,
                               height & 0xFFFF, count & 0xFF)
    return body + struct.pack(">I", zlib.crc32(body))


def mutate_meta(rng, payload):
    data = bytearray(payload)
    if len(data) < 10:
        return mutate_bytes(rng, payload)
    op = rng.randrange(8)
    if op == 0:
        data[0] = rng.choice((0, 2, 255))                              # version
    elif op == 1:
        data[1] = rng.choice((0, 1, 2, 3, 4, 255))                     # key codec id
    elif op == 2:
        data[2] = rng.choice((0, 1, 2, 3, 4, 255))                     # flags
    elif op == 3:
        pos = 3 + 2 * rng.randrange(2)                                 # key stream width / height
        data[pos:pos + 2] = struct.pack(">H", rng.choice(INTERESTING_16))
    elif op == 4:
        data[7 + rng.randrange(2)] = rng.choice(INTERESTING_8)         # quality / feather
    elif op == 5:
        data[9] = rng.choice((0, 1, 2, 16, 17, 255))                   # band count
    elif op == 6 and len(data) > 10:
        pos = 10 + rng.randrange(len(data) - 10)
        data[pos] = rng.choice(INTERESTING_8)                          # band rows / thumb size
    else:
        return mutate_bytes(rng, payload)
    return bytes(data)


def mutate_mask(rng, payload):
    data = bytearray(payload or b"\x08")
    op = rng.randrange(4)
    if op == 0:
        data[0] = rng.choice(INTERESTING_8)                            # cell size
        return bytes(data)
    if op == 1:
        return bytes(data) + bytes(rng.randrange(256) for _ in range(rng.choice((1, 50, 3000))))
    if op == 2:
        return bytes([rng.choice(INTERESTING_8)]) + random_blob(rng, 300)
    return mutate_bytes(rng, payload)


_SURPRISES = (None, True, False, -1, 0, 1, 2, 255, 256, 1e308, -1e308, 10 ** 40, 0.5,
              float("nan"), float("inf"), "", "x" * 300, "\ud800", "\x1b[2J\x1b[31mred", "\u202e",
              "zzzzzz", "ff00ff", [], {}, [[]], ["a", 0.5], [1, 2], list(range(300)),
              {"v": 1}, "a\nb\x00c")


DEEP = "\u0000deep:"     # placeholder that mutate_prompt replaces by that many nested lists


def mutate_prompt_json(rng, obj):
    """Type/range edits of the compact prompt JSON (see prompt.py's schema)."""
    obj = json.loads(json.dumps(obj))
    op = rng.randrange(7)
    if op == 0 or not obj:
        obj[rng.choice(("v", "s", "c", "o", "a", "p", "g", "l", "zz"))] = rng.choice(_SURPRISES)
    elif op == 1:
        obj.pop(rng.choice(list(obj)), None)
    elif op == 2:                                   # an element inside a list field
        lists = [k for k, v in obj.items() if isinstance(v, list) and v]
        if lists:
            key = rng.choice(lists)
            i = rng.randrange(len(obj[key]))
            item = obj[key][i]
            if isinstance(item, list) and item and rng.random() < 0.7:
                item[rng.randrange(len(item))] = rng.choice(_SURPRISES)
            else:
                obj[key][i] = rng.choice(_SURPRISES)
    elif op == 3:                                   # grid that disagrees with the layout
        obj["g"] = [rng.choice((0, 1, 2, 16, 17, 100)), rng.choice((0, 1, 3, 16, 17))]
        obj.setdefault("l", [["808080", 0, 0, 0]])
    elif op == 4:                                   # many items
        key = rng.choice(("o", "a", "p", "l"))
        sample = {"o": ["x", 0.5], "a": "w", "p": ["ffffff", 0.1], "l": ["000000", 1, 1, 1]}[key]
        obj[key] = [sample] * rng.choice((17, 256, 1000))
    elif op == 5:                                   # deep nesting
        obj[rng.choice(("o", "zz"))] = f"{DEEP}{rng.choice((50, 1000, 3000))}"
    else:
        obj["s"] = rng.choice(("\ud800\udfff", "\udc80", "\x00" * 10, "\x1b]0;title\x07", "é" * 240))
    return obj


def compress_prompt(text_bytes):
    from gnuradio.gensemcom.semantic.prompt import PROMPT_FORMAT, ZDICT
    comp = zlib.compressobj(level=9, wbits=-15, memLevel=9, zdict=ZDICT)
    return bytes([PROMPT_FORMAT]) + comp.compress(text_bytes) + comp.flush()


def mutate_prompt(rng, payload, pool=()):
    from gnuradio.gensemcom.semantic.prompt import ZDICT
    op = rng.randrange(6)
    if op <= 2:
        try:
            text = zlib.decompressobj(wbits=-15, zdict=ZDICT).decompress(payload[1:])
            obj = json.loads(text)
        except (zlib.error, ValueError, RecursionError):
            return mutate_bytes(rng, payload, pool)
        obj = mutate_prompt_json(rng, obj)
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=rng.random() < 0.5,
                          allow_nan=True)
        if DEEP in text or json.dumps(DEEP)[1:-1] in text:
            import re
            text = re.sub(r'"(?:\\u0000|\u0000)deep:(\d+)"',
                          lambda m: "[" * int(m[1]) + "]" * int(m[1]), text)
        text = text.encode("utf-8", "surrogatepass")
        return compress_prompt(text)
    if op == 3:                                     # deflate bombs and odd texts
        return compress_prompt(rng.choice((b" " * 10_000_000, b"[" * 100_000, b'{"v":1}' + b" " * 5000,
                                           b"\xff\xfe" * 100, b'{"v":1,"s":"' + b"a" * 5000 + b'"}',
                                           b'{"v":1,"o":[["x",1e999]]}', b'{"v":1,"g":[1,1],"l":[["808080",'
                                           + b"9" * 5000 + b',0,0]]}')))
    if op == 4:
        return bytes([rng.randrange(256)]) + payload[1:]
    return mutate_bytes(rng, payload, pool)


# stream-specific: declared-size edits before the decoder runs
def mutate_stream(rng, codec, stream):
    data = bytearray(stream)
    op = rng.randrange(4)
    if op == 0 and codec == "avif" and len(data) > 12:
        # the sequence header OBU sits in the first bytes: flip bits in the size fields
        return flip_bits(rng, data[:12], rng.choice((1, 2, 4))) + bytes(data[12:])
    if op == 0 and codec == "webp" and len(data) >= 10:
        data[6:10] = struct.pack("<HH", rng.choice(INTERESTING_16), rng.choice(INTERESTING_16))
        return bytes(data)
    if op == 0 and codec == "jpeg":
        return jpeg_edit(rng, data)
    if op == 1 and codec == "avif" and len(data) > 2:
        data[1] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))               # first OBU's size field
        return bytes(data)
    return mutate_bytes(rng, bytes(data))


def jpeg_edit(rng, data):
    data = bytearray(data)
    markers = [i for i in range(len(data) - 4) if data[i] == 0xFF and data[i + 1] in
               (0xC0, 0xC2, 0xC4, 0xDB, 0xDA, 0xDD, 0xE0)]
    if not markers:
        return mutate_bytes(rng, bytes(data))
    i = rng.choice(markers)
    if data[i + 1] in (0xC0, 0xC2) and rng.random() < 0.6 and i + 9 <= len(data):
        data[i + 5:i + 9] = struct.pack(">HH", rng.choice(INTERESTING_16), rng.choice(INTERESTING_16))
    else:
        data[i + 2:i + 4] = struct.pack(">H", rng.choice(INTERESTING_16))  # segment length
    return bytes(data)


def file_edit(rng, codec, data):
    data = bytearray(data)
    if codec == "jpeg":
        return jpeg_edit(rng, data)
    if codec == "webp" and len(data) > 30 and rng.random() < 0.6:
        which = rng.randrange(3)
        if which == 0:
            data[4:8] = struct.pack("<I", rng.choice((0, 4, 0xFFFFFFFF, len(data) * 100)))
        elif which == 1:
            data[16:20] = struct.pack("<I", rng.choice((0, 1, 0xFFFFFFF0, len(data) * 100)))
        else:
            data[26:30] = struct.pack("<HH", rng.choice(INTERESTING_16), rng.choice(INTERESTING_16))
        return bytes(data)
    if codec == "avif" and rng.random() < 0.6:
        kind = rng.choice((b"ispe", b"iloc", b"mdat", b"meta", b"av1C", b"ipma"))
        i = data.find(kind)
        if i >= 4:
            if kind == b"ispe" and i + 16 <= len(data):
                data[i + 8:i + 16] = struct.pack(">II", rng.choice((0, 65535, 1 << 20, 0xFFFFFFFF)),
                                                 rng.choice((0, 65535, 1 << 20, 0xFFFFFFFF)))
            else:
                data[i - 4:i] = struct.pack(">I", rng.choice((0, 1, 7, 8, 0xFFFFFFFF, len(data) * 10)))
            return bytes(data)
    return mutate_bytes(rng, bytes(data))


def mutate_payload(rng, section_type, payload, corpus):
    from gnuradio.gensemcom.transport.container import SectionType
    if section_type == SectionType.PROMPT:
        return mutate_prompt(rng, payload, corpus.prompts)
    if section_type == SectionType.META:
        return mutate_meta(rng, payload)
    if section_type == SectionType.MASK:
        return mutate_mask(rng, payload)
    if section_type in (SectionType.KEY, SectionType.HINTS):
        codec = "avif" if section_type == SectionType.HINTS else rng.choice(("avif", "webp", "jpeg"))
        return mutate_stream(rng, codec, payload)
    if section_type == SectionType.IMAGE:
        return file_edit(rng, rng.choice(("jpeg", "webp", "avif")), payload)
    return mutate_bytes(rng, payload)


def mutate_container_struct(rng, container, corpus, max_side):
    """Re-framed container bytes (valid CRCs) after section- and header-level edits; recipe."""
    image_id, width, height = container.image_id, container.width, container.height
    sections = [(s.code, s.type, s.payload) for s in container.sections]
    recipe = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        op = rng.randrange(10)
        if op <= 3 and sections:
            i = rng.randrange(len(sections))
            code, kind, payload = sections[i]
            sections[i] = (code, kind, mutate_payload(rng, kind, payload, corpus))
            recipe.append(f"payload#{i + 1}")
        elif op == 4 and sections:
            rng.shuffle(sections)
            recipe.append("shuffle")
        elif op == 5 and sections:
            i = rng.randrange(len(sections))
            sections.insert(rng.randrange(len(sections) + 1), sections[i])
            recipe.append("duplicate")
        elif op == 6 and sections:
            del sections[rng.randrange(len(sections))]
            recipe.append("drop")
        elif op == 7 and sections:
            i = rng.randrange(len(sections))
            code = rng.randrange(256)
            sections[i] = (code, code & 0x1F, sections[i][2])
            recipe.append("type")
        elif op == 8:
            width = rng.choice((1, 2, 8, 15, 16, width, width + 1, max_side, max_side + 1, 4096, 16384,
                                rng.randrange(1, 65536)))
            height = rng.choice((1, 2, 8, 15, 16, height, height - 1, max_side, max_side + 1, 16384,
                                 rng.randrange(1, 65536)))
            recipe.append(f"size {width}x{height}")
        else:
            other = [(s.code, s.type, s.payload) for s in rng.choice(corpus.containers)[2].sections]
            sections.insert(rng.randrange(len(sections) + 1), rng.choice(other or [(0, 0, b"")]))
            recipe.append("foreign section")
    count = len(sections)
    if rng.random() < 0.1:
        count = rng.choice((0, count - 1, count + 1, 64, 65, 255))
        recipe.append(f"count {count}")
    version = 1 if rng.random() < 0.97 else rng.choice((0, 2, 255))
    data = header_bytes(image_id, width, height, count, version)
    data += b"".join(framed(code, payload) for code, _, payload in sections)
    if rng.random() < 0.15:       # length-field edit inside a framed section (CRC recomputed)
        data = length_edit(rng, data)
        recipe.append("length field")
    return data, recipe


def length_edit(rng, data):
    """Rewrite one section's varint length (CRC recomputed over the new framing)."""
    from gnuradio.gensemcom.transport.container import HEADER_BYTES, decode_varint
    pos, starts = HEADER_BYTES, []
    while pos < len(data):
        try:
            length, after = decode_varint(data, pos + 1)
        except Exception:
            break
        starts.append((pos, length, after))
        pos = after + length + 4
    if not starts:
        return data
    pos, length, after = rng.choice(starts)
    new = rng.choice((0, 1, length - 1, length + 1, length + 100, 1 << 24, (1 << 28) - 1))
    payload = data[after:after + length]
    if rng.random() < 0.5:        # 5-byte varint: longer than the parser allows
        varint = bytes([0x80 | (new & 0x7F), 0x80, 0x80, 0x80, 0x01])
    else:
        from gnuradio.gensemcom.transport.container import encode_varint
        varint = encode_varint(max(0, new))
    body = bytes([data[pos]]) + varint + payload
    return data[:pos] + body + struct.pack(">I", zlib.crc32(body)) + data[after + length + 4:]


# ------------------------------------------------------------------- fragment mutations
def mutate_fragments(rng, packets, corpus, image_id):
    from gnuradio.gensemcom.transport.fragments import _FRAGMENT_HEADER
    packets = list(packets)
    recipe = []
    loss = rng.choice((0.0, 0.1, 0.3, 0.5, 0.8, rng.random()))
    if loss:
        packets = [p for p in packets if rng.random() >= loss]
        recipe.append(f"loss {loss:.2f}")
    if rng.random() < 0.3:
        packets += [rng.choice(packets) for _ in range(rng.randrange(1, 6))] if packets else []
        recipe.append("dups")
    if rng.random() < 0.5:
        rng.shuffle(packets)
        recipe.append("reorder")
    for _ in range(rng.choice((0, 1, 1, 2, 4))):
        if not packets:
            break
        i = rng.randrange(len(packets))
        p = bytearray(packets[i])
        p += bytes(max(0, 9 - len(p)))          # short (already damaged) packets: pad the header
        op = rng.randrange(8)
        if op == 0 and len(p) > 9:
            p[9:] = flip_bits(rng, bytes(p[9:]))
        elif op == 1:
            p[1:3] = struct.pack(">H", rng.choice((image_id ^ 1, 0, 65535)))
        elif op == 2:
            p[3] = rng.choice(INTERESTING_8)                           # section index
        elif op == 3:
            p[4] = rng.randrange(256)                                  # code
        elif op == 4:
            p[5:7] = struct.pack(">H", rng.choice(INTERESTING_16))    # fragment index
        elif op == 5:
            p[7:9] = struct.pack(">H", rng.choice(INTERESTING_16))    # fragment count
        elif op == 6:
            p = p[:rng.randrange(len(p) + 1)]
        else:
            p[0] = rng.randrange(256)
        packets[i] = bytes(p)
        recipe.append(f"edit{op}")
    if rng.random() < 0.1:
        packets += [random_blob(rng, 200) for _ in range(rng.randrange(1, 20))]
        recipe.append("random packets")
    if rng.random() < 0.1:
        other = rng.choice(corpus.fragment_sets)[1]
        packets += rng.sample(other, min(len(other), rng.randrange(1, 10)))
        recipe.append("foreign image")
    if rng.random() < 0.02:       # a flood: one section announcing 65535 fragments
        n = rng.choice((1000, 20000))
        section = rng.randrange(1, 65)
        packets += [_FRAGMENT_HEADER.pack(0xF1, image_id, section, 0x45, k, 65535) + b"\0" * 100
                    for k in range(n)]
        recipe.append(f"flood {n}")
    return packets, recipe


def mutate_aggregates(rng, packets):
    """Edits of aggregate packets (0xF2 | count u8 | (length u16 | fragment)...): count and length
    fields, nesting, many empty items, splitting one aggregate's items apart."""
    packets = list(packets)
    aggregates = [i for i, p in enumerate(packets) if p[:1] == b"\xf2"]
    if not aggregates:
        return packets
    i = rng.choice(aggregates)
    p = bytearray(packets[i])
    op = rng.randrange(6)
    if op == 0 and len(p) > 1:
        p[1] = rng.choice((0, 1, p[1] - 1, p[1] + 1, 255))                    # item count
    elif op == 1 and len(p) > 3:
        p[2:4] = struct.pack(">H", rng.choice((0, 1, 8, 9, 65535, len(p))))   # first item's length
    elif op == 2:
        p = bytearray(b"\xf2\x01" + struct.pack(">H", len(p)) + bytes(p))    # an aggregate in an aggregate
    elif op == 3:
        p = bytearray(b"\xf2\xff" + b"\x00\x00" * 255)                       # 255 empty items
    elif op == 4:
        p = p[:rng.randrange(len(p) + 1)]
    else:
        p = bytearray(flip_bits(rng, bytes(p), rng.choice((1, 4))))
    packets[i] = bytes(p)
    return packets


# --------------------------------------------------------------------------- the targets
class Harness:
    def __init__(self, corpus, max_pixels):
        from gnuradio.gensemcom.semantic import codec as semcodec
        self.corpus = corpus
        self.max_pixels = max_pixels
        self.max_side = int(max_pixels ** 0.5)
        self.codec = semcodec.SemanticCodec()
        import inspect
        self._decode_kwargs = ({"max_pixels": max_pixels}
                               if "max_pixels" in inspect.signature(self.codec.decode).parameters else {})
        self.targets = {name: getattr(self, "make_" + name) for name in TARGET_WEIGHTS}

    # Each make_* returns (description, input as JSON-able dict); run(input) executes it.
    def make_container(self, rng):
        label, data, _ = rng.choice(self.corpus.containers)
        if rng.random() < 0.3:
            data = length_edit(rng, data)
        pool = [c[1] for c in self.corpus.containers]
        return label, {"target": "container", "data": mutate_bytes(rng, data, pool)}

    def make_decode_bytes(self, rng):
        label, _, container = rng.choice(self.corpus.containers)
        data, recipe = mutate_container_struct(rng, container, self.corpus, self.max_side)
        if rng.random() < 0.1:
            data = mutate_bytes(rng, data)
            recipe.append("raw")
        return f"{label} {' '.join(recipe)}", {"target": "decode_bytes", "data": data}

    def make_decode_frags(self, rng):
        from gnuradio.gensemcom.transport import fragments as TF
        from gnuradio.gensemcom.transport import packets as TP
        aggregate = bool(self.corpus.packet_sets) and rng.random() < 0.4
        sets = self.corpus.packet_sets if aggregate else self.corpus.fragment_sets
        label, packets, container = rng.choice(sets)
        recipe = ["aggregates"] if aggregate else []
        if rng.random() < 0.35:      # fragments of a structurally mutated (re-CRC'd) container
            data, recipe = mutate_container_struct(rng, container, self.corpus, self.max_side)
            try:
                mtu = rng.choice((30, 64, 120, 400))
                packets = ([p for _, _, p in TP.packetize(data, mtu)] if aggregate else TF.fragment(data, mtu))
            except Exception:
                packets = [data[i:i + 100] for i in range(0, len(data), 100)]
        if aggregate and rng.random() < 0.5:
            packets = mutate_aggregates(rng, packets)
            recipe.append("aggregate edit")
        packets, more = mutate_fragments(rng, packets, self.corpus, container.image_id)
        size = None if rng.random() < 0.5 else [container.width, container.height]
        item = {"target": "decode_frags", "packets": packets, "size": size}
        return f"{label} {' '.join(recipe + more)}", item

    def make_baseline(self, rng):
        from gnuradio.gensemcom.transport.container import Container
        from gnuradio.gensemcom.transport.fragments import fragment
        codec, data, w, h = rng.choice(self.corpus.baselines)
        container = Container.from_bytes(data)
        if rng.random() < 0.5:
            data, recipe = mutate_container_struct(rng, container, self.corpus, self.max_side)
            return f"{codec} {' '.join(recipe)}", {"target": "baseline", "codec": codec, "data": data}
        packets, recipe = mutate_fragments(rng, fragment(data, rng.choice((64, 200))), self.corpus,
                                           container.image_id)
        return f"{codec} frags {' '.join(recipe)}", {"target": "baseline", "codec": codec, "packets": packets,
                                                     "size": [w, h]}

    def make_prompt(self, rng):
        return "prompt", {"target": "prompt", "data": mutate_prompt(rng, rng.choice(self.corpus.prompts),
                                                                    self.corpus.prompts)}

    def make_mask(self, rng):
        payload, w, h = rng.choice(self.corpus.masks)
        if rng.random() < 0.3:
            w, h = rng.choice((1, 7, 16, w, 4096, 16384)), rng.choice((1, 9, 16, h, 4096, 16384))
        return f"mask {w}x{h}", {"target": "mask", "data": mutate_mask(rng, payload), "size": [w, h]}

    def make_still(self, rng):
        codec, stream, w, h = rng.choice(self.corpus.streams)
        if rng.random() < 0.15:
            w, h = rng.choice((1, w, w + 1, 5000)), rng.choice((1, h, h - 1, 5000))
        item = {"target": "still", "codec": codec, "data": mutate_stream(rng, codec, stream), "size": [w, h]}
        return f"{codec} stream {w}x{h}", item

    def make_image_file(self, rng):
        codec, data, w, h = rng.choice(self.corpus.files)
        if rng.random() < 0.2:
            w, h = rng.choice((w, 16384)), rng.choice((h, 16384))
        item = {"target": "image_file", "codec": codec, "data": file_edit(rng, codec, data), "size": [w, h]}
        return f"{codec} file {w}x{h}", item

    def make_bundle(self, rng):
        label, packets, container = rng.choice(self.corpus.fragment_sets)
        packets, recipe = mutate_fragments(rng, packets, self.corpus, container.image_id)
        data = b"".join(struct.pack(">H", len(p) & 0xFFFF) + p for p in packets)
        if rng.random() < 0.5:
            data = mutate_bytes(rng, data)
            recipe.append("raw")
        return f"bundle {label} {' '.join(recipe)}", {"target": "bundle", "data": data}

    def make_pdu(self, rng):
        values = (0, 1, -1, 16, 2 ** 31, 2 ** 62, 1.5, float("inf"), float("nan"), "12", "x", True,
                  None, [1, 2], 16384, 16385)
        meta = {}
        for key in ("width", "height", "format", "image_id", "crc_ok"):
            if rng.random() < 0.8:
                meta[key] = rng.choice(values + (("rgb8",) if key == "format" else ()))
        shape = rng.choice(("u8", "u8", "f32", "nil", "not a pair", "meta not dict", "s8"))
        n = rng.choice((0, 3, 12, 48, 768, rng.randrange(2000)))
        if rng.random() < 0.3:            # sizes that agree with the payload, other fields odd
            meta["width"], meta["height"] = rng.randrange(1, 20), rng.randrange(1, 20)
            n = meta["width"] * meta["height"] * 3 + rng.choice((0, 0, 0, 1, -1))
        return f"pdu {shape}", {"target": "pdu", "meta": meta, "shape": shape, "n": n,
                                "seed": rng.randrange(1 << 30)}

    def make_phy(self, rng):
        kind = rng.choice(("header_bits", "header_bits", "header_llr", "payload_llr"))
        return f"phy {kind}", {"target": "phy", "kind": kind, "seed": rng.randrange(1 << 30)}

    # ---- execution
    def run(self, item):
        return getattr(self, "run_" + item["target"])(item)

    def _check_decoded(self, result, expected):
        image = np.asarray(result.image)
        if expected is not None and image.shape != (expected[1], expected[0], 3):
            raise InvariantError(f"decoded image is {image.shape}, announced {expected[0]}x{expected[1]}")
        if image.dtype != np.uint8:
            raise InvariantError(f"decoded image dtype {image.dtype}")
        check_text(json.dumps(result.report, default=str, ensure_ascii=False), "decode report")
        if getattr(result, "prompt", None) is not None:
            check_text(result.prompt.to_text(), "prompt text")
        return "decoded"

    def run_container(self, item):
        from gnuradio.gensemcom.errors import CorruptDataError
        from gnuradio.gensemcom.semantic import inspect as seminspect
        from gnuradio.gensemcom.transport import reassembly as TR
        from gnuradio.gensemcom.transport.container import Container
        outcome = "rejected"
        for step in (lambda d: Container.from_bytes(d), TR.parse_tolerant, seminspect.describe_container):
            try:
                out = step(item["data"])
                outcome = "parsed"
                if isinstance(out, dict):
                    check_text(json.dumps(out, ensure_ascii=False), "prompt text")   # `inspect` prints it
            except CorruptDataError:
                pass
        return outcome

    def _over_cap(self, size):
        """True when the decoder has no ``max_pixels`` of its own and ``size`` is over the cap
        (then the harness refuses the input itself, as the decoder's caller would)."""
        return (not self._decode_kwargs and size is not None
                and int(size[0]) * int(size[1]) > self.max_pixels)

    def run_decode_bytes(self, item):
        from gnuradio.gensemcom.transport import reassembly as TR
        try:
            received = TR.parse_tolerant(item["data"])
        except Exception:
            received = None
        expected = received.header[:2] if received else None
        if self._over_cap(expected):
            return "over max_pixels"
        result = self.codec.decode(item["data"], strict=False, **self._decode_kwargs)
        return self._check_decoded(result, expected)

    def run_decode_frags(self, item):
        from gnuradio.gensemcom.transport.reassembly import reassemble
        received = reassemble(item["packets"])
        expected = received.header[:2] if received.header else item["size"]
        if self._over_cap(expected):
            return "over max_pixels"
        result = self.codec.decode(item["packets"], size=item["size"], **self._decode_kwargs)
        return self._check_decoded(result, expected)

    def run_baseline(self, item):
        from gnuradio.gensemcom.classical.wholeimage import WholeImageCodec
        from gnuradio.gensemcom.transport.reassembly import reassemble
        codec = WholeImageCodec(item["codec"])
        kwargs = {}
        import inspect
        if "max_pixels" in inspect.signature(codec.decode).parameters:
            kwargs["max_pixels"] = self.max_pixels
        if "packets" in item:
            received = reassemble(item["packets"])
            expected = received.header[:2] if received.header else item["size"]
            return self._check_decoded(codec.decode(received, size=item["size"], **kwargs), expected)
        from gnuradio.gensemcom.transport.container import Container
        width, height = Container.from_bytes(item["data"]).width, Container.from_bytes(item["data"]).height
        return self._check_decoded(codec.decode(item["data"], **kwargs), (width, height))

    def run_prompt(self, item):
        from gnuradio.gensemcom.semantic.prompt import StructuredPrompt
        prompt = StructuredPrompt.from_bytes(item["data"])
        check_text(prompt.to_text(), "prompt text")
        check_text(json.dumps(prompt.to_dict(), ensure_ascii=False), "prompt text")
        return "parsed"

    def run_mask(self, item):
        from gnuradio.gensemcom.semantic import maskcode
        w, h = item["size"]
        grid, cell_px = maskcode.decode_mask(item["data"], w, h)
        if grid.shape != maskcode.grid_shape(w, h, cell_px):
            raise InvariantError(f"mask grid {grid.shape} for {w}x{h} at {cell_px} px")
        return "parsed"

    def run_still(self, item):
        from gnuradio.gensemcom.classical import stillcodec
        w, h = item["size"]
        image = stillcodec.decode_still(item["data"], item["codec"], w, h)
        if image.shape != (h, w, 3):
            raise InvariantError(f"stream decoded to {image.shape}, expected {w}x{h}")
        return "decoded"

    def run_image_file(self, item):
        from gnuradio.gensemcom.classical.wholeimage import _decode_file
        w, h = item["size"]
        image = _decode_file(item["data"], w, h)
        if image.ndim != 3 or image.shape[0] > h or image.shape[1] > w:
            raise InvariantError(f"file decoded to {image.shape}, limit {w}x{h}")
        return "decoded"

    def run_bundle(self, item):
        from gnuradio.gensemcom.blocks.reassembler import unpack_bundle
        from gnuradio.gensemcom.transport.reassembly import reassemble
        reassemble(unpack_bundle(item["data"]))
        return "parsed"

    def run_pdu(self, item):
        import pmt

        from gnuradio.gensemcom.blocks.pdus import pdu_to_image
        from gnuradio.gensemcom.phy.pdus import split_pdu
        rng = np.random.default_rng(item["seed"])
        n = item["n"]
        meta = pmt.make_dict()
        for key, value in item["meta"].items():
            try:
                value_pmt = pmt.to_pmt(value)
            except Exception:
                continue              # a value the sender side cannot even express
            meta = pmt.dict_add(meta, pmt.intern(key), value_pmt)
        shape = item["shape"]
        if shape == "nil":
            msg = pmt.PMT_NIL
        elif shape == "not a pair":
            msg = pmt.init_u8vector(n, rng.integers(0, 256, n).tolist())
        elif shape == "f32":
            msg = pmt.cons(meta, pmt.init_f32vector(n, rng.random(n).tolist()))
        elif shape == "s8":
            msg = pmt.cons(meta, pmt.init_s8vector(n, rng.integers(-128, 128, n).tolist()))
        elif shape == "meta not dict":
            msg = pmt.cons(pmt.from_long(3), pmt.init_u8vector(n, rng.integers(0, 256, n).tolist()))
        else:
            msg = pmt.cons(meta, pmt.init_u8vector(n, rng.integers(0, 256, n).tolist()))
        split_pdu(msg)
        _, image = pdu_to_image(msg)
        if image.ndim != 3 or image.shape[2] != 3:
            raise InvariantError(f"image PDU gave shape {image.shape}")
        return "parsed"

    def run_phy(self, item):
        from gnuradio.gensemcom.phy import framing
        from gnuradio.gensemcom.phy.mcs import DEFAULT_NUMEROLOGY, MCS_BY_INDEX, frame_size
        rng = np.random.default_rng(item["seed"])
        nm = DEFAULT_NUMEROLOGY
        kind = item["kind"]
        if kind == "header_bits":
            if rng.random() < 0.5:       # random fields with a valid CRC-16 (what an attacker sends)
                word = int(rng.integers(0, 1 << 40, dtype=np.int64))
                info = word.to_bytes(5, "big")
                import binascii
                bits = framing.bytes_to_bits(info + binascii.crc_hqx(info, 0xFFFF).to_bytes(2, "big"))
            else:
                bits = rng.integers(0, 2, int(rng.choice((0, 8, 55, 56, 57, 200))), dtype=np.uint8)
            header = framing.parse_header_bits(bits)
        elif kind == "header_llr":
            n_slots = nm.header_symbols * nm.n_data_carriers
            llr = rng.normal(0, rng.choice((0.1, 3.0, 1e6)), n_slots)
            header = framing.decode_header_llr(llr)
        else:
            mcs = MCS_BY_INDEX[int(rng.choice(list(MCS_BY_INDEX)))]
            header = framing.Header(mcs.name, int(rng.integers(1, 300)), 0, 0)
            size = frame_size(header.payload_len, mcs, nm)
            llr = rng.normal(0, 4.0, size.data_symbols * mcs.bits_per_symbol)
            result = framing.decode_payload_llr(llr, header, nm)
            if len(result.payload) != header.payload_len:
                raise InvariantError(f"payload of {len(result.payload)} bytes for a "
                                     f"{header.payload_len}-byte header")
            return "decoded"
        if header is not None:
            # whatever parses must be usable by the receiver without raising
            frame_size(header.payload_len, header.mcs, nm)
            return "parsed"
        return "rejected"


# ------------------------------------------------------------------------- serialisation
def to_json(item):
    out = {}
    for key, value in item.items():
        if isinstance(value, bytes):
            out[key] = {"hex": value.hex()}
        elif key == "packets":
            out[key] = [p.hex() for p in value]
        else:
            out[key] = value
    return out


def from_json(obj):
    item = {}
    for key, value in obj.items():
        if isinstance(value, dict) and set(value) == {"hex"}:
            item[key] = bytes.fromhex(value["hex"])
        elif key == "packets":
            item[key] = [bytes.fromhex(p) for p in value]
        else:
            item[key] = value
    return item


# ------------------------------------------------------------------------------ watchdog
def current_rss_mib():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        return 0.0


def peak_rss_mib():
    """This process's own high-water mark. Not ru_maxrss: Linux carries that across exec, so a
    fuzzer started from a large parent (a long pytest run) would report the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Watchdog(threading.Thread):
    """Ends the run (saving the input) when one input runs too long or memory passes the bound."""

    def __init__(self, timeout_s, max_rss_mib, crash_dir, log):
        super().__init__(name="fuzz-watchdog", daemon=True)
        self.timeout_s, self.max_rss_mib, self.crash_dir, self.log = timeout_s, max_rss_mib, crash_dir, log
        self.current = None
        self.sampled_peak = 0.0

    def run(self):
        while True:
            time.sleep(0.05)
            current = self.current
            rss = current_rss_mib()
            self.sampled_peak = max(self.sampled_peak, rss)
            if current is None:
                continue
            index, started, desc, item = current
            if time.perf_counter() - started > self.timeout_s:
                self._abort(3, f"input {index} ({desc}) still running after {self.timeout_s} s", item)
            if rss > self.max_rss_mib:
                self._abort(4, f"input {index} ({desc}) took RSS to {rss:.0f} MiB > {self.max_rss_mib}", item)

    def _abort(self, code, message, item):
        path = save_input(self.crash_dir, f"{'hang' if code == 3 else 'memory'}", item)
        self.log(f"FAIL: {message}; input saved to {path}")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def save_input(folder, tag, item):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_json(item))
    path = folder / f"{tag}-{item['target']}-{zlib.crc32(text.encode()):08x}.json"
    path.write_text(text)
    return path


def _location(exc):
    """file:function of the innermost frame in the package (else the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if "gensemcom" in f.filename and "fuzz_receiver" not in f.filename]
    frame = (inside or frames or [None])[-1]
    if frame is None:
        return "?"
    return f"{Path(frame.filename).name}:{frame.name}"


# ---------------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=10000, help="inputs to run (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="mutation RNG seed (default 1)")
    parser.add_argument("--max-rss-mib", type=float, default=2048,
                        help="resident-memory bound of the whole process, MiB (default 2048)")
    parser.add_argument("--per-input-timeout-s", type=float, default=10.0,
                        help="time bound of one input, seconds (default 10)")
    parser.add_argument("--max-pixels", type=int, default=1 << 20,
                        help="the decoder's limit on the image size a container may claim (default 1 MP)")
    parser.add_argument("--images", default=",".join(DEFAULT_IMAGES),
                        help="scikit-image pictures the seeds are made from (comma-separated)")
    parser.add_argument("--sizes", default="96,192", help="long sides of the seed pictures, px")
    parser.add_argument("--targets", default=",".join(TARGET_WEIGHTS), help="targets to run")
    parser.add_argument("--crash-dir", default="fuzz-crashes", help="where failing inputs are saved")
    parser.add_argument("--replay", metavar="FILE", help="run one saved input and show its traceback")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--engine", choices=("mutate", "atheris"), default="mutate",
                        help="mutate: the structure-aware mutators above (default); atheris: "
                             "coverage-guided libFuzzer on the byte-level entry points, seeded with "
                             "the same corpus (pip install atheris)")
    args = parser.parse_args(argv)
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if args.engine == "atheris":
        import warnings
        warnings.simplefilter("ignore")
        return run_atheris(args, log)

    import warnings
    warnings.simplefilter("ignore")
    from gnuradio.gensemcom.errors import CorruptDataError

    if args.replay:
        item = from_json(json.loads(Path(args.replay).read_text()))
        harness = Harness(_ReplayCorpus(), args.max_pixels)
        t0 = time.perf_counter()
        try:
            print(harness.run(item))
        except CorruptDataError as exc:
            print(f"rejected: {exc}")
        print(f"{time.perf_counter() - t0:.3f} s, peak RSS {peak_rss_mib():.0f} MiB")
        return 0

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - set(TARGET_WEIGHTS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; choose from {', '.join(TARGET_WEIGHTS)}")
    corpus = Corpus([n for n in args.images.split(",") if n], tuple(int(s) for s in args.sizes.split(",")),
                    log=log)
    harness = Harness(corpus, args.max_pixels)
    baseline_rss = current_rss_mib()
    watchdog = Watchdog(args.per_input_timeout_s, args.max_rss_mib, args.crash_dir, log)
    watchdog.start()
    rng = random.Random(args.seed)
    weights = [TARGET_WEIGHTS[t] for t in targets]
    runs, outcomes, exceptions, known = Counter(), Counter(), {}, Counter()
    slowest = (0.0, None)
    times = {t: 0.0 for t in targets}
    t_start = time.perf_counter()
    for index in range(args.inputs):
        target = rng.choices(targets, weights)[0]
        try:
            desc, item = harness.targets[target](rng)
        except Exception as exc:     # the mutator itself failed: not a finding, but count it
            outcomes[f"{target}:mutator-error {type(exc).__name__}"] += 1
            if os.environ.get("FUZZ_DEBUG"):
                traceback.print_exc()
            continue
        runs[target] += 1
        started = time.perf_counter()
        watchdog.current = (index, started, desc, item)
        try:
            outcome = harness.run(item)
        except CorruptDataError:
            outcome = "rejected"
        except Exception as exc:   # noqa: BLE001 - every other exception is a finding
            key = finding_key(exc)
            if key in KNOWN_ISSUES:
                known[f"{key[0]} at {key[1]}"] += 1
                outcome = "known"
            else:
                outcome = "FAILED"
                entry = exceptions.setdefault(key, {"count": 0, "example": None, "message": str(exc)[:200],
                                                    "target": target, "input": desc})
                entry["count"] += 1
                if entry["example"] is None:
                    entry["example"] = str(save_input(args.crash_dir, "exception", item))
                    log(f"  NEW {key[0]} at {key[1]} ({target}: {desc}): {str(exc)[:160]}")
        elapsed = time.perf_counter() - started
        watchdog.current = None
        times[target] += elapsed
        outcomes[f"{target}:{outcome}"] += 1
        if elapsed > slowest[0]:
            slowest = (elapsed, f"{target}: {desc}")
        if not args.quiet and (index + 1) % 5000 == 0:
            log(f"  {index + 1} inputs, {len(exceptions)} unique exceptions, "
                f"peak RSS {peak_rss_mib():.0f} MiB, "
                f"{time.perf_counter() - t_start:.0f} s")
    total_s = time.perf_counter() - t_start
    summary = {
        "inputs": sum(runs.values()),
        "per_target": dict(sorted(runs.items())),
        "outcomes": dict(sorted(outcomes.items())),
        "seconds_per_target": {t: round(s, 1) for t, s in times.items()},
        "unique_exceptions": [{"type": k[0], "where": k[1], **v} for k, v in exceptions.items()],
        "known_issues": dict(known),
        "baseline_rss_mib": round(baseline_rss),
        "peak_rss_mib": round(max(peak_rss_mib(), watchdog.sampled_peak)),
        "max_rss_mib": args.max_rss_mib,
        "max_pixels": args.max_pixels,
        "per_input_timeout_s": args.per_input_timeout_s,
        "slowest_input_s": round(slowest[0], 3),
        "slowest_input": slowest[1],
        "elapsed_s": round(total_s, 1),
        "seed": args.seed,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"inputs run: {summary['inputs']} in {total_s:.0f} s ({summary['inputs'] / total_s:.0f}/s)")
        for target in targets:
            parts = {k.split(":")[1]: v for k, v in outcomes.items() if k.startswith(target + ":")}
            print(f"  {target:<13} {runs[target]:>7}  "
                  + ", ".join(f"{k} {v}" for k, v in sorted(parts.items()))
                  + f"  ({times[target]:.0f} s)")
        print(f"unique unexpected exceptions: {len(exceptions)}")
        for (name, where), v in exceptions.items():
            print(f"  {name} at {where}: {v['count']}x, e.g. {v['example']} ({v['message'][:100]})")
        for name, count in known.items():
            print(f"  known (xfail'd): {name}: {count}x")
        print(f"RSS: {summary['baseline_rss_mib']} MiB after setup, peak {summary['peak_rss_mib']} MiB "
              f"(bound {args.max_rss_mib:.0f} MiB); decoder max_pixels {args.max_pixels:,}")
        print(f"slowest input: {slowest[0]:.3f} s ({slowest[1]}); bound {args.per_input_timeout_s} s")
    return 1 if exceptions else 0


# --------------------------------------------------------------- coverage-guided (atheris)
ATHERIS_TARGETS = ("container_repaired", "container_raw", "prompt", "mask", "still", "image_file",
                   "bundle", "phy_header")
STILL_CODECS = ("avif", "webp", "jpeg")


def repair_crcs(data: bytes) -> bytes:
    """Recompute the header CRC and every section CRC along the framing as it now reads, so
    that coverage-guided mutations of lengths and payloads reach the section parsers."""
    from gnuradio.gensemcom.transport.container import HEADER_BYTES
    if len(data) < HEADER_BYTES:
        return data
    out = bytearray(data[:10] + struct.pack(">I", zlib.crc32(data[:10])))
    pos = HEADER_BYTES
    while pos < len(data):
        length, after, ok = 0, pos + 1, False
        for i in range(4):
            if after >= len(data):
                break
            byte = data[after]
            length |= (byte & 0x7F) << (7 * i)
            after += 1
            if not byte & 0x80:
                ok = True
                break
        end = after + length
        if not ok or end > len(data):
            out += data[pos:]
            break
        body = data[pos:end]
        out += body + struct.pack(">I", zlib.crc32(body))
        pos = end + 4
    return bytes(out)


def atheris_seeds(corpus):
    """(target index, bytes) seeds for the coverage-guided engine, from the real corpus."""
    seeds = []
    for _, data, _ in corpus.containers:
        seeds += [(0, data), (1, data)]
    for _, data, _, _ in corpus.baselines:
        seeds.append((0, data))
    seeds += [(2, p) for p in corpus.prompts]
    seeds += [(3, struct.pack(">HH", w, h) + m) for m, w, h in corpus.masks]
    for target, items in ((4, corpus.streams), (5, corpus.files)):
        seeds += [(target, bytes([STILL_CODECS.index(c)]) + struct.pack(">HH", w, h) + d)
                  for c, d, w, h in items]
    for _, packets, _ in corpus.fragment_sets[:6] + corpus.packet_sets[:6]:
        seeds.append((6, b"".join(struct.pack(">H", len(p)) + p for p in packets)))
    from gnuradio.gensemcom.phy import framing
    bits = framing.header_bits(framing.Header("qpsk-1/2", 100, 7, 0))
    seeds.append((7, framing.bits_to_bytes(bits)))
    return seeds


def run_atheris(args, log):
    """libFuzzer through atheris: coverage-guided mutation of the byte-level entry points, seeded
    with the real corpus. libFuzzer itself enforces -rss_limit_mb and -timeout (per input)."""
    import atheris
    with atheris.instrument_imports(include=["gnuradio.gensemcom"]):
        from gnuradio.gensemcom.blocks.reassembler import unpack_bundle
        from gnuradio.gensemcom.classical import stillcodec, wholeimage
        from gnuradio.gensemcom.errors import CorruptDataError
        from gnuradio.gensemcom.phy import framing
        from gnuradio.gensemcom.phy.mcs import DEFAULT_NUMEROLOGY, frame_size
        from gnuradio.gensemcom.semantic import codec as semcodec
        from gnuradio.gensemcom.semantic import maskcode
        from gnuradio.gensemcom.semantic.prompt import StructuredPrompt
        from gnuradio.gensemcom.transport import reassembly as TR
    corpus = Corpus([n for n in args.images.split(",") if n], tuple(int(s) for s in args.sizes.split(",")),
                    log=log)
    harness = Harness(corpus, args.max_pixels)
    seed_dir = Path(args.crash_dir) / "atheris-corpus"
    seed_dir.mkdir(parents=True, exist_ok=True)
    for target, data in atheris_seeds(corpus):
        blob = bytes([target]) + data
        (seed_dir / f"seed-{zlib.crc32(blob):08x}").write_bytes(blob)
    counts = Counter()

    def one_input(blob):
        if not blob:
            return
        target, data = ATHERIS_TARGETS[blob[0] % len(ATHERIS_TARGETS)], blob[1:]
        counts[target] += 1
        try:
            if target == "container_repaired":
                data = repair_crcs(data)
                harness.run_decode_bytes({"data": data})
                harness.run_baseline({"codec": "jpeg", "data": data})
            elif target == "container_raw":
                harness.run_container({"data": data})
            elif target == "prompt":
                harness.run_prompt({"data": data})
            elif target in ("mask", "still", "image_file") and len(data) >= 5:
                if target == "mask":
                    w, h = struct.unpack(">HH", data[:4])
                    harness.run_mask({"data": data[4:], "size": [w, h]})
                else:
                    w, h = struct.unpack(">HH", data[1:5])
                    codec = STILL_CODECS[data[0] % 3]
                    getattr(harness, "run_" + target)({"codec": codec, "data": data[5:], "size": [w, h]})
            elif target == "bundle":
                packets = unpack_bundle(data)
                TR.reassemble(packets)
                harness.run_decode_frags({"packets": packets, "size": [64, 48]})
            elif target == "phy_header":
                header = framing.parse_header_bits(framing.bytes_to_bits(data[:7]))
                if header is not None:
                    frame_size(header.payload_len, header.mcs, DEFAULT_NUMEROLOGY)
        except CorruptDataError:
            pass
        except InvariantError as exc:
            if finding_key(exc) not in KNOWN_ISSUES:
                raise

    del semcodec, maskcode, stillcodec, wholeimage, StructuredPrompt   # imported to instrument them
    argv = [sys.argv[0], str(seed_dir), f"-runs={args.inputs}", f"-rss_limit_mb={int(args.max_rss_mib)}",
            f"-timeout={max(1, int(args.per_input_timeout_s))}", f"-seed={args.seed}",
            f"-artifact_prefix={Path(args.crash_dir)}/", "-print_final_stats=1", "-max_len=65536"]
    log("libFuzzer: " + " ".join(argv[1:]))
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


class _ReplayCorpus:
    containers = baselines = files = prompts = masks = metas = streams = fragment_sets = packet_sets = []


if __name__ == "__main__":
    sys.exit(main())
