# SPDX-License-Identifier: GPL-3.0-or-later
"""Whole-image classical codecs in the ``.gsc`` container: the separation baselines' sender and receiver.

``WholeImageCodec(scheme)`` codes the whole image at the best quality and scale that fit the
budget (``baselines.fit_whole_image``), in a container with a single section, so it travels
through the same planner, fragmenter, PHY and reassembler as the semantic scheme and pays the
same framing overhead. Each baseline is the strongest of its kind:

  av1      a bare AV1 stream (OBUs, no HEIF boxes) in a STILL section with the same minimal
           framing the semantic container gives its key streams: codec id and coded size
  webp     a bare VP8 stream (no RIFF) in a STILL section
  jpeg     a JPEG without APP/COM segments in a STILL section
  roi-av1  one bare AV1 stream of the image with the non-key area low-pass filtered before
           coding, given the semantic sender's key mask (``roi.fit_roi``): region-of-interest
           coding without a prompt or a generator
  avif     a standard AVIF file (IMAGE section): the reference the others improve on

Encoder options (tune, chroma subsampling, WebP effort) are the ones that served each codec
best on images outside the benchmark (``BASELINE_OPTIONS``, benchmarks/baseline_options.py).
The receiver decodes the stream only if every fragment of it arrived with a good CRC and
upsamples it to the image size (bicubic, or ``upscaler``: a learned super-resolution any
receiver of a downscaled picture may use); otherwise the image is scored as flat mean grey
(``baselines.mean_grey``), the field's convention for a failed transmission, and the report
says ``delivered: false``.
"""
from __future__ import annotations

import io
import struct
import warnings

import numpy as np

from ..constants import BASELINE_SCHEMES, MAX_DECODE_PIXELS, MAX_IMAGE_SIDE_PX
from ..errors import BadInputError, CorruptDataError
from ..imagecodec import DecodeResult, EncodeResult
from ..imageops import resize, scaled_size
from ..transport.budget import Budget
from ..transport.container import Container, Section, SectionType, section_wire_bytes
from ..transport.reassembly import Received, received_from_container
from . import stillcodec
from .baselines import fit_whole_image, mean_grey

CODECS = BASELINE_SCHEMES
PIL_FORMATS = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}
MAX_FILE_PIXELS = MAX_IMAGE_SIDE_PX * MAX_IMAGE_SIDE_PX
STILL_HEADER = struct.Struct(">BHH")            # codec id, coded width, coded height
# scheme -> (what is sent, stillcodec codec, encoder options): measured on skimage's photos
# at 0.03-0.25 bit/pixel (benchmarks/baseline_options.py, docs/results.md "Baselines")
BASELINE_OPTIONS = {
    "av1": ("stream", "avif", {"tune": "ssim", "subsampling": "4:2:0"}),
    "webp": ("stream", "webp", {"method": 6}),
    "jpeg": ("stream", "jpeg", {"subsampling": "4:2:0"}),
    "roi-av1": ("roi", "avif", {"tune": "ssim", "subsampling": "4:2:0"}),
    "avif": ("file", "avif", {}),
}


def largest_section_payload(budget: Budget, importance) -> int:
    """Largest payload (bytes) of one section of ``importance`` that fits ``budget``; 0 if none."""
    if not budget.fits([(importance, section_wire_bytes(0))]):
        return 0
    hi = budget.budget_bytes if budget.budget_bytes is not None else 1 << 22
    if budget.budget_samples is not None:        # no packet carries more than a byte per sample
        hi = min(hi, int(budget.budget_samples))
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if budget.fits([(importance, section_wire_bytes(mid))]):
            lo = mid
        else:
            hi = mid - 1
    return lo


class WholeImageCodec:
    """Sender and receiver of a whole-image baseline (see module docstring).

    scheme     "av1", "webp", "jpeg", "roi-av1" or "avif"
    upscaler   receiver option: (small (h, w, 3) uint8, width, height) -> (height, width, 3)
               uint8 upsampling of a downscaled picture (None: bicubic)
    """

    def __init__(self, scheme: str = "av1", upscaler=None):
        if scheme not in CODECS:
            raise BadInputError(f"unknown baseline {scheme!r}; choose from {', '.join(CODECS)}")
        self.codec = scheme
        self.kind, self.stream_codec, self.options = BASELINE_OPTIONS[scheme]
        self.upscaler = upscaler

    def encode(self, image: np.ndarray, budget, image_id: int = 0, key_mask=None, speed: int = 6,
               **_ignored) -> EncodeResult:
        """Code ``image`` (H, W, 3 uint8) within ``budget`` (bytes or ``Budget``).

        key_mask  (H, W) bool: the key regions ``roi-av1`` favours (needed by it, ignored by
                  the others)
        speed     AV1 encoder speed (6: what is sent; a planner's search may encode faster)
        When nothing fits, the container holds no section (only the header), and the report
        says ``fits: false``.
        """
        budget = Budget.of(budget)
        height, width = image.shape[:2]
        section_type = SectionType.IMAGE if self.kind == "file" else SectionType.STILL
        payload_budget = largest_section_payload(budget, Section(section_type, b"").importance)
        overhead = 0 if self.kind == "file" else STILL_HEADER.size
        result = None
        if payload_budget > overhead:
            if self.kind == "roi":
                from .roi import fit_roi
                if key_mask is None:
                    raise BadInputError("roi-av1 needs the key mask (the semantic sender's)")
                result = fit_roi(image, np.asarray(key_mask, bool), payload_budget - overhead, self.stream_codec,
                                 search_speed=max(speed, 9), speed=speed, **self.options)
            else:
                result = fit_whole_image(image, payload_budget - overhead, self.stream_codec, speed=speed,
                                         standard_file=self.kind == "file", **self.options)
        sections = []
        if result is not None and result.fits:
            if self.kind == "file":
                sections.append(Section(SectionType.IMAGE, result.data))
            else:
                w, h = scaled_size(width, height, result.scale_factor)
                header = STILL_HEADER.pack(stillcodec.CODEC_IDS[self.stream_codec], w, h)
                sections.append(Section(SectionType.STILL, header + result.data))
        container = Container(image_id, width, height, sections)
        report = {"scheme": self.codec, "fits": bool(sections), "file_budget_bytes": payload_budget,
                  "file_bytes": len(sections[0].payload) if sections else 0,
                  "quality": result.quality if sections else None,
                  "scale_factor": result.scale_factor if sections else None,
                  "container_bytes": len(container.to_bytes()), "key_fraction": 0.0, "prompt_bytes": 0}
        if sections and getattr(result, "blur_px", None) is not None:
            report["roi_blur_px"] = result.blur_px
        return EncodeResult(container, container.to_bytes(), np.zeros((height, width), bool), None, None,
                            report)

    def decode(self, received, size=None, seed: int = None, strict: bool = False,
               max_pixels: int = MAX_DECODE_PIXELS) -> DecodeResult:
        """Decode bytes, a ``Container`` or a ``Received``; mean grey when the stream is missing or damaged.

        max_pixels  refuse (``CorruptDataError``) an image size over this many pixels: the size
                    comes off the air and the output is always that size
        """
        if isinstance(received, (bytes, bytearray, memoryview)):
            received = received_from_container(Container.from_bytes(bytes(received)))
        elif isinstance(received, Container):
            received = received_from_container(received)
        if not isinstance(received, Received):
            raise BadInputError("decode needs container bytes, a Container or a Received")
        if received.header is not None:
            width, height = received.header[:2]
        elif size is not None:
            width, height = size
        else:
            raise CorruptDataError("the container header was lost and no image size was given")
        if not (1 <= width <= MAX_IMAGE_SIDE_PX and 1 <= height <= MAX_IMAGE_SIDE_PX) or width * height > max_pixels:
            raise CorruptDataError(f"image size {width}x{height} out of range "
                                   f"(at most {max_pixels:,} pixels)")
        report = {"scheme": self.codec, "delivered": False, "sections_received": len(received.sections),
                  "sections_missing": len(received.missing), "regenerated": []}
        image = mean_grey((height, width, 3))
        small = None
        try:
            files = received.find(SectionType.IMAGE)
            stills = received.find(SectionType.STILL)
            if files:
                small = _decode_file(files[0].payload, width, height)
            elif stills:
                small = decode_still_section(stills[0].payload, width, height)
        except CorruptDataError as exc:
            report["error"] = str(exc)
        if small is not None:
            if small.shape[:2] == (height, width) or self.upscaler is None:
                image = resize(small, width, height)
            else:
                image = np.asarray(self.upscaler(small, width, height), np.uint8)
                report["upscaler"] = getattr(self.upscaler, "__name__", type(self.upscaler).__name__)
            report["delivered"] = True
        if not report["delivered"]:
            report["regenerated"] = ["whole image (scored as mean grey)"]
        return DecodeResult(image, np.zeros((height, width), bool), None, report)


def decode_still_section(payload: bytes, width: int, height: int) -> np.ndarray:
    """Decode an untrusted STILL section of a ``width`` x ``height`` image: (h, w, 3) uint8 at
    the coded size, which may not exceed the image's."""
    payload = bytes(payload)
    if len(payload) <= STILL_HEADER.size:
        raise CorruptDataError("STILL section shorter than its header")
    codec_id, w, h = STILL_HEADER.unpack_from(payload)
    if codec_id not in stillcodec.CODEC_NAMES:
        raise CorruptDataError(f"STILL section of unknown codec id {codec_id}")
    if not (1 <= w <= width and 1 <= h <= height):
        raise CorruptDataError(f"STILL section is {w}x{h}, larger than the {width}x{height} image")
    return stillcodec.decode_still(payload[STILL_HEADER.size:], stillcodec.CODEC_NAMES[codec_id], w, h)


def _decode_file(data: bytes, width: int, height: int) -> np.ndarray:
    """Decode an untrusted standard image file no larger than the announced image."""
    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # DecompressionBombWarning: the size check follows
            with Image.open(io.BytesIO(bytes(data))) as img:
                if img.format not in PIL_FORMATS.values():
                    raise CorruptDataError(f"IMAGE section holds a {img.format} file")
                w, h = img.size
                if not (1 <= w <= width and 1 <= h <= height) or w * h > MAX_FILE_PIXELS:
                    raise CorruptDataError(f"IMAGE section is {w}x{h}, larger than the "
                                           f"{width}x{height} image")
                return np.asarray(img.convert("RGB"))
    except CorruptDataError:
        raise
    except Exception as exc:    # any decoder failure on untrusted bytes (DecompressionBombError,
        #                         struct.error, EOFError ... are not OSError/ValueError)
        raise CorruptDataError(f"IMAGE section does not decode: {type(exc).__name__}: {exc}") from None
