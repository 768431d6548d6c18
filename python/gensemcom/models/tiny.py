# SPDX-License-Identifier: GPL-3.0-or-later
"""Tiny, randomly initialised models of the same classes the real cards load.

No real checkpoint can be downloaded where the tests run, so the tests (and ``tiny-*`` cards)
build small models from configs: the same transformers/diffusers classes, saved in Hugging Face
format (safetensors + configs + tokenizer files written here, offline) and then loaded through
the very code path the real cards use. They prove plumbing (loading, quantization, LoRA,
shapes, devices), not quality: their outputs are noise.

Linear layers have features in multiples of 64, so bitsandbytes' CPU kernels can quantize them.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

VERSION = 1  # bump when a builder changes: cached folders carry it in their name
WORDS = ("a photo of the with and in on at sky cloud clouds grass tree trees water sea sand road street "
         "building wall field forest mountain snow person people face dog cat car text sign background "
         "left right top bottom middle centre center red orange yellow green blue purple pink brown "
         "black white gray grey dark light bright smooth rough fine coarse striped blurry sunny "
         "cloudy indoor outdoor scene").split()
LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _bert_tokenizer(folder: Path):
    """A BERT WordPiece tokenizer over WORDS + letters, with BLIP's [DEC] start token."""
    from transformers import BertTokenizer
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"] + WORDS + list(LETTERS) + \
        ["##" + c for c in LETTERS]
    path = folder / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(path), bos_token="[DEC]", model_max_length=64)
    path.unlink()
    return tokenizer


def _clip_tokenizer(folder: Path, max_length):
    """A CLIP byte-pair tokenizer over letters (+ a few merges), model_max_length = max_length."""
    from transformers import CLIPTokenizer
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for symbol in list(LETTERS) + [c + "</w>" for c in LETTERS]:
        vocab[symbol] = len(vocab)
    merges = ["s k", "sk y</w>", "t r", "tr e", "tre e</w>"]
    for merge in merges:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                              model_max_length=max_length)
    (folder / "vocab.json").unlink()
    (folder / "merges.txt").unlink()
    return tokenizer


def build_clipseg(folder: Path):
    """CLIPSegForImageSegmentation (hidden 64, 2 layers, 32 px input) + CLIPSegProcessor."""
    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation, CLIPSegProcessor, ViTImageProcessor
    tokenizer = _clip_tokenizer(folder, 16)
    text = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
                pad_token_id=1)
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                  image_size=32, patch_size=8)
    config = CLIPSegConfig(text_config=text, vision_config=vision, projection_dim=64, reduce_dim=64,
                           extract_layers=[0, 1], decoder_num_attention_heads=2, decoder_intermediate_size=64)
    CLIPSegForImageSegmentation(config).save_pretrained(folder, safe_serialization=True)
    images = ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    CLIPSegProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)


def build_segformer(folder: Path):
    """SegformerForSemanticSegmentation with a few ADE20K-style labels + its image processor."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor
    labels = ["wall", "sky", "tree", "grass", "person;individual;someone", "car", "animal", "signboard;sign"]
    config = SegformerConfig(num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
                             hidden_sizes=[64, 64], patch_sizes=[7, 3], strides=[4, 2],
                             num_attention_heads=[1, 2],
                             mlp_ratios=[2, 2], decoder_hidden_size=64, num_labels=len(labels),
                             id2label=dict(enumerate(labels)), label2id={v: k for k, v in enumerate(labels)})
    SegformerForSemanticSegmentation(config).save_pretrained(folder, safe_serialization=True)
    SegformerImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)


def build_blip(folder: Path):
    """BlipForConditionalGeneration (hidden 64, 2+2 layers, 32 px) + BlipProcessor."""
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor
    tokenizer = _bert_tokenizer(folder)
    text = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=64, bos_token_id=tokenizer.bos_token_id,
                pad_token_id=tokenizer.pad_token_id, sep_token_id=tokenizer.sep_token_id,
                eos_token_id=tokenizer.sep_token_id, decoder_start_token_id=tokenizer.bos_token_id)
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                  image_size=32, patch_size=8)
    config = BlipConfig(vision_config=vision, text_config=text, projection_dim=64)
    BlipForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    images = BlipImageProcessor(size={"height": 32, "width": 32})
    BlipProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)


def build_sd_inpaint(folder: Path):
    """StableDiffusionInpaintPipeline: UNet2DConditionModel(in_channels=9), AutoencoderKL,
    CLIPTextModel + CLIPTokenizer, DDIMScheduler; no safety checker."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    tokenizer = _clip_tokenizer(folder, 16)
    unet = UNet2DConditionModel(block_out_channels=(64, 128), layers_per_block=1, sample_size=16,
                                in_channels=9,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=64,
                                attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        norm_num_groups=32, sample_size=32)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                        num_hidden_layers=2, num_attention_heads=2,
                                        max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
                                        pad_token_id=1))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionInpaintPipeline(unet=unet, vae=vae, text_encoder=text, tokenizer=tokenizer,
                                          scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)


BUILDERS = {
    "clipseg": build_clipseg,
    "segformer": build_segformer,
    "blip": build_blip,
    "sd-inpaint": build_sd_inpaint,
}


def build(name: str, root, force=False) -> Path:
    """Build tiny model ``name`` into ``root``/NAME-vVERSION (once) and return that folder.

    Deterministic (seeded); written to a temporary folder and renamed, so concurrent test
    workers never see half a model.
    """
    import torch

    from ..errors import BadInputError
    if name not in BUILDERS:
        raise BadInputError(f"unknown tiny model {name!r}; choose from {', '.join(BUILDERS)}")
    root = Path(root)
    target = root / f"{name}-v{VERSION}"
    if target.is_dir() and not force:
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            BUILDERS[name](tmp)
        if force and target.is_dir():
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first
            if not target.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
