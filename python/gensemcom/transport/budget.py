"""Budgets and the cost of sending sections: what rate control must stay within.

A ``Budget`` limits bytes, channel symbols, or both. The cost of a container is computed from
its sections' framed sizes and importance classes:

* without ``mtu_bytes``: bytes = the container's size; each section costs
  ``symbols_for_bytes(framed_bytes, importance)`` symbols (the header counts as a
  ``CRITICAL`` 14-byte section);
* with ``mtu_bytes``: the container is cut into fragments and packed into packets exactly as
  the fragmenter sends it (``container.packetize``: small fragments of one protection group
  share an aggregate packet); bytes = all packet bytes (headers included) and each packet
  costs ``symbols_for_bytes(packet_bytes, importance)``.

``symbols_for_bytes(n_bytes, importance) -> symbols`` is the hook for the PHY: it knows the
MCS it will use for each importance class at the planned SNR and how many complex symbols N
bytes take at that MCS (FEC, pilots, preamble). ``shannon_symbols`` and ``fixed_rate_symbols``
are simple stand-ins.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import BadInputError
from .container import HEADER_BYTES, Importance
from .fragments import FRAGMENT_HEADER_BYTES
from .packets import packet_costs


def shannon_symbols(snr_db: float) -> Callable:
    """``symbols_for_bytes`` of an ideal code at ``snr_db``: 8·n / log2(1 + SNR) symbols."""
    capacity = math.log2(1.0 + 10.0 ** (snr_db / 10.0))
    return lambda n_bytes, importance=Importance.NORMAL: 8.0 * n_bytes / capacity


def fixed_rate_symbols(bits_per_symbol_by_class) -> Callable:
    """``symbols_for_bytes`` for a fixed information rate per importance class.

    ``bits_per_symbol_by_class``: a number (all classes) or a mapping {importance: bits per
    complex symbol after coding}, e.g. {0: 0.5 (BPSK 1/2), 2: 2.0 (16-QAM 1/2)}.
    """
    def cost(n_bytes, importance=Importance.NORMAL):
        if isinstance(bits_per_symbol_by_class, (int, float)):
            rate = bits_per_symbol_by_class
        else:
            rate = bits_per_symbol_by_class.get(int(importance), min(bits_per_symbol_by_class.values()))
        return math.ceil(8 * n_bytes / rate)
    return cost


@dataclass
class Budget:
    """What one image may cost on the channel.

    budget_bytes       limit on the container's bytes (fragment bytes when ``mtu_bytes``)
    budget_symbols     limit on channel symbols; needs ``symbols_for_bytes``
    symbols_for_bytes  PHY hook: (n_bytes, importance class) -> channel symbols
    mtu_bytes          when set, costs are counted per packet of at most this size
    group_of           (importance class) -> protection group (the MCS): small fragments of
                       one group share aggregate packets (``container.packetize``); None =
                       one group per importance class
    band_bytes         key-stream bytes per independently decodable band the link prefers
                       (None: no preference). On fading channels, about one packet: a faded
                       packet then loses one band, not the whole key stream
    """

    budget_bytes: Optional[int] = None
    budget_symbols: Optional[float] = None
    symbols_for_bytes: Optional[Callable] = None
    mtu_bytes: Optional[int] = None
    group_of: Optional[Callable] = None
    band_bytes: Optional[int] = None

    def __post_init__(self):
        if self.budget_bytes is None and self.budget_symbols is None:
            raise BadInputError("a budget needs budget_bytes, budget_symbols or both")
        if self.budget_bytes is not None and self.budget_bytes < 1:
            raise BadInputError(f"budget_bytes must be >= 1, got {self.budget_bytes}")
        if self.budget_symbols is not None and self.symbols_for_bytes is None:
            raise BadInputError("budget_symbols needs a symbols_for_bytes cost function (the PHY's)")
        if self.band_bytes is not None and self.band_bytes < 1:
            raise BadInputError(f"band_bytes must be >= 1, got {self.band_bytes}")
        if self.mtu_bytes is not None and self.mtu_bytes <= FRAGMENT_HEADER_BYTES:
            raise BadInputError(f"mtu_bytes must exceed the {FRAGMENT_HEADER_BYTES}-byte fragment header")

    @classmethod
    def of(cls, value) -> "Budget":
        """A ``Budget`` from a Budget or a plain byte count."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(budget_bytes=int(value))
        raise BadInputError(f"a budget must be a Budget or a byte count, got {value!r}")

    def cost(self, sections) -> tuple:
        """(bytes, symbols) of a container whose sections are [(importance, framed_bytes), ...].

        Symbols are 0.0 when no ``symbols_for_bytes`` is set.
        """
        pieces = [(int(Importance.CRITICAL), HEADER_BYTES)] + [(int(i), int(n)) for i, n in sections]
        if self.mtu_bytes:
            packets = packet_costs(pieces, self.mtu_bytes, self.group_of)
        else:
            packets = pieces
        total_bytes = sum(n for _, n in packets)
        total_symbols = 0.0
        if self.symbols_for_bytes is not None:
            total_symbols = sum(float(self.symbols_for_bytes(n, importance)) for importance, n in packets)
        return total_bytes, total_symbols

    def fits(self, sections) -> bool:
        """Whether a container of these [(importance, framed_bytes)] sections is within budget."""
        n_bytes, symbols = self.cost(sections)
        if self.budget_bytes is not None and n_bytes > self.budget_bytes:
            return False
        if self.budget_symbols is not None and symbols > self.budget_symbols + 1e-9:
            return False
        return True

    def equivalent_bytes(self) -> int:
        """Largest container (in bytes of NORMAL-class payload) that fits: sizes auto settings."""
        if self.budget_symbols is None:
            return int(self.budget_bytes)
        lo, hi = 0, self.budget_bytes if self.budget_bytes is not None else 1 << 24
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.fits([(Importance.NORMAL, mid)]):
                lo = mid
            else:
                hi = mid - 1
        return lo + HEADER_BYTES

    def describe(self) -> dict:
        return {"budget_bytes": self.budget_bytes, "budget_symbols": self.budget_symbols,
                "mtu_bytes": self.mtu_bytes, "band_bytes": self.band_bytes}
