# SPDX-License-Identifier: GPL-3.0-or-later
"""Rate-1/2, constraint-length-7 convolutional code (generators 133, 171 octal; 802.11's).

Zero-terminated: the encoder appends 6 zero tail bits. The decoder is a soft-decision
Viterbi decoder over the 64 states, compiled (numba).
"""
from functools import lru_cache

import numpy as np
from numba import njit

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
    return _encode(u, np.asarray(GENERATORS, np.int64))


@njit(cache=True)
def _encode(u, generators):
    """Shift register: after bit t it holds u[t] (bit 6) .. u[t-6] (bit 0); each output is the
    parity of the register under a generator (octal 133: taps on u[t], u[t-2], u[t-3], u[t-5],
    u[t-6])."""
    out = np.empty(u.size * generators.size, np.uint8)
    register = 0
    for t in range(u.size):
        register = (register >> 1) | ((u[t] & 1) << TAIL)
        for g in range(generators.size):
            masked = register & generators[g]
            parity = 0
            while masked:
                parity ^= 1
                masked &= masked - 1
            out[t * generators.size + g] = parity
    return out


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


def decode(llr):
    """Soft Viterbi decoding of a zero-terminated block.

    llr: float (2 * (N + 6),) coded-bit LLRs, log P(0)/P(1). Returns uint8 (N,).
    """
    llr = np.ascontiguousarray(np.reshape(llr, (-1, 2)), float)
    pred, signs, bit = _trellis()
    return _viterbi(llr, signs, pred, bit)[:llr.shape[0] - TAIL]


@njit(cache=True)
def _viterbi(llr, signs, pred, bit):
    """Decisions (uint8 (steps,), tail included) of the path from state 0 back to state 0 that
    correlates best with the LLRs (steps, 2); trellis as ``_trellis``. Compiled: numpy's one
    broadcast per stage cost 35 us per header even where the hard decisions were a codeword."""
    steps = llr.shape[0]
    states = pred.shape[0]
    metric = np.full(states, -1e30)
    metric[0] = 0.0
    fresh = np.empty(states)
    choice = np.empty((steps, states), np.bool_)
    for t in range(steps):
        for s in range(states):
            stay = metric[pred[s, 0]] + (signs[s, 0, 0] * llr[t, 0] + signs[s, 0, 1] * llr[t, 1])
            move = metric[pred[s, 1]] + (signs[s, 1, 0] * llr[t, 0] + signs[s, 1, 1] * llr[t, 1])
            choice[t, s] = move > stay
            fresh[s] = max(stay, move)
        metric[:] = fresh
    decoded = np.empty(steps, np.uint8)
    state = 0                                    # zero-terminated
    for t in range(steps - 1, -1, -1):
        decoded[t] = bit[state]
        state = pred[state, 1 if choice[t, state] else 0]
    return decoded
