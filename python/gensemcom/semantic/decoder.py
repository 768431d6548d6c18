# SPDX-License-Identifier: GPL-3.0-or-later
"""The semantic decoder: whatever sections arrived → an image, and a report of what was regenerated.

``decode_received`` builds the base (hints, else the prompt's layout, else mid-grey), adds the
decoded key residual where key bands arrived, lets the generator fill the rest and fuses the
two with the feathered key weight. Lost key bands, hints, mask, metadata or prompt degrade to
what the rest allows.
"""
from __future__ import annotations

import numpy as np

from ..classical import stillcodec
from ..constants import MAX_DECODE_PIXELS, MAX_IMAGE_SIDE_PX
from ..errors import CorruptDataError
from ..imagecodec import DecodeResult
from ..imageops import feather_weight, resize, to_uint8
from ..transport.container import Section, SectionType
from ..transport.reassembly import Received
from . import maskcode
from .hints import render_base
from .keyarea import infer_mask
from .meta import Meta
from .prompt import StructuredPrompt


def decode_received(codec, received: Received, size, seed, max_pixels=MAX_DECODE_PIXELS) -> DecodeResult:
    """Decode what arrived with ``codec``'s generator (see module docstring); ``size`` is used
    when the header was lost, ``seed`` seeds the generator."""
    report = {"received": [], "lost": [], "regenerated": [], "notes": []}
    if received.header is not None:
        width, height, _ = received.header
    elif size is not None:
        width, height = (int(v) for v in size)
        report["notes"].append("container header lost: using the size given by the caller")
    else:
        raise CorruptDataError("container header lost and no image size given: cannot decode")
    if not (1 <= width <= MAX_IMAGE_SIDE_PX and 1 <= height <= MAX_IMAGE_SIDE_PX) or width * height > max_pixels:
        raise CorruptDataError(f"image size {width}x{height} out of range (at most {max_pixels:,} pixels)")
    for index in sorted(received.sections):
        s = received.sections[index]
        report["received"].append({"index": index, "type": s.type_name, "bytes": len(s.payload)})
    for index, code in sorted(received.missing.items()):
        name = Section(code & 0x1F, b"", code >> 5).type_name if code is not None else "unknown"
        report["lost"].append({"index": index, "type": name})

    def first(kind):
        found = received.find(kind)
        return found[0] if found else None

    prompt = None
    section = first(SectionType.PROMPT)
    if section is not None:
        try:
            prompt = StructuredPrompt.from_bytes(section.payload)
        except CorruptDataError as exc:
            report["notes"].append(f"prompt unreadable ({exc})")
    if prompt is None:
        prompt = StructuredPrompt.neutral()
        report["regenerated"].append("prompt: neutral prompt used")

    meta = None
    section = first(SectionType.META)
    if section is not None:
        try:
            meta = Meta.from_bytes(section.payload, width, height)
        except CorruptDataError as exc:
            report["notes"].append(f"metadata unreadable ({exc})")

    thumbnail = None
    if meta is not None and meta.hints:
        section = first(SectionType.HINTS)
        if section is not None:
            try:
                thumbnail = stillcodec.decode_still(section.payload, "avif", *meta.thumb_size)
            except CorruptDataError as exc:
                report["notes"].append(f"hints unreadable ({exc})")
        if thumbnail is None:
            report["regenerated"].append("hints lost: base from the prompt layout")
    base = render_base(prompt, thumbnail, width, height)

    mask = np.zeros((height, width), bool)
    mask_known = False
    section = first(SectionType.MASK)
    if section is not None:
        try:
            grid, cell_px = maskcode.decode_mask(section.payload, width, height)
            mask = maskcode.grid_to_mask(grid, width, height, cell_px)
            mask_known = True
        except CorruptDataError as exc:
            report["notes"].append(f"mask unreadable ({exc})")

    canvas = base.copy()
    weight = np.zeros((height, width), np.float32)
    key_sections = received.find(SectionType.KEY)
    if meta is not None and meta.key:
        sw, sh = meta.stream_size
        bands = meta.bands()
        small = np.full((sh, sw, 3), 128, np.uint8)
        band_ok = np.zeros(sh, bool)
        # Key bands are matched to KEY sections by order among the sections that arrived:
        # the section index tells which band a section is.
        key_indices = _key_section_indices(received, len(bands))
        for band, ((r0, r1), index) in enumerate(zip(bands, key_indices)):
            section = received.sections.get(index) if index is not None else None
            if section is None or section.type != SectionType.KEY:
                report["regenerated"].append(
                    f"key band {band + 1}/{len(bands)} lost: regenerated from the prompt")
                continue
            try:
                small[r0:r1] = stillcodec.decode_still(section.payload, meta.codec, sw, r1 - r0)
                band_ok[r0:r1] = True
            except CorruptDataError as exc:
                report["regenerated"].append(f"key band {band + 1}/{len(bands)} undecodable ({exc})")
        if band_ok.any():
            residual = resize(small.astype(np.float32) - 128.0, width, height)
            canvas = base + residual
            if not mask_known:
                energy = np.abs(residual).max(axis=2)
                mask = infer_mask(energy)
                report["regenerated"].append("mask lost: key area inferred from the key stream")
            rows_ok = band_ok[np.minimum(sh - 1, (np.arange(height) * sh) // height)]
            feather = meta.feather_px
            weight = feather_weight(mask & rows_ok[:, None], feather)
    elif meta is None and key_sections:
        report["regenerated"].append("metadata lost: key streams cannot be decoded, whole image regenerated")
    elif meta is None:
        report["regenerated"].append("metadata lost: whole image regenerated from the prompt")
    if weight.max() == 0 and (meta is None or meta.key):
        if not any("key band" in r for r in report["regenerated"]) and meta is not None:
            report["regenerated"].append("key streams lost: whole image regenerated from the prompt")

    canvas_u8 = to_uint8(canvas)
    seed = received.image_id if seed is None else seed
    generator = codec.generator
    if getattr(generator, "uses_hints", False):
        generated = generator.generate(prompt, canvas_u8, weight, seed=seed, thumbnail=thumbnail)
    else:
        generated = generator.generate(prompt, canvas_u8, weight, seed=seed)
    generated = np.asarray(generated)
    if generated.shape != (height, width, 3):
        generated = resize(to_uint8(generated), width, height)
    w = weight[..., None]
    fused = to_uint8(w * canvas + (1.0 - w) * generated.astype(np.float32))
    report["key_fraction"] = round(float((weight >= 1.0).mean()), 4)
    report["generator"] = getattr(generator, "name", type(generator).__name__)
    return DecodeResult(fused, weight >= 1.0, prompt, report)


def _key_section_indices(received: Received, n_bands: int):
    """Section index of each key band: KEY sections are the last ``n_bands`` of the container."""
    if received.header is not None:
        total = received.header[2]
        return list(range(total - n_bands + 1, total + 1))
    indices = [i for i in sorted(received.sections) if received.sections[i].type == SectionType.KEY]
    return (indices + [None] * n_bands)[:n_bands]
