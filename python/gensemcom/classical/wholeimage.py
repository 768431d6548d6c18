"""Whole-image classical codec in the ``.gsc`` container: the separation baselines' sender and receiver.

``WholeImageCodec(codec)`` codes the whole image as one standard file (JPEG, WebP or AVIF) at
the best quality and scale that fit the budget (``baselines.fit_whole_image``), wrapped in a
container with a single ``IMAGE`` section, so it travels through the same fragmenter, PHY
and reassembler as the semantic scheme and pays the same framing overhead. The receiver
decodes the file only if every fragment of it arrived with a good CRC; otherwise — and when
nothing fits the budget — the image is scored as flat mean grey (``baselines.mean_grey``),
the field's convention for a failed transmission, and the report says ``delivered: false``.
"""
from __future__ import annotations

import io
import warnings

import numpy as np

from ..constants import BASELINE_SCHEMES, MAX_DECODE_PIXELS, MAX_IMAGE_SIDE_PX
from ..errors import BadInputError, CorruptDataError
from ..imagecodec import DecodeResult, EncodeResult
from ..imageops import resize
from ..transport.budget import Budget
from ..transport.container import Container, Section, SectionType, section_wire_bytes
from ..transport.reassembly import Received, received_from_container
from .baselines import fit_whole_image, mean_grey

CODECS = BASELINE_SCHEMES
PIL_FORMATS = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}
MAX_FILE_PIXELS = MAX_IMAGE_SIDE_PX * MAX_IMAGE_SIDE_PX


def largest_section_payload(budget: Budget, importance) -> int:
    """Largest payload (bytes) of one section of ``importance`` that fits ``budget``; 0 if none."""
    lo, hi = 0, budget.budget_bytes if budget.budget_bytes is not None else 1 << 22
    if not budget.fits([(importance, section_wire_bytes(0))]):
        return 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if budget.fits([(importance, section_wire_bytes(mid))]):
            lo = mid
        else:
            hi = mid - 1
    return lo


class WholeImageCodec:
    """Sender and receiver of a whole-image baseline (see module docstring).

    codec   "jpeg", "webp" or "avif"
    """

    def __init__(self, codec: str = "jpeg"):
        if codec not in CODECS:
            raise BadInputError(f"unknown baseline codec {codec!r}; choose from {', '.join(CODECS)}")
        self.codec = codec

    def encode(self, image: np.ndarray, budget, image_id: int = 0, **_ignored) -> EncodeResult:
        """Code ``image`` (H, W, 3 uint8) within ``budget`` (bytes or ``Budget``).

        When nothing fits, the container holds no IMAGE section (only the header), and the
        report says ``fits: false``.
        """
        budget = Budget.of(budget)
        height, width = image.shape[:2]
        file_budget = largest_section_payload(budget, Section(SectionType.IMAGE, b"").importance)
        result = fit_whole_image(image, file_budget, self.codec) if file_budget > 0 else None
        sections = []
        if result is not None and result.fits:
            sections.append(Section(SectionType.IMAGE, result.data))
        container = Container(image_id, width, height, sections)
        report = {"scheme": self.codec, "fits": bool(sections), "file_budget_bytes": file_budget,
                  "file_bytes": len(sections[0].payload) if sections else 0,
                  "quality": result.quality if sections else None,
                  "scale_factor": result.scale_factor if sections else None,
                  "container_bytes": len(container.to_bytes()), "key_fraction": 0.0, "prompt_bytes": 0}
        return EncodeResult(container, container.to_bytes(), np.zeros((height, width), bool), None, None,
                            report)

    def decode(self, received, size=None, seed: int = None, strict: bool = False,
               max_pixels: int = MAX_DECODE_PIXELS) -> DecodeResult:
        """Decode bytes, a ``Container`` or a ``Received``; mean grey when the file is missing or damaged.

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
        files = received.find(SectionType.IMAGE)
        if files:
            try:
                image = resize(_decode_file(files[0].payload, width, height), width, height)
                report["delivered"] = True
            except CorruptDataError as exc:
                report["error"] = str(exc)
        if not report["delivered"]:
            report["regenerated"] = ["whole image (scored as mean grey)"]
        return DecodeResult(image, np.zeros((height, width), bool), None, report)


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
