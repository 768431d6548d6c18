# SPDX-License-Identifier: GPL-3.0-or-later
"""Large-model backends on tiny random models of the real classes (CLIPSeg, SegFormer, BLIP,
Stable Diffusion inpainting), loaded through the cards' code path: built in HF format
(safetensors) into a folder, then read back with from_pretrained(local_files_only=True).
Tiny models prove plumbing and output properties, not quality."""
import json

import numpy as np
import pytest

from gnuradio.gensemcom import models
from gnuradio.gensemcom.models.weights import cache_dir_env
from gnuradio.gensemcom.semantic.interfaces import Significance
from gnuradio.gensemcom.semantic.prompt import StructuredPrompt


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory):
    """Tiny models are built once per session into the session's temporary folder."""
    with cache_dir_env(tmp_path_factory.getbasetemp() / "gensemcom-cache") as folder:
        yield folder


@pytest.fixture(scope="module")
def image():
    from PIL import Image
    from skimage import data
    return np.asarray(Image.fromarray(data.astronaut()).resize((96, 80), Image.BICUBIC))  # (80, 96, 3)


@pytest.fixture(scope="module")
def tiny_stack():
    return models.load_stack("tiny")


def test_tiny_models_are_saved_in_hf_format_and_loaded_offline(tiny_cache):
    from gnuradio.gensemcom.models.weights import resolve_weights
    folder = resolve_weights(models.load_card("tiny-sd-inpaint"))
    assert folder.parent == tiny_cache / "tiny"
    index = json.loads((folder / "model_index.json").read_text())
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert json.loads((folder / "unet" / "config.json").read_text())["in_channels"] == 9
    assert list((folder / "unet").glob("*.safetensors")) and not list(folder.rglob("*.bin"))
    blip = resolve_weights(models.load_card("tiny-blip"))
    assert (blip / "model.safetensors").is_file() and (blip / "tokenizer.json").is_file()


@pytest.mark.parametrize("card", ["tiny-clipseg", "tiny-segformer"])
def test_segmenters(card, image):
    segmenter = models.load_backend(card)
    significance = segmenter.analyze(image)
    assert significance.importance.shape == image.shape[:2]
    assert significance.importance.dtype == np.float32
    assert 0.0 <= significance.importance.min() <= significance.importance.max() <= 1.0
    keys = models.load_card(card).option("key_classes")
    assert sorted(label for label, _ in significance.labels) == sorted(keys)
    for region in significance.regions:
        x0, y0, x1, y1 = region.box
        assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]
        assert region.label in keys and 0 <= region.score <= 1 and region.source == "model"
    assert [r.score for r in significance.regions] == sorted((r.score for r in significance.regions),
                                                             reverse=True)
    mask = significance.key_mask(0.25)
    assert 0.2 <= mask.mean() <= 0.5


def test_prompt_generator_fills_the_schema(tiny_stack, image):
    generator = tiny_stack.prompt_generator
    mask = np.zeros(image.shape[:2], bool)
    mask[:40, :48] = True  # key area: top left quarter -> three crops left to describe
    prompt = generator.describe(image, mask, Significance(importance=mask.astype(np.float32)))
    assert isinstance(prompt, StructuredPrompt)
    assert isinstance(prompt.caption, str)
    described = [o for o in prompt.objects if " at the " in o.label]
    assert len(described) <= 3 and all(" top left" not in o.label for o in described)
    again = StructuredPrompt.from_bytes(prompt.to_bytes())
    assert again.caption == prompt.caption
    assert [o.label for o in again.objects] == [o.label for o in prompt.objects]
    assert generator.regions(np.ones_like(mask)) == []  # all key: nothing to describe


def test_inpaint_generator_keeps_known_pixels_and_size(tiny_stack, image):
    generator = tiny_stack.generator
    canvas = image[:50, :70].copy()  # odd size: runs at a multiple of 16 px, resized back
    known = np.zeros(canvas.shape[:2], np.float32)
    known[10:30, 20:50] = 1.0
    prompt = StructuredPrompt(caption="a person in front of a flag")
    out = generator.generate(prompt, canvas, known, seed=3)
    assert out.shape == canvas.shape and out.dtype == np.uint8
    assert np.array_equal(out[known == 1], canvas[known == 1])
    assert np.array_equal(out, generator.generate(prompt, canvas, known, seed=3))  # reproducible
    assert not np.array_equal(out, generator.generate(prompt, canvas, known, seed=4))
    assert generator.pipe.unet.config.in_channels == 9


def test_encode_decode_through_every_large_backend(tiny_stack, image):
    """Sender: segmenter -> key mask -> prompt -> bytes; receiver: bytes -> prompt -> fill."""
    significance = tiny_stack.segmenter.analyze(image)
    mask = significance.key_mask(0.3)
    wire = tiny_stack.prompt_generator.describe(image, mask, significance).to_bytes()
    assert len(wire) < 600
    received = StructuredPrompt.from_bytes(wire)
    canvas = np.where(mask[..., None], image, np.uint8(128))
    out = tiny_stack.generator.generate(received, canvas, mask.astype(np.float32), seed=0)
    assert out.shape == image.shape and np.array_equal(out[mask], image[mask])
    assert tiny_stack.describe() == {"stack": "tiny", "segmenter": "tiny-clipseg",
                                     "prompt_generator": "tiny-blip",
                                     "generator": "tiny-sd-inpaint",
                                     "quant": dict.fromkeys(models.ROLES, "none")}


def test_scheduler_and_options_from_the_card(tmp_path, image):
    card = tmp_path / "tiny-euler.yaml"
    card.write_text("backend: diffusers-inpaint\ncheckpoint: {builder: sd-inpaint}\n"
                    "options: {scheduler: euler-a, steps: 2, resolution_px: 32, guidance: 1.0}\n")
    generator = models.load_backend(str(card))
    assert type(generator.pipe.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    out = generator.generate("a sky", image, np.zeros(image.shape[:2], np.float32), seed=1)
    assert out.shape == image.shape


def test_semantic_codec_with_the_tiny_large_stack():
    """The codec with ``--models tiny``: encode within the budget, decode to the input's size,
    the large backends doing analysis, prompt and fill."""
    from PIL import Image
    from skimage import data

    from gnuradio.gensemcom.semantic import SemanticCodec
    image = np.asarray(Image.fromarray(data.astronaut()).resize((128, 96), Image.BICUBIC))
    stack = models.load_stack("tiny")
    encoded = SemanticCodec(stack=stack).encode(image, 1536)
    assert len(encoded.data) <= 1536 and isinstance(encoded.prompt, StructuredPrompt)
    assert stack.loaded == {"segmenter", "prompt_generator"}  # the encoder loads no generator
    receiver = models.load_stack("tiny")
    decoded = SemanticCodec(stack=receiver).decode(encoded.data)
    assert decoded.image.shape == image.shape and decoded.image.dtype == np.uint8
    assert receiver.loaded == {"generator"}
