# SPDX-License-Identifier: GPL-3.0-or-later
"""The structured prompt: what the receiver knows about the non-key area, as text and numbers.

Schema (version 1). Every field is optional on the wire; a missing field takes its default.

  scene       short scene phrase, e.g. "outdoor scene, daylight" (a captioner may put a caption here)
  caption     free-text caption from an image-to-text model ("" for the offline stack)
  objects     ``ObjectLabel`` list, best first: what is in the picture (classifier/detector labels)
  attributes  global style words, e.g. "bright", "warm tones", "high contrast"
  palette     ``PaletteColour`` list: dominant colours with their share of the image
  grid        (cols, rows) of the coarse layout
  layout      ``LayoutCell`` per grid cell, row-major: mean colour and texture statistics

Wire format (``to_bytes``/``from_bytes``): one format byte (``PROMPT_FORMAT``), then raw
DEFLATE (no zlib header) of compact JSON with one-letter keys, compressed with a preset
dictionary (``ZDICT``) of the keys and common vocabulary. The format byte versions both the
JSON schema and the dictionary: changing either needs a new format byte. Decoding is bounded
(``MAX_JSON_BYTES``) and validates every field (``CorruptDataError`` otherwise), because the
bytes come off the air.

``to_text()`` renders a natural-language prompt for a text-to-image model; ``to_dict()`` is
the human-readable form that ``gensemcom inspect`` prints.
"""
from __future__ import annotations

import json
import unicodedata
import zlib
from dataclasses import dataclass, field

from ..errors import CorruptDataError

SCHEMA_VERSION = 1
PROMPT_FORMAT = 0x51            # first byte of a serialised prompt: schema 1 + ZDICT 1
MAX_JSON_BYTES = 4096           # a decoded prompt never exceeds this (decompression bound)
MAX_TEXT_CHARS = 240            # scene, caption
MAX_LABEL_CHARS = 48            # one object label / attribute word
MAX_ITEMS = 16                  # objects, attributes, palette entries
MAX_GRID_SIDE = 16              # layout grid: at most 16 x 16 cells
TEXTURE_GRAINS = ("fine", "medium", "coarse")
TEXTURE_ORIENTATIONS = ("none", "horizontal", "vertical", "diagonal")
# Preset DEFLATE dictionary: the JSON skeleton and frequent words. Versioned by PROMPT_FORMAT.
ZDICT = (
    b'"fine" "medium" "coarse" "horizontal" "vertical" "diagonal" photo of a '
    b'indoor scene outdoor scene nature landscape sky water grass tree building street '
    b'person face animal dog cat bird food car daylight night dark bright low contrast '
    b'high contrast warm tones cool tones muted colours vivid colours saturated '
    b'{"v":1,"s":"","c":"","o":[["",0.'
    b'],"a":["'
    b'"],"p":[["'
    b'",0.'
    b'"g":[4,3],"l":[["'
    b'",0,0,0],["'
)


@dataclass
class ObjectLabel:
    """An object in the picture: ``label`` text, ``confidence`` in [0, 1]."""

    label: str
    confidence: float = 1.0


@dataclass
class PaletteColour:
    """A dominant colour: ``rgb`` (0–255 each) and its ``share`` of the pixels in [0, 1]."""

    rgb: tuple
    share: float


@dataclass
class LayoutCell:
    """One cell of the coarse layout grid.

    rgb          mean colour of the cell, (r, g, b) 0–255
    texture      texture amplitude: std of the luminance detail, in grey levels (0–255)
    grain        index into ``TEXTURE_GRAINS``: dominant scale of the detail
    orientation  index into ``TEXTURE_ORIENTATIONS``: dominant edge direction
    """

    rgb: tuple
    texture: int = 0
    grain: int = 0
    orientation: int = 0


@dataclass
class StructuredPrompt:
    """Description of the non-key area (schema above). Build with the fields, or ``neutral()``."""

    scene: str = ""
    caption: str = ""
    objects: list = field(default_factory=list)
    attributes: list = field(default_factory=list)
    palette: list = field(default_factory=list)
    grid: tuple = (0, 0)
    layout: list = field(default_factory=list)
    version: int = SCHEMA_VERSION

    @classmethod
    def neutral(cls):
        """The prompt a decoder uses when none arrived: mid-grey, smooth, nothing named."""
        return cls(scene="", grid=(1, 1), layout=[LayoutCell((128, 128, 128), 0, 0, 0)])

    # ---- layout helpers ------------------------------------------------------------------
    def layout_rgb(self):
        """The layout colours as a (rows, cols, 3) float array, or None without a layout."""
        import numpy as np
        cols, rows = self.grid
        if not self.layout or cols * rows != len(self.layout):
            return None
        return np.array([c.rgb for c in self.layout], dtype=np.float32).reshape(rows, cols, 3)

    def mean_rgb(self):
        """Best available mean colour: layout mean, else palette mean, else mid-grey."""
        if self.layout:
            n = len(self.layout)
            return tuple(sum(c.rgb[i] for c in self.layout) / n for i in range(3))
        if self.palette:
            total = sum(p.share for p in self.palette) or 1.0
            return tuple(sum(p.rgb[i] * p.share for p in self.palette) / total for i in range(3))
        return (128.0, 128.0, 128.0)

    # ---- human-readable forms ------------------------------------------------------------
    def to_dict(self) -> dict:
        """Readable dict (colours as #rrggbb with a name), as ``inspect`` prints it."""
        return {
            "version": self.version,
            "scene": self.scene,
            "caption": self.caption,
            "objects": [{"label": o.label, "confidence": round(o.confidence, 2)} for o in self.objects],
            "attributes": list(self.attributes),
            "palette": [{"colour": _hex(p.rgb), "name": colour_name(p.rgb), "share": round(p.share, 2)}
                        for p in self.palette],
            "grid": list(self.grid),
            "layout": [{"colour": _hex(c.rgb), "name": colour_name(c.rgb), "texture": c.texture,
                        "grain": TEXTURE_GRAINS[c.grain], "orientation": TEXTURE_ORIENTATIONS[c.orientation]}
                       for c in self.layout],
        }

    def to_text(self) -> str:
        """Natural-language prompt for a text-to-image / inpainting model."""
        parts = []
        if self.caption:
            parts.append(self.caption)
        if self.objects:
            names = [o.label for o in self.objects[:3]]
            parts.append("a photo of " + _join(names))
        elif not self.caption:
            parts.append("a photo")
        if self.scene:
            parts.append(self.scene)
        if self.attributes:
            parts.append(", ".join(self.attributes))
        if self.palette:
            names = []
            for p in self.palette:
                name = colour_name(p.rgb)
                if name not in names:
                    names.append(name)
            parts.append("dominant colours " + _join(names[:4]))
        parts.extend(self._layout_phrases())
        return ", ".join(p for p in parts if p)

    def _layout_phrases(self):
        cols, rows = self.grid
        if not self.layout or cols * rows != len(self.layout):
            return []
        phrases = []
        bands = {"top": range(0, (rows + 2) // 3), "bottom": range(rows - (rows + 2) // 3, rows)}
        for where, band in bands.items():
            if rows < 2:
                break
            cells = [self.layout[r * cols + c] for r in band for c in range(cols)]
            rgb = tuple(sum(cell.rgb[i] for cell in cells) / len(cells) for i in range(3))
            texture = sum(cell.texture for cell in cells) / len(cells)
            grain = max(range(3), key=lambda g: sum(cell.grain == g for cell in cells))
            feel = "smooth" if texture < 6 else f"{TEXTURE_GRAINS[grain]} textured"
            phrases.append(f"{colour_name(rgb)} {feel} {where}")
        return phrases

    # ---- wire format ---------------------------------------------------------------------
    def to_json_obj(self) -> dict:
        """Compact JSON object with one-letter keys (the wire schema); empty fields left out."""
        obj = {"v": self.version}
        if self.scene:
            obj["s"] = self.scene
        if self.caption:
            obj["c"] = self.caption
        if self.objects:
            obj["o"] = [[o.label, round(float(o.confidence), 2)] for o in self.objects]
        if self.attributes:
            obj["a"] = list(self.attributes)
        if self.palette:
            obj["p"] = [[_hex(p.rgb)[1:], round(float(p.share), 2)] for p in self.palette]
        if self.layout:
            obj["g"] = [int(self.grid[0]), int(self.grid[1])]
            obj["l"] = [[_hex(c.rgb)[1:], int(c.texture), int(c.grain), int(c.orientation)]
                        for c in self.layout]
        return obj

    def to_bytes(self) -> bytes:
        """Serialise: format byte + raw DEFLATE (preset dictionary) of the compact JSON."""
        self.validate()
        text = json.dumps(self.to_json_obj(), separators=(",", ":"), ensure_ascii=False)
        comp = zlib.compressobj(level=9, wbits=-15, memLevel=9, zdict=ZDICT)
        return bytes([PROMPT_FORMAT]) + comp.compress(text.encode("utf-8")) + comp.flush()

    @classmethod
    def from_bytes(cls, data: bytes) -> "StructuredPrompt":
        """Parse ``to_bytes`` output; raises ``CorruptDataError`` on anything malformed."""
        data = bytes(data)
        if not data:
            raise CorruptDataError("prompt section is empty")
        if data[0] != PROMPT_FORMAT:
            raise CorruptDataError(f"unknown prompt format 0x{data[0]:02x} (this decoder reads "
                                   f"0x{PROMPT_FORMAT:02x})")
        decomp = zlib.decompressobj(wbits=-15, zdict=ZDICT)
        try:
            text = decomp.decompress(data[1:], MAX_JSON_BYTES + 1)
        except zlib.error as exc:
            raise CorruptDataError(f"prompt does not decompress: {exc}") from None
        if len(text) > MAX_JSON_BYTES or decomp.unconsumed_tail:
            raise CorruptDataError(f"prompt decompresses to more than {MAX_JSON_BYTES} bytes")
        try:
            obj = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CorruptDataError(f"prompt is not valid JSON: {exc}") from None
        return cls.from_json_obj(obj)

    @classmethod
    def from_json_obj(cls, obj) -> "StructuredPrompt":
        """Build from the compact JSON object, validating every field."""
        if not isinstance(obj, dict):
            raise CorruptDataError("prompt JSON is not an object")
        version = obj.get("v")
        if version != SCHEMA_VERSION:
            raise CorruptDataError(f"unsupported prompt schema version {version!r}")
        prompt = cls(
            scene=_text(obj.get("s", ""), "scene", MAX_TEXT_CHARS),
            caption=_text(obj.get("c", ""), "caption", MAX_TEXT_CHARS),
            objects=[ObjectLabel(_text(item[0], "object label", MAX_LABEL_CHARS), _unit(item[1]))
                     for item in _pairs(obj.get("o", []), "objects")],
            attributes=[_text(a, "attribute", MAX_LABEL_CHARS)
                        for a in _list(obj.get("a", []), "attributes")],
            palette=[PaletteColour(_rgb(item[0]), _unit(item[1]))
                     for item in _pairs(obj.get("p", []), "palette")],
        )
        if "l" in obj:
            grid = _list(obj.get("g"), "grid", MAX_ITEMS)
            if len(grid) != 2 or not all(_is_int(g) and 1 <= g <= MAX_GRID_SIDE for g in grid):
                raise CorruptDataError(f"prompt layout grid invalid: {grid!r}")
            cells = _list(obj["l"], "layout", MAX_GRID_SIDE ** 2)
            if len(cells) != grid[0] * grid[1]:
                raise CorruptDataError(f"prompt layout has {len(cells)} cells for a {grid[0]}x{grid[1]} grid")
            layout = []
            for cell in cells:
                if not isinstance(cell, list) or len(cell) != 4:
                    raise CorruptDataError("prompt layout cell is not [colour, texture, grain, orientation]")
                texture, grain, orient = cell[1:]
                if not (_is_int(texture) and 0 <= texture <= 255 and _is_int(grain) and 0 <= grain < 3
                        and _is_int(orient) and 0 <= orient < len(TEXTURE_ORIENTATIONS)):
                    raise CorruptDataError(f"prompt layout cell out of range: {cell!r}")
                layout.append(LayoutCell(_rgb(cell[0]), texture, grain, orient))
            prompt.grid = (grid[0], grid[1])
            prompt.layout = layout
        return prompt

    def validate(self):
        """Raise ``ValueError`` if a field is out of the schema's range (sender side)."""
        try:
            StructuredPrompt.from_json_obj(json.loads(json.dumps(self.to_json_obj())))
        except CorruptDataError as exc:
            raise ValueError(f"prompt does not fit schema {SCHEMA_VERSION}: {exc}") from None


# ---- validation helpers (receiver side) ------------------------------------------------------
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _list(value, what, limit=MAX_ITEMS):
    if not isinstance(value, list):
        raise CorruptDataError(f"prompt {what} is not a list")
    if len(value) > limit:
        raise CorruptDataError(f"prompt {what} has {len(value)} entries (at most {limit})")
    return value


def _pairs(value, what):
    items = _list(value, what)
    for item in items:
        if not isinstance(item, list) or len(item) != 2:
            raise CorruptDataError(f"prompt {what} entry is not a pair: {item!r}")
    return items


def _text(value, what, limit):
    if not isinstance(value, str):
        raise CorruptDataError(f"prompt {what} is not text")
    if len(value) > limit:
        raise CorruptDataError(f"prompt {what} longer than {limit} characters")
    # control characters (ESC sequences would reach the terminal through `inspect`) and lone
    # surrogates (print(), pmt.to_pmt and tokenizers raise on them) are never sent
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise CorruptDataError(f"prompt {what} holds control characters or lone surrogates")
    return value


def _unit(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise CorruptDataError(f"prompt value {value!r} is not a number in [0, 1]")
    return float(value)


def _rgb(value):
    if not isinstance(value, str) or len(value) != 6:
        raise CorruptDataError(f"prompt colour {value!r} is not rrggbb hex")
    try:
        return tuple(bytes.fromhex(value))
    except ValueError:
        raise CorruptDataError(f"prompt colour {value!r} is not rrggbb hex") from None


def _hex(rgb):
    return "#" + "".join(f"{max(0, min(255, int(round(c)))):02x}" for c in rgb)


def _join(words):
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


# ---- colour names (for text and inspection) ---------------------------------------------------
COLOUR_NAMES = {
    "black": (0, 0, 0), "dark grey": (64, 64, 64), "grey": (128, 128, 128),
    "light grey": (192, 192, 192), "white": (250, 250, 250), "red": (200, 30, 30),
    "dark red": (110, 20, 20), "orange": (235, 130, 30), "brown": (120, 75, 40),
    "dark brown": (70, 45, 25), "tan": (200, 170, 120), "beige": (225, 210, 180),
    "yellow": (235, 215, 40), "olive": (120, 120, 50), "green": (50, 150, 50),
    "dark green": (30, 70, 30), "light green": (150, 210, 130), "teal": (30, 130, 130),
    "cyan": (60, 200, 220), "sky blue": (135, 190, 235), "blue": (40, 80, 200),
    "navy": (20, 30, 90), "purple": (120, 50, 150), "pink": (235, 160, 180),
    "magenta": (200, 50, 150),
}


def colour_name(rgb) -> str:
    """Nearest name in ``COLOUR_NAMES`` (Euclidean distance in a rough perceptual RGB weighting)."""
    r, g, b = (float(c) for c in rgb)

    def dist(ref):
        dr, dg, db = r - ref[0], g - ref[1], b - ref[2]
        return 2 * dr * dr + 4 * dg * dg + 3 * db * db

    return min(COLOUR_NAMES, key=lambda name: dist(COLOUR_NAMES[name]))
