# SPDX-License-Identifier: GPL-3.0-or-later
"""What protection costs and what it buys: channel samples per packet, loss after copies and
erasure coding, and the cheapest protection of an importance class.

Every sample is charged. A packet of n bytes at MCS m costs ``packet_samples`` = all complex
samples its burst puts on the air: the gap before it, the preamble, the header, the payload
OFDM symbols with their pilots and cyclic prefixes (``phy.mcs.frame_size(n, m).samples``).
Copies multiply it; erasure coding sends K + R shares for K packets.

The user's budget knob stays ``cpp`` (data-carrier symbols per pixel, the field's convention:
complex symbols / (H·W·3)). The sample budget is derived from it with the PHY's nominal
overhead, the samples per data-carrier symbol of a nominal packet (``NOMINAL_PACKET``, 400
bytes at qpsk-1/2)::

    samples_budget = floor(cpp · H · W · 3 · samples_per_data_symbol)
    samples_per_data_symbol = frame_size(400, qpsk-1/2).samples
                              / ((header + payload OFDM symbols) · data carriers)

(1.83 for the default numerology). A scheme that sends bigger packets, fewer copies or a
faster MCS fits more data in the same samples; a scheme that sends many small packets pays
their preambles and headers.

Loss model of the plans (stated, not exact): each copy of a packet is lost independently with
the planning PER of its MCS at the planned SNR (``per.packet_error_rate``: measured AWGN
curves, averaged over the fade on fading channels), scaled to its length by the number of
LDPC codewords (PER_n = 1 − (1 − PER_400)^(n/400)). Copies and shares are sent after the
image's other packets, so on block-fading channels they tend to meet other fades.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from .per import packet_error_rate, per_curves

NOMINAL_PACKET = (400, "qpsk-1/2")            # bytes, MCS: the packet that defines samples per symbol
REFERENCE_PACKET_BYTES = 400                  # the packet size the PER curves were measured with
REPAIR_RATIOS = (0.0, 0.25, 0.5, 1.0)         # erasure-code repair shares R/K a plan may choose
MTU_CHOICES = (200, 400, 800, 1500)           # packet sizes a plan may choose (bytes)


@dataclass(frozen=True)
class ClassProtection:
    """How one importance class is sent: its MCS, the copies of each packet and the erasure
    code's repair ratio R/K across its packets (0 = none)."""

    mcs: str
    copies: int = 1
    repair: float = 0.0

    def describe(self) -> str:
        text = self.mcs
        if self.copies > 1:
            text += f"x{self.copies}copies"
        if self.repair > 0:
            text += f"+fec{self.repair:g}"
        return text


def packet_samples(n_bytes, mcs, numerology) -> int:
    """Complex samples one packet of ``n_bytes`` at ``mcs`` puts on the air (gap included)."""
    from ..phy.mcs import frame_size
    return int(frame_size(int(n_bytes), mcs, numerology).samples)


def packet_symbols(n_bytes, mcs, numerology) -> int:
    """Data-carrier symbols (header and payload OFDM symbols) of one packet: the ``cpp`` unit."""
    from ..phy.mcs import frame_size
    size = frame_size(int(n_bytes), mcs, numerology)
    return (size.header_ofdm_symbols + size.payload_ofdm_symbols) * numerology.n_data_carriers


@functools.lru_cache(maxsize=16)
def _samples_per_data_symbol(numerology_key, numerology):
    n_bytes, mcs = NOMINAL_PACKET
    return packet_samples(n_bytes, mcs, numerology) / packet_symbols(n_bytes, mcs, numerology)


def samples_per_data_symbol(numerology) -> float:
    """The PHY's nominal overhead: samples per data-carrier symbol of ``NOMINAL_PACKET``."""
    return _samples_per_data_symbol(repr(numerology.to_dict()), numerology)


def samples_budget(cpp, height, width, numerology) -> int:
    """Channel samples an H×W image may use at ``cpp`` (see module docstring)."""
    return int(math.floor(float(cpp) * height * width * 3 * samples_per_data_symbol(numerology)))


def filler_samples(numerology) -> int:
    """Samples of the 1-byte filler burst that ends each image (``fragmenter``'s flush): it is
    on the air, so every scheme's budget pays for it."""
    return packet_samples(1, "bpsk", numerology)


def length_per(per_reference, n_bytes) -> float:
    """PER of an ``n_bytes`` packet from the PER of a ``REFERENCE_PACKET_BYTES`` one."""
    per_reference = min(max(float(per_reference), 0.0), 1.0)
    return 1.0 - (1.0 - per_reference) ** (max(1, int(n_bytes)) / REFERENCE_PACKET_BYTES)


def block_success(q, k, r) -> float:
    """P(at least k of k + r shares arrive) when each is lost independently with probability q."""
    n = k + r
    return math.fsum(math.comb(n, j) * (1 - q) ** j * q ** (n - j) for j in range(k, n + 1))


def residual_loss(per, copies=1, repair=0.0, k=1) -> float:
    """P(a given packet is not recovered) when each copy is lost with ``per``, with ``copies``
    copies and a repair ratio over blocks of ``k`` packets (``erasure.repair_count``)."""
    from ..transport.erasure import repair_count
    q = float(per) ** int(copies)
    r = repair_count(int(k), repair)
    if r == 0:
        return q
    others = k + r - 1                        # it is lost, and fewer than k of the others arrive
    return q * math.fsum(math.comb(others, j) * (1 - q) ** j * q ** (others - j) for j in range(0, k))


def plan_cost(protection, packet_bytes, k, numerology) -> float:
    """Samples per packet of payload of a class sent with ``protection`` (copies, shares)."""
    from ..transport.erasure import ERASURE_HEADER_BYTES, LENGTH_PREFIX_BYTES, repair_count
    r = repair_count(int(k), protection.repair)
    size = packet_bytes + (ERASURE_HEADER_BYTES + LENGTH_PREFIX_BYTES if r else 0)
    return protection.copies * (k + r) / k * packet_samples(size, protection.mcs, numerology)


def cheapest_protection(snr_db, channel, target, packet_bytes, numerology, max_copies=3, k=1,
                        repair_ratios=REPAIR_RATIOS) -> ClassProtection:
    """The ``ClassProtection`` of least samples per packet whose residual loss
    (``residual_loss``) at ``snr_db`` is within ``target``; when none qualifies, the one of
    least residual loss (a class that cannot meet its target still gets the best the budget
    of everything else allows: at most two copies of the robust mode)."""
    from ..phy.mcs import MCS_TABLE, ROBUST_MCS
    best, fallback = None, None
    for name in per_curves():
        if not MCS_TABLE[name].coded:
            continue
        per = length_per(packet_error_rate(name, snr_db, channel), packet_bytes)
        for copies in range(1, int(max_copies) + 1):
            for ratio in repair_ratios if k > 1 else (0.0,):
                option = ClassProtection(name, copies, ratio)
                loss = residual_loss(per, copies, ratio, k)
                cost = plan_cost(option, packet_bytes, k, numerology)
                key = (cost, -MCS_TABLE[name].spectral_efficiency, copies, ratio)
                if loss <= target and (best is None or key < best[0]):
                    best = (key, option)
                if name == ROBUST_MCS and copies <= 2 and (fallback is None or (loss, cost) < fallback[0]):
                    fallback = ((loss, cost), option)
    return best[1] if best else fallback[1]
