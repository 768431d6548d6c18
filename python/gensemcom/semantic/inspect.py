# SPDX-License-Identifier: GPL-3.0-or-later
"""What ``gensemcom inspect`` shows of a container, and the byte split per role."""
from __future__ import annotations

from ..transport.container import HEADER_BYTES, Container, SectionType, section_wire_bytes
from . import maskcode
from .meta import Meta
from .prompt import StructuredPrompt


def split_bytes(container: Container) -> dict:
    """Bytes per role: key, prompt, mask, hints, metadata, and framing (headers and CRCs)."""
    split = {"key": 0, "prompt": 0, "mask": 0, "hints": 0, "metadata": 0}
    names = {SectionType.KEY: "key", SectionType.PROMPT: "prompt", SectionType.MASK: "mask",
             SectionType.HINTS: "hints", SectionType.META: "metadata"}
    framing = HEADER_BYTES
    for s in container.sections:
        split[names.get(s.type, "metadata")] += len(s.payload)
        framing += section_wire_bytes(len(s.payload)) - len(s.payload)
    split["framing"] = framing
    return split


def describe_container(data: bytes) -> dict:
    """What ``gensemcom inspect`` shows: header, sections, metadata, mask share and the prompt."""
    container = Container.from_bytes(data)
    width, height = container.width, container.height
    out = {"format_version": 1, "image_id": container.image_id, "image_size": [width, height],
           "container_bytes": len(data),
           "sections": [{"index": i + 1, "type": s.type_name, "importance": int(s.importance),
                         "payload_bytes": len(s.payload), "bytes": section_wire_bytes(len(s.payload))}
                        for i, s in enumerate(container.sections)],
           "split_bytes": split_bytes(container)}
    for section in container.find(SectionType.META)[:1]:
        meta = Meta.from_bytes(section.payload, width, height)
        out["metadata"] = {"key_codec": meta.codec, "key_stream": meta.key,
                           "key_stream_size": list(meta.stream_size) if meta.key else None,
                           "key_quality": meta.quality if meta.key else None,
                           "key_bands": len(meta.bands()) if meta.key else 0,
                           "feather_px": meta.feather_px,
                           "hints_thumbnail": list(meta.thumb_size) if meta.hints else None}
    for section in container.find(SectionType.MASK)[:1]:
        grid, cell_px = maskcode.decode_mask(section.payload, width, height)
        fraction = float(maskcode.grid_to_mask(grid, width, height, cell_px).mean())
        out["key_mask"] = {"cell_px": cell_px, "grid": [grid.shape[1], grid.shape[0]],
                           "key_fraction": round(fraction, 4)}
    for section in container.find(SectionType.PROMPT)[:1]:
        prompt = StructuredPrompt.from_bytes(section.payload)
        out["prompt"] = prompt.to_dict()
        out["prompt_text"] = prompt.to_text()
    return out
