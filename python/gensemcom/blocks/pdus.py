"""PDU conventions: the one place where Python values become PMTs and back.

A PDU is ``pmt.cons(meta, pmt.u8vector)``. Meta is a PMT dict whose values are plain
numbers, strings, booleans or lists of numbers (``pmt.to_pmt`` / ``pmt.to_python``).

Image PDUs carry raw RGB bytes, row-major, with meta keys
  image_id (int), name (str), width, height (px), channels (3), format ("rgb8").
Byte PDUs (sections, fragments, packets) carry opaque bytes; their meta is documented by
the block that makes them.
"""
import numpy as np
import pmt

from ..errors import CorruptDataError

MAX_IMAGE_SIDE_PX = 16384


def make_pdu(data, meta=None):
    """bytes-like or uint8 array + dict → PDU."""
    payload = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    payload = np.ascontiguousarray(payload, dtype=np.uint8).ravel()
    meta_pmt = pmt.to_pmt(dict(meta or {})) if meta else pmt.make_dict()
    return pmt.cons(meta_pmt, pmt.init_u8vector(payload.size, payload.tolist()))


def split_pdu(pdu):
    """PDU → (meta dict, payload as a read-only uint8 array). Raises CorruptDataError if not a u8 PDU."""
    if not pmt.is_pair(pdu):
        raise CorruptDataError("message is not a PDU (expected a pair of meta dict and u8vector)")
    meta_pmt, vector = pmt.car(pdu), pmt.cdr(pdu)
    if not pmt.is_u8vector(vector):
        raise CorruptDataError("PDU payload is not a u8vector")
    meta = pmt.to_python(meta_pmt) if pmt.is_dict(meta_pmt) else {}
    payload = pmt.to_python(vector)
    return dict(meta or {}), np.asarray(payload, dtype=np.uint8)


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
