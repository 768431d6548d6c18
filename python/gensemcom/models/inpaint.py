# SPDX-License-Identifier: GPL-3.0-or-later
"""Generator backend: a diffusers inpainting pipeline conditioned on the structured prompt.

Stable Diffusion inpainting (``StableDiffusionInpaintPipeline``), SDXL inpainting or any pipeline
``AutoPipelineForInpainting`` resolves, loaded from the card's local folder. The pipeline sees the
received canvas with mask = "not known" (white = regenerate), and the prompt's ``to_text()``.
"""
from __future__ import annotations

import json

import numpy as np

from ..errors import BadInputError
from ..semantic.interfaces import Generator
from .loading import LoadSpec, dtype_kwarg, library_class, resolve_adapter
from .quant import BNB_MODES, diffusers_pipeline_quant_config, quantize_linear_bnb_, quantize_torchao_
from .weights import pretrained_kwargs

# scheduler option -> (diffusers class, extra config)
SCHEDULER_CLASSES = {
    "ddim": ("DDIMScheduler", {}),
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
}
# pipeline components that quantization applies to (the VAE stays in float: small, quality-critical)
QUANTIZED_COMPONENTS = ("unet", "transformer", "text_encoder", "text_encoder_2", "text_encoder_3")


def prompt_text(prompt) -> str:
    """The text a diffusion model is conditioned on: ``prompt.to_text()``, a string, or ""."""
    if prompt is None:
        return ""
    if hasattr(prompt, "to_text"):
        return str(prompt.to_text())
    return str(prompt)


def pipeline_size(height, width, resolution_px, multiple):
    """(height, width) the pipeline runs at: long side ``resolution_px``, both multiples of ``multiple``."""
    scale = resolution_px / max(height, width)
    return (max(multiple, int(round(height * scale / multiple)) * multiple),
            max(multiple, int(round(width * scale / multiple)) * multiple))


class DiffusersInpaintGenerator(Generator):
    """Fills the area not received with a diffusion inpainting model.

    generate(prompt, canvas (H, W, 3) uint8, known (H, W) float32 in [0, 1], seed) -> (H, W, 3)
    uint8: the pipeline runs at ``resolution_px`` on the long side (multiples of 8 x the VAE
    factor), the result is resized back and the known pixels are kept (blended by ``known``).
    Card options: steps, guidance, strength, scheduler, seed, negative_prompt, prompt_prefix/suffix,
    resolution_px, safety_checker, attention_slicing, cpu_offload.
    """

    name = "diffusers-inpaint"

    def __init__(self, card, quant=None, device=None, dtype=None):
        self.card = card
        self.spec = spec = LoadSpec.resolve(card, quant=quant, device=device, dtype=dtype)
        self.pipe = load_pipeline(spec)
        self.steps = int(card.option("steps"))
        self.guidance = float(card.option("guidance"))
        self.strength = float(card.option("strength"))
        self.seed_offset = int(card.option("seed"))
        self.resolution_px = int(card.option("resolution_px"))
        self.negative_prompt = card.option("negative_prompt") or None
        self.prefix, self.suffix = card.option("prompt_prefix"), card.option("prompt_suffix")

    @property
    def size_multiple_px(self) -> int:
        return 8 * int(getattr(self.pipe, "vae_scale_factor", 8))

    def generate(self, prompt, canvas: np.ndarray, known: np.ndarray, seed: int = 0) -> np.ndarray:
        import torch
        from PIL import Image
        if canvas.ndim != 3 or canvas.shape[2] != 3 or canvas.dtype != np.uint8:
            raise BadInputError("canvas must be an (H, W, 3) uint8 RGB array")
        known = np.clip(np.asarray(known, dtype=np.float32), 0.0, 1.0)
        if known.shape != canvas.shape[:2]:
            raise BadInputError(f"known has shape {known.shape}, canvas {canvas.shape[:2]}")
        height, width = canvas.shape[:2]
        run_h, run_w = pipeline_size(height, width, self.resolution_px, self.size_multiple_px)
        image = Image.fromarray(canvas).resize((run_w, run_h), Image.BICUBIC)
        mask = Image.fromarray(((known < 0.5) * 255).astype(np.uint8)).resize((run_w, run_h), Image.NEAREST)
        text = " ".join(t for t in (self.prefix, prompt_text(prompt), self.suffix) if t).strip()
        # noise drawn on the CPU: the same seed gives the same fill on CPU and GPU
        generator = torch.Generator("cpu").manual_seed(int(seed) + self.seed_offset)
        with torch.inference_mode():
            result = self.pipe(prompt=text, negative_prompt=self.negative_prompt, image=image,
                               mask_image=mask,
                               height=run_h, width=run_w, num_inference_steps=self.steps,
                               guidance_scale=self.guidance, strength=self.strength, generator=generator,
                               output_type="np").images[0]
        result = np.nan_to_num(np.asarray(result, dtype=np.float32), nan=0.5)
        filled = Image.fromarray((np.clip(result, 0, 1) * 255 + 0.5).astype(np.uint8)).resize(
            (width, height), Image.BICUBIC)
        out = known[..., None] * canvas.astype(np.float32) + (1 - known[..., None]) * np.asarray(filled,
                                                                                                 np.float32)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def pipeline_components(folder) -> dict:
    """{component: library} of the pipeline saved in ``folder`` (from model_index.json)."""
    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    return {name: value[0] for name, value in index.items()
            if isinstance(value, list) and value and value[0] is not None}


def load_pipeline(spec: LoadSpec):
    """Load the card's diffusers pipeline: dtype, quantization, scheduler, LoRA, device."""
    import torch
    card = spec.card
    cls = library_class("diffusers", card.option("pipeline_class"), f"model card {card.name!r}")
    from diffusers.utils import logging as diffusers_logging
    diffusers_logging.disable_progress_bar()  # no per-load bars in flowgraph logs
    if not (spec.folder / "model_index.json").is_file():
        raise BadInputError(f"model card {card.name!r}: {spec.folder} holds no diffusers pipeline "
                            "(model_index.json missing)")
    components = pipeline_components(spec.folder)
    to_quantize = {n: lib for n, lib in components.items()
                   if n in QUANTIZED_COMPONENTS and lib in ("diffusers", "transformers")}
    kwargs = pretrained_kwargs(card)
    kwargs.pop("trust_remote_code")  # diffusers runs no hub code unless given custom_pipeline
    kwargs.update(dtype_kwarg("diffusers", spec.dtype))
    if card.checkpoint.get("variant"):
        kwargs["variant"] = card.checkpoint["variant"]
    if not card.option("safety_checker") and "safety_checker" in components:
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    cuda = spec.device.startswith("cuda")
    compute_dtype = spec.dtype if cuda else torch.float32
    if spec.quant in BNB_MODES and cuda:
        kwargs["quantization_config"] = diffusers_pipeline_quant_config(
            spec.quant, compute_dtype, to_quantize, card.quant_skip_modules)
    pipe = cls.from_pretrained(spec.folder, **kwargs)
    if spec.quant in BNB_MODES and not cuda:
        # diffusers' bitsandbytes quantizer needs a GPU: swap the linear layers ourselves
        for name in to_quantize:
            quantize_linear_bnb_(getattr(pipe, name), spec.quant, compute_dtype, "cpu",
                                 card.quant_skip_modules)
    elif spec.quant == "torchao-int8":
        for name in to_quantize:
            quantize_torchao_(getattr(pipe, name), card.quant_skip_modules)
    scheduler = card.option("scheduler")
    if scheduler != "default":
        name, extra = SCHEDULER_CLASSES[scheduler]
        pipe.scheduler = library_class("diffusers", name, card.name).from_config(pipe.scheduler.config,
                                                                                 **extra)
    if card.lora:
        load_pipeline_adapters(pipe, card)
    if card.option("cpu_offload") and cuda:
        pipe.enable_model_cpu_offload(device=spec.device)
    else:
        pipe.to(spec.device)
    if card.option("attention_slicing"):
        pipe.enable_attention_slicing()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_pipeline_adapters(pipe, card):
    """Load the card's LoRA adapters (diffusers format, pytorch_lora_weights.safetensors) by name."""
    names, scales = [], []
    for ref in card.lora:
        folder = resolve_adapter(card, ref)
        pipe.load_lora_weights(str(folder), adapter_name=ref.name)
        names.append(ref.name)
        scales.append(ref.scale)
    pipe.set_adapters(names, adapter_weights=scales)
