# SPDX-License-Identifier: GPL-3.0-or-later
"""Image PDUs (on ``phy.pdus``' byte PDUs): raw RGB bytes, row-major, with meta keys
image_id (int), name (str), width, height (px), channels (3), format ("rgb8").
"""
import numpy as np

from ..constants import MAX_IMAGE_SIDE_PX
from ..errors import CorruptDataError
from ..phy.pdus import make_pdu, split_pdu


def image_to_pdu(image, image_id=0, name="", **extra):
    """(H, W, 3) uint8 RGB → image PDU."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    meta = {"image_id": int(image_id), "name": str(name), "width": int(width),
            "height": int(height), "channels": 3, "format": "rgb8", **extra}
    return make_pdu(image, meta)


def pdu_to_image(pdu):
    """Image PDU → (meta dict, (H, W, 3) uint8 array); validates sizes against the payload."""
    meta, payload = split_pdu(pdu)
    try:
        width, height = int(meta["width"]), int(meta["height"])
    except (KeyError, TypeError, ValueError, OverflowError):    # OverflowError: width = inf
        raise CorruptDataError("image PDU lacks integer 'width'/'height' meta") from None
    if not (0 < width <= MAX_IMAGE_SIDE_PX and 0 < height <= MAX_IMAGE_SIDE_PX):
        raise CorruptDataError(f"image PDU size {width}x{height} out of range")
    if meta.get("format", "rgb8") != "rgb8" or payload.size != width * height * 3:
        raise CorruptDataError(f"image PDU holds {payload.size} bytes, expected {width}x{height}x3")
    return meta, payload.reshape(height, width, 3)
