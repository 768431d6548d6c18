# SPDX-License-Identifier: GPL-3.0-or-later
"""Search helper of rate control."""


def highest_true(predicate, lo: int, hi: int, start: int = None):
    """Largest q in [lo, hi] with ``predicate(q)`` true, for a predicate true up to some point.

    Gallops from ``start`` when given (few calls when the answer is near it), else bisects.
    Returns None when ``predicate(lo)`` is false.
    """
    if start is not None and lo <= start <= hi:
        step = 2
        if predicate(start):
            good, bad = start, hi + 1
            while good + step <= hi:
                if predicate(good + step):
                    good += step
                    step *= 2
                else:
                    bad = good + step
                    break
        else:
            good, bad = None, start
            while bad - step >= lo:
                if predicate(bad - step):
                    good = bad - step
                    break
                bad -= step
                step *= 2
            if good is None:
                if bad - 1 < lo or not predicate(lo):
                    return None
                good = lo
    else:
        if not predicate(lo):
            return None
        good, bad = lo, hi + 1
    while bad - good > 1:
        mid = (good + bad) // 2
        if predicate(mid):
            good = mid
        else:
            bad = mid
    return good
