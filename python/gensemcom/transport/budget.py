# SPDX-License-Identifier: GPL-3.0-or-later
"""Budgets and the cost of sending sections: what rate control must stay within.

A ``Budget`` limits bytes, channel samples, or both. The cost of a container is computed from
its sections' framed sizes and importance classes:

* without ``mtu_bytes``: bytes = the container's size; each section costs
  ``samples_for_bytes(framed_bytes, importance)`` samples (the header counts as a
  ``CRITICAL`` 14-byte section);
* with ``mtu_bytes``: the container is cut into fragments and packed into packets exactly as
  the fragmenter sends it (``packets.packetize``: small fragments of one protection group share
  an aggregate packet), then each group with a repair ratio is erasure-coded across its
  packets (``packets.protect_packets``); bytes = all packet bytes (headers and repair shares
  included) and each packet costs ``samples_for_bytes(packet_bytes, importance)``.

``samples_for_bytes(n_bytes, importance) -> samples`` is the hook for the PHY: it knows the
MCS and the copies of each importance class at the planned SNR and how many complex samples a
packet of N bytes puts on the air at that MCS (preamble, header, pilots, cyclic prefixes, gap,
FEC). ``shannon_samples`` and ``fixed_rate_samples`` are simple stand-ins (an ideal
single-carrier channel: one sample per symbol).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import BadInputError
from .container import HEADER_BYTES, Importance
from .fragments import FRAGMENT_HEADER_BYTES
from .packets import packet_costs, protected_costs


def shannon_samples(snr_db: float) -> Callable:
    """``samples_for_bytes`` of an ideal code at ``snr_db``: 8·n / log2(1 + SNR) channel uses."""
    capacity = math.log2(1.0 + 10.0 ** (snr_db / 10.0))
    return lambda n_bytes, importance=Importance.NORMAL: 8.0 * n_bytes / capacity


def fixed_rate_samples(bits_per_sample_by_class) -> Callable:
    """``samples_for_bytes`` for a fixed information rate per importance class.

    ``bits_per_sample_by_class``: a number (all classes) or a mapping {importance: bits per
    complex channel use after coding}, e.g. {0: 0.5 (BPSK 1/2), 2: 2.0 (16-QAM 1/2)}.
    """
    def cost(n_bytes, importance=Importance.NORMAL):
        if isinstance(bits_per_sample_by_class, (int, float)):
            rate = bits_per_sample_by_class
        else:
            rate = bits_per_sample_by_class.get(int(importance), min(bits_per_sample_by_class.values()))
        return math.ceil(8 * n_bytes / rate)
    return cost


@dataclass
class Budget:
    """What one image may cost on the channel.

    budget_bytes       limit on the container's bytes (packet bytes when ``mtu_bytes``)
    budget_samples     limit on complex channel samples; needs ``samples_for_bytes``
    samples_for_bytes  PHY hook: (n_bytes, importance class) -> channel samples of one packet
                       (its copies included)
    mtu_bytes          when set, costs are counted per packet of at most this size
    group_of           (importance class) -> protection group (MCS, copies, repair ratio): small
                       fragments of one group share aggregate packets; None = one group per class
    repair_of          (group) -> erasure-code repair ratio R/K of the group (None: no coding)
    band_bytes         key-stream bytes per independently decodable band the link prefers
                       (None: no preference). On fading channels, about one packet: a faded
                       packet then loses one band, not the whole key stream
    """

    budget_bytes: Optional[int] = None
    budget_samples: Optional[float] = None
    samples_for_bytes: Optional[Callable] = None
    mtu_bytes: Optional[int] = None
    group_of: Optional[Callable] = None
    repair_of: Optional[Callable] = None
    band_bytes: Optional[int] = None

    def __post_init__(self):
        if self.budget_bytes is None and self.budget_samples is None:
            raise BadInputError("a budget needs budget_bytes, budget_samples or both")
        if self.budget_bytes is not None and self.budget_bytes < 1:
            raise BadInputError(f"budget_bytes must be >= 1, got {self.budget_bytes}")
        if self.budget_samples is not None and self.samples_for_bytes is None:
            raise BadInputError("budget_samples needs a samples_for_bytes cost function (the PHY's)")
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

    def packets(self, sections, protected=True) -> list:
        """[(importance, bytes)] of what goes on the air for sections [(importance, framed_bytes)]:
        packets after erasure coding (``protected``) with ``mtu_bytes``, else the header and the
        sections."""
        pieces = [(int(Importance.CRITICAL), HEADER_BYTES)] + [(int(i), int(n)) for i, n in sections]
        if not self.mtu_bytes:
            return pieces
        packets = packet_costs(pieces, self.mtu_bytes, self.group_of)
        if protected:
            packets = protected_costs(packets, self.repair_of)
        return [(importance, n) for importance, _, n in packets]

    def cost(self, sections) -> tuple:
        """(bytes, samples) of a container whose sections are [(importance, framed_bytes), ...].

        Samples are 0.0 when no ``samples_for_bytes`` is set.
        """
        packets = self.packets(sections)
        total_bytes = sum(n for _, n in packets)
        total_samples = 0.0
        if self.samples_for_bytes is not None:
            total_samples = sum(float(self.samples_for_bytes(n, importance)) for importance, n in packets)
        return total_bytes, total_samples

    def fits(self, sections) -> bool:
        """Whether a container of these [(importance, framed_bytes)] sections is within budget."""
        n_bytes, samples = self.cost(sections)
        if self.budget_bytes is not None and n_bytes > self.budget_bytes:
            return False
        if self.budget_samples is not None and samples > self.budget_samples + 1e-9:
            return False
        return True

    def equivalent_bytes(self) -> int:
        """Largest container (in bytes of NORMAL-class payload) that fits: sizes auto settings."""
        if self.budget_samples is None:
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
        return {"budget_bytes": self.budget_bytes, "budget_samples": self.budget_samples,
                "mtu_bytes": self.mtu_bytes, "band_bytes": self.band_bytes}
