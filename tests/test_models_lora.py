# SPDX-License-Identifier: GPL-3.0-or-later
"""LoRA fine-tuning on tiny models: the loss goes down, the adapter saves as safetensors with a
card naming it, reloads by that card, changes the output; checkpoints resume exactly; QLoRA
(nf4 base) trains."""
import json
import os

import numpy as np
import pytest

from gnuradio.gensemcom import cli, models
from gnuradio.gensemcom.models.finetune import TrainConfig, finetune, load_pairs
from gnuradio.gensemcom.models.weights import cache_dir_env

CAPTIONS = {"astronaut": "a person with a flag", "coffee": "a brown cup on the table",
            "chelsea": "a cat on the grass", "rocket": "a white building with blue sky"}


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory):
    """Tiny models are built once per session into the session's temporary folder."""
    with cache_dir_env(tmp_path_factory.getbasetemp() / "gensemcom-cache") as folder:
        yield folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from PIL import Image
    from skimage import data
    folder = tmp_path_factory.mktemp("lora-data")
    for name, caption in CAPTIONS.items():
        Image.fromarray(getattr(data, name)()).convert("RGB").resize((48, 48)).save(folder / f"{name}.png")
        (folder / f"{name}.txt").write_text(caption)
    return folder


@pytest.fixture(scope="module")
def image():
    from PIL import Image
    from skimage import data
    return np.asarray(Image.fromarray(data.chelsea()).resize((64, 48)))


def caption_logits(backend, image):
    import torch
    inputs = backend.processor(images=[backend._pil(image)], text=["a photo of"], return_tensors="pt")
    with torch.no_grad():
        return backend.model(**inputs).logits.numpy()


def test_load_pairs_from_jsonl_and_txt(tmp_path, data_dir):
    assert sorted(p.stem for p, _ in load_pairs(data_dir)) == sorted(CAPTIONS)
    (tmp_path / "a.png").write_bytes((data_dir / "coffee.png").read_bytes())
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "a.png", "text": "a cup"}) + "\n")
    assert [(p.name, t) for p, t in load_pairs(tmp_path)] == [("a.png", "a cup")]
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "a.png", "text": ""}) + "\n")
    with pytest.raises(models.cards.BadInputError, match="needs a caption"):
        load_pairs(tmp_path)


def test_captioner_lora_lowers_loss_saves_reloads_and_changes_output(tmp_path, data_dir, image):
    out = tmp_path / "blip-mine"
    code = cli.main(["finetune", "captioner", "--card", "tiny-blip", "--data", str(data_dir), "--out",
                     str(out),
                     "--rank", "4", "--steps", "8", "--lr", "2e-2", "--batch-size", "2", "--save-every", "4"])
    assert code == 0
    log = json.loads((out / "training_log.json").read_text())
    assert log["eval_loss_after"] < log["eval_loss_before"]
    assert (out / "adapter_model.safetensors").is_file() and not list(out.glob("*.bin"))
    card = models.load_card(out / "tiny-blip-blip-mine.yaml")
    assert card.based_on == "tiny-blip" and card.lora[0].name == "blip-mine"
    adapted = models.load_backend(card)
    assert type(adapted.model).__name__ == "PeftModel"
    base = models.load_backend("tiny-blip")
    assert not np.allclose(caption_logits(adapted, image), caption_logits(base, image), atol=1e-4)
    # by name: the adapter folder in a models folder, the card selects it from a stack value
    os.environ["GENSEMCOM_MODELS_DIR"] = str(tmp_path)
    try:
        stack = models.load_stack("tiny,tiny-blip-blip-mine")
        assert stack.cards["prompt_generator"].lora[0].name == "blip-mine"
        np.testing.assert_allclose(caption_logits(stack.prompt_generator, image), caption_logits(adapted,
                                                                                                 image),
                                   atol=1e-5)
    finally:
        del os.environ["GENSEMCOM_MODELS_DIR"]


def test_resume_continues_exactly(tmp_path, data_dir):
    common = dict(task="captioner", card="tiny-blip", data=str(data_dir), rank=2, lr=5e-3, save_every=3)
    straight = finetune(TrainConfig(out=str(tmp_path / "a"), steps=6, **common))
    finetune(TrainConfig(out=str(tmp_path / "b"), steps=3, **common))
    meta = json.loads((tmp_path / "b" / "checkpoint" / "trainer.json").read_text())
    assert meta["step"] == 3
    resumed = finetune(TrainConfig(out=str(tmp_path / "b"), steps=6, **common), resume=True)
    np.testing.assert_allclose(resumed["losses"], straight["losses"], rtol=1e-5)
    with pytest.raises(models.cards.BadInputError, match="rank=2"):
        finetune(TrainConfig(out=str(tmp_path / "b"), steps=7, **{**common, "rank": 4}), resume=True)


def test_generator_lora_lowers_loss_and_changes_fill(tmp_path, data_dir, image):
    out = tmp_path / "sd-mine"
    log = finetune(TrainConfig(task="generator", card="tiny-sd-inpaint", data=str(data_dir), out=str(out),
                               rank=4,
                               steps=8, lr=2e-2, batch_size=2, save_every=8, resolution_px=32))
    assert log["eval_loss_after"] < log["eval_loss_before"]
    assert (out / "pytorch_lora_weights.safetensors").is_file()
    known = np.zeros(image.shape[:2], np.float32)
    known[:, :20] = 1
    base = models.load_backend("tiny-sd-inpaint").generate("a cat", image, known, seed=2)
    adapted_backend = models.load_backend(log["card_path"])
    adapted = adapted_backend.generate("a cat", image, known, seed=2)
    assert "sd-mine" in adapted_backend.pipe.get_active_adapters()
    assert adapted.shape == base.shape and not np.array_equal(adapted, base)
    assert np.array_equal(adapted[:, :20], image[:, :20])


def test_qlora_on_nf4_base(tmp_path, data_dir):
    log = finetune(TrainConfig(task="captioner", card="tiny-blip", data=str(data_dir),
                               out=str(tmp_path / "q"),
                               rank=4, steps=6, lr=1e-2, batch_size=2, quant="nf4"))
    assert np.isfinite(log["losses"]).all() and log["eval_loss_after"] < log["eval_loss_before"]
    assert (tmp_path / "q" / "adapter_model.safetensors").is_file()


def test_wrong_card_for_task(tmp_path, data_dir):
    with pytest.raises(models.cards.BadInputError, match="needs a diffusers-inpaint or realesrgan model card"):
        finetune(TrainConfig(task="generator", card="tiny-blip", data=str(data_dir), out=str(tmp_path / "x")))
