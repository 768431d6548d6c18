"""What each sender plans before it sends: the MCS per importance class, copies, and the budget.

``plan_for``             (MCS plan, copies) of any transmitter (semantic or whole-image)
``semantic_budget``      the ``Budget`` the semantic encoder's rate control works within
``choose_baseline_mcs``  the whole-image baseline's single MCS of best expected PSNR
"""
from __future__ import annotations

import numpy as np

from ..constants import BASELINE_SCHEMES
from ..transport.budget import Budget
from .mcsplan import parse_mcs_plan, protection_group
from .profile import LinkProfile


def plan_for(profile, scheme, snr_db, channel="awgn", fixed_mcs=""):
    """(MCS plan {importance class: MCS}, copies {class: copies > 1}) a transmitter uses
    (see module docstring and ``LinkProfile.protection``)."""
    if fixed_mcs:
        return parse_mcs_plan({0: fixed_mcs}), profile.repeats(channel, scheme)
    return profile.protection(snr_db, channel, "whole" if scheme in BASELINE_SCHEMES else "semantic")


def semantic_budget(link, snr_db, channel, budget_symbols):
    """(MCS plan, ``Budget``) the semantic transmitter's encoder works within on ``channel`` at
    ``snr_db``: the link profile's plan and packet costs (copies on fading channels included)."""
    plan, copies = plan_for(link, "semantic", snr_db, channel)
    return plan, Budget(budget_symbols=float(budget_symbols),
                        symbols_for_bytes=link.symbols_for_bytes(plan, copies),
                        mtu_bytes=link.mtu_bytes,
                        group_of=lambda importance: protection_group(plan, copies, importance),
                        band_bytes=link.key_band_bytes(channel))


def choose_baseline_mcs(image, codec, snr_db, channel, symbols_budget, profile="default"):
    """The separation baseline's MCS: the one that maximises the expected whole-image PSNR.

    For each candidate MCS the codec gets the largest file that fits ``symbols_budget`` at
    that MCS (``WholeImageCodec``: best quality and scale); the file arrives only if every
    one of its packets does, with probability (1 - PER)^packets from the planning PER
    (``link.per.packet_error_rate``), else the image is scored as a flat mean image.
    Returns (mcs, {mcs: expected PSNR}). Slower MCS are not tried once a faster one is all
    but certain to arrive (PER <= 0.1 %): they could only send fewer bytes.
    """
    from ..classical.wholeimage import WholeImageCodec
    from ..link.per import packet_error_rate
    from ..metrics import psnr
    from ..phy.mcs import MCS_TABLE, ROBUST_MCS
    from ..transport.budget import Budget
    from ..transport.packets import packetize
    link = LinkProfile.load(profile)
    flat = np.full_like(image, int(round(float(image.mean()))))
    psnr_fail = psnr(image, flat)
    names = sorted((m for m in MCS_TABLE.values() if m.coded), key=lambda m: -m.spectral_efficiency)
    expected = {}
    for mcs in names:
        per = packet_error_rate(mcs.name, snr_db, channel)
        if per > 0.5 and mcs.name != ROBUST_MCS:
            continue
        budget = Budget(budget_symbols=symbols_budget, symbols_for_bytes=link.symbols_for_bytes({0: mcs.name}),
                        mtu_bytes=link.mtu_bytes, group_of=lambda importance, name=mcs.name: name)
        result = WholeImageCodec(codec).encode(image, budget)
        if not result.report["fits"]:
            expected[mcs.name] = psnr_fail
            continue
        decoded = WholeImageCodec(codec).decode(result.data).image
        p_success = (1.0 - per) ** len(packetize(result.container, link.mtu_bytes, lambda importance: 0))
        expected[mcs.name] = p_success * psnr(image, decoded) + (1 - p_success) * psnr_fail
        if per <= 1e-3:
            break
    best = max(expected, key=expected.get) if expected else ROBUST_MCS
    return best, expected
