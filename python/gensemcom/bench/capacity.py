# SPDX-License-Identifier: GPL-3.0-or-later
"""The ideal separation bound "codec + capacity": no PHY, an ideal channel code.

The codec gets floor(k · C / 8) bytes, where k is the task's channel-sample budget (every
complex sample the real schemes may put on the air, ``link.protection.samples_budget``: the
bound uses all of them for data, with no preamble, pilots or cyclic prefix) and C is the
channel's capacity in bit per channel use at the task's SNR:

  awgn      C = log2(1 + SNR)
  rayleigh  ergodic capacity C = E[log2(1 + |h|² SNR)] with unit-power Rayleigh fading
            (|h|² ~ Exp(1)), perfect CSI at the receiver, a code long enough to average
            over the fading; computed by numerical integration (``rayleigh_capacity``)

SNR is Es/N0 (average symbol power 1, noise variance 10^(−SNR/10)). The image then goes
through the same whole-image codec as the flowgraph baseline of its name (a bare stream with
its minimal framing at the best quality and scale that fit, ``classical.wholeimage``);
nothing is lost on the channel. If the codec cannot fit the budget at its lowest quality and
smallest scale, nothing is delivered and the sweep scores it by its failed-decode rule.

Registers ``av1+capacity``, ``webp+capacity`` and ``jpeg+capacity``.
"""
from __future__ import annotations

import functools
import math

from .schemes import register_scheme
from .tasks import channel_parts

CHANNELS = ("awgn", "rayleigh")
CODECS = ("av1", "webp", "jpeg")


def awgn_capacity(snr_db: float) -> float:
    """Shannon capacity of the complex AWGN channel, bit per channel use."""
    return math.log2(1.0 + 10.0 ** (snr_db / 10.0))


@functools.lru_cache(maxsize=1024)
def rayleigh_capacity(snr_db: float) -> float:
    """Ergodic capacity E[log2(1 + |h|² SNR)] of unit-power Rayleigh fading, bit per use.

    Integrates log2(1 + SNR·g)·e^(−g) over g ≥ 0 (|h|² = g is exponential with mean 1);
    equal to log2(e)·e^(1/SNR)·E1(1/SNR). Always below ``awgn_capacity`` (Jensen).
    """
    from scipy.integrate import quad
    snr = 10.0 ** (snr_db / 10.0)
    value, _ = quad(lambda g: math.log2(1.0 + snr * g) * math.exp(-g), 0.0, math.inf,
                    epsabs=1e-12, epsrel=1e-10, limit=200)
    return float(value)


def capacity(channel: str, snr_db: float) -> float:
    """Capacity in bit per channel use of ``channel`` (``awgn`` or ``rayleigh``)."""
    if channel == "awgn":
        return awgn_capacity(snr_db)
    if channel == "rayleigh":
        return rayleigh_capacity(snr_db)
    raise ValueError(f"no capacity formula for channel {channel!r}; choose from {', '.join(CHANNELS)}")


def budget_bytes(channel_uses: int, channel: str, snr_db: float) -> int:
    """Bytes an ideal code carries in ``channel_uses`` symbols: floor(floor(k·C) / 8)."""
    return int(math.floor(channel_uses * capacity(channel, snr_db))) // 8


def run_capacity(task) -> dict:
    """Scheme function of ``<codec>+capacity`` (see the module docstring)."""
    from ..classical.wholeimage import WholeImageCodec
    from ..link.protection import samples_budget
    from ..phy.config import DEFAULT_NUMEROLOGY
    codec = task.scheme_family.split("+", 1)[0]
    image = task.load_image()
    height, width = image.shape[:2]
    uses = samples_budget(float(task.cpp_fraction), height, width, DEFAULT_NUMEROLOGY)
    channel = channel_parts(task.channel)[0]     # impairments cost an ideal code nothing
    budget = budget_bytes(uses, channel, task.snr_db)
    coder = WholeImageCodec(codec)
    sent = coder.encode(image, budget) if budget > 0 else None
    result = {"codec": codec, "budget_bytes": budget, "samples_budget": uses, "samples_used": uses,
              "capacity_bits_per_use": capacity(channel, task.snr_db)}
    if sent is None or not sent.report["fits"]:
        result.update(image=None, delivered=False, bytes=0, sent=False)
    else:
        result.update(image=coder.decode(sent.data).image, delivered=True, complete=True, sent=True,
                      bytes=len(sent.data), quality=sent.report["quality"], scale=1.0 / sent.report["scale_factor"])
    return result


for _codec in CODECS:
    register_scheme(f"{_codec}+capacity", run_capacity, channels=CHANNELS, bound=True,
                    description=f"ideal bound: {_codec.upper()} whole-image stream (best quality and scale) "
                                f"with k·C bits, C the AWGN or ergodic Rayleigh capacity; no PHY")
