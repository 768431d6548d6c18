# SPDX-License-Identifier: GPL-3.0-or-later
"""The structured prompt schema: round trip, validation of untrusted bytes, text rendering."""
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnuradio.gensemcom.errors import CorruptDataError
from gnuradio.gensemcom.semantic.prompt import (PROMPT_FORMAT, ZDICT, LayoutCell, ObjectLabel, PaletteColour,
                                                StructuredPrompt)

rgb = st.tuples(*[st.integers(0, 255)] * 3)
unit = st.integers(0, 100).map(lambda v: v / 100)
words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)


@st.composite
def prompts(draw):
    cols, rows = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return StructuredPrompt(
        scene=draw(words), caption=draw(words),
        objects=[ObjectLabel(w, c) for w, c in draw(st.lists(st.tuples(words, unit), max_size=5))],
        attributes=draw(st.lists(words, max_size=4)),
        palette=[PaletteColour(c, s) for c, s in draw(st.lists(st.tuples(rgb, unit), max_size=6))],
        grid=(cols, rows),
        layout=[LayoutCell(draw(rgb), draw(st.integers(0, 255)), draw(st.integers(0, 2)),
                           draw(st.integers(0, 3)))
                for _ in range(cols * rows)])


@given(prompts())
@settings(max_examples=150, deadline=None)
def test_schema_round_trip(prompt):
    data = prompt.to_bytes()
    assert data[0] == PROMPT_FORMAT
    assert StructuredPrompt.from_bytes(data) == prompt


def test_typical_prompt_is_small_and_readable():
    prompt = StructuredPrompt(
        scene="outdoor scene", objects=[ObjectLabel("Egyptian cat", 0.78), ObjectLabel("tabby", 0.09)],
        attributes=["bright", "warm tones"],
        palette=[PaletteColour((120, 100, 80), 0.5), PaletteColour((30, 30, 40), 0.3)],
        grid=(4, 3), layout=[LayoutCell((100 + 5 * i, 90, 80 - i), 10 + i, i % 3, i % 4) for i in range(12)])
    assert len(prompt.to_bytes()) < 300
    text = prompt.to_text()
    assert "Egyptian cat" in text and "outdoor scene" in text
    readable = prompt.to_dict()
    assert readable["layout"][0]["colour"] == "#645a50" and readable["layout"][0]["name"]
    json.dumps(readable)


def test_neutral_prompt_is_tiny_and_grey():
    neutral = StructuredPrompt.neutral()
    assert len(neutral.to_bytes()) < 40
    assert neutral.mean_rgb() == (128.0, 128.0, 128.0)


def _pack(obj):
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=ZDICT)
    text = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return bytes([PROMPT_FORMAT]) + comp.compress(text) + comp.flush()


@pytest.mark.parametrize("bad", [
    b"", b"\x00abc", bytes([PROMPT_FORMAT]) + b"\xff\xfe garbage",
    _pack(b"not json"), _pack([1, 2]), _pack({"v": 2}), _pack({"v": 1, "s": 5}),
    _pack({"v": 1, "o": [["cat"]]}), _pack({"v": 1, "o": [["cat", 1.5]]}),
    _pack({"v": 1, "p": [["zzzzzz", 0.5]]}), _pack({"v": 1, "g": [2, 2], "l": [["000000", 0, 0, 0]]}),
    _pack({"v": 1, "g": [2, 1], "l": [["000000", 0, 9, 0], ["000000", 0, 0, 0]]}),
    _pack({"v": 1, "s": "x" * 1000}), _pack({"v": 1, "a": ["w"] * 100}),
    _pack(b" " * 100000),                            # a decompression bomb
    _pack(b"[" * 3000 + b"]" * 3000),                # deep nesting
])
def test_malformed_prompts_raise_corrupt_data(bad):
    with pytest.raises(CorruptDataError):
        StructuredPrompt.from_bytes(bad)


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_crash(blob):
    try:
        StructuredPrompt.from_bytes(bytes([PROMPT_FORMAT]) + blob)
    except CorruptDataError:
        pass


def test_sender_side_validation_rejects_out_of_range_fields():
    with pytest.raises(ValueError):
        StructuredPrompt(objects=[ObjectLabel("x" * 100, 0.5)]).to_bytes()
