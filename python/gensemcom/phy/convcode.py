# SPDX-License-Identifier: GPL-3.0-or-later
"""Rate-1/2, constraint-length-7 convolutional code (generators 133, 171 octal; 802.11's).

Zero-terminated: the encoder appends 6 zero tail bits. The decoder is a soft-decision
Viterbi decoder, vectorised over the 64 states (one numpy step per trellis stage).
"""
from functools import lru_cache

import numpy as np

CONSTRAINT = 7
GENERATORS = (0o133, 0o171)
TAIL = CONSTRAINT - 1
STATES = 1 << TAIL


def coded_length(info_bits):
    """Coded bits produced for ``info_bits`` input bits (tail included)."""
    return 2 * (info_bits + TAIL)


def encode(bits):
    """Encode uint8 bits (N,) -> uint8 (2 * (N + 6),), outputs of the two generators interleaved."""
    u = np.concatenate([np.asarray(bits, np.uint8), np.zeros(TAIL, np.uint8)])
    out = np.empty((u.size, 2), np.uint8)
    for g, gen in enumerate(GENERATORS):
        taps = np.array([(gen >> (TAIL - i)) & 1 for i in range(CONSTRAINT)], np.uint8)
        out[:, g] = np.convolve(u, taps)[:u.size] % 2
    return out.reshape(-1)


@lru_cache(maxsize=None)
def _trellis():
    """For each next state: its two predecessor states and the +-1 outputs of both branches."""
    nxt = np.arange(STATES)
    bit = nxt >> (TAIL - 1)                     # the input bit that led into the state
    pred = np.stack([((nxt << 1) & (STATES - 1)) | x for x in (0, 1)], axis=1)
    reg = (bit[:, None] << TAIL) | pred          # 7-bit register: input bit, then the state
    signs = np.empty((STATES, 2, 2))
    for g, gen in enumerate(GENERATORS):
        parity = np.vectorize(lambda v: bin(v & gen).count("1") & 1)(reg)
        signs[:, :, g] = 1.0 - 2.0 * parity      # coded bit 0 -> +1
    return pred, signs, bit


# feedforward inverse: INVERSE[0] * g0 + INVERSE[1] * g1 = 1 over GF(2)[D] (taps, D^0 first)
INVERSE = (np.array([0, 0, 1, 0, 1], np.uint8), np.array([1, 1, 1, 1, 1], np.uint8))


def _hard_decode(llr):
    """Info bits if the hard decisions are a codeword (checked by re-encoding), else None.

    At high SNR this replaces the Viterbi search by two short convolutions."""
    hard = (llr < 0).astype(np.uint8)
    steps = hard.shape[0]
    bits = (np.convolve(hard[:, 0], INVERSE[0])[:steps]
            + np.convolve(hard[:, 1], INVERSE[1])[:steps]) % 2
    info = bits[:steps - TAIL].astype(np.uint8)
    return info if np.array_equal(encode(info), hard.reshape(-1)) else None


def decode(llr):
    """Soft Viterbi decoding of a zero-terminated block (skipped when the hard decisions
    already form a codeword: then they are the maximum-likelihood answer).

    llr: float (2 * (N + 6),) coded-bit LLRs, log P(0)/P(1). Returns uint8 (N,).
    """
    llr = np.asarray(llr, float).reshape(-1, 2)
    quick = _hard_decode(llr)
    if quick is not None:
        return quick
    steps = llr.shape[0]
    pred, signs, bit = _trellis()
    # next state j + 32 b comes from states 2j and 2j + 1: one broadcast per stage
    branch = np.einsum("sxg,tg->tsx", signs, llr).reshape(steps, 2, STATES // 2, 2)
    metric = np.full(STATES, -1e30)
    metric[0] = 0.0
    choice = np.empty((steps, STATES), bool)
    for t in range(steps):
        cand = metric.reshape(1, STATES // 2, 2) + branch[t]
        pick = cand[..., 1] > cand[..., 0]
        choice[t] = pick.reshape(-1)
        metric = np.maximum(cand[..., 0], cand[..., 1]).reshape(-1)
    state = 0                                    # zero-terminated
    decoded = np.empty(steps, np.uint8)
    for t in range(steps - 1, -1, -1):
        decoded[t] = bit[state]
        state = pred[state, int(choice[t, state])]
    return decoded[:steps - TAIL]
