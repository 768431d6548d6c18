# SPDX-License-Identifier: GPL-3.0-or-later
"""Real-ESRGAN's generator (RRDBNet) in torch, and its weights read from ncnn files.

The network is ESRGAN's RRDBNet as Real-ESRGAN x4plus uses it: a first convolution, ``num_block``
residual-in-residual dense blocks (three 5-convolution dense blocks each, residuals scaled by 0.2),
a trunk convolution, two nearest-neighbour x2 upsampling convolutions, a high-resolution
convolution and the output convolution; LeakyReLU(0.2) after every convolution but the last of
each dense block, the trunk and the output. Parameter names follow BasicSR (``conv_first``,
``body.N.rdbK.convJ``, ``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``).

ncnn format (the ncnn wiki, "param and model file structure"):
  .param  text: magic 7767517, "layers blobs", then one line per layer: type, name, input count,
          output count, input blobs, output blobs, ``key=value`` parameters (Convolution:
          0 = outputs, 1 = kernel, 4 = padding, 5 = bias, 6 = weight count, 9 = activation,
          -23310 = activation parameters; Eltwise: -23301 = coefficients)
  .bin    the weights of the layers in file order: per Convolution a 4-byte tag (0x01306B47 =
          float16, 0 = float32), the weights (out, in, kh, kw) padded to 4 bytes, then the bias
          as raw float32
``ncnn_state_dict`` checks that the graph is this architecture before it maps the weights.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInputError, MissingWeightsError

NCNN_MAGIC = 7767517
TAG_FLOAT16 = 0x01306B47
TAG_FLOAT32 = 0
LEAKY_SLOPE = 0.2
RESIDUAL_SCALE = 0.2
DENSE_CONVS = 5


@dataclass(frozen=True)
class RRDBConfig:
    """Architecture: ``num_feat`` trunk channels, ``num_block`` RRDBs, ``num_grow_ch`` growth
    channels, ``scale`` (x4: two x2 upsamplings), ``in_ch``/``out_ch`` colour channels."""

    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32
    scale: int = 4
    in_ch: int = 3
    out_ch: int = 3


def _torch_modules():
    import torch
    from torch import nn

    class ResidualDenseBlock(nn.Module):
        """Five 3x3 convolutions, each seeing all earlier outputs; ``x + 0.2 * conv5``."""

        def __init__(self, num_feat, num_grow_ch):
            super().__init__()
            for j in range(DENSE_CONVS):
                out = num_feat if j == DENSE_CONVS - 1 else num_grow_ch
                setattr(self, f"conv{j + 1}", nn.Conv2d(num_feat + j * num_grow_ch, out, 3, 1, 1))
            self.lrelu = nn.LeakyReLU(LEAKY_SLOPE)

        def forward(self, x):
            feats = [x]
            for j in range(1, DENSE_CONVS):
                feats.append(self.lrelu(getattr(self, f"conv{j}")(torch.cat(feats, 1))))
            return getattr(self, f"conv{DENSE_CONVS}")(torch.cat(feats, 1)) * RESIDUAL_SCALE + x

    class RRDB(nn.Module):
        """Three dense blocks in a residual: ``x + 0.2 * rdb3(rdb2(rdb1(x)))``."""

        def __init__(self, num_feat, num_grow_ch):
            super().__init__()
            self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
            self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
            self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

        def forward(self, x):
            return self.rdb3(self.rdb2(self.rdb1(x))) * RESIDUAL_SCALE + x

    class RRDBNet(nn.Module):
        """(N, 3, h, w) RGB in [0, 1] -> (N, 3, scale*h, scale*w), about [0, 1] (clamp it)."""

        def __init__(self, config: RRDBConfig):
            super().__init__()
            if config.scale != 4:
                raise BadInputError(f"RRDBNet: only x4 models are supported, got x{config.scale}")
            self.config = config
            f = config.num_feat
            self.conv_first = nn.Conv2d(config.in_ch, f, 3, 1, 1)
            self.body = nn.Sequential(*[RRDB(f, config.num_grow_ch) for _ in range(config.num_block)])
            self.conv_body = nn.Conv2d(f, f, 3, 1, 1)
            self.conv_up1 = nn.Conv2d(f, f, 3, 1, 1)
            self.conv_up2 = nn.Conv2d(f, f, 3, 1, 1)
            self.conv_hr = nn.Conv2d(f, f, 3, 1, 1)
            self.conv_last = nn.Conv2d(f, config.out_ch, 3, 1, 1)
            self.lrelu = nn.LeakyReLU(LEAKY_SLOPE)
            self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, x):
            feat = self.conv_first(x)
            return self.tail(feat + self.conv_body(self.body(feat)))

        def tail(self, feat):
            """The upsampling part: trunk features (N, num_feat, h, w) -> (N, 3, 4h, 4w)."""
            feat = self.lrelu(self.conv_up1(self.upsample(feat)))
            feat = self.lrelu(self.conv_up2(self.upsample(feat)))
            return self.conv_last(self.lrelu(self.conv_hr(feat)))

    return RRDBNet


def build_rrdbnet(config: RRDBConfig = RRDBConfig()):
    """A randomly initialised ``RRDBNet`` (torch ``nn.Module``) of ``config``."""
    return _torch_modules()(config)


def conv_names(config: RRDBConfig) -> list:
    """Parameter prefixes of every convolution, in the order of the network (and of ncnn's file)."""
    names = ["conv_first"]
    for block in range(config.num_block):
        for rdb in (1, 2, 3):
            names += [f"body.{block}.rdb{rdb}.conv{j}" for j in range(1, DENSE_CONVS + 1)]
    return names + ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]


def conv_has_activation(name: str) -> bool:
    """Whether a LeakyReLU follows convolution ``name`` (ncnn fuses it as activation 9=2)."""
    leaf = name.rsplit(".", 1)[-1]
    return leaf in ("conv1", "conv2", "conv3", "conv4", "conv_up1", "conv_up2", "conv_hr")


@dataclass
class NcnnConv:
    """One Convolution layer of an ncnn .param file."""

    name: str
    outputs: int
    kernel: int
    padding: int
    bias: bool
    weight_count: int
    activation: int


def parse_param(text: str) -> tuple:
    """(convolutions, {layer type: count}) of an ncnn .param text; ``BadInputError`` if malformed."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0].strip() != str(NCNN_MAGIC):
        raise BadInputError(f"not an ncnn .param file (first line is not {NCNN_MAGIC})")
    convs, counts = [], {}
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        try:
            kind, name, n_in, n_out = parts[0], parts[1], int(parts[2]), int(parts[3])
            pairs = dict(p.split("=", 1) for p in parts[4 + n_in + n_out:])
        except (IndexError, ValueError):
            raise BadInputError(f"ncnn .param line {number} is malformed: {line[:60]!r}") from None
        counts[kind] = counts.get(kind, 0) + 1
        if kind == "Convolution":
            convs.append(NcnnConv(name, int(pairs.get("0", 0)), int(pairs.get("1", 0)), int(pairs.get("4", 0)),
                                  pairs.get("5", "0") == "1", int(pairs.get("6", 0)), int(pairs.get("9", 0))))
    return convs, counts


def infer_config(convs: list) -> RRDBConfig:
    """The ``RRDBConfig`` an ncnn RRDBNet graph has (from its convolution count and shapes)."""
    per_block = 3 * DENSE_CONVS
    if len(convs) < 6 or (len(convs) - 6) % per_block:
        raise BadInputError(f"ncnn graph has {len(convs)} convolutions: not an RRDBNet (1 + 15 n + 5)")
    num_feat, num_grow = convs[0].outputs, convs[1].outputs
    in_ch = convs[0].weight_count // (num_feat * 9)
    return RRDBConfig(num_feat=num_feat, num_block=(len(convs) - 6) // per_block, num_grow_ch=num_grow,
                      scale=4, in_ch=in_ch, out_ch=convs[-1].outputs)


def _expected_shapes(config: RRDBConfig) -> list:
    f, g = config.num_feat, config.num_grow_ch
    shapes = [(f, config.in_ch)]
    for _ in range(config.num_block * 3):
        shapes += [(g, f), (g, f + g), (g, f + 2 * g), (g, f + 3 * g), (f, f + 4 * g)]
    return shapes + [(f, f)] * 4 + [(config.out_ch, f)]


def ncnn_state_dict(param_path, bin_path) -> tuple:
    """(state dict in BasicSR names: weights as stored (float16 or float32), float32 biases;
    ``RRDBConfig``) from ncnn files.

    Raises ``BadInputError`` when the graph is not an RRDBNet x4 or the weight file does not
    hold exactly its weights.
    """
    convs, counts = parse_param(Path(param_path).read_text(encoding="utf-8"))
    config = infer_config(convs)
    if counts.get("Interp", 0) != 2:
        raise BadInputError(f"ncnn graph has {counts.get('Interp', 0)} upsampling layers, an x4 RRDBNet has 2")
    names = conv_names(config)
    data = Path(bin_path).read_bytes()
    state, offset = {}, 0
    for name, conv, (out_ch, in_ch) in zip(names, convs, _expected_shapes(config)):
        if (conv.outputs, conv.kernel, conv.padding, conv.weight_count) != (out_ch, 3, 1, out_ch * in_ch * 9) \
                or (conv.activation == 2) != conv_has_activation(name) or not conv.bias:
            raise BadInputError(f"ncnn layer {conv.name} does not match RRDBNet's {name} "
                                f"({out_ch}x{in_ch}x3x3, bias, activation {conv_has_activation(name)})")
        tag = struct.unpack_from("<I", data, offset)[0] if offset + 4 <= len(data) else None
        offset += 4
        if tag not in (TAG_FLOAT16, TAG_FLOAT32, None):
            raise BadInputError(f"ncnn layer {conv.name}: weight storage tag 0x{tag:08x} not supported "
                                "(float16 and float32 are)")
        size = (conv.weight_count * 2 + 3) // 4 * 4 if tag == TAG_FLOAT16 else conv.weight_count * 4
        if tag is None or offset + size + out_ch * 4 > len(data):
            raise BadInputError(f"ncnn weights end early at {conv.name}")
        weight = np.frombuffer(data, np.float16 if tag == TAG_FLOAT16 else np.float32, conv.weight_count, offset)
        offset += size
        bias = np.frombuffer(data, np.float32, out_ch, offset)
        offset += out_ch * 4
        state[f"{name}.weight"] = weight.reshape(out_ch, in_ch, 3, 3).copy()
        state[f"{name}.bias"] = bias.copy()
    if offset != len(data):
        raise BadInputError(f"ncnn weights: {len(data) - offset} bytes left over after the last layer")
    return state, config


def file_digest(path, chars=16) -> str:
    """Hex SHA-256 prefix of a file (names the converted cache entry)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:chars]


def converted_weights(param_path, bin_path, cache_folder) -> tuple:
    """(path of the safetensors state dict, ``RRDBConfig``): converted from ncnn on first use and
    kept in ``cache_folder`` under the .bin's name and digest (a changed file converts again)."""
    from safetensors.numpy import load_file, save_file

    from ..fileio import atomic_path
    param_path, bin_path = Path(param_path), Path(bin_path)
    for path in (param_path, bin_path):
        if not path.is_file():
            raise MissingWeightsError(f"ncnn model file {path} is missing")
    convs, _ = parse_param(param_path.read_text(encoding="utf-8"))
    config = infer_config(convs)
    target = Path(cache_folder) / f"{bin_path.stem}-{file_digest(bin_path)}.safetensors"
    if target.is_file():
        try:
            load_file(str(target))  # readable and complete: reuse it
            return target, config
        except Exception:  # a damaged cache entry: convert again
            pass
    state, config = ncnn_state_dict(param_path, bin_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        save_file(state, str(tmp), metadata={"source": bin_path.name, "format": "basicsr-rrdbnet",
                                             **{k: str(v) for k, v in config.__dict__.items()}})
    return target, config


def load_rrdbnet(weights_path, config: RRDBConfig, dtype=None, device="cpu"):
    """``RRDBNet`` with the safetensors state dict at ``weights_path``, in eval mode."""
    import torch
    from safetensors.torch import load_file
    model = build_rrdbnet(config)
    state = {k: v.float() for k, v in load_file(str(weights_path)).items()}
    model.load_state_dict(state, strict=True)
    return model.to(device=device, dtype=dtype or torch.float32).eval()
