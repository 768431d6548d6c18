# SPDX-License-Identifier: GPL-3.0-or-later
"""What each sender plans before it sends: the protection of every class, and the budget it costs.

Every scheme gets the same tools and the same accounting (``protection``): per importance
class an MCS, copies of each packet, an erasure code across its packets (repair ratio R/K)
and a packet size, all costed in channel samples against ``samples_budget``.

Semantic sender (``SenderPlanner.plans`` for the semantic scheme): each class gets the cheapest
protection whose residual loss per packet at the planning SNR less its margin is within the
profile's target (``protection.cheapest_protection``); the packet size is the one of least
cost per payload byte of the key streams. Fallbacks, in order, when not even the smallest
container fits: one copy and no erasure code everywhere, then every class at one MCS from the
most robust to the fastest (the first at which something fits is sent: never nothing when
something fits).

Whole-image baselines (``SenderPlanner.baseline_plan``): the file needs every packet, so the
plan is the one of best expected quality: over MCS × copies × repair ratio × packet size,
the largest stream that fits the samples, times the probability that every erasure block
decodes, plus the failure score (flat mean grey) times the rest. Searched best-first with
an upper bound, so only a few plans are actually encoded.
"""
from __future__ import annotations

import math

from ..constants import BASELINE_SCHEMES, FADING_CHANNELS, FRAGMENT_HEADER_BYTES
from ..classical.wholeimage import largest_section_payload
from ..errors import BadInputError
from ..transport.budget import Budget
from ..transport.container import Importance, section_wire_bytes
from .mcsplan import TransmitPlan, parse_mcs_plan, repair_of_group
from .per import packet_error_rate
from .profile import LinkProfile
from .protection import (MTU_CHOICES, REPAIR_RATIOS, ClassProtection, block_success, cheapest_protection,
                         filler_samples, length_per, plan_cost, samples_budget)

CLASSES = (0, 1, 2)                 # importance classes a sender plans for (3 follows 2)
SMALL_PACKET_BYTES = 200            # classes 0 and 1 travel in small packets
SEARCH_SPEED = 9                    # AV1 speed of a baseline's plan search (the stream sent: the codec's own)
KEY_BYTES_SHARE = 0.5               # planning guess: key streams take about half the budget


class NothingFitsError(BadInputError):
    """Not even the smallest transmission of a scheme fits its channel budget."""


def fixed_plan(mcs_plan, mtu_bytes) -> TransmitPlan:
    """A plan of fixed MCS per class, one copy, no erasure code (profiles with an ``mcs`` map,
    ``--fixed-mcs``)."""
    plan = parse_mcs_plan(mcs_plan)
    return TransmitPlan(int(mtu_bytes), {c: ClassProtection(m) for c, m in plan.items()})


class SenderPlanner:
    """What a transmitter plans for each image (see module docstring).

    profile       ``LinkProfile`` (name, path, dict or object)
    scheme        "semantic" or a whole-image baseline (``constants.BASELINE_SCHEMES``)
    snr_db        planning SNR (Es/N0 per data carrier, dB)
    channel       planning channel statistics (awgn, rayleigh, ...)
    cpp           data-carrier symbols per pixel: the sample budget derives from it
                  (``protection.samples_budget``); 0 = no sample limit
    budget_bytes  a byte limit per image as well (0 = none)
    fixed_mcs     one MCS for every packet, no copies or code (the fixed-MCS baseline)
    repeat_reserve  closed loop: the share of the samples the first transmission leaves for
                  repeats after feedback (0 = open loop: everything is planned upfront)
    """

    def __init__(self, profile="default", scheme="semantic", snr_db=10.0, channel="awgn", cpp=0.0,
                 budget_bytes=0, fixed_mcs="", repeat_reserve=0.0):
        self.profile = LinkProfile.load(profile)
        self.scheme, self.snr_db, self.channel = scheme, float(snr_db), channel
        self.cpp, self.budget_bytes, self.fixed_mcs = float(cpp or 0.0), int(budget_bytes or 0), fixed_mcs
        if not 0.0 <= float(repeat_reserve) < 1.0:
            raise BadInputError(f"repeat_reserve must be in [0, 1), got {repeat_reserve}")
        self.repeat_reserve = float(repeat_reserve)
        self.overhead_samples = 0          # samples already spent on this image (a channel probe)
        if self.cpp <= 0 and self.budget_bytes <= 0:
            raise BadInputError("give a budget: cpp > 0 (channel uses per pixel) or budget_bytes > 0")
        self.numerology = self.profile.numerology_object()

    def at_snr(self, snr_db) -> "SenderPlanner":
        """The same planner for another planning SNR."""
        return SenderPlanner(self.profile, self.scheme, snr_db, self.channel, self.cpp, self.budget_bytes,
                             self.fixed_mcs, self.repeat_reserve)

    def like(self, scheme) -> "SenderPlanner":
        """The same link and budget for another scheme (e.g. the semantic sender's key mask)."""
        return SenderPlanner(self.profile, scheme, self.snr_db, self.channel, self.cpp, self.budget_bytes)

    # ---- budgets --------------------------------------------------------------------------
    def samples_for(self, width, height):
        """Samples an image may put on the air, the filler burst that ends it already paid."""
        if self.cpp <= 0:
            return None
        return (samples_budget(self.cpp, height, width, self.numerology) - filler_samples(self.numerology)
                - self.overhead_samples)

    def budget(self, plan: TransmitPlan, width, height) -> Budget:
        """The ``Budget`` rate control works within when ``plan`` is sent (the first transmission's
        share of the samples in a closed loop)."""
        samples = self.samples_for(width, height)
        if samples is not None and self.repeat_reserve:
            samples *= 1.0 - self.repeat_reserve
        band = None
        if self.scheme not in BASELINE_SCHEMES and self.channel in FADING_CHANNELS:
            band = plan.mtu_bytes - FRAGMENT_HEADER_BYTES      # a faded packet loses one key band
        return Budget(budget_bytes=self.budget_bytes or None, budget_samples=samples,
                      samples_for_bytes=plan.samples_for_bytes(self.numerology) if samples is not None else None,
                      mtu_bytes=plan.mtu_bytes, group_of=plan.group_of, repair_of=repair_of_group,
                      band_bytes=band)

    # ---- semantic sender ------------------------------------------------------------------
    def semantic_plan(self, width=None, height=None) -> TransmitPlan:
        """The planned protection of each class (see module docstring): per packet size the
        cheapest protection of each class; the packet size that leaves the key streams the most
        payload bytes once a small packet of class 0 and one of class 1 are paid (per key byte
        when the image size is not known)."""
        profile = self.profile
        if self.fixed_mcs:
            return fixed_plan({0: self.fixed_mcs}, profile.mtu_bytes)
        if profile.mcs != "auto":
            return fixed_plan(profile.mcs, profile.mtu_bytes)
        targets = profile.targets(self.channel)
        samples = self.samples_for(width, height) if width and height else None
        best = None
        for mtu in MTU_CHOICES:
            classes, fixed_cost = {}, 0.0
            for cls in CLASSES:
                key_class = cls >= 2
                size = mtu if key_class else min(mtu, SMALL_PACKET_BYTES)
                k = profile.fec_block_packets if key_class else 1
                classes[cls] = cheapest_protection(
                    self.snr_db - profile.margins_db.get(cls, 0.0), self.channel, targets.get(cls, 0.05),
                    size, self.numerology, profile.max_copies.get(cls, 1), k)
                if not key_class:
                    fixed_cost += plan_cost(classes[cls], size, 1, self.numerology)
            per_key_byte = plan_cost(classes[2], mtu, profile.fec_block_packets, self.numerology) / (
                mtu - FRAGMENT_HEADER_BYTES)
            score = -per_key_byte if samples is None else (samples - fixed_cost) / per_key_byte
            if best is None or score > best[0]:
                best = (score, TransmitPlan(mtu, classes))
        return best[1]

    def plans(self, width=None, height=None) -> list:
        """Plans to try in order (the planned one, then the fallbacks of the module docstring)."""
        first = self.semantic_plan(width, height) if self.scheme not in BASELINE_SCHEMES else self.single_mcs_plan()
        out = [first]
        plain = TransmitPlan(first.mtu_bytes, {c: ClassProtection(p.mcs) for c, p in first.classes.items()})
        if plain.classes != first.classes:
            out.append(plain)
        from ..phy.mcs import MCS_TABLE
        for name in sorted((m for m in MCS_TABLE.values() if m.coded), key=lambda m: m.spectral_efficiency):
            uniform = TransmitPlan(first.mtu_bytes, {c: ClassProtection(name.name) for c in first.classes})
            if uniform.classes not in [p.classes for p in out]:
                out.append(uniform)
        return out

    # ---- whole-image baselines ----------------------------------------------------------
    def single_mcs_plan(self) -> TransmitPlan:
        """A baseline's plan without its image (GRC, ``--fixed-mcs``): the fastest MCS whose
        packet loss at the planning SNR is within the strictest class target."""
        from .per import best_mcs
        if self.fixed_mcs:
            return fixed_plan({0: self.fixed_mcs}, self.profile.mtu_bytes)
        target = min(self.profile.targets(self.channel).values())
        return fixed_plan({0: best_mcs(self.snr_db, self.channel, target)}, self.profile.mtu_bytes)

    def baseline_candidates(self, width, height) -> list:
        """[(P(file arrives), payload bytes that fit, plan)] over the plan space."""
        from ..phy.mcs import MCS_TABLE, ROBUST_MCS
        if self.fixed_mcs:
            plans = [fixed_plan({0: self.fixed_mcs}, self.profile.mtu_bytes)]
        else:
            # MCS slower than the fastest all but lossless one only send fewer bytes: skipped
            coded = sorted((m for m in MCS_TABLE.values() if m.coded), key=lambda m: -m.spectral_efficiency)
            usable = []
            for mcs in coded:
                per = packet_error_rate(mcs.name, self.snr_db, self.channel)
                if per > 0.5 and mcs.name != ROBUST_MCS:
                    continue
                usable.append(mcs.name)
                if per <= 1e-4:
                    break
            options = [(1, ratio) for ratio in REPAIR_RATIOS] + [
                (copies, 0.0) for copies in range(2, max(self.profile.max_copies.values()) + 1)]
            plans = [TransmitPlan(mtu, {0: ClassProtection(name, copies, ratio)})
                     for mtu in MTU_CHOICES for name in usable for copies, ratio in options]
        out = []
        for plan in plans:
            budget = self.budget(plan, width, height)
            payload = largest_section_payload(budget, Importance.NORMAL)
            if payload <= 0:
                continue
            protection = plan.classes[0]
            per = length_per(packet_error_rate(protection.mcs, self.snr_db, self.channel), plan.mtu_bytes)
            data = budget.packets([(Importance.NORMAL, section_wire_bytes(payload))], protected=False)
            out.append((file_success(len(data), per ** protection.copies, protection.repair), payload, plan))
        return out

    def baseline_plan(self, image, codec, quality=None, **encode_kwargs):
        """(plan, ``EncodeResult``) of best expected quality for a whole-image ``codec``
        (``classical.wholeimage.WholeImageCodec``); raises ``NothingFitsError`` when nothing fits.

        quality(image, reconstruction) -> dB: what the expectation is of (default PSNR);
        ``encode_kwargs`` go to every ``codec.encode`` (``key_mask`` for roi-av1).
        """
        from ..classical.baselines import mean_grey
        from ..metrics import psnr
        quality = quality or psnr
        height, width = image.shape[:2]
        fail = quality(image, mean_grey(image.shape))
        candidates = self.baseline_candidates(width, height)
        if not candidates:
            raise NothingFitsError(self.nothing_fits_message(width, height))
        cache = {}

        def evaluate(plan, payload):
            key = _bucket(payload)
            if key not in cache:           # the search encodes fast; the stream sent is re-encoded below
                result = codec.encode(image, Budget(budget_bytes=_container_budget(key)), speed=SEARCH_SPEED,
                                      **encode_kwargs)
                score = quality(image, codec.decode(result.data).image) if result.report["fits"] else fail
                cache[key] = (score, result)
            return cache[key]

        top = max(payload for _, payload, _ in candidates)
        top_score = evaluate(None, top)[0]
        ranked = sorted(candidates, key=lambda c: -(c[0] * top_score + (1 - c[0]) * fail))
        best = None
        for success, payload, plan in ranked:
            bound = success * top_score + (1 - success) * fail
            if best is not None and bound <= best[0]:
                break
            score = evaluate(plan, payload)[0]
            expected = success * score + (1 - success) * fail
            if best is None or expected > best[0]:
                best = (expected, plan, success, payload)
        expected, plan, success, payload = best
        score, trial = evaluate(plan, payload)
        if not trial.report["fits"]:
            raise NothingFitsError(self.nothing_fits_message(width, height))
        plan.expected = {"quality_db": round(expected, 3), "p_success": round(success, 5),
                         "payload_bytes": payload, "plans_considered": len(candidates), "encodes": len(cache)}
        # the stream sent: coded for this plan's own budget (exactly what fits it)
        result = codec.encode(image, self.budget(plan, width, height), **encode_kwargs)
        if not result.report["fits"]:
            raise NothingFitsError(self.nothing_fits_message(width, height))
        return plan, result

    def nothing_fits_message(self, width, height) -> str:
        samples = self.samples_for(width, height)
        budget = f"{samples} samples" if samples is not None else f"{self.budget_bytes} bytes"
        return (f"nothing fits: {self.scheme} at {self.snr_db:g} dB on {self.channel}: the budget of a "
                f"{width}x{height} image ({budget}, cpp {self.cpp:g}) cannot carry its smallest transmission")


def file_success(n_packets, q, repair) -> float:
    """P(all ``n_packets`` packets of a file are recovered) when each packet (or share) is lost
    independently with ``q`` and the file is erasure-coded at ``repair`` (0: no code)."""
    from ..transport.erasure import block_sizes
    if repair <= 0:
        return (1.0 - q) ** n_packets
    return math.prod(block_success(q, k, r) for k, r in block_sizes(n_packets, repair))


def _bucket(payload: int) -> int:
    """Payload budgets within ~1.5 % share one encode (the search's cache)."""
    step = max(8, payload // 64)
    return payload // step * step


def _container_budget(payload: int) -> int:
    """Container bytes holding one section of ``payload`` bytes."""
    from ..transport.container import HEADER_BYTES
    return HEADER_BYTES + section_wire_bytes(payload)
