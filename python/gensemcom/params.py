"""Validation of block and command parameters: one-line errors that name the parameter."""
import math

from .errors import BadInputError


def number(owner, name, value, lo=None, hi=None, integer=False, lo_open=False):
    """``value`` as a finite float (or int), within [lo, hi] (``lo_open``: > lo); else BadInputError.

    owner names the block or command in the message, e.g. "fragmenter".
    """
    kind = "a whole number" if integer else "a number"
    try:
        if isinstance(value, bool) or value is None:
            raise TypeError
        converted = int(value) if integer else float(value)
        if integer and float(value) != converted:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise BadInputError(f"{owner}: {name} must be {kind}, got {value!r}") from None
    if not integer and not math.isfinite(converted):
        raise BadInputError(f"{owner}: {name} must be finite, got {value!r}")
    if lo is not None and (converted <= lo if lo_open else converted < lo):
        raise BadInputError(f"{owner}: {name} must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and converted > hi:
        raise BadInputError(f"{owner}: {name} must be <= {hi}, got {value!r}")
    return converted
