# SPDX-License-Identifier: GPL-3.0-or-later
"""Bits of a packet: header fields, CRCs, FEC, repetition, interleaving, scrambling.

TX (``encode_frame``): payload bytes -> data-carrier symbols (header then payload) that the
carrier allocator spreads over OFDM symbols. RX: ``decode_header_llr`` and
``decode_payload_llr`` take per-slot LLRs of equalised symbols.

Slot pipeline (header and payload alike): coded bits c (length Nc) fill the ``n_slots``
bit positions of their OFDM symbols cyclically (slot j carries c[j mod Nc], so a repetition
factor r and the fill of the last symbol are one rule); slots are XORed with the 802.11
scrambler sequence and permuted by a fixed pseudo-random interleaver, so copies and
neighbouring bits land on different carriers and symbols. The receiver undoes the
permutation and the scrambling on LLRs and adds the LLRs of all copies (for uncoded MCS only
the first copy is used, so the measured BER is that of the modulation alone).

Header: 40 bits (MCS index 5, payload length - 1 13, sequence number 16, flags 6) + CRC-16
(CCITT, init 0xFFFF) = 56 bits, K=7 rate-1/2 convolutional code with zero tail (124 bits),
BPSK, ``header_repeats`` copies.
"""
import binascii
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

from . import convcode, ldpc
from .config import HEADER_CODED_BITS, HEADER_INFO_BITS, lfsr_bits
from .mcs import CRC_BYTES, MAX_PAYLOAD_BYTES, MCS_BY_INDEX, check_payload_bytes, frame_size, get_mcs
from .modulation import hard_bits, modulate

MAX_SEQ = (1 << 16) - 1
MAX_FLAGS = (1 << 6) - 1
FLAG_FILLER = 0x20  # end-of-stream filler burst: receivers drop it
_HEADER_FIELDS = (("mcs_index", 5), ("length_minus_1", 13), ("seq", 16), ("flags", 6))
_HEADER_SEED, _PAYLOAD_SEED = 0x4844, 0x504C


@dataclass(frozen=True)
class Header:
    """Header fields: MCS name, payload length in bytes, sequence number, 6 flag bits."""

    mcs: str
    payload_len: int
    seq: int = 0
    flags: int = 0


def bytes_to_bits(data):
    return np.unpackbits(np.frombuffer(bytes(data), np.uint8))


def bits_to_bytes(bits):
    return np.packbits(np.asarray(bits, np.uint8)).tobytes()


def crc32(data):
    """CRC-32 (IEEE 802.3) of bytes as 4 little-endian bytes."""
    return zlib.crc32(bytes(data)).to_bytes(4, "little")


def header_bits(header):
    """The 56 header bits (fields + CRC-16) of a ``Header``."""
    mcs = get_mcs(header.mcs)
    check_payload_bytes(header.payload_len)
    if not 0 <= header.seq <= MAX_SEQ or not 0 <= header.flags <= MAX_FLAGS:
        raise ValueError(f"seq must be 0..{MAX_SEQ} and flags 0..{MAX_FLAGS}")
    values = (mcs.index, header.payload_len - 1, header.seq, header.flags)
    word = 0
    for (name, width), value in zip(_HEADER_FIELDS, values):
        word = (word << width) | value
    info = word.to_bytes(HEADER_INFO_BITS // 8, "big")
    crc = binascii.crc_hqx(info, 0xFFFF).to_bytes(2, "big")
    return bytes_to_bits(info + crc)


def parse_header_bits(bits):
    """``Header`` from 56 bits, or None when the CRC fails or a field is invalid."""
    raw = bits_to_bytes(bits)
    info, crc = raw[:HEADER_INFO_BITS // 8], raw[HEADER_INFO_BITS // 8:]
    if binascii.crc_hqx(info, 0xFFFF).to_bytes(2, "big") != crc:
        return None
    word = int.from_bytes(info, "big")
    values = {}
    for name, width in reversed(_HEADER_FIELDS):
        values[name] = word & ((1 << width) - 1)
        word >>= width
    mcs = MCS_BY_INDEX.get(values["mcs_index"])
    # the 13-bit length field can say up to 8192 bytes; no sender makes more than
    # MAX_PAYLOAD_BYTES, and frame_size() refuses more (it would raise in the receiver)
    if mcs is None or values["length_minus_1"] + 1 > MAX_PAYLOAD_BYTES:
        return None
    return Header(mcs.name, values["length_minus_1"] + 1, values["seq"], values["flags"])


@lru_cache(maxsize=64)
def _slot_maps(n_slots, seed):
    """(permutation, scrambler bits, inverse permutation, +-1 scrambler signs) for
    ``n_slots`` slots; cached per size."""
    perm = np.random.default_rng([seed, n_slots]).permutation(n_slots).astype(np.int32)
    scramble = lfsr_bits(n_slots, state=0x5D)
    inverse = np.argsort(perm).astype(np.int32)
    signs = (1.0 - 2.0 * scramble)[perm]
    for array in (perm, scramble, inverse, signs):
        array.setflags(write=False)
    return perm, scramble, inverse, signs


def spread_bits(coded, n_slots, seed):
    """Coded bits (..., n_coded) -> ``n_slots`` transmitted bits (..., n_slots): cyclic fill,
    scramble, interleave."""
    perm, scramble, _, _ = _slot_maps(n_slots, seed)
    coded = np.asarray(coded, np.uint8)
    rows = np.ascontiguousarray(coded.reshape(-1, coded.shape[-1]))
    return _spread(rows, perm, scramble).reshape(coded.shape[:-1] + (n_slots,))


@njit(cache=True)
def _spread(coded, perm, scramble):
    """``spread_bits`` of rows (B, n_coded), compiled: transmitted bit i is slot perm[i], which
    carries coded bit perm[i] mod n_coded, scrambled."""
    rows, n_coded = coded.shape
    out = np.empty((rows, perm.size), np.uint8)
    for b in range(rows):
        for i in range(perm.size):
            slot = perm[i]
            out[b, i] = coded[b, slot % n_coded] ^ scramble[slot]
    return out


def gather_llr(llr, n_coded, seed, combine=True):
    """Inverse of ``spread_bits`` on LLRs: (..., n_slots) -> (..., n_coded), copies added when
    ``combine`` else only the first copy used."""
    llr = np.asarray(llr, float)
    n_slots = llr.shape[-1]
    _, _, inverse, signs = _slot_maps(n_slots, seed)
    rows = np.ascontiguousarray(llr.reshape(-1, n_slots))
    return _gather(rows, inverse, signs, int(n_coded), bool(combine)).reshape(llr.shape[:-1] + (n_coded,))


@njit(cache=True)
def _gather(llr, inverse, signs, n_coded, combine):
    """``gather_llr`` of rows (B, n_slots), compiled: one pass instead of numpy's four."""
    rows, n_slots = llr.shape
    out = np.zeros((rows, n_coded))
    stop = n_slots if combine else min(n_coded, n_slots)
    for b in range(rows):
        for slot in range(stop):
            source = inverse[slot]
            out[b, slot % n_coded] += llr[b, source] * signs[source]
    return out


def header_symbols(header, numerology):
    """BPSK data-carrier symbols of the header (header_symbols * n_data_carriers,)."""
    n_slots = numerology.header_symbols * numerology.n_data_carriers
    bits = spread_bits(convcode.encode(header_bits(header)), n_slots, _HEADER_SEED)
    return modulate(bits, "bpsk")


def decode_header_llr(llr):
    """``Header`` (or None) from the BPSK LLRs of all header slots."""
    coded = gather_llr(llr, HEADER_CODED_BITS, _HEADER_SEED)
    return parse_header_bits(convcode.decode(coded))


def payload_symbols(payload, mcs, numerology):
    """QAM data-carrier symbols of the payload part (frame_size().data_symbols,)."""
    return payload_symbols_batch([payload], mcs, numerology)[0]


def payload_symbols_batch(payloads, mcs, numerology):
    """``payload_symbols`` of payloads of equal length, in one LDPC encoder call: complex64
    (len(payloads), frame_size().data_symbols)."""
    mcs = get_mcs(mcs)
    size = frame_size(len(payloads[0]), mcs, numerology)
    info = np.stack([bytes_to_bits(bytes(payload) + crc32(payload)) for payload in payloads])
    coded = ldpc.encode_bits_batch(info, mcs.code_rate) if mcs.coded else info
    n_slots = size.data_symbols * mcs.bits_per_symbol
    return modulate(spread_bits(coded, n_slots, _PAYLOAD_SEED), mcs.modulation).reshape(len(payloads), -1)


def encode_frame(payload, mcs, numerology, seq=0, flags=0):
    """Data-carrier symbols (complex64) of a whole packet: header then payload."""
    header = Header(get_mcs(mcs).name, len(payload), seq, flags)
    return np.concatenate([header_symbols(header, numerology),
                           payload_symbols(payload, mcs, numerology)])


@dataclass
class PayloadResult:
    """Decoded payload: bytes (header's length), CRC verdict, failed LDPC codewords, and the
    decoder's hard decision of every coded bit (for a decision-directed second pass)."""

    payload: bytes
    crc_ok: bool
    failed_codewords: int
    coded_bits: np.ndarray = None


def decode_payload_llr(llr, header, numerology, fast=False):
    """Decode a payload from the LLRs of its slots (the payload's data symbols x bits); ``fast``:
    with the bounded min-sum LDPC decoder (``ldpc.FAST_*``)."""
    return decode_payloads_llr(np.asarray(llr)[None], header, numerology, fast)[0]


def decode_payloads_llr(llr, header, numerology, fast=False):
    """``decode_payload_llr`` of packets whose headers give the same MCS and length, in one LDPC
    decoder call: llr (B, slots); ``header`` the MCS and length come from. Returns a list of
    ``PayloadResult``."""
    mcs = get_mcs(header.mcs)
    size = frame_size(header.payload_len, mcs, numerology)
    coded = gather_llr(llr, size.coded_bits, _PAYLOAD_SEED, mcs.coded)
    if mcs.coded:
        info, failed, decided = ldpc.decode_llr_batch(coded, size.info_bits, mcs.code_rate, fast)
    else:
        info = decided = hard_bits(coded)
        failed = np.zeros(len(coded), int)
    results = []
    for bits, fails, hard in zip(info, failed, decided):
        raw = bits_to_bytes(bits)
        payload, crc = raw[:-CRC_BYTES], raw[-CRC_BYTES:]
        results.append(PayloadResult(payload, crc32(payload) == crc, int(fails), hard))
    return results


def payload_symbols_from_bits(coded_bits, header, numerology):
    """The payload's data-carrier symbols that carry ``coded_bits`` (``PayloadResult.coded_bits``):
    the transmitter's symbols where the decoder got them right."""
    mcs = get_mcs(header.mcs)
    size = frame_size(header.payload_len, mcs, numerology)
    return modulate(spread_bits(coded_bits, size.data_symbols * mcs.bits_per_symbol, _PAYLOAD_SEED), mcs.modulation)
