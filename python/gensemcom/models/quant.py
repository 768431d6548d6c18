# SPDX-License-Identifier: GPL-3.0-or-later
"""Quantization of the large models, and how many bytes their weights take.

Modes (``--quant``):
  none          the card's dtype (float32 on CPU; float16/bfloat16 on GPU)
  int8          bitsandbytes LLM.int8 (``Linear8bitLt``): about 4x smaller linear weights
  nf4           bitsandbytes 4-bit NormalFloat (``Linear4bit``), fp32/bf16 compute: about 7x smaller
  torchao-int8  torchao int8 weight-only (``Int8WeightOnlyConfig``): the CPU path, about 4x smaller

transformers models get bitsandbytes through ``transformers.BitsAndBytesConfig`` (GPU and CPU).
Diffusers pipelines get it through ``diffusers.PipelineQuantizationConfig`` on GPU; diffusers'
bitsandbytes quantizer refuses to run without a GPU, so on CPU ``quantize_linear_bnb_`` swaps the
``nn.Linear`` layers for the same bitsandbytes layers after loading. bitsandbytes' CPU kernels need
the layer's in/out features to be multiples of 64; other layers stay in float.
"""
from __future__ import annotations

import warnings

from ..errors import BadInputError
from .cards import QUANT_MODES

BNB_MODES = ("int8", "nf4")
CPU_BLOCK = 64  # bitsandbytes CPU kernels: features must be multiples of this
# Rough weight bytes per parameter of a quantized linear layer (documentation and bench).
BYTES_PER_PARAM = {"none": 4.0, "int8": 1.0, "nf4": 0.5 + 4.0 / 64, "torchao-int8": 1.0}


def check_mode(mode) -> str:
    """Validate a quantization mode name; returns it."""
    mode = mode or "none"
    if mode not in QUANT_MODES:
        raise BadInputError(f"quantization {mode!r} is not one of {', '.join(QUANT_MODES)}")
    return mode


def _quiet_bnb():
    warnings.filterwarnings("ignore", message=".*MatMul8bitLt: inputs will be cast.*")
    warnings.filterwarnings("ignore", message=".*inputs will be cast from torch.float32.*")


def bnb_kwargs(mode, compute_dtype):
    """The BitsAndBytesConfig keyword arguments of ``mode`` (shared by transformers and diffusers)."""
    if mode == "int8":
        return {"load_in_8bit": True}
    return {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_compute_dtype": compute_dtype,
            "bnb_4bit_use_double_quant": False}


def transformers_load_kwargs(mode, device, compute_dtype, skip_modules=()) -> dict:
    """Extra ``from_pretrained`` kwargs that quantize a transformers model while it loads."""
    if mode in BNB_MODES:
        _quiet_bnb()
        from transformers import BitsAndBytesConfig
        config = BitsAndBytesConfig(**bnb_kwargs(mode, compute_dtype),
                                    llm_int8_skip_modules=list(skip_modules) or None)
        return {"quantization_config": config, "device_map": {"": device}}
    return {}


def diffusers_pipeline_quant_config(mode, compute_dtype, components, skip_modules=()):
    """``PipelineQuantizationConfig`` for ``components`` of a diffusers pipeline (GPU only)."""
    _quiet_bnb()
    from diffusers import BitsAndBytesConfig as DiffusersBnb
    from diffusers import PipelineQuantizationConfig
    from transformers import BitsAndBytesConfig as TransformersBnb
    skip = list(skip_modules) or None
    mapping = {}
    for name, library in components.items():
        cls = DiffusersBnb if library == "diffusers" else TransformersBnb
        mapping[name] = cls(**bnb_kwargs(mode, compute_dtype), llm_int8_skip_modules=skip)
    return PipelineQuantizationConfig(quant_mapping=mapping)


def quantize_linear_bnb_(module, mode, compute_dtype, device="cpu", skip_modules=()) -> int:
    """Replace ``module``'s ``nn.Linear`` layers by bitsandbytes ``Linear8bitLt``/``Linear4bit``.

    In place; layers whose qualified name contains one of ``skip_modules``, or whose features
    are not multiples of 64, stay in float. Returns the number of layers replaced.
    """
    import torch
    _quiet_bnb()
    import bitsandbytes as bnb
    replaced = 0
    for qualified, parent in list(module.named_modules()):
        for name, child in list(parent.named_children()):
            full = f"{qualified}.{name}" if qualified else name
            if type(child) is not torch.nn.Linear or any(s in full for s in skip_modules):
                continue
            if child.in_features % CPU_BLOCK or child.out_features % CPU_BLOCK:
                continue
            weight = child.weight.data.to(torch.float32 if mode == "nf4" else torch.float16)
            if mode == "nf4":
                new = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                        compute_dtype=compute_dtype, quant_type="nf4")
                new.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4")
            else:
                new = bnb.nn.Linear8bitLt(child.in_features, child.out_features, bias=child.bias is not None,
                                          has_fp16_weights=False, threshold=6.0)
                new.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
            if child.bias is not None:
                new.bias = torch.nn.Parameter(child.bias.data.to(compute_dtype), requires_grad=False)
            setattr(parent, name, new.to(device))  # moving quantizes the weight
            replaced += 1
    return replaced


def quantize_torchao_(module, skip_modules=()) -> None:
    """torchao int8 weight-only quantization of ``module``'s linear layers, in place."""
    import torch
    from torchao.quantization import Int8WeightOnlyConfig, quantize_

    def keep(mod, fqn):
        return isinstance(mod, torch.nn.Linear) and not any(s in fqn for s in skip_modules)
    quantize_(module, Int8WeightOnlyConfig(), filter_fn=keep)


def tensor_bytes(tensor) -> int:
    """Bytes a tensor really stores: inner tensors of subclasses (torchao) and quantization state
    of bitsandbytes parameters (absmax, SCB) included."""
    if hasattr(tensor, "__tensor_flatten__"):
        names, _ = tensor.__tensor_flatten__()
        return sum(tensor_bytes(getattr(tensor, n)) for n in names)
    total = tensor.numel() * tensor.element_size()
    state = getattr(tensor, "quant_state", None)
    if state is not None:
        total += state.absmax.numel() * state.absmax.element_size()
        nested = getattr(state, "state2", None)
        if nested is not None:
            total += nested.absmax.numel() * nested.absmax.element_size() + nested.code.numel() * 4
    scb = getattr(tensor, "SCB", None)
    if scb is not None:
        total += scb.numel() * scb.element_size()
    return total


def parameter_bytes(module) -> int:
    """Bytes of all parameters and buffers of ``module`` (each shared tensor once)."""
    seen, total = set(), 0
    for tensor in list(module.parameters()) + list(module.buffers()):
        if id(tensor) not in seen:
            seen.add(id(tensor))
            total += tensor_bytes(tensor)
    return total


def linear_weights(module) -> dict:
    """{qualified name: (weight bytes, quantized?)} of every linear layer of ``module``: float
    ``nn.Linear`` and the bitsandbytes/torchao layers that replace them, counted alike
    (quantization state included; biases left out, they stay in float)."""
    import torch
    out = {}
    for name, mod in module.named_modules():
        if isinstance(mod, torch.nn.Linear):  # bitsandbytes' layers subclass nn.Linear
            weight = mod.weight
            quantized = type(weight).__name__ in ("Params4bit", "Int8Params") or hasattr(weight,
                                                                                         "__tensor_flatten__")
            out[name] = (tensor_bytes(weight), quantized)
    return out
