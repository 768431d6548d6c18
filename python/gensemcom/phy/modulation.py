# SPDX-License-Identifier: GPL-3.0-or-later
"""Gray-mapped BPSK/QPSK/16-QAM/64-QAM at unit average power, exact LLRs, closed-form BER.

Mapping follows 802.11a: the first half of a symbol's bits picks the in-phase PAM level,
the second half the quadrature level, each Gray-coded (16-QAM I: 00 -3, 01 -1, 11 +1, 10 +3).
LLRs are ``log P(b=0) / P(b=1)``: positive means bit 0.
"""
from functools import lru_cache
from math import erfc, log2, sqrt

import numpy as np

BITS_PER_SYMBOL = {"bpsk": 1, "qpsk": 2, "16qam": 4, "64qam": 6}
LLR_CLIP = 60.0


@lru_cache(maxsize=None)
def _pam(bits_per_dim):
    """Gray PAM levels (unnormalised, odd integers) and the bit labels of each level index."""
    count = 1 << bits_per_dim
    levels = 2.0 * np.arange(count) - (count - 1)
    labels = np.zeros((count, bits_per_dim), np.uint8)
    for idx in range(count):
        gray = idx ^ (idx >> 1)
        labels[idx] = [(gray >> (bits_per_dim - 1 - b)) & 1 for b in range(bits_per_dim)]
    return levels, labels


@lru_cache(maxsize=None)
def constellation(modulation):
    """Unit-power constellation of ``modulation``: complex128 array indexed by the bit label
    read MSB first (bit 0 of the symbol is the most significant)."""
    bps = BITS_PER_SYMBOL[modulation]
    if bps == 1:
        return np.array([-1.0 + 0j, 1.0 + 0j])
    half = bps // 2
    levels, labels = _pam(half)
    by_label = np.empty(1 << half)
    for idx in range(1 << half):
        by_label[int("".join(map(str, labels[idx])), 2)] = levels[idx]
    points = (by_label[:, None] + 1j * by_label[None, :]).reshape(-1)
    return points / np.sqrt(np.mean(np.abs(points) ** 2))


def modulate(bits, modulation):
    """Map bits (uint8, length a multiple of bits_per_symbol) to complex64 symbols."""
    bps = BITS_PER_SYMBOL[modulation]
    bits = np.asarray(bits, np.uint8).reshape(-1, bps)
    weights = 1 << np.arange(bps - 1, -1, -1)
    return constellation(modulation)[bits @ weights].astype(np.complex64)


@lru_cache(maxsize=None)
def _bit_masks(bits_per_dim):
    """(levels, labels as float 0/1 (levels x bits)) of a Gray PAM dimension."""
    levels, labels = _pam(bits_per_dim)
    return levels, labels.astype(float)


def _dim_llr(z, noise_var, bits_per_dim, scale):
    """Exact LLRs of one Gray PAM dimension; z (N,), noise_var (N,) per complex symbol."""
    if bits_per_dim == 1:                        # levels -s, +s: closed form
        return (-4.0 * scale * z / noise_var)[:, None]
    levels, ones = _bit_masks(bits_per_dim)
    metric = -((z[:, None] - scale * levels[None, :]) ** 2) / noise_var[:, None]
    metric -= metric.max(axis=1, keepdims=True)
    weight = np.exp(metric)                      # sums over subsets by two matrix products
    with np.errstate(divide="ignore"):
        # einsum, not matmul: BLAS would wake a worker thread that spins on a flowgraph's core
        return np.log(np.einsum("nl,lb->nb", weight, 1.0 - ones)) - np.log(np.einsum("nl,lb->nb", weight, ones))


def _clip(llr):
    """``np.clip(llr, -LLR_CLIP, LLR_CLIP)`` in place (np.clip costs three times as much)."""
    np.minimum(llr, LLR_CLIP, out=llr)
    return np.maximum(llr, -LLR_CLIP, out=llr)


def demodulate_llr(z, noise_var, modulation):
    """Exact bit LLRs of equalised symbols.

    z: complex (N,) equalised symbols; noise_var: float or (N,) complex noise variance of
    each symbol (E|z - s|^2). Returns float64 (N * bits_per_symbol,), clipped to +-60.
    """
    z = np.asarray(z)
    noise_var = np.broadcast_to(np.maximum(np.asarray(noise_var, float), 1e-12), z.shape)
    bps = BITS_PER_SYMBOL[modulation]
    if bps == 1:
        return _clip(-4.0 * z.real / noise_var)
    half = bps // 2
    scale = np.sqrt(3.0 / (2 * ((1 << bps) - 1)))  # PAM level 1 at unit average QAM power
    llr = np.concatenate([_dim_llr(z.real, noise_var, half, scale),
                          _dim_llr(z.imag, noise_var, half, scale)], axis=1)
    return _clip(llr.reshape(-1))


def nearest_points(z, modulation):
    """The constellation point nearest to each of z (complex, same shape)."""
    bps = BITS_PER_SYMBOL[modulation]
    if bps == 1:
        return np.where(np.real(z) >= 0, 1.0, -1.0).astype(complex)
    top = (1 << (bps // 2)) - 1
    scale = np.sqrt(3.0 / (2 * ((1 << bps) - 1)))

    def level(v):
        return np.minimum(np.maximum(2 * np.floor((v / scale + top) / 2 + 0.5) - top, -top), top) * scale
    return level(np.real(z)) + 1j * level(np.imag(z))


def hard_bits(llr):
    """Hard decisions (uint8) of LLRs: 1 where the LLR is negative."""
    return (np.asarray(llr) < 0).astype(np.uint8)


def _q(x):
    return 0.5 * erfc(x / sqrt(2.0))


def ber_awgn(modulation, esno_db):
    """Closed-form bit error rate of Gray-mapped ``modulation`` in AWGN at Es/N0 ``esno_db``.

    Exact for BPSK and QPSK; for square M-QAM the exact Gray expression of Cho & Yoon
    (IEEE Trans. Commun. 50(7), 2002). Accepts a scalar or an array of SNRs in dB.
    """
    esno = 10 ** (np.asarray(esno_db, float) / 10)
    bps = BITS_PER_SYMBOL[modulation]
    if bps == 1:
        return np.vectorize(lambda g: _q(sqrt(2 * g)))(esno)
    m = 1 << bps
    root = int(round(sqrt(m)))
    kmax = int(log2(root))

    def one(g):
        total = 0.0
        for k in range(1, kmax + 1):
            pk = 0.0
            for i in range(int((1 - 2.0 ** -k) * root)):
                w = int(i * 2 ** (k - 1) / root)
                pk += ((-1) ** w * (2 ** (k - 1) - int(i * 2 ** (k - 1) / root + 0.5))
                       * erfc((2 * i + 1) * sqrt(3 * g / (2 * (m - 1)))))
            total += pk / root
        return total / kmax
    return np.vectorize(one)(esno)


def shannon_snr_db(spectral_efficiency):
    """Smallest Es/N0 (dB) at which an AWGN channel carries ``spectral_efficiency`` bit/symbol."""
    return 10 * np.log10(2.0 ** np.asarray(spectral_efficiency, float) - 1.0)
