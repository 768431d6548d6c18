# SPDX-License-Identifier: GPL-3.0-or-later
"""Modulation and coding schemes, and the size of a packet on the air.

``MCS_TABLE`` maps an MCS name to an ``Mcs`` record::

    >>> from gnuradio.gensemcom.phy.mcs import MCS_TABLE, frame_size
    >>> MCS_TABLE["16qam-3/4"].bits_per_symbol, MCS_TABLE["16qam-3/4"].code_rate
    (4, Fraction(3, 4))
    >>> frame_size(1500, "qpsk-1/2").payload_ofdm_symbols
    257

Names: ``bpsk``, ``qpsk``, ``16qam``, ``64qam`` are uncoded (for BER measurements);
``<modulation>-<rate>`` use the 802.11n LDPC codes; ``bpsk-1/2x4`` is the robust mode:
rate-1/2 LDPC whose coded bits are sent 4 times, spread by the interleaver over carriers and
symbols, and combined as LLRs at the receiver (decodes at -5 dB Es/N0).
"""
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from ..constants import MAX_PAYLOAD_BYTES
from ..errors import BadInputError
from ..params import Param
from .config import DEFAULT_NUMEROLOGY
from .modulation import BITS_PER_SYMBOL

CRC_BYTES = 4


@dataclass(frozen=True)
class Mcs:
    """One MCS. ``index`` is what the header carries (5 bits); ``code_rate`` is None when
    uncoded; ``repetition`` is how often each coded bit is sent."""

    name: str
    index: int
    modulation: str
    bits_per_symbol: int
    code_rate: Fraction = None
    repetition: int = 1

    @property
    def coded(self):
        return self.code_rate is not None

    @property
    def spectral_efficiency(self):
        """Information bits per data-carrier symbol (before CRC, pilots, CP, preamble)."""
        return self.bits_per_symbol * float(self.code_rate or 1) / self.repetition

    def to_dict(self):
        return {"name": self.name, "index": self.index, "modulation": self.modulation,
                "bits_per_symbol": self.bits_per_symbol,
                "code_rate": str(self.code_rate) if self.coded else None,
                "repetition": self.repetition}


def _table():
    rows = [(m, None, 1) for m in ("bpsk", "qpsk", "16qam", "64qam")]
    rows += [("bpsk", "1/2", 1)]
    rows += [(m, r, 1) for m in ("qpsk", "16qam", "64qam") for r in ("1/2", "2/3", "3/4", "5/6")]
    rows += [("bpsk", "1/2", 4)]
    table = {}
    for index, (mod, rate, rep) in enumerate(rows):
        name = mod if rate is None else f"{mod}-{rate}" + (f"x{rep}" if rep > 1 else "")
        table[name] = Mcs(name, index, mod, BITS_PER_SYMBOL[mod],
                          Fraction(rate) if rate else None, rep)
    return table


MCS_TABLE = _table()
MCS_PARAMETER = Param("mcs", "str", "qpsk-1/2", "MCS", "modulation and coding scheme", choices=tuple(MCS_TABLE))
MCS_BY_INDEX = {m.index: m for m in MCS_TABLE.values()}
ROBUST_MCS = "bpsk-1/2x4"


def get_mcs(mcs):
    """The ``Mcs`` for a name (or an ``Mcs``); ``BadInputError`` naming the valid choices."""
    if isinstance(mcs, Mcs):
        return mcs
    try:
        return MCS_TABLE[str(mcs).strip().lower()]
    except KeyError:
        raise BadInputError(f"unknown MCS {mcs!r}; choose from {', '.join(MCS_TABLE)}") from None


def check_payload_bytes(payload_bytes):
    """Raise ``BadInputError`` unless 1 <= payload_bytes <= MAX_PAYLOAD_BYTES."""
    if not 1 <= int(payload_bytes) <= MAX_PAYLOAD_BYTES:
        raise BadInputError(f"payload must be 1 to {MAX_PAYLOAD_BYTES} bytes, got {payload_bytes}")


@dataclass(frozen=True)
class FrameSize:
    """Size of one packet on the air (see ``frame_size``)."""

    payload_bytes: int
    mcs: str
    info_bits: int              # payload + CRC-32
    coded_bits: int             # after LDPC (shortened), before repetition
    codewords: int              # 0 when uncoded
    codeword_len: int           # 0 when uncoded
    data_symbols: int           # complex data-carrier symbols of the payload part
    payload_ofdm_symbols: int
    header_ofdm_symbols: int
    preamble_ofdm_symbols: int
    ofdm_symbols: int           # preamble + header + payload
    burst_samples: int          # ofdm_symbols * (fft_len + cp_len)
    samples: int                # burst_samples + the gap before the burst

    @property
    def channel_symbols(self):
        """All complex time-domain samples of the burst (what a bandwidth ratio counts)."""
        return self.burst_samples


def frame_size(payload_bytes, mcs, numerology=DEFAULT_NUMEROLOGY):
    """Symbols and samples one packet of ``payload_bytes`` takes at ``mcs``.

    Returns a ``FrameSize``. ``data_symbols`` counts payload data-carrier symbols (the
    semantic layer's channel-symbol budget unit); ``samples`` counts every complex sample
    the TX emits for the packet, gap (before the burst), preamble, header and cyclic
    prefixes included.
    """
    return _frame_size(int(payload_bytes), get_mcs(mcs).name, numerology)


@lru_cache(maxsize=4096)        # the receiver asks several times per packet
def _frame_size(payload_bytes, mcs, numerology):
    from .ldpc import codeword_plan
    mcs = get_mcs(mcs)
    check_payload_bytes(payload_bytes)
    info_bits = 8 * (int(payload_bytes) + CRC_BYTES)
    if mcs.coded:
        plan = codeword_plan(info_bits, mcs.code_rate)
        coded_bits, codewords, codeword_len = plan.coded_bits, plan.n_codewords, plan.n
    else:
        coded_bits, codewords, codeword_len = info_bits, 0, 0
    bits_per_ofdm = numerology.n_data_carriers * mcs.bits_per_symbol
    payload_syms = -(-coded_bits * mcs.repetition // bits_per_ofdm)
    header_syms = numerology.header_symbols
    total = numerology.preamble_repeats + header_syms + payload_syms
    burst = total * numerology.symbol_len
    return FrameSize(int(payload_bytes), mcs.name, info_bits, coded_bits, codewords, codeword_len,
                     payload_syms * numerology.n_data_carriers, payload_syms, header_syms,
                     numerology.preamble_repeats, total, burst, burst + numerology.gap_len)


def largest_frame(numerology=DEFAULT_NUMEROLOGY):
    """``FrameSize`` of the longest packet any MCS can send (buffer sizing)."""
    return max((frame_size(MAX_PAYLOAD_BYTES, m, numerology) for m in MCS_TABLE),
               key=lambda size: size.samples)


def max_payload_bytes(mcs, data_symbols, numerology=DEFAULT_NUMEROLOGY):
    """Largest payload (bytes) whose payload part fits in ``data_symbols`` data-carrier
    symbols at ``mcs``; 0 when not even one byte fits."""
    lo, hi = 0, MAX_PAYLOAD_BYTES
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if frame_size(mid, mcs, numerology).data_symbols <= data_symbols:
            lo = mid
        else:
            hi = mid - 1
    return lo
