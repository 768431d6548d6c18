# SPDX-License-Identifier: GPL-3.0-or-later
"""PDU conventions: the one place where Python values become PMT messages and back.

A PDU is ``pmt.cons(meta, pmt.u8vector)``. Meta is a PMT dict whose values are plain numbers,
strings, booleans or lists of numbers (``pmt.to_pmt`` / ``pmt.to_python``). Byte PDUs
(sections, fragments, packets) carry opaque bytes; their meta is documented by the block that
makes them. Image PDUs are built on these in ``blocks.pdus``.
"""
import struct

import numpy as np
import pmt

from ..errors import CorruptDataError


def _serialised_prefix(empty):
    """(type bytes, padding bytes) around the length in PMT's serialised form of an empty vector."""
    raw = pmt.serialize_str(empty)
    return raw[:2], raw[6:]


_C32_PREFIX = _serialised_prefix(pmt.init_c32vector(0, []))


def c32vector(values):
    """PMT c32vector of complex values (array-like), built from PMT's serialised form (big-endian
    float pairs after a type and length header): 2.3 times faster than ``pmt.init_c32vector``
    from a list, and over 8 times faster than from an array."""
    values = np.asarray(values, ">c8").ravel()
    return _from_serialised(_C32_PREFIX, values.size, values.tobytes())


def _from_serialised(prefix, count, raw):
    """The PMT vector of ``count`` items whose big-endian bytes are ``raw``; ``prefix`` from
    ``_serialised_prefix``."""
    kind, padding = prefix
    return pmt.deserialize_str(kind + struct.pack(">I", count) + padding + raw)


_U8_PREFIX = _serialised_prefix(pmt.init_u8vector(0, []))


def u8vector(data):
    """PMT u8vector of bytes-like or uint8 array ``data``, built from PMT's serialised form: ten
    times faster than ``pmt.init_u8vector`` from a list."""
    payload = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    payload = np.ascontiguousarray(payload, dtype=np.uint8).ravel()
    return _from_serialised(_U8_PREFIX, payload.size, payload.tobytes())


def make_pdu(data, meta=None, **more_meta):
    """PDU of ``data`` (bytes-like or uint8 array) with meta ``meta`` (dict) and ``more_meta``."""
    meta = {**dict(meta or {}), **more_meta}
    return pmt.cons(pmt.to_pmt(meta) if meta else pmt.make_dict(), u8vector(data))


def split_pdu(pdu):
    """PDU → (meta dict, payload as a uint8 array). Raises CorruptDataError if not a u8 PDU."""
    if not pmt.is_pair(pdu):
        raise CorruptDataError("message is not a PDU (expected a pair of meta dict and u8vector)")
    meta_pmt, vector = pmt.car(pdu), pmt.cdr(pdu)
    if not pmt.is_u8vector(vector):
        raise CorruptDataError("PDU payload is not a u8vector")
    meta = pmt.to_python(meta_pmt) if pmt.is_dict(meta_pmt) else {}
    payload = np.frombuffer(bytearray(pmt.u8vector_elements(vector)), np.uint8)   # 5x faster than to_python
    return dict(meta or {}), payload


def pdu_meta(msg):
    """(meta dict, payload bytes) of a PDU (``split_pdu`` with the payload as bytes)."""
    meta, payload = split_pdu(msg)
    return meta, payload.tobytes()


def is_done(msg):
    """True for the ``done`` message GNU Radio posts to a block's ``system`` port."""
    return pmt.is_pair(msg) and pmt.eqv(pmt.car(msg), pmt.intern("done"))


def take_queued(block, port, limit=None):
    """The messages still queued on ``block``'s input ``port`` (at most ``limit``), each taken off
    the queue as it is yielded."""
    taken = 0
    while limit is None or taken < limit:
        queued = block.delete_head_nowait(pmt.intern(port))
        if queued is None or pmt.is_null(queued):
            return
        taken += 1
        yield queued


def drain(block, port, handle):
    """Call ``handle`` on every message still queued on ``block``'s input ``port``: on ``done``,
    GNU Radio handles the system port before other queued messages and drops the rest."""
    for queued in take_queued(block, port):
        handle(queued)
