# SPDX-License-Identifier: GPL-3.0-or-later
"""Slow fluctuations of the link: log-normal shadowing, or an SNR trace measured elsewhere.

``shadowing_db(n)``: the SNR change (dB) at sample n. Log-normal shadowing is a Gauss-Markov
process in dB with standard deviation ``sigma_db`` and correlation time ``correlation_samples``
(the autocorrelation falls to 1/e after that many samples): knots every ``correlation_samples
/ 16`` samples follow S[k+1] = ρ S[k] + σ √(1 − ρ²) w[k], ρ = exp(−1/16), w ~ N(0, 1) from a
generator seeded by ``seed``, and samples between knots are interpolated linearly. A trace
(``SnrTrace.from_csv``: columns time_s, snr_db) replaces it by the measured SNR relative to its
mean, at ``sample_rate`` samples per second, repeated when the run is longer. Both depend only
on the seed (or the file) and the sample index, so every scheme meets the same fluctuation.

The block ``shadowing`` multiplies the signal by 10^(S(n)/20) before the channel adds noise:
the SNR at the receiver is the preset's SNR plus S(n).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from gnuradio import gr

from ..errors import BadInputError

KNOTS_PER_CORRELATION = 16


class Shadowing:
    """S(n) in dB of log-normal shadowing (see module docstring)."""

    def __init__(self, sigma_db: float, correlation_samples: int, seed: int = 0):
        if sigma_db < 0 or correlation_samples < KNOTS_PER_CORRELATION:
            raise BadInputError(f"shadowing needs sigma_db >= 0 and correlation_samples >= {KNOTS_PER_CORRELATION}, "
                                f"got {sigma_db} dB and {correlation_samples}")
        self.sigma_db, self.correlation_samples = float(sigma_db), int(correlation_samples)
        self.step = self.correlation_samples // KNOTS_PER_CORRELATION
        self._rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, 0x5AD0])
        self._knots = np.array([self._rng.standard_normal() * self.sigma_db])
        self._rho = math.exp(-1.0 / KNOTS_PER_CORRELATION)

    def _extend(self, count):
        if count <= self._knots.size:
            return
        extra = count - self._knots.size
        noise = self._rng.standard_normal(extra) * self.sigma_db * math.sqrt(1 - self._rho ** 2)
        values = np.empty(extra)
        last = self._knots[-1]
        for i in range(extra):
            last = self._rho * last + noise[i]
            values[i] = last
        self._knots = np.concatenate([self._knots, values])

    def db(self, start: int, count: int) -> np.ndarray:
        """S(n) for n = start .. start + count - 1 (dB)."""
        n = np.arange(start, start + count)
        k = n // self.step
        self._extend(int(k[-1]) + 2 if count else 1)
        frac = (n % self.step) / self.step
        return self._knots[k] * (1 - frac) + self._knots[k + 1] * frac


class SnrTrace:
    """S(n) in dB from a measured SNR trace (see module docstring)."""

    def __init__(self, time_s, snr_db, sample_rate: float):
        time_s, snr_db = np.asarray(time_s, float), np.asarray(snr_db, float)
        if time_s.size < 2 or time_s.shape != snr_db.shape or np.any(np.diff(time_s) <= 0):
            raise BadInputError("an SNR trace needs two or more rows with increasing time_s")
        if not np.all(np.isfinite(snr_db)) or sample_rate <= 0:
            raise BadInputError("SNR trace values must be finite and the sample rate > 0")
        self.time_s, self.offset_db = time_s - time_s[0], snr_db - float(np.mean(snr_db))
        self.sample_rate = float(sample_rate)

    @classmethod
    def from_csv(cls, path, sample_rate):
        """A trace from a CSV file with a header row and columns ``time_s``, ``snr_db``."""
        path = Path(path)
        try:
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
            return cls([float(r["time_s"]) for r in rows], [float(r["snr_db"]) for r in rows], sample_rate)
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise BadInputError(f"SNR trace {path}: needs columns time_s, snr_db ({type(exc).__name__}: {exc})") \
                from None

    def db(self, start: int, count: int) -> np.ndarray:
        t = (np.arange(start, start + count) / self.sample_rate) % self.time_s[-1]
        return np.interp(t, self.time_s, self.offset_db)


class shadowing(gr.sync_block):
    """y[n] = 10^(S(n)/20) · x[n]: a slow SNR fluctuation (``Shadowing`` or ``SnrTrace``).

    Input/output: complex64; ``profile`` is the S(n) source. Put it before the channel's noise.
    """

    def __init__(self, profile):
        gr.sync_block.__init__(self, name="gensemcom_shadowing", in_sig=[np.complex64], out_sig=[np.complex64])
        self.profile = profile

    def work(self, input_items, output_items):
        n = len(input_items[0])
        gain = 10.0 ** (self.profile.db(self.nitems_read(0), n) / 20.0)
        output_items[0][:] = input_items[0] * gain.astype(np.float32)
        return n
