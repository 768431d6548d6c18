# SPDX-License-Identifier: GPL-3.0-or-later
"""The offline default backends on real images (skimage.data), asserting properties of their output."""
import numpy as np
import pytest

from gnuradio.gensemcom.semantic import maskcode
from gnuradio.gensemcom.semantic.keyarea import select_key_grid
from gnuradio.gensemcom.semantic.interfaces import Significance
from gnuradio.gensemcom.semantic.offline.describer import OfflinePromptGenerator, cell_slices
from gnuradio.gensemcom.semantic.offline.generator import OfflineGenerator
from gnuradio.gensemcom.semantic.offline.segmenter import OfflineSegmenter
from gnuradio.gensemcom.semantic.prompt import LayoutCell, StructuredPrompt


@pytest.fixture(scope="module")
def chelsea():
    from skimage import data
    return data.chelsea()


@pytest.fixture(scope="module")
def segmenter():
    return OfflineSegmenter()


@pytest.fixture(scope="module")
def astronaut_significance(segmenter, astronaut):
    return segmenter.analyze(astronaut)


def key_mask(significance, fraction):
    height, width = significance.importance.shape
    cell = maskcode.cell_size_for(width, height)
    grid = select_key_grid(significance.importance, fraction, cell)
    return maskcode.grid_to_mask(grid, width, height, cell)


def test_segmenter_finds_the_astronauts_face_and_ranks_it_first(astronaut_significance):
    sig = astronaut_significance
    assert sig.importance.shape == (512, 512) and sig.importance.dtype == np.float32
    assert 0.0 <= sig.importance.min() and sig.importance.max() <= 1.0
    faces = [r for r in sig.regions if r.label == "face"]
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 150 < (x0 + x1) / 2 < 300 and 60 < (y0 + y1) / 2 < 180      # the face is there
    assert sig.regions[0].label == "face"
    assert any(r.label == "person" for r in sig.regions)


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.35])
def test_key_mask_fraction_is_near_the_target_and_covers_the_face(astronaut_significance, fraction):
    mask = key_mask(astronaut_significance, fraction)
    assert abs(mask.mean() - fraction) < 0.04
    face = next(r for r in astronaut_significance.regions if r.label == "face")
    x0, y0, x1, y1 = face.box
    assert mask[y0:y1, x0:x1].mean() > 0.7


def test_key_mask_is_a_few_compact_blobs(astronaut_significance):
    from scipy import ndimage
    mask = key_mask(astronaut_significance, 0.15)
    _, count = ndimage.label(mask)
    assert count <= 4


@pytest.mark.parametrize("name, expected", [("chelsea", {"cat", "tabby", "lynx"}),
                                            ("coffee", {"espresso", "cup", "mug"})])
def test_classifier_labels_are_plausible(name, expected, segmenter):
    from skimage import data
    image = getattr(data, name)()
    sig = segmenter.analyze(image)
    top = " ".join(label for label, _ in sig.labels[:3]).lower()
    assert any(word in top for word in expected), sig.labels
    assert sig.labels[0][1] > 0.2
    prompt = OfflinePromptGenerator().describe(image, key_mask(sig, 0.2), sig)
    assert any(word in prompt.to_text().lower() for word in expected)


def test_prompt_describes_the_non_key_area_measurably(chelsea, segmenter):
    sig = segmenter.analyze(chelsea)
    mask = key_mask(sig, 0.2)
    prompt = OfflinePromptGenerator().describe(chelsea, mask, sig)
    assert len(prompt.to_bytes()) < 300
    cols, rows = prompt.grid
    assert cols * rows == len(prompt.layout) >= 9 and cols > rows          # landscape image
    for cell, (ys, xs) in zip(prompt.layout, cell_slices(451, 300, cols, rows)):
        where = ~mask[ys, xs]
        pixels = chelsea[ys, xs][where if where.mean() >= 0.1 else np.ones_like(where)]
        assert np.abs(np.array(cell.rgb) - pixels.mean(axis=0)).max() <= 1.0
    assert sum(p.share for p in prompt.palette) > 0.8
    assert StructuredPrompt.from_bytes(prompt.to_bytes()) == prompt


def test_texture_statistics_separate_smooth_from_busy():
    rng = np.random.default_rng(0)
    image = np.full((240, 320, 3), 120, np.uint8)
    image[:, 160:] = np.clip(120 + rng.normal(0, 30, (240, 160, 3)), 0, 255).astype(np.uint8)
    empty = Significance(importance=np.zeros((240, 320), np.float32), labels=[("window shade", 0.5)])
    prompt = OfflinePromptGenerator().describe(image, np.zeros((240, 320), bool), empty)
    cols, _ = prompt.grid
    left, right = prompt.layout[0], prompt.layout[cols - 1]
    assert left.texture <= 2 and right.texture >= 15 and right.grain == 0


@pytest.fixture(scope="module")
def layout_prompt():
    colours = [(200, 60, 40), (40, 160, 60), (40, 60, 200), (220, 220, 220), (30, 30, 30), (180, 160, 40)]
    cells = [LayoutCell(c, 25, i % 3, i % 4) for i, c in enumerate(colours)]
    return StructuredPrompt(grid=(3, 2), layout=cells)


def test_generator_fills_with_texture_consistent_with_the_prompt_colours(layout_prompt):
    from gnuradio.gensemcom.semantic.hints import render_base
    height, width = 240, 360
    base = render_base(layout_prompt, None, width, height)
    canvas = np.clip(np.rint(base), 0, 255).astype(np.uint8)
    known = np.zeros((height, width), np.float32)
    out = OfflineGenerator().generate(layout_prompt, canvas, known, seed=3)
    assert out.shape == (height, width, 3) and out.dtype == np.uint8
    for cell, (ys, xs) in zip(layout_prompt.layout, cell_slices(width, height, 3, 2)):
        core = out[ys, xs][20:-20, 20:-20].reshape(-1, 3).astype(float)
        assert np.abs(core.mean(axis=0) - np.array(cell.rgb)).max() < 40        # cell colour kept
        assert core.std(axis=0).mean() > 4                                      # not a flat fill
    again = OfflineGenerator().generate(layout_prompt, canvas, known, seed=3)
    assert np.array_equal(out, again)


def test_generator_keeps_known_pixels_and_honours_a_flat_prompt(layout_prompt, astronaut):
    known = np.zeros(astronaut.shape[:2], np.float32)
    known[100:300, 100:300] = 1.0
    out = OfflineGenerator().generate(layout_prompt, astronaut, known, seed=0)
    assert np.array_equal(out[100:300, 100:300], astronaut[100:300, 100:300])
    flat = StructuredPrompt.neutral()
    grey = np.full((64, 64, 3), 128, np.uint8)
    assert np.array_equal(OfflineGenerator().generate(flat, grey, np.zeros((64, 64), np.float32)), grey)
