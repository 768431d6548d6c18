# SPDX-License-Identifier: GPL-3.0-or-later
"""The semantic codec: image -> container within a budget, and received sections -> image.

Encoder
  1. significance: ``Segmenter.analyze`` (or a user mask) -> per-pixel importance;
     the key mask is the top ``key_fraction`` of a grid of ``cell_px`` cells (holes filled).
  2. prompt: ``PromptGenerator.describe`` -> ``StructuredPrompt`` (always sent; shrunk if the
     budget is tiny).
  3. base: a smooth colour field of the whole image that the receiver can rebuild exactly,
     from the visual hints (a tiny AV1 thumbnail, when rate control finds it worth its bytes)
     or else from the prompt's layout colours.
  4. key stream: the residual ``(image - base) * w + 128`` where ``w`` is the key mask feathered
     by ``feather_px``. Outside the key area it is exactly flat, so it costs almost nothing;
     inside, the codec spends the bits on key detail only. It is coded (AV1 by default, bare
     bitstream) at the scale and quality that give the best key-region error within budget,
     in ``key_bands`` independently decodable horizontal bands.
  5. container: META, PROMPT, MASK, HINTS, KEY... sections (``container``), never over budget.
Decoder
  base (hints, else prompt layout, else mid-grey) + upsampled key residual -> canvas;
  ``Generator.generate`` fills the unknown area; fusion ``w * canvas + (1 - w) * generated``;
  lost key bands, hints, mask or prompt degrade to what the rest allows, and a report says so.
"""
from __future__ import annotations

import numpy as np

from ..classical import stillcodec
from ..constants import MAX_DECODE_PIXELS, MAX_IMAGE_SIDE_PX
from ..errors import BadInputError
from ..imagecodec import DecodeResult, EncodeResult
from ..transport.budget import Budget
from ..transport.container import Container, section_wire_bytes
from ..transport.reassembly import Received, parse_tolerant, reassemble, received_from_container
from . import maskcode
from .backends import BACKENDS, build_backend
from .config import CodecConfig
from .decoder import decode_received
from .interfaces import Significance
from .keyarea import auto_key_fraction, select_key_grid
from .planner import Planner
from .prompt import StructuredPrompt

MIN_SIDE = 16


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise BadInputError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE or max(height, width) > MAX_IMAGE_SIDE_PX:
        raise BadInputError(f"image {width}x{height} out of range (sides {MIN_SIDE}..{MAX_IMAGE_SIDE_PX} px)")
    return np.ascontiguousarray(image)


class SemanticCodec:
    """Encoder and decoder of the semantic codec with pluggable backends.

    ``SemanticCodec()`` is the offline default stack. ``from_config`` builds one from data:
    ``{"codec": {CodecConfig fields}, "segmenter": {"name": ..., params},
    "prompt_generator": {...}, "generator": {...}}`` (names from ``register_backend``).
    Backends given explicitly win; missing ones come from ``stack`` (any object with
    ``segmenter``/``prompt_generator``/``generator`` attributes, e.g. ``models.load_stack``,
    loaded lazily), else the offline defaults. Encoding never loads the generator, decoding
    never loads the segmenter or prompt generator.
    """

    def __init__(self, segmenter=None, prompt_generator=None, generator=None, config: CodecConfig = None,
                 stack=None):
        self.config = config or CodecConfig()
        self._segmenter = segmenter
        self._prompt_generator = prompt_generator
        self._generator = generator
        self._stack = stack

    @classmethod
    def from_config(cls, config: dict = None, stack=None) -> "SemanticCodec":
        """Build from data (see class docstring); ``stack`` as in the constructor."""
        config = dict(config or {})
        unknown = set(config) - {"codec", "segmenter", "prompt_generator", "generator"}
        if unknown:
            raise BadInputError(f"unknown stack config keys: {', '.join(sorted(unknown))}")
        backends = {kind: build_backend(kind, config[kind]) for kind in BACKENDS if kind in config}
        return cls(**backends, config=CodecConfig.from_dict(config.get("codec", {})), stack=stack)

    def _backend(self, kind):
        attr = f"_{kind}"
        if getattr(self, attr) is None:
            if self._stack is not None:
                return getattr(self._stack, kind)       # the stack loads it on first use
            setattr(self, attr, build_backend(kind, "offline"))
        return getattr(self, attr)

    @property
    def segmenter(self):
        return self._backend("segmenter")

    @property
    def prompt_generator(self):
        return self._backend("prompt_generator")

    @property
    def generator(self):
        return self._backend("generator")

    # ------------------------------------------------------------------------------- encoding
    def encode(self, image: np.ndarray, budget, key_mask: np.ndarray = None, image_id: int = 0,
               key_fraction: float = None) -> EncodeResult:
        """Encode an (H, W, 3) uint8 RGB image into a container that fits ``budget``.

        budget        a byte count or a ``Budget`` (bytes and/or channel symbols)
        key_mask      optional (H, W) bool: the user's key regions (replaces the segmenter)
        image_id      0..65535, carried by the container and every fragment
        key_fraction  overrides the config's target key-area share
        Raises ``BudgetTooSmallError`` when not even the smallest prompt fits.
        """
        cfg = self.config
        image = _check_image(image)
        budget = Budget.of(budget)
        height, width = image.shape[:2]
        if not 0 <= image_id < 65536:
            raise BadInputError(f"image_id must be 0..65535, got {image_id}")
        if cfg.codec not in stillcodec.available_codecs():
            raise BadInputError(f"codec {cfg.codec!r} is not available in this Pillow build")
        equivalent = budget.equivalent_bytes()
        cell_px = cfg.cell_px or maskcode.cell_size_for(width, height)
        feather_px = cfg.feather_px if cfg.feather_px is not None else cell_px // 2

        if key_mask is not None:
            key_mask = np.asarray(key_mask, dtype=bool)
            if key_mask.shape != (height, width):
                raise BadInputError(f"key mask is {key_mask.shape[1]}x{key_mask.shape[0]}, "
                                    f"image is {width}x{height}")
            significance = Significance(importance=key_mask.astype(np.float32), labels=[])
            grid = maskcode.mask_to_grid(key_mask, cell_px, min_cover=0.25)
            target = float(grid.mean())
        else:
            significance = self.segmenter.analyze(image)
            target = key_fraction or cfg.key_fraction or auto_key_fraction(equivalent, width, height)
            grid = select_key_grid(significance.importance, target, cell_px)
        mask = maskcode.grid_to_mask(grid, width, height, cell_px)
        prompt = (self.prompt_generator.describe(image, mask, significance) if cfg.prompt == "on"
                  else StructuredPrompt.neutral())

        plan = Planner(self, image, budget, cell_px, feather_px, image_id)
        prompt_bytes = plan.fit_prompt(prompt)
        if cfg.key_area:
            result = plan.search(grid, prompt_bytes, significance, target,
                                 adapt=cfg.adapt_key_area and key_mask is None)
        else:
            result = plan.prompt_only(prompt_bytes, {"key_fraction_target": 0.0})
        container = result["container"]
        data = container.to_bytes()
        n_bytes, symbols = budget.cost([(s.importance, section_wire_bytes(len(s.payload)))
                                        for s in container.sections])
        if not budget.fits([(s.importance, section_wire_bytes(len(s.payload))) for s in container.sections]):
            raise AssertionError("rate control exceeded the budget")  # a bug, never user error
        report = result["report"]
        report.update({
            "image_size": [width, height], "image_id": image_id, "budget": budget.describe(),
            "container_bytes": len(data), "cost_bytes": n_bytes,
            "cost_samples": symbols if budget.samples_for_bytes else None,
            "sections": [{"type": s.type_name, "importance": int(s.importance),
                          "payload_bytes": len(s.payload), "bytes": section_wire_bytes(len(s.payload))}
                         for s in container.sections],
            "prompt_text": result["prompt"].to_text(),
        })
        return EncodeResult(container, data, result["mask"], result["prompt"], significance, report)

    # ------------------------------------------------------------------------------- decoding
    def decode(self, received, size=None, seed: int = None, strict: bool = True,
               max_pixels: int = MAX_DECODE_PIXELS) -> DecodeResult:
        """Decode a container (bytes / ``Container``), fragments (list of packets) or ``Received``.

        size        (width, height) to use if the header was lost
        seed        generator seed (default: the image id)
        strict      for bytes: raise ``CorruptDataError`` on any damage (False: decode what parses)
        max_pixels  refuse (``CorruptDataError``) containers that claim a larger image: the
                    size comes off the air and the output is always that size
        """
        if isinstance(received, (bytes, bytearray, memoryview)):
            received = (received_from_container(Container.from_bytes(received)) if strict
                        else parse_tolerant(bytes(received)))
        elif isinstance(received, Container):
            received = received_from_container(received)
        elif isinstance(received, (list, tuple)):
            received = reassemble(received)
        if not isinstance(received, Received):
            raise BadInputError("decode needs container bytes, a Container, fragments or a Received")
        return decode_received(self, received, size, seed, max_pixels)
