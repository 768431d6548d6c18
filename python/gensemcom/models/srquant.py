# SPDX-License-Identifier: GPL-3.0-or-later
"""int8 convolutions for the super-resolution generator on the CPU (static post-training
quantization with torch.ao's FX graph mode).

What is int8: every convolution but the first and the last (weights per output channel,
symmetric; activations per tensor, asymmetric, full 8-bit range), the concatenations,
LeakyReLUs, upsamplings and residual sums between them. The first and last convolutions stay
in float32 (3 colour channels: cheap, and where rounding shows most). Activation ranges come from
min/max observers (a histogram observer clipped the rare large activations this GAN relies on
and cost ~7 dB against float32) over AV1-coded thumbnails of ``photos.TRAIN_PHOTOS``: never
Kodak. The observed ranges are kept in the cache (safetensors), so a later load skips calibration.

The kernels are fbgemm/oneDNN's (``torch.backends.quantized.engine`` x86); inputs run
channels-last, where they are several times faster than float32. There are no int8 convolution
kernels for CUDA here: on a GPU use float16/bfloat16.
"""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np

from ..errors import BadInputError

FLOAT_LAYERS = ("conv_first", "conv_last")
CALIBRATION_SIZES = ((48, 32), (40, 40))       # thumbnail sizes (w, h) each photo is coded at
CALIBRATION_QUALITIES = (20, 45)               # AV1 qualities (0..100 of stillcodec's range)
OBSERVER_KEY = "activation_post_process"


def _qconfig_mapping():
    import torch
    from torch.ao.quantization import QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver
    qconfig = QConfig(activation=MinMaxObserver.with_args(reduce_range=False),
                      weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                                qscheme=torch.per_channel_symmetric))
    mapping = get_default_qconfig_mapping("x86").set_global(qconfig)
    for name in FLOAT_LAYERS:
        mapping = mapping.set_module_name(name, None)
    return mapping


def calibration_inputs() -> list:
    """(1, 3, h, w) float tensors in [0, 1]: AV1-coded thumbnails of the training photos."""
    import torch

    from ..classical import stillcodec
    from ..imageops import resize
    from .photos import TRAIN_PHOTOS, load_photo
    lo, hi = stillcodec.QUALITY_RANGE["avif"]
    out = []
    for name in TRAIN_PHOTOS:
        for size, quality in zip(CALIBRATION_SIZES, CALIBRATION_QUALITIES):
            small = resize(load_photo(name), *size)
            coded = stillcodec.decode_still(stillcodec.encode_still(small, "avif", lo + (hi - lo) * quality // 100, 8),
                                            "avif", *size)
            out.append(torch.from_numpy(coded.copy()).permute(2, 0, 1)[None].float() / 255.0)
    return out


def state_digest(model) -> str:
    """Short SHA-256 of a float model's parameters (names the calibration cache entry)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()[:16]


def quantize_int8(model, cache_folder=None):
    """An int8 copy of the float32 RRDBNet ``model`` (a torch.fx ``GraphModule``, CPU only).

    ``cache_folder``: where the observed activation ranges are kept per model digest (None:
    calibrate every time)."""
    import torch
    from safetensors.torch import load_file, save_file
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from ..fileio import atomic_path
    if "x86" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "x86"
    elif "fbgemm" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "fbgemm"
    else:
        raise BadInputError("int8: this torch build has no x86 quantized kernels (fbgemm/oneDNN)")
    model = copy.deepcopy(model).float().cpu().eval()
    cache = Path(cache_folder) / f"int8-ranges-{state_digest(model)}.safetensors" if cache_folder else None
    example = torch.rand(1, 3, 16, 16)
    prepared = prepare_fx(model, _qconfig_mapping(), (example,))
    ranges = None
    if cache is not None and cache.is_file():
        try:
            ranges = load_file(str(cache))
        except Exception:  # damaged cache entry: calibrate again
            ranges = None
    if ranges is None:
        with torch.inference_mode():
            for x in calibration_inputs():
                prepared(x)
        ranges = {k: v.clone() for k, v in prepared.state_dict().items() if OBSERVER_KEY in k}
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cache) as tmp:
                save_file(ranges, str(tmp))
    else:
        missing = set(k for k in prepared.state_dict() if OBSERVER_KEY in k) - set(ranges)
        if missing:
            raise BadInputError(f"int8 calibration cache {cache} does not fit this model; delete it")
        prepared.load_state_dict(ranges, strict=False)
    return convert_fx(prepared).eval()


def is_int8(model) -> bool:
    """Whether ``model`` came out of ``quantize_int8``."""
    return any("quantized" in type(m).__module__ for m in model.modules())


def conv_weight_bytes(model) -> int:
    """Bytes of ``model``'s convolution weights and biases, float or int8 (packed weights unpacked)."""
    total = 0
    for module in model.modules():
        if hasattr(module, "_weight_bias"):          # torch.ao quantized conv: packed params
            weight, bias = module._weight_bias()
            scales, zero_points = weight.q_per_channel_scales(), weight.q_per_channel_zero_points()
            total += weight.numel() * weight.element_size() + scales.numel() * scales.element_size() \
                + zero_points.numel() * zero_points.element_size()
            total += 0 if bias is None else bias.numel() * bias.element_size()
        elif type(module).__name__ == "Conv2d" and hasattr(module, "weight"):
            total += sum(int(np.prod(p.shape)) * p.element_size() for p in (module.weight, module.bias)
                         if p is not None)
    return total
