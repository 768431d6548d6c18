"""MCS plans: which MCS each importance class gets, written as data or as text.

A plan is {importance class: MCS name}; its text form is "0:bpsk-1/2x4,1:qpsk-1/2,2:16qam-1/2".
A class without an entry uses the nearest more important class's MCS. Fragments share a packet
only within one protection group (MCS and copies): ``protection_group``.
"""
from __future__ import annotations

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


def protection_group(plan, copies, importance):
    """Which fragments may share a packet: (MCS, or the class without a plan; copies sent).
    Fragments of classes sent in different numbers of copies never share one, so a key band
    is not repeated because a prompt fragment rode in its packet."""
    return mcs_for_class(plan, importance) or importance, dict(copies or {}).get(int(importance), 1)
