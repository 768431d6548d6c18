# SPDX-License-Identifier: GPL-3.0-or-later
"""MCS plans: which MCS each importance class gets, written as data or as text.

A plan is {importance class: MCS name}; its text form is "0:bpsk-1/2x4,1:qpsk-1/2,2:16qam-1/2".
A class without an entry uses the nearest more important class's MCS. Fragments share a packet
only within one protection group (MCS, copies, repair ratio): ``protection_group``.
``TransmitPlan`` is what a transmitter plans for one image: the packet size and each class's
``protection.ClassProtection``; it gives the fragmenter its plan and rate control its costs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import BadInputError


def parse_mcs_plan(plan):
    """{importance class: MCS name} from a dict or text like "0:bpsk-1/2x4,1:qpsk-1/2,2:16qam-1/2".

    Empty / None → {} (every packet uses the PHY's default MCS). MCS names are validated.
    """
    from ..phy.mcs import get_mcs
    if not plan:
        return {}
    if isinstance(plan, str):
        items = {}
        for part in plan.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition(":")
            if not sep:
                raise BadInputError(f"MCS plan entries are CLASS:MCS, got {part!r}")
            items[key] = value
        plan = items
    result = {}
    for key, value in dict(plan).items():
        try:
            importance = int(key)
        except (TypeError, ValueError):
            raise BadInputError(f"MCS plan keys are importance classes 0..7, got {key!r}") from None
        if not 0 <= importance <= 7:
            raise BadInputError(f"MCS plan keys are importance classes 0..7, got {importance}")
        result[importance] = get_mcs(str(value).strip()).name
    return result


def mcs_for_class(plan, importance):
    """The plan's MCS for ``importance``: its own entry, else the nearest more important class's."""
    if not plan:
        return None
    candidates = [c for c in plan if c <= importance]
    return plan[max(candidates)] if candidates else plan[min(plan)]


def protection_group(plan, copies, importance, repair=None):
    """Which fragments may share a packet: (MCS, or the class without a plan; copies sent;
    erasure-code repair ratio). Fragments of classes sent in different numbers of copies or
    with different codes never share one, so a key band is not repeated because a prompt
    fragment rode in its packet."""
    return (mcs_for_class(plan, importance) or importance, dict(copies or {}).get(int(importance), 1),
            float(dict(repair or {}).get(int(importance), 0.0)))


def repair_of_group(group) -> float:
    """The repair ratio of a protection group (``protection_group``)."""
    return group[2]


@dataclass
class TransmitPlan:
    """One transmitter's plan for an image: ``mtu_bytes`` and {importance class: ClassProtection}.

    ``expected`` holds what the planner expected of it (e.g. a baseline's expected PSNR and
    the probability that the file arrives), for reports.
    """

    mtu_bytes: int
    classes: dict
    expected: dict = field(default_factory=dict)

    @property
    def mcs_plan(self) -> dict:
        return {c: p.mcs for c, p in sorted(self.classes.items())}

    @property
    def copies(self) -> dict:
        return {c: p.copies for c, p in sorted(self.classes.items()) if p.copies > 1}

    @property
    def repair(self) -> dict:
        return {c: p.repair for c, p in sorted(self.classes.items()) if p.repair > 0}

    def protection_of(self, importance):
        """The ``ClassProtection`` of ``importance`` (nearest more important class's if none)."""
        candidates = [c for c in self.classes if c <= int(importance)]
        return self.classes[max(candidates) if candidates else min(self.classes)]

    def group_of(self, importance):
        """Protection group of ``importance``: (MCS, copies, repair ratio) of its protection."""
        protection = self.protection_of(importance)
        return protection.mcs, protection.copies, float(protection.repair)

    def samples_for_bytes(self, numerology):
        """Cost hook (n_bytes, importance) -> samples of one packet with its copies."""
        import functools

        from .protection import packet_samples

        @functools.lru_cache(maxsize=4096)
        def cost(n_bytes, importance=2):
            protection = self.protection_of(importance)
            return protection.copies * packet_samples(n_bytes, protection.mcs, numerology)
        return cost

    def describe(self) -> str:
        """'mtu 400; 0:bpsk-1/2x2copies 2:16qam-1/2+fec0.25' for reports and rows."""
        return f"mtu {self.mtu_bytes}; " + " ".join(f"{c}:{p.describe()}" for c, p in sorted(self.classes.items()))
