# SPDX-License-Identifier: GPL-3.0-or-later
"""The one code path that turns a card into loaded torch modules (real and tiny cards alike).

``LoadSpec`` gathers what a backend needs to load: the weights folder, device, dtype and
quantization mode after overrides. ``load_transformers_model`` and ``apply_transformers_adapters``
do the transformers side; the diffusers side lives in ``inpaint``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInputError, MissingWeightsError
from .cards import ModelCard, card_search_path
from .quant import BNB_MODES, check_mode, quantize_torchao_, transformers_load_kwargs
from .weights import cache_dir, pretrained_kwargs, resolve_device, resolve_dtype, resolve_weights


@dataclass
class LoadSpec:
    """Resolved loading settings of one card.

    folder  local weights folder      device  "cpu" | "cuda" | "cuda:N"
    dtype   torch dtype of float weights (and bitsandbytes compute)
    quant   none | int8 | nf4 | torchao-int8
    """

    card: ModelCard
    folder: Path
    device: str
    dtype: object
    quant: str

    @classmethod
    def resolve(cls, card: ModelCard, quant=None, device=None, dtype=None) -> "LoadSpec":
        """Apply overrides (None keeps the card's value) and find the weights (may raise
        ``MissingWeightsError``)."""
        device = resolve_device(card, device)
        quant = check_mode(quant or card.quantization)
        torch_dtype = resolve_dtype(card, device, dtype)
        return cls(card=card, folder=resolve_weights(card), device=device, dtype=torch_dtype, quant=quant)


def dtype_kwarg(library, dtype) -> dict:
    """The dtype argument of ``from_pretrained``: newer transformers (>= 4.56) and diffusers
    (>= 0.36) call it ``dtype``, older releases ``torch_dtype``."""
    if library == "transformers":
        import transformers
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        new = (major, minor) >= (4, 56)
    else:
        try:
            from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401
            new = True
        except ImportError:
            new = False
    return {"dtype": dtype} if new else {"torch_dtype": dtype}


def library_class(library, name, where):
    """``getattr(library, name)`` with a one-line error naming the card option."""
    module = __import__(library)
    cls = getattr(module, name, None)
    if cls is None or not isinstance(cls, type):
        raise BadInputError(f"{where}: {library} has no class {name!r} (check the card's options)")
    return cls


def load_transformers_model(spec: LoadSpec, class_name: str):
    """Load ``class_name`` (a transformers class) from ``spec.folder``: quantized as asked, on
    ``spec.device``, adapters from the card applied, in eval mode."""
    import torch
    cls = library_class("transformers", class_name, f"model card {spec.card.name!r}")
    from transformers.utils import logging as transformers_logging
    transformers_logging.disable_progress_bar()  # no per-load bars in flowgraph logs
    kwargs = pretrained_kwargs(spec.card)
    kwargs.update(dtype_kwarg("transformers", spec.dtype))
    compute_dtype = spec.dtype if spec.device.startswith("cuda") else torch.float32
    kwargs.update(transformers_load_kwargs(spec.quant, spec.device, compute_dtype,
                                           spec.card.quant_skip_modules))
    model = cls.from_pretrained(spec.folder, **kwargs)
    if spec.quant not in BNB_MODES:
        model.to(spec.device)
    if spec.quant == "torchao-int8":
        quantize_torchao_(model, spec.card.quant_skip_modules)
    model = apply_transformers_adapters(model, spec.card)
    model.eval()
    return model


def floating_dtype(model):
    """dtype that float inputs of ``model`` need: that of its first float parameter (quantized
    layers store integers; their neighbours keep the load dtype)."""
    for param in model.parameters():
        if param.is_floating_point():
            return param.dtype
    import torch
    return torch.float32


def inputs_to(inputs, device, dtype) -> dict:
    """Processor outputs moved to ``device``; float tensors (pixels) cast to ``dtype``."""
    out = {}
    for key, value in inputs.items():
        if hasattr(value, "to"):
            value = value.to(device)
            if value.is_floating_point():
                value = value.to(dtype)
        out[key] = value
    return out


def load_processor(spec: LoadSpec, class_name="AutoProcessor"):
    """The processor (tokenizer + image processor) saved beside the weights."""
    cls = library_class("transformers", class_name, f"model card {spec.card.name!r}")
    return cls.from_pretrained(spec.folder, local_files_only=True,
                               trust_remote_code=spec.card.trust_remote_code)


def adapter_search_path(card: ModelCard) -> list:
    """Folders an adapter named in ``card`` is looked for in, first match wins."""
    folders = [card.folder / "adapters", card.folder]
    folders += [d / "adapters" for d in card_search_path()]
    folders.append(cache_dir() / "adapters")
    return folders


def resolve_adapter(card: ModelCard, ref) -> Path:
    """Folder of LoRA adapter ``ref`` (a ``LoraRef``) of ``card``; ``MissingWeightsError`` if absent."""
    if ref.path:
        folder = Path(os.path.expandvars(str(ref.path))).expanduser()
        candidates = [folder if folder.is_absolute() else card.folder / folder]
    else:
        candidates = [d / ref.name for d in adapter_search_path(card)]
    for folder in candidates:
        if any(folder.glob("*.safetensors")):
            return folder
    raise MissingWeightsError(
        f"model card {card.name!r}: LoRA adapter {ref.name!r} not found (looked in "
        f"{', '.join(str(c) for c in candidates)}); train one with `gensemcom finetune ... --out DIR` "
        "or fix the card's lora path")


def apply_transformers_adapters(model, card: ModelCard):
    """Wrap ``model`` with the card's LoRA adapters (peft), all active, scaled as the card says."""
    if not card.lora:
        return model
    from peft import PeftModel
    names = []
    for ref in card.lora:
        folder = resolve_adapter(card, ref)
        if not names:
            model = PeftModel.from_pretrained(model, folder, adapter_name=ref.name, is_trainable=False)
        else:
            model.load_adapter(folder, adapter_name=ref.name, is_trainable=False)
        names.append(ref.name)
        if ref.scale != 1.0:
            scale_lora(model, ref.name, ref.scale)
    if len(names) > 1:
        model.base_model.set_adapter(names)
    return model


def scale_lora(model, adapter_name, scale):
    """Multiply adapter ``adapter_name``'s LoRA scaling by ``scale`` in every layer."""
    for module in model.modules():
        scaling = getattr(module, "scaling", None)
        if isinstance(scaling, dict) and adapter_name in scaling:
            scaling[adapter_name] *= scale
