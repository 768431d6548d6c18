# SPDX-License-Identifier: GPL-3.0-or-later
"""IEEE 802.11n LDPC codes (n = 648/1296/1944; rates 1/2, 2/3, 3/4, 5/6).

Encoding is systematic (codeword = info bits then parity) and uses the dual-diagonal parity
structure of the 802.11n matrices, vectorised over codewords; parity sums and syndromes are
compiled (numba), block by block of the base matrix. Decoding is soft
belief propagation in C++ from the ``ldpc`` package (PyPI, v2): per codeword one call with
per-bit flip probabilities and the syndrome of the hard decisions (its calling convention).

A packet's info bits are split over codewords as 802.11n does (IEEE 802.11-2012
20.3.11.7.5, simplified): the shortest codeword length that holds them in one codeword up
to 1944; beyond that as many 1944-bit codewords as needed, with the shortening (known zero
info bits that are not sent) spread evenly. There is no puncturing.
"""
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
from numba import njit

from .ldpc_tables import BASE_MATRICES

CODEWORD_LENGTHS = (648, 1296, 1944)
RATES = ("1/2", "2/3", "3/4", "5/6")
MAX_ITERATIONS = 50
# Sum-product: ~0.2 dB better than normalised min-sum (0.75) at FER 1e-2 for n=1944 R=1/2
# and about 3x slower near threshold; at high SNR no codeword reaches the decoder at all.
BP_METHOD = "product_sum"
# The fast decoder (the receiver's tracking passes, every decode at effort "fast"): normalised
# min-sum with a serial schedule, at most 12 iterations; unlike sum-product it ignores the LLRs'
# scale. n=1944 rate 1/2 at Eb/N0 1 dB it takes 2.5 ms per codeword against the sum-product's
# 14.2 and fails 82 % of them against 17 %; from 2.5 dB both decode every codeword
# (simulations/ldpc_decoder_speed.py, docs/phy.md).
FAST_BP_METHOD = "minimum_sum"
FAST_MS_SCALING = 0.75
FAST_SCHEDULE = "serial"
FAST_MAX_ITERATIONS = 12
LLR_KNOWN = 60.0        # |LLR| given to shortened (known zero) bits


def rate_text(rate):
    """'1/2' from '1/2', Fraction(1, 2) or 0.5."""
    text = str(Fraction(rate).limit_denominator(6))
    if text not in RATES:
        raise ValueError(f"LDPC rate must be one of {', '.join(RATES)}, got {rate!r}")
    return text


class LdpcCode:
    """One 802.11n code.

    Parameters
    ----------
    n : int
        Codeword length (648, 1296 or 1944).
    rate : str or Fraction
        Code rate (1/2, 2/3, 3/4 or 5/6).

    Attributes: ``n``, ``k`` (info bits), ``z`` (lifting size), ``pcm`` (scipy CSR parity-check
    matrix, (n-k) x n, uint8).
    """

    def __init__(self, n, rate):
        self.rate = rate_text(rate)
        self.n = int(n)
        self.z = self.n // 24
        self.base = np.array(BASE_MATRICES[(self.n, self.rate)])
        self.mb = self.base.shape[0]
        self.kb = 24 - self.mb
        self.k = self.kb * self.z
        self.pcm = self._expand(self.base).tocsr()
        self._info_base = np.ascontiguousarray(self.base[:, :self.kb])    # H's info part, for encode
        self._check_structure()
        self._decoders = {}

    def _expand(self, base):
        z = self.z
        rows, cols = [], []
        r = np.arange(z)
        for i, j in zip(*np.nonzero(base >= 0)):
            rows.append(i * z + r)
            cols.append(j * z + (r + base[i, j]) % z)
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        return sp.coo_matrix((np.ones(rows.size, np.uint8), (rows, cols)),
                             shape=(self.mb * z, 24 * z))

    def _check_structure(self):
        first = self.base[:, self.kb]
        rows = np.flatnonzero(first >= 0)
        self._middle = int(rows[1])
        dual = all(self.base[i, self.kb + i] == 0 for i in range(1, self.mb)) and all(
            self.base[i, self.kb + i + 1] == 0 for i in range(self.mb - 1))
        if not (len(rows) == 3 and rows[0] == 0 and rows[2] == self.mb - 1 and dual
                and first[0] == first[-1] and first[self._middle] == 0):
            raise ValueError(f"LDPC ({self.n}, {self.rate}) lacks the 802.11n dual-diagonal structure")
        self._shift0 = int(first[0])

    def encode(self, info):
        """Systematic encoding. info: uint8 (B, k) -> codewords uint8 (B, n)."""
        info = np.atleast_2d(np.asarray(info, np.uint8))
        batch, z = info.shape[0], self.z
        lam = _block_syndromes(self._info_base, z, np.ascontiguousarray(info)).reshape(batch, self.mb, z)
        parity = np.empty((batch, self.mb, z), np.uint8)
        p0 = np.bitwise_xor.reduce(lam, axis=1)  # the two shift-s0 terms cancel in the row sum
        parity[:, 0] = p0
        # row 0: lam0 + P^s0 p0 + p1 = 0; row i: lam_i + p_i + p_{i+1} (+ p0 in the middle row)
        prev = lam[:, 0] ^ np.roll(p0, -self._shift0, axis=1)
        parity[:, 1] = prev
        for i in range(1, self.mb - 1):
            prev = lam[:, i] ^ prev
            if i == self._middle:
                prev = prev ^ p0
            parity[:, i + 1] = prev
        return np.concatenate([info, parity.reshape(batch, -1)], axis=1)

    def syndrome(self, codewords):
        """H c mod 2 for codewords (B, n) -> (B, n-k) uint8."""
        codewords = np.ascontiguousarray(np.atleast_2d(codewords), np.uint8)
        return _block_syndromes(self.base, self.z, codewords)

    def decoder(self, fast=False):
        """The code's BP decoder (``ldpc.BpDecoder``): sum-product, or with ``fast`` the bounded
        min-sum one (``FAST_*``); made on first use."""
        if fast not in self._decoders:
            from ldpc import BpDecoder
            if fast:
                options = dict(max_iter=FAST_MAX_ITERATIONS, bp_method=FAST_BP_METHOD,
                               ms_scaling_factor=FAST_MS_SCALING, schedule=FAST_SCHEDULE)
            else:
                options = dict(max_iter=MAX_ITERATIONS, bp_method=BP_METHOD)
            self._decoders[fast] = BpDecoder(self.pcm, error_rate=0.1, input_vector_type="syndrome", **options)
        return self._decoders[fast]

    def decode(self, llr, fast=False):
        """Soft BP decoding. llr: float (B, n), log P(0)/P(1); ``fast``: the bounded min-sum decoder.

        Returns (codewords uint8 (B, n), ok bool (B,)): ok where the result satisfies every
        parity check.
        """
        llr = np.atleast_2d(np.asarray(llr, float))
        hard = (llr < 0).astype(np.uint8)
        syndromes = self.syndrome(hard)
        ok = ~syndromes.any(axis=1)
        out = hard.copy()                        # syndrome zero: already a codeword
        if ok.all():
            return out, ok
        flip_prob = 1.0 / (1.0 + np.exp(np.minimum(np.abs(llr), 700.0)))
        dec = self.decoder(fast)
        for b in np.flatnonzero(~ok):
            dec.update_channel_probs(flip_prob[b])
            error = dec.decode(syndromes[b])
            out[b] ^= error.astype(np.uint8)
            ok[b] = bool(dec.converge)
        return out, ok


@njit(cache=True)
def _block_syndromes(base, z, codewords):
    """H c mod 2 from the base matrix: block (i, j) with shift s >= 0 adds bit j z + (r + s) mod z
    of the codeword to check i z + r. codewords uint8 0/1 (B, columns(base) z) -> uint8
    (B, rows(base) z); the encoder passes H's info part and the info bits.
    Compiled and block by block (contiguous runs of bits): scipy's sparse product cost 90 us for
    one codeword batch, a CSR loop 20 us."""
    batch = codewords.shape[0]
    block_rows, block_columns = base.shape
    out = np.zeros((batch, block_rows * z), np.uint8)
    for b in range(batch):
        for i in range(block_rows):
            row = out[b, i * z:(i + 1) * z]
            for j in range(block_columns):
                shift = base[i, j]
                if shift < 0:
                    continue
                column = codewords[b, j * z:(j + 1) * z]
                for r in range(z - shift):
                    row[r] ^= column[r + shift]
                for r in range(z - shift, z):
                    row[r] ^= column[r + shift - z]
    return out


@njit(cache=True)
def _hard_decisions(llr, sent_at, size):
    """uint8 (B, size): 1 at sent_at[i] where llr[:, i] < 0, else 0 (known zeros elsewhere)."""
    out = np.zeros((llr.shape[0], size), np.uint8)
    for b in range(llr.shape[0]):
        for i in range(sent_at.size):
            out[b, sent_at[i]] = llr[b, i] < 0
    return out


@lru_cache(maxsize=None)
def get_code(n, rate):
    """Cached ``LdpcCode``."""
    return LdpcCode(n, rate_text(rate))


@dataclass(frozen=True)
class CodewordPlan:
    """How ``info_bits`` are carried by LDPC codewords.

    n, k: codeword length and info bits of the code; info_per_codeword: info bits actually
    carried by each codeword (the rest shortened); coded_bits: bits sent (info + parity).
    """

    rate: str
    n: int
    k: int
    info_per_codeword: tuple

    @property
    def n_codewords(self):
        return len(self.info_per_codeword)

    @property
    def coded_bits(self):
        return sum(self.info_per_codeword) + self.n_codewords * (self.n - self.k)


@lru_cache(maxsize=4096)
def codeword_plan(info_bits, rate):
    """Choose codeword length and count for ``info_bits`` at ``rate`` (see module doc)."""
    rate = rate_text(rate)
    r = Fraction(rate)
    info_bits = int(info_bits)
    for n in CODEWORD_LENGTHS:
        k = int(n * r)
        if info_bits <= k:
            return CodewordPlan(rate, n, k, (info_bits,))
    n = CODEWORD_LENGTHS[-1]
    k = int(n * r)
    count = -(-info_bits // k)
    base, extra = divmod(info_bits, count)
    return CodewordPlan(rate, n, k, tuple(base + (i < extra) for i in range(count)))


@lru_cache(maxsize=256)
def _layout(info_bits, rate):
    """(plan, code, info mask (cw x k), sent mask (cw x n)) of a packet's codewords."""
    plan = codeword_plan(int(info_bits), rate)
    code = get_code(plan.n, plan.rate)
    mask = np.arange(code.k)[None, :] < np.asarray(plan.info_per_codeword)[:, None]
    keep = np.concatenate([mask, np.ones((plan.n_codewords, code.n - code.k), bool)], axis=1)
    return plan, code, mask, keep


def encode_bits(info, rate):
    """LDPC-encode a packet's info bits (uint8 1-D) -> coded bits (uint8 1-D, shortened)."""
    return encode_bits_batch(np.asarray(info, np.uint8)[None], rate)[0]


def encode_bits_batch(info, rate):
    """``encode_bits`` of packets of equal length in one encoder call: info uint8 (B, info bits)
    -> coded bits uint8 (B, coded bits)."""
    info = np.asarray(info, np.uint8)
    code, size, sent_at, _, info_slots = _flat_layout(info.shape[1], rate_text(rate))
    block = np.zeros((info.shape[0], size // code.n * code.k), np.uint8)
    block[:, info_slots] = info
    return np.take(code.encode(block.reshape(-1, code.k)).reshape(info.shape[0], size), sent_at, axis=1)


def decode_llr(llr, info_bits, rate, coded_out=None, fast=False):
    """Decode LLRs of a packet's coded bits (as ``encode_bits`` laid them out); ``fast``: with the
    bounded min-sum decoder.

    Returns (info bits uint8 (info_bits,), failed codewords int). ``coded_out`` (a list): the
    decoder's hard decision of every coded bit sent (uint8, ``llr``'s layout) is appended to it,
    codewords that did not converge included (their last iteration's estimate).
    """
    info, failed, coded = decode_llr_batch(np.asarray(llr)[None], info_bits, rate, fast)
    if coded_out is not None:
        coded_out.append(coded[0])
    return info[0], int(failed[0])


def decode_llr_batch(llr, info_bits, rate, fast=False):
    """``decode_llr`` of packets of equal length in one decoder call: llr float (B, coded bits).
    Returns (info bits uint8 (B, info_bits), failed codewords int (B,), the decoder's hard
    decision of every coded bit sent uint8 (B, coded bits))."""
    code, size, sent_at, info_at, _ = _flat_layout(int(info_bits), rate_text(rate))
    packets = llr.shape[0]
    # the hard decisions first (shortened bits are known zeros): at a useful SNR every codeword
    # passes its parity checks, and no LLR array of all the codewords is needed
    codewords = _hard_decisions(np.ascontiguousarray(llr, float), sent_at, size).reshape(-1, code.n)
    ok = ~code.syndrome(codewords).any(axis=1)
    if not ok.all():
        full = np.full((packets, size), LLR_KNOWN)
        full[:, sent_at] = llr
        bad = np.flatnonzero(~ok)
        codewords[bad], ok[bad] = code.decode(full.reshape(-1, code.n)[bad], fast)
    codewords = codewords.reshape(packets, size)
    failed = np.count_nonzero(~ok.reshape(packets, -1), axis=1)
    return np.take(codewords, info_at, axis=1), failed, np.take(codewords, sent_at, axis=1)


@lru_cache(maxsize=256)
def _flat_layout(info_bits, rate):
    """``_layout`` as positions in a packet's codewords laid end to end: (code, their length, the
    positions of the bits sent, the positions of the info bits, and those of the info bits in
    the codewords' info parts laid end to end). Integer positions gather a third faster than the
    boolean masks."""
    plan, code, mask, keep = _layout(info_bits, rate)
    parity = np.zeros((plan.n_codewords, code.n - code.k), bool)
    return (code, keep.size, np.flatnonzero(keep), np.flatnonzero(np.concatenate([mask, parity], axis=1)),
            np.flatnonzero(mask))
