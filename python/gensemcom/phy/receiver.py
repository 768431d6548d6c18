# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-packet receiver numerics (numpy, vectorised over a packet's OFDM symbols).

Inputs are FFT outputs of whole OFDM symbols (cyclic prefix removed, unshifted bins, as
``fft.fft_vcc(fft_len, True, (), False)`` produces them). Symbol indices count from the
first symbol after the preamble (the first header symbol is 0), which is also the index of
the pilot polarity sequence.

- ``estimate_channel``: residual CFO (phase step per symbol), channel on the occupied
  carriers (LS average over the preamble repetitions, then DFT-domain smoothing: least
  squares fit of an impulse response with taps inside the cyclic prefix), noise variance
  from the spread of the repetitions, and the SNR (Es/N0 per data carrier) estimate.
- ``equalize``: common phase error tracking with pilots (drift predicted from the preamble
  and, over longer packets, re-estimated as the peak of the pilots' spectrum; the remaining
  phase smoothed over neighbouring symbols), zero-forcing equalisation, per-symbol noise
  variance for the LLRs.
"""
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TIMING_BACKOFF = 4  # samples the FFT window starts early inside the cyclic prefix
MIN_SYMBOLS_FOR_DRIFT = 24  # from this many symbols on, the pilots re-estimate the residual CFO


@lru_cache(maxsize=16)
def _smoother(carriers, fft_len, n_taps):
    """Projection (Nocc x Nocc) onto channels whose impulse response has taps 0..n_taps-1."""
    k = np.asarray(carriers)[:, None]
    basis = np.exp(-2j * np.pi * k * np.arange(n_taps)[None, :] / fft_len)
    return basis @ np.linalg.pinv(basis)


@dataclass
class ChannelEstimate:
    """Channel state of one packet.

    channel: complex (n_occupied,) on ``numerology.occupied_carriers`` at the phase of the
    preamble's centre; noise_var: complex noise variance per carrier (data symbols have unit
    power, so Es/N0 = |H|^2 / noise_var); phase_step: residual CFO in rad per OFDM symbol;
    phase_offset: extra phase (rad) at header symbol 0, refined from the header pilots.
    """

    channel: np.ndarray
    noise_var: float
    phase_step: float
    phase_offset: float = 0.0
    estimate_noise_var: float = 0.0  # noise variance left in ``channel`` itself

    @property
    def snr_db(self):
        power = float(np.mean(np.abs(self.channel) ** 2)) - self.estimate_noise_var
        return 10 * np.log10(max(power, 1e-30) / max(self.noise_var, 1e-30))


def estimate_channel(preamble_fft, numerology):
    """``ChannelEstimate`` from the preamble's FFTs, complex (preamble_repeats, fft_len)."""
    nm = numerology
    occupied = nm.occupied_carriers
    ls = preamble_fft[:, nm.spectrum_index(occupied)] / nm.sync_values[None, :]
    reps = ls.shape[0]
    index = np.arange(reps) - (reps - 1) / 2
    step = float(np.angle(np.sum(ls[1:] * np.conj(ls[:-1]))))
    # refine: least-squares slope of each repetition's phase against the average
    aligned = ls * np.exp(-1j * step * index)[:, None]
    phases = np.unwrap(np.angle(aligned @ np.conj(aligned.mean(axis=0))))
    step += float(np.dot(index, phases) / np.dot(index, index))
    ls = ls * np.exp(-1j * step * index)[:, None]
    mean = ls.mean(axis=0)
    noise_var = float(np.sum(np.abs(ls - mean) ** 2) / (ls.size - mean.size))
    taps = nm.cp_len + 1
    channel = _smoother(occupied, nm.fft_len, taps) @ mean
    return ChannelEstimate(channel, noise_var, step,
                           estimate_noise_var=noise_var * taps / (len(occupied) * reps))


def _smoothing_window(snr_linear, n_pilots):
    """Odd number of symbols over which pilot phases are averaged (wider at low SNR)."""
    width = int(np.ceil(100.0 / max(snr_linear * n_pilots, 1e-3)))
    return int(np.clip(width | 1, 3, 31))


def _tone_frequency(values):
    """Frequency (rad per sample) of the strongest tone in ``values`` (zero-padded FFT peak,
    refined by a parabola through the peak and its neighbours)."""
    nfft = 1 << int(np.ceil(np.log2(max(256, 8 * values.size))))
    spectrum = np.abs(np.fft.fft(values, nfft))
    peak = int(np.argmax(spectrum))
    left, mid, right = spectrum[peak - 1], spectrum[peak], spectrum[(peak + 1) % nfft]
    denom = left - 2 * mid + right
    offset = 0.5 * (left - right) / denom if denom < 0 else 0.0
    return float(np.angle(np.exp(2j * np.pi * (peak + offset) / nfft)))


def _moving_average(values, width):
    """Centred moving average of a complex sequence, shrinking at the edges."""
    kernel = np.ones(width)
    total = np.convolve(values, kernel, mode="same")
    count = np.convolve(np.ones(values.size), kernel, mode="same")
    return total / count


def equalize(symbols_fft, estimate, numerology, first_symbol=0):
    """Equalise OFDM symbols after the preamble.

    symbols_fft: complex (T, fft_len), symbols ``first_symbol .. first_symbol+T-1``.
    Returns (z, noise_var, residual_phase): z complex (T, n_data) equalised data-carrier
    symbols; noise_var float (T, n_data) noise variance of each z; residual_phase float, the
    mean phase (rad) the pilots found beyond the prediction (to carry to later symbols).
    """
    nm = numerology
    occupied = np.asarray(nm.occupied_carriers)
    where = {k: i for i, k in enumerate(occupied)}
    h_data = estimate.channel[[where[k] for k in nm.data_carriers]]
    h_pilot = estimate.channel[[where[k] for k in nm.pilot_carriers]]
    count = symbols_fft.shape[0]
    index = first_symbol + np.arange(count)
    centre = (nm.preamble_repeats - 1) / 2
    predicted = estimate.phase_step * (nm.preamble_repeats + index - centre) + estimate.phase_offset
    y_pilot = symbols_fft[:, nm.spectrum_index(nm.pilot_carriers)]
    known = nm.pilots(first_symbol, count) * h_pilot[None, :]
    residual = np.sum(y_pilot * np.conj(known), axis=1) * np.exp(-1j * predicted)
    if count >= MIN_SYMBOLS_FOR_DRIFT:
        drift = _tone_frequency(residual)
        ramp = np.exp(-1j * drift * np.arange(count))
        predicted = predicted + drift * np.arange(count)
        residual = residual * ramp
    snr = np.mean(np.abs(h_pilot) ** 2) / max(estimate.noise_var, 1e-30)
    width = min(_smoothing_window(snr, len(nm.pilot_carriers)), (count - 1) | 1)
    smooth = _moving_average(residual, width)
    phase = predicted + np.angle(smooth)
    y_data = symbols_fft[:, nm.spectrum_index(nm.data_carriers)]
    gain = np.maximum(np.abs(h_data) ** 2, 1e-30)
    z = y_data * np.exp(-1j * phase)[:, None] * (np.conj(h_data) / gain)[None, :]
    noise_var = np.broadcast_to(estimate.noise_var / gain, z.shape)
    return z, noise_var, float(np.angle(np.sum(residual)))
