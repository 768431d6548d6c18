#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""GPU check of the large-model paths: CUDA loading, fp16/bf16, bitsandbytes int8/nf4 (through
transformers' and diffusers' quantization configs), torchao int8, LoRA training, on CUDA.

    python scripts/gpu_check.py --out DIR [--skip-full-size]

Stages (each recorded even if another fails; results.json is rewritten after each stage):
  env        torch / CUDA / library versions and the device name
  bench      `models bench` rows on cuda for tiny-clipseg, tiny-blip, tiny-sd-inpaint:
             float16, bfloat16, int8, nf4, torchao-int8
  stack      segmenter -> prompt -> fill through the tiny stack on cuda, nf4
  lora       captioner and generator LoRA on cuda (fp16 base), captioner QLoRA (nf4 base)
  full-size  a Stable-Diffusion-1.5-sized inpainting pipeline (UNet 9-channel, VAE, CLIP text
             encoder; random weights, no download) saved in HF format and benchmarked through
             a card (the real cards' code path) at 512 px, 20 steps: fp16, int8, nf4

Needs no network. Tiny and random models: the numbers are memory and speed of the real
architectures' plumbing, never quality.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = {}
DEVICE = "cuda"
WORK = Path("/tmp")


def save(out):
    (out / "results.json").write_text(json.dumps(RESULTS, indent=1, default=str))


def stage(name, out):
    def wrap(fn):
        start = time.time()
        print(f"== {name}", flush=True)
        try:
            RESULTS[name] = fn()
        except Exception as exc:  # record and go on: one failure must not hide the rest
            RESULTS[name] = {"error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc()[-3000:]}
            print(RESULTS[name]["traceback"], flush=True)
        RESULTS.setdefault("seconds", {})[name] = round(time.time() - start, 1)
        save(out)
        return fn
    return wrap


def env():
    import torch
    info = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    for name in ("transformers", "diffusers", "peft", "accelerate", "bitsandbytes", "torchao",
                 "huggingface_hub"):
        try:
            info[name] = __import__(name).__version__
        except Exception as exc:  # report what is missing
            info[name] = f"missing: {exc}"
    print(info, flush=True)
    return info


def bench_tiny():
    from gnuradio.gensemcom.models.bench import bench_card, format_table
    rows = []
    for card in ("tiny-clipseg", "tiny-blip", "tiny-sd-inpaint"):
        for dtype, quants in (("float16", ["none", "int8", "nf4", "torchao-int8"]), ("bfloat16", ["none"])):
            rows += bench_card(card, quants, device=DEVICE, runs=5, image_px=256, isolate=False, dtype=dtype)
    print(format_table(rows), flush=True)
    return rows


def stack_nf4():
    import numpy as np
    from skimage import data

    from gnuradio.gensemcom.models import load_stack
    from gnuradio.gensemcom.semantic.prompt import StructuredPrompt
    stack = load_stack("tiny", quant="nf4", device=DEVICE)
    image = data.astronaut()[::2, ::2].copy()
    significance = stack.segmenter.analyze(image)
    mask = significance.key_mask(0.3)
    prompt = StructuredPrompt.from_bytes(stack.prompt_generator.describe(image, mask,
                                                                         significance).to_bytes())
    out = stack.generator.generate(prompt, image, mask.astype(np.float32), seed=0)
    from gnuradio.gensemcom.semantic import SemanticCodec
    encoded = SemanticCodec(stack=stack).encode(image, 3072)
    decoded = SemanticCodec(stack=stack).decode(encoded.data)
    return {"shape": list(out.shape), "key_kept": bool(np.array_equal(out[mask], image[mask])),
            "prompt": prompt.to_text()[:200], "unet_device": str(stack.generator.pipe.unet.device),
            "codec_bytes": len(encoded.data), "codec_decoded_shape": list(decoded.image.shape)}


def lora(out):
    from PIL import Image
    from skimage import data

    from gnuradio.gensemcom.models.finetune import TrainConfig, finetune
    folder = WORK / "lora-data"
    folder.mkdir(exist_ok=True)
    captions = {"astronaut": "a person with a flag", "coffee": "a brown cup on the table",
                "chelsea": "a cat on the grass", "rocket": "a white building with blue sky"}
    for name, caption in captions.items():
        Image.fromarray(getattr(data, name)()).convert("RGB").resize((64, 64)).save(folder / f"{name}.png")
        (folder / f"{name}.txt").write_text(caption)
    result = {}
    for key, task, card, quant in (("captioner", "captioner", "tiny-blip", "none"),
                                   ("captioner_qlora_nf4", "captioner", "tiny-blip", "nf4"),
                                   ("generator", "generator", "tiny-sd-inpaint", "none"),
                                   ("generator_qlora_nf4", "generator", "tiny-sd-inpaint", "nf4")):
        start = time.time()
        try:
            log = finetune(TrainConfig(task=task, card=card, data=str(folder),
                                       out=str(WORK / f"lora-{key}"), rank=4,
                                       steps=20, lr=2e-2, batch_size=2, save_every=10, quant=quant,
                                       resolution_px=32, device=DEVICE))
            result[key] = {"eval_loss_before": log["eval_loss_before"],
                           "eval_loss_after": log["eval_loss_after"],
                           "first_loss": log["losses"][0], "last_loss": log["losses"][-1],
                           "seconds": round(time.time() - start, 1)}
        except Exception as exc:
            result[key] = {"error": f"{type(exc).__name__}: {exc}",
                           "traceback": traceback.format_exc()[-2000:]}
        print(key, result[key], flush=True)
    return result


def build_full_size_sd(folder):
    """SD-1.5-sized inpainting pipeline with random weights, saved as fp16 safetensors."""
    import torch
    from diffusers import (AutoencoderKL, DPMSolverMultistepScheduler, StableDiffusionInpaintPipeline,
                           UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel

    from gnuradio.gensemcom.models.tiny import _clip_tokenizer
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    with torch.device(DEVICE):
        unet = UNet2DConditionModel(sample_size=64, in_channels=9, out_channels=4, cross_attention_dim=768,
                                    block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8,
                                    layers_per_block=2)
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                            block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=512,
                            down_block_types=["DownEncoderBlock2D"] * 4,
                            up_block_types=["UpDecoderBlock2D"] * 4)
        text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                            num_hidden_layers=12, num_attention_heads=12,
                                            max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                                            pad_token_id=1))
    tokenizer = _clip_tokenizer(folder, 77)
    scheduler = DPMSolverMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                            steps_offset=1)
    pipe = StableDiffusionInpaintPipeline(unet=unet.half(), vae=vae.half(), text_encoder=text.half(),
                                          tokenizer=tokenizer, scheduler=scheduler, safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in (("unet", unet), ("vae", vae), ("text",
                                                                                                    text))}
    del pipe, unet, vae, text
    torch.cuda.empty_cache()
    return params


def full_size(out):
    from gnuradio.gensemcom.models.bench import bench_card, format_table
    folder = WORK / "sd15-sized"
    params = build_full_size_sd(folder)
    card = WORK / "sd15-sized.yaml"
    card.write_text(f"backend: diffusers-inpaint\ncheckpoint: {{path: {folder}}}\n"
                    "options: {pipeline_class: StableDiffusionInpaintPipeline, steps: 20, resolution_px: 512,"
                    " negative_prompt: ''}\n")
    rows = bench_card(str(card), ["none", "int8", "nf4"], device=DEVICE, runs=3, image_px=512, isolate=False,
                      dtype="float16")
    print(format_table(rows), flush=True)
    return {"parameters": params, "rows": rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="gpu-check", help="folder for results.json")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a dry run")
    parser.add_argument("--skip-full-size", action="store_true", help="skip the SD-1.5-sized stage")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    global WORK
    WORK = Path(tempfile.mkdtemp(prefix="gensemcom-gpu-check-"))  # models and data; only results go to --out
    os.environ.setdefault("GENSEMCOM_CACHE_DIR", str(WORK / "cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    stage("env", out)(env)
    stage("bench", out)(bench_tiny)
    stage("stack", out)(stack_nf4)
    stage("lora", out)(lambda: lora(out))
    if not args.skip_full_size:
        stage("full_size", out)(lambda: full_size(out))
    print(json.dumps(RESULTS.get("seconds")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
