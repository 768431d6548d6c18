# SPDX-License-Identifier: GPL-3.0-or-later
"""Closed-loop link adaptation: the receiver reports, the sender re-plans.

Two loops, as LTE/NR and 802.11 rate control run them:

* inner loop: the planning SNR follows the receiver's reported SNR estimates (an exponential
  average of the last reports, ``AdaptiveLink.report``), so a sender on a fading or shadowed
  channel plans for the channel it has, not the mean it was told;
* outer loop (``OuterLoop``, per importance class): an SNR offset that steers the measured
  packet error rate to the class's target. Every ACK lowers the offset's penalty by
  ``step_db · target / (1 − target)``, every NACK raises it by ``step_db``: in equilibrium
  NACKs arrive at the target rate (the BLER loop of LTE, "OLLA").

The planning SNR of a class is then ``estimate − offset[class]``; ``AdaptiveLink.planner()``
gives a ``senders.SenderPlanner`` at that SNR. Feedback may arrive late or not at all: the
loops use what arrives, in the order it arrives.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BadInputError

OFFSET_LIMITS_DB = (-10.0, 20.0)   # an outer loop's offset range (dB) when the sender falls back to the robust mode


@dataclass
class OuterLoop:
    """SNR offset (dB) of one class that steers its packet error rate to ``target``.

    target    the packet error rate wanted (0 < target < 1)
    step_db   the offset's rise per NACK; each ACK lowers it by step_db·target/(1 − target)
    limits_db the offset stays within these (dB)
    """

    target: float
    step_db: float = 0.5
    limits_db: tuple = OFFSET_LIMITS_DB
    offset_db: float = 0.0
    acks: int = 0
    nacks: int = 0

    def __post_init__(self):
        if not 0.0 < self.target < 1.0:
            raise BadInputError(f"outer loop: target PER must be in (0, 1), got {self.target}")
        if self.step_db <= 0:
            raise BadInputError(f"outer loop: step_db must be > 0, got {self.step_db}")

    @property
    def down_step_db(self) -> float:
        return self.step_db * self.target / (1.0 - self.target)

    def update(self, ok: bool) -> float:
        """One packet's outcome (True = ACK); returns the new offset (dB)."""
        if ok:
            self.acks += 1
            self.offset_db -= self.down_step_db
        else:
            self.nacks += 1
            self.offset_db += self.step_db
        self.offset_db = min(max(self.offset_db, self.limits_db[0]), self.limits_db[1])
        return self.offset_db

    @property
    def measured_per(self) -> float:
        total = self.acks + self.nacks
        return self.nacks / total if total else float("nan")


@dataclass
class AdaptiveLink:
    """The sender's view of the link, updated by feedback (see module docstring).

    snr_db      the initial planning SNR (before any report)
    targets     {importance class: target PER}
    smoothing   weight of the newest SNR report in the running estimate (0 < a <= 1)
    limits_db   each class's offset stays within these (dB); a sender that may wait for a better
                channel (instead of falling back to the robust mode) needs a higher ceiling
    """

    snr_db: float
    targets: dict
    smoothing: float = 0.3
    step_db: float = 0.5
    limits_db: tuple = OFFSET_LIMITS_DB
    loops: dict = field(default_factory=dict)
    reports: int = 0

    def __post_init__(self):
        if not 0.0 < self.smoothing <= 1.0:
            raise BadInputError(f"smoothing must be in (0, 1], got {self.smoothing}")
        self.estimate_db = float(self.snr_db)
        for cls, target in self.targets.items():
            self.loops.setdefault(int(cls), OuterLoop(float(target), self.step_db, tuple(self.limits_db)))

    def report(self, snr_db=None, acks=(), nacks=()):
        """Feedback: the receiver's SNR estimate (dB, or None) and the classes of the packets it
        acknowledged and of those it reported lost."""
        if snr_db is not None:
            self.reports += 1
            self.estimate_db += self.smoothing * (float(snr_db) - self.estimate_db)
        for cls in acks:
            self._loop(cls).update(True)
        for cls in nacks:
            self._loop(cls).update(False)

    def _loop(self, cls):
        cls = int(cls)
        if cls not in self.loops:
            nearest = max((c for c in self.loops if c <= cls), default=min(self.loops))
            self.loops[cls] = OuterLoop(self.loops[nearest].target, self.step_db, tuple(self.limits_db))
        return self.loops[cls]

    def planning_snr_db(self, cls=2) -> float:
        """The SNR class ``cls`` is planned with: the estimate less the class's offset."""
        return self.estimate_db - self._loop(cls).offset_db

    def margins_db(self) -> dict:
        """{class: offset dB}: what the planner subtracts from the estimate per class."""
        return {cls: loop.offset_db for cls, loop in sorted(self.loops.items())}

    def planner(self, base):
        """A ``senders.SenderPlanner`` like ``base`` planning at the current estimate, with the
        outer loops' offsets as the classes' margins."""
        from .senders import SenderPlanner
        profile = base.profile
        adapted = type(profile)(**{**profile.to_dict(), "margins_db": self.margins_db()})
        return SenderPlanner(adapted, base.scheme, self.estimate_db, base.channel, base.cpp, base.budget_bytes,
                             base.fixed_mcs)


def snr_from_probe(prior_db, probe_db, shadowing_db=0.0, gain_db=(0.0,)):
    """The local-mean SNR behind one probe, for a channel whose fast fading changes within the
    image (so only its slow part, the shadowing, carries over from probe to image).

    prior_db     the mean SNR the sender knew before (dB)
    probe_db     the receiver's SNR estimate of the probe (dB)
    shadowing_db the shadowing's standard deviation around the mean (dB)
    gain_db      draws of what the fast fading does to an SNR estimate (dB; ``phy.channel.wideband_gain_db``)
    Returns (estimate, standard deviation) in dB: the Gaussian combination of the prior
    N(prior, shadowing²) with the probe less the fading's mean, weighed by the fading's spread.
    Without shadowing the probe says nothing about the image's channel: the prior comes back.
    """
    gains = [float(g) for g in gain_db]
    if not gains:
        raise BadInputError("snr_from_probe needs at least one fading gain draw")
    mean = sum(gains) / len(gains)
    spread = sum((g - mean) ** 2 for g in gains) / len(gains)
    slow = float(shadowing_db) ** 2
    if slow + spread == 0:
        return float(probe_db) - mean, 0.0
    weight = slow / (slow + spread)
    estimate = float(prior_db) + weight * (float(probe_db) - mean - float(prior_db))
    return estimate, (slow * spread / (slow + spread)) ** 0.5
