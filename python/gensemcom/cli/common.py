# SPDX-License-Identifier: GPL-3.0-or-later
"""Argument types and output helpers shared by the subcommands."""
import argparse
import sys
from fractions import Fraction

from ..fileio import dumps_json


def snr_db(text):
    """argparse type: an SNR in dB (a finite number)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"SNR must be a number in dB, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"SNR must be finite, got {text!r}")
    return value


def snr_list(text):
    """argparse type: comma-separated SNRs in dB, or a range START:STOP:STEP (inclusive)."""
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise argparse.ArgumentTypeError(f"SNR range must be START:STOP:STEP, got {text!r}")
        start, stop, step = (snr_db(p) for p in parts)
        if step <= 0 or stop < start:
            raise argparse.ArgumentTypeError(f"SNR range needs STEP > 0 and STOP >= START, got {text!r}")
        count = int(round((stop - start) / step)) + 1
        return [round(start + i * step, 6) for i in range(count)]
    return [snr_db(p) for p in text.split(",") if p.strip()]


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def image_size(text):
    """argparse type: an image size WxH in pixels, e.g. 768x512 -> (768, 512)."""
    parts = text.lower().split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 768x512, got {text!r}") from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"image sides must be >= 16 px, got {text!r}")
    return width, height


def nonnegative_int(text):
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def fraction(text):
    """argparse type: a positive ratio written as 0.02 or 1/48."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a ratio such as 1/48 or 0.02, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a ratio > 0, got {text!r}")
    return value


def unit_fraction(text):
    """argparse type: a fraction in (0, 1]."""
    value = fraction(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}")
    return value


def probability(text):
    """argparse type: a probability in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability such as 0.2, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


def print_json(obj, stream=None):
    """Print one JSON object on one line (for ``--json``)."""
    print(dumps_json(obj), file=stream or sys.stdout, flush=True)


def progress(iterable=None, total=None, desc=None, enabled=True, unit="it"):
    """A tqdm progress bar on stderr; silent when disabled or stderr is not a terminal."""
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr,
                disable=not enabled or not sys.stderr.isatty(), dynamic_ncols=True)
