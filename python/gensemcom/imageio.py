# SPDX-License-Identifier: GPL-3.0-or-later
"""Loading and saving images for the CLI and blocks: one validated RGB uint8 form everywhere.

``load_image(path)`` accepts PNG, JPEG, WebP, TIFF and BMP files in RGB, RGBA, grey, palette,
CMYK or 16-bit form, and returns an (H, W, 3) uint8 RGB array. Anything else (a non-image,
an empty or truncated file, an image larger than ``MAX_PIXELS`` — a decompression bomb — or
smaller than ``MIN_SIDE``) raises ``BadInputError`` with a one-line reason. Alpha is
composited over white; EXIF orientation is applied; 16-bit samples are scaled to 8 bits.
"""
from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np

from .errors import BadInputError
from .fileio import atomic_path

FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP", "TIFF": "TIFF", "BMP": "BMP"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")   # files of those formats
MAX_PIXELS = 64_000_000       # larger inputs are refused (decompression-bomb guard)
MIN_SIDE = 16


def load_image(path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB (see module docstring)."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"no such file: {path}")
    if path.is_dir():
        raise BadInputError(f"{path} is a folder, not an image file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format not in FORMATS:
                    raise BadInputError(f"{path}: {image.format} images are not supported "
                                        f"(use PNG, JPEG, WebP, TIFF or BMP)")
                width, height = image.size
                if width * height > max_pixels:
                    raise BadInputError(f"{path}: {width}x{height} is over the {max_pixels:,}-pixel limit "
                                        "(possible decompression bomb)")
                if min(width, height) < MIN_SIDE:
                    raise BadInputError(f"{path}: {width}x{height} is too small "
                                        f"(at least {MIN_SIDE} px a side)")
                image.load()
                image = ImageOps.exif_transpose(image)
                return to_rgb8(image)
    except BadInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInputError(f"{path}: image over the pixel limit (possible decompression bomb)") from None
    except UnidentifiedImageError as exc:
        raise BadInputError(f"{path}: not a readable image ({_reason(exc)})") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, struct.error) as exc:
        raise BadInputError(f"{path}: damaged or unsupported image ({_reason(exc)})") from None


def _reason(exc) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def to_rgb8(image) -> np.ndarray:
    """A Pillow image in any mode -> (H, W, 3) uint8 RGB (alpha over white, 16-bit scaled)."""
    from PIL import Image
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if mode == "F":
            top = 1.0 if values.max() <= 1.0 else 255.0
        else:
            top = 65535.0 if values.max() > 255 else 255.0
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if mode in ("LA", "PA") or image.mode in ("RGBA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def save_png(path, image: np.ndarray):
    """Write an (H, W) or (H, W, 3) uint8 array as PNG, atomically (no partial file on failure)."""
    from PIL import Image
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, "PNG")


def load_mask(path, width: int, height: int) -> np.ndarray:
    """A key-mask image (non-zero / non-black = key) as an (height, width) bool array."""
    mask_rgb = load_image(path)
    if mask_rgb.shape[:2] != (height, width):
        raise BadInputError(f"{path}: mask is {mask_rgb.shape[1]}x{mask_rgb.shape[0]}, "
                            f"the image is {width}x{height}")
    mask = mask_rgb.max(axis=2) >= 128
    if not mask.any():
        raise BadInputError(f"{path}: the mask marks no key pixels (key = white / >= 128)")
    return mask


def parse_boxes(text: str, width: int, height: int) -> np.ndarray:
    """Boxes "x0,y0,x1,y1;x0,y0,x1,y1" (pixels, end exclusive) -> (height, width) bool mask."""
    mask = np.zeros((height, width), bool)
    for item in filter(None, (part.strip() for part in str(text).split(";"))):
        try:
            x0, y0, x1, y1 = (int(round(float(v))) for v in item.split(","))
        except ValueError:
            raise BadInputError(f"box {item!r} is not x0,y0,x1,y1") from None
        x0, x1 = max(0, min(x0, x1)), min(width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(height, max(y0, y1))
        if x1 <= x0 or y1 <= y0:
            raise BadInputError(f"box {item!r} is empty or outside the {width}x{height} image")
        mask[y0:y1, x0:x1] = True
    if not mask.any():
        raise BadInputError("no boxes given (expected x0,y0,x1,y1;...)")
    return mask
