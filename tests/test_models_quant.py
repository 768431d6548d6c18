# SPDX-License-Identifier: GPL-3.0-or-later
"""Quantization on tiny models: int8 / nf4 (bitsandbytes) and torchao int8 shrink the linear
weights by the expected factor, and the backends' outputs stay finite and correctly shaped.
transformers path: BLIP via BitsAndBytesConfig; diffusers path: the inpainting UNet and text
encoder (layer swap on CPU, PipelineQuantizationConfig on GPU)."""

import numpy as np
import pytest

from gnuradio.gensemcom import models
from gnuradio.gensemcom.models.quant import BYTES_PER_PARAM, linear_weights, parameter_bytes
from gnuradio.gensemcom.models.weights import cache_dir_env
from gnuradio.gensemcom.semantic.interfaces import Significance

# minimum shrink of linear-layer weight bytes versus float32 (expected: 4, 7.1, 4; scales cost a little)
MIN_FACTOR = {"int8": 3.5, "nf4": 6.0, "torchao-int8": 3.5}


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory):
    """Tiny models are built once per session into the session's temporary folder."""
    with cache_dir_env(tmp_path_factory.getbasetemp() / "gensemcom-cache") as folder:
        yield folder


def shrink(float_model, quantized_model):
    """(share of linear layers quantized, float32 bytes / quantized bytes over those layers)."""
    before, after = linear_weights(float_model), linear_weights(quantized_model)
    assert before.keys() == after.keys()
    names = [n for n, (_, q) in after.items() if q]
    return len(names) / len(after), sum(before[n][0] for n in names) / sum(after[n][0] for n in names)


@pytest.fixture(scope="module")
def image():
    from PIL import Image
    from skimage import data
    return np.asarray(Image.fromarray(data.coffee()).resize((72, 48), Image.BICUBIC))


@pytest.fixture(scope="module")
def float_blip():
    return models.load_backend("tiny-blip", quant="none")


@pytest.fixture(scope="module")
def float_unet():
    return models.load_backend("tiny-sd-inpaint", quant="none").pipe.unet


@pytest.mark.parametrize("mode", ["int8", "nf4", "torchao-int8"])
def test_captioner_quantized(mode, float_blip, image):
    import torch
    backend = models.load_backend("tiny-blip", quant=mode)
    share, factor = shrink(float_blip.model, backend.model)
    assert share >= 0.9  # all but the tied LM head, which transformers keeps in float
    assert MIN_FACTOR[mode] <= factor <= 4.0 / BYTES_PER_PARAM[mode] * 1.05, factor
    assert parameter_bytes(backend.model) < parameter_bytes(float_blip.model)
    mask = np.zeros(image.shape[:2], bool)
    prompt = backend.describe(image, mask, Significance(importance=mask.astype(np.float32)))
    assert isinstance(prompt.caption, str) and len(prompt.objects) >= 1
    inputs = backend.processor(images=[backend._pil(image)], text=["a photo of"], return_tensors="pt")
    with torch.no_grad():
        logits = backend.model(**inputs).logits
    assert logits.shape[-1] == backend.model.config.text_config.vocab_size and torch.isfinite(logits).all()


@pytest.mark.parametrize("mode", ["int8", "nf4", "torchao-int8"])
def test_generator_quantized(mode, float_unet, image):
    backend = models.load_backend("tiny-sd-inpaint", quant=mode)
    share, factor = shrink(float_unet, backend.pipe.unet)
    assert share >= 0.9 and MIN_FACTOR[mode] <= factor <= 4.0 / BYTES_PER_PARAM[mode] * 1.05, (share, factor)
    known = np.zeros(image.shape[:2], np.float32)
    known[:, :30] = 1
    out = backend.generate("a cup of coffee", image, known, seed=0)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[:, :30], image[:, :30])


def test_segmenter_nf4(image):
    backend = models.load_backend("tiny-clipseg", quant="nf4")
    significance = backend.analyze(image)
    assert significance.importance.shape == image.shape[:2] and np.isfinite(significance.importance).all()


def test_bench_rows_report_memory_and_latency():
    from gnuradio.gensemcom.models.bench import BENCH_FIELDS, bench_card, format_table
    rows = bench_card("tiny-clipseg", ["none", "nf4"], runs=1, image_px=64, isolate=False)
    assert [r["quant"] for r in rows] == ["none", "nf4"] and all(set(r) == set(BENCH_FIELDS) for r in rows)
    assert all(r["error"] is None and r["latency_ms"] > 0 and r["load_s"] > 0 for r in rows)
    assert rows[1]["param_mb"] < rows[0]["param_mb"]
    assert "tiny-clipseg" in format_table(rows)
