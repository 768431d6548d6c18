# SPDX-License-Identifier: GPL-3.0-or-later
"""The planning model of packet error rate: measured AWGN curves, averaged over fading.

``per_curves`` reads the PER of every coded MCS measured on the real flowgraph
(``phy/mcs_thresholds.yaml``, written by ``scripts/measure_mcs_thresholds.py``);
``packet_error_rate`` evaluates it at an average SNR on a channel (flat block fading averaged
over |h|²); ``best_mcs`` picks the fastest MCS that meets a target.
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml

THRESHOLDS_FILE = Path(__file__).parents[1] / "phy" / "mcs_thresholds.yaml"
FADING_DRAWS = 20_000
RICIAN_K = 4.0          # phy.channel.ChannelConfig's default k_factor


@functools.lru_cache(maxsize=1)
def per_curves():
    """{mcs: (snr_db array, PER array)}: the AWGN packet error rate of every coded MCS,
    measured on the real flowgraph by ``scripts/measure_mcs_thresholds.py`` (packets of the
    default MTU); PER is made non-increasing in SNR (measurement noise removed)."""
    import numpy as np
    with open(THRESHOLDS_FILE) as f:
        data = yaml.safe_load(f)
    curves = {}
    for name, curve in data["awgn_curves"].items():
        snrs = np.asarray(curve["snr_db"], float)
        order = np.argsort(snrs)
        curves[name] = (snrs[order], np.minimum.accumulate(np.asarray(curve["per"], float)[order]))
    return curves


@functools.lru_cache(maxsize=4)
def _fading_gains(channel):
    """|h|² draws of the flat block-fading presets (unit mean power), fixed seed."""
    import numpy as np
    rng = np.random.default_rng(2026)
    scatter = (rng.normal(size=FADING_DRAWS) + 1j * rng.normal(size=FADING_DRAWS)) / np.sqrt(2)
    if channel == "rician":
        los = np.exp(1j * rng.uniform(0, 2 * np.pi, FADING_DRAWS))
        return np.abs(np.sqrt(RICIAN_K / (RICIAN_K + 1)) * los + np.sqrt(1 / (RICIAN_K + 1)) * scatter) ** 2
    return np.abs(scatter) ** 2


def packet_error_rate(mcs, snr_db, channel="awgn"):
    """Planning estimate of the PER of a packet at ``mcs`` and average SNR ``snr_db``.

    awgn: the measured curve (PER 1 below it, 0 above it). rayleigh / rician (one fade per
    packet): that curve averaged over the fade, E[PER_awgn(|h|²·SNR)] (perfect channel
    estimation assumed). multipath: as rayleigh — coding across carriers does at least as
    well as flat fading, so the plan is conservative.
    """
    import numpy as np
    snrs, pers = per_curves()[mcs]
    if channel == "awgn":
        return float(np.interp(snr_db, snrs, pers, left=1.0, right=0.0))
    gains = _fading_gains("rician" if channel == "rician" else "rayleigh")
    effective = snr_db + 10 * np.log10(np.maximum(gains, 1e-12))
    return float(np.interp(effective, snrs, pers, left=1.0, right=0.0).mean())


def best_mcs(snr_db, channel="awgn", per_target=0.01, fallback="robust"):
    """Fastest coded MCS whose planning PER at ``snr_db`` on ``channel`` is <= ``per_target``;
    when none qualifies, ``fallback``: "robust" gives the robust mode, None gives None (a
    sender that may wait for a better channel). (Subtract a margin from ``snr_db`` to plan for
    an SNR that may be lower than expected.)"""
    from ..phy.mcs import MCS_TABLE, ROBUST_MCS
    usable = [name for name in per_curves()
              if MCS_TABLE[name].coded and packet_error_rate(name, snr_db, channel) <= per_target]
    if not usable:
        return ROBUST_MCS if fallback == "robust" else fallback
    return max(usable, key=lambda name: MCS_TABLE[name].spectral_efficiency)


def fading_margin_db(mcs, channel, per_target):
    """How much more SNR (dB) ``mcs`` needs on ``channel`` than on AWGN for a planning PER of
    ``per_target``: where an outer loop that plans with the AWGN curves starts its offset."""
    def needed(name):
        low, high = -30.0, 60.0
        if packet_error_rate(mcs, high, name) > per_target:
            return high
        while high - low > 0.01:
            middle = (low + high) / 2
            low, high = (low, middle) if packet_error_rate(mcs, middle, name) <= per_target else (middle, high)
        return high
    return needed(channel) - needed("awgn")
