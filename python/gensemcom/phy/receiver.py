# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-packet receiver numerics for batches of packets: numpy around compiled loops
(``receiver_kernels``, numba).

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
import scipy.fft

from . import receiver_kernels as kernels

TIMING_BACKOFF = 4  # samples the FFT window starts early inside the cyclic prefix
MIN_SYMBOLS_FOR_DRIFT = 24  # from this many symbols on, the pilots re-estimate the residual CFO
CLOCK_OFFSET_PRIOR_PPM = 40.0  # rms of the sample-clock offsets the slope tracker expects (two +-20 ppm radios)
MAX_CLOCK_OFFSET_PRIORS = 10   # the tracker's range: +-400 ppm


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
        power = float(np.vdot(self.channel, self.channel).real) / self.channel.size - self.estimate_noise_var
        return 10 * np.log10(max(power, 1e-30) / max(self.noise_var, 1e-30))


def _clock_offset_prior(numerology):
    """Variance of the phase turn per carrier and per OFDM symbol (rad) that the sample-clock
    offsets of ``CLOCK_OFFSET_PRIOR_PPM`` rms make: the prior of the preamble's tilt and of the
    pilots' slope rate."""
    return (2 * np.pi * CLOCK_OFFSET_PRIOR_PPM * 1e-6 * numerology.symbol_len / numerology.fft_len) ** 2


def estimate_channel(preamble_fft, numerology):
    """``ChannelEstimate`` from the preamble's FFTs, complex (preamble_repeats, fft_len)."""
    return estimate_channels(np.asarray(preamble_fft)[None], numerology)[0]


def estimate_channels(preamble_ffts, numerology):
    """``ChannelEstimate`` of each packet (a list) from the FFTs of their preambles, complex
    (packets, preamble_repeats, fft_len).

    Per packet (compiled: ``receiver_kernels.preamble_channels``): least-squares channel of each
    repetition; the residual CFO as the phase step between repetitions, refined by a
    least-squares fit of each repetition's phase against their average, and undone; the phase
    tilt across carriers that a sample-clock offset adds from one repetition to the next,
    measured, weighed against the prior of clock offsets (``CLOCK_OFFSET_PRIOR_PPM``) and undone,
    so that it neither blurs the average nor counts as noise; then the average, its noise
    variance from the spread of the repetitions, and the smoothing (taps within the cyclic
    prefix).
    """
    nm = numerology
    occupied = nm.occupied_carriers
    reps, n_occupied = preamble_ffts.shape[1], len(occupied)
    taps = nm.cp_len + 1
    prior = _clock_offset_prior(nm)
    channel, noise_var, step = kernels.preamble_channels(
        np.ascontiguousarray(preamble_ffts), nm.spectrum_index(occupied), np.asarray(nm.sync_values, complex),
        np.asarray(occupied, float), _smoother(occupied, nm.fft_len, taps), prior)
    return [ChannelEstimate(channel[b], float(noise_var[b]), float(step[b]),
                            estimate_noise_var=float(noise_var[b]) * taps / (n_occupied * reps))
            for b in range(len(channel))]


TRACKING_WINDOWS = (1, 3, 5, 7, 11, 15, 21, 31, 45, 63)   # candidate widths (OFDM symbols) of the trackers


def cis(angle, dtype=np.complex64):
    """exp(j angle) from sine and cosine: complex64 by default, from float32 ones (ten times
    faster than complex128 exp; a phase of 100 rad is still exact to 1e-5 rad), or complex128
    (five times faster than np.exp of an imaginary array)."""
    out = np.empty(np.shape(angle), dtype)
    angle = np.asarray(angle, out.real.dtype)
    np.cos(angle, out=out.real)
    np.sin(angle, out=out.imag)
    return out


def _tone_frequency(values):
    """Frequency (rad per sample) of the strongest tone in each row of ``values`` (B, T):
    zero-padded FFT peak, refined by a parabola through the peak and its neighbours."""
    nfft = 1 << int(np.ceil(np.log2(max(256, 8 * values.shape[1]))))
    return kernels.spectral_peaks(scipy.fft.fft(values, nfft, axis=1))


@lru_cache(maxsize=512)
def _windows(count):
    """For ``track`` over ``count`` symbols: (lo, hi, counts) of the centred windows of each
    candidate width (rows; the last one spans the packet), and each candidate's mean leverage
    (the last row: the line through the packet, 2 / count)."""
    widths = np.asarray([w for w in TRACKING_WINDOWS[1:] if w < 2 * count - 1] + [2 * count - 1])
    t = np.arange(count)[None, :]
    half = (widths // 2)[:, None]
    lo, hi = np.maximum(t - half, 0), np.minimum(t + half + 1, count)
    n = (hi - lo).astype(float)
    leverage = np.append(np.mean(1.0 / n, axis=1), 2.0 / count)
    centred = np.arange(count, dtype=float) - (count - 1) / 2
    for array in (lo, hi, n, leverage, centred):
        array.setflags(write=False)
    return lo, hi, n, leverage, centred, float(np.dot(centred, centred))


def track(values, noise_var):
    """Smooth per-symbol estimates (``values``, (T,) or (T, m), each with noise variance
    ``noise_var``) in time: a centred moving average of one of the ``TRACKING_WINDOWS`` widths
    (shrinking at the edges), or one straight line over the packet, whichever has the least
    estimated error (noise_var times the mean leverage, plus the bias: the residual beyond what
    noise explains). A static channel gets a long average or the line, a fading or drifting one
    a short window."""
    return track_batch(np.asarray(values)[None], np.asarray([float(np.mean(noise_var))]))[0]


def track_batch(values, noise):
    """``track`` of each packet: values (B, T) or (B, T, m), noise (B,) their noise variances.
    Compiled: ``receiver_kernels.smooth_in_time``."""
    count = values.shape[1]
    if count < 3:
        return values
    lo, hi, n, leverage, centred, spread = _windows(count)
    flat = np.ascontiguousarray(np.reshape(values, (values.shape[0], count, -1)), np.complex128)
    out = kernels.smooth_in_time(flat, np.ascontiguousarray(noise, float), lo, hi, n, leverage, centred, spread)
    out = out.reshape(values.shape)
    return out if np.iscomplexobj(values) else out.real


@dataclass
class PilotTrack:
    """What the pilots found in T OFDM symbols (see ``track_pilots``): the channel of symbol t on
    carrier k is H0(k) common[t] exp(j (phase[t] + beta tau[t] k)).

    common: complex (T,) common gain; phase: float (T,) residual CFO's phase ramp (rad);
    beta: phase-slope rate (rad per carrier per symbol); tau: float (T,) symbols after the
    preamble's centre; residual_phase: mean phase the pilots found beyond the prediction.
    """

    common: np.ndarray
    phase: np.ndarray
    beta: float
    tau: np.ndarray
    residual_phase: float


def track_pilots(symbols_fft, estimate, numerology, first_symbol=0):
    """``PilotTrack`` of symbols_fft (complex (T, fft_len), symbols ``first_symbol ..``).

    phase: the residual CFO's ramp, predicted from the preamble and, over longer packets,
    re-estimated from the pilots' spectrum; beta tau(t): the phase slope across carriers that a
    sample-clock offset builds up (``receiver_kernels.slope_rate``); common: the remaining common complex gain
    (phase noise, CFO drift, flat fading), smoothed by ``track``.
    """
    return track_pilots_batch(np.asarray(symbols_fft)[None], [estimate], numerology, first_symbol)[0]


def track_pilots_batch(symbols_fft, estimates, numerology, first_symbol=0):
    """``track_pilots`` of packets of equal length: symbols_fft complex (B, T, fft_len), one
    ``ChannelEstimate`` each. Returns a list of ``PilotTrack``. The loops over symbols and pilots
    are compiled (``receiver_kernels``); the drift's spectrum is scipy's FFT."""
    nm = numerology
    index = carrier_index(nm)
    h_pilot = np.stack([e.channel[index.pilots] for e in estimates])
    phase_step = np.asarray([e.phase_step for e in estimates])
    phase_offset = np.asarray([e.phase_offset for e in estimates])
    sigma2 = np.maximum(np.asarray([e.noise_var for e in estimates]), 1e-30)
    pilot_k = index.pilot_k
    count = symbols_fft.shape[1]
    steps = np.arange(count)
    tau = nm.preamble_repeats + first_symbol + steps - (nm.preamble_repeats - 1) / 2
    predicted = phase_step[:, None] * tau[None, :] + phase_offset[:, None]
    gains = np.abs(h_pilot) ** 2
    gain_pilots = gains.sum(axis=1) + 1e-30
    r = kernels.pilot_observations(symbols_fft[:, :, index.pilot_bins], nm.pilots(first_symbol, count), h_pilot,
                                   predicted)
    if count < MIN_SYMBOLS_FOR_DRIFT or len(pilot_k) < 2:
        # a header: too short for a drift or a slope to show above the noise
        common = r.sum(axis=2) / gain_pilots[:, None]
        smooth = track_batch(common, sigma2 / gain_pilots)
        residual = np.angle(common.sum(axis=1))
        return [PilotTrack(smooth[b], predicted[b], 0.0, tau, float(residual[b])) for b in range(len(estimates))]
    beta, common, residual_phase = kernels.pair_rate_and_common(r, gains, tau, pilot_k, np.argsort(pilot_k), sigma2)
    drift = _tone_frequency(common)
    predicted = predicted + drift[:, None] * steps[None, :]
    r = kernels.turn_by_drift(r, drift)
    smooth = track_batch(kernels.common_gains(r, beta, tau, pilot_k, gain_pilots), sigma2 / gain_pilots)
    prior = _clock_offset_prior(nm)
    beta = kernels.slope_rate(r, smooth, gains, tau, pilot_k, sigma2, beta, prior, MAX_CLOCK_OFFSET_PRIORS)
    smooth = track_batch(kernels.common_gains(r, beta, tau, pilot_k, gain_pilots), sigma2 / gain_pilots)
    return [PilotTrack(smooth[b], predicted[b], float(beta[b]), tau, float(residual_phase[b]))
            for b in range(len(estimates))]


@dataclass(frozen=True)
class CarrierIndex:
    """Where a numerology's carriers sit: ``occupied`` positions of the data and pilot carriers,
    their FFT bins, their signed indices."""

    data: np.ndarray
    pilots: np.ndarray
    data_bins: np.ndarray
    pilot_bins: np.ndarray
    data_k: np.ndarray
    pilot_k: np.ndarray


@lru_cache(maxsize=16)
def carrier_index(numerology):
    nm = numerology
    where = {k: i for i, k in enumerate(nm.occupied_carriers)}
    return CarrierIndex(np.asarray([where[k] for k in nm.data_carriers]),
                        np.asarray([where[k] for k in nm.pilot_carriers]),
                        nm.spectrum_index(nm.data_carriers), nm.spectrum_index(nm.pilot_carriers),
                        np.asarray(nm.data_carriers, float), np.asarray(nm.pilot_carriers, float))


def equalize(symbols_fft, estimate, numerology, first_symbol=0, pilots=None):
    """Equalise OFDM symbols after the preamble with the channel the pilots track.

    symbols_fft: complex (T, fft_len), symbols ``first_symbol .. first_symbol+T-1``; pilots: a
    ``PilotTrack`` of them (default: ``track_pilots``). Returns (z, noise_var, residual_phase):
    z complex (T, n_data) zero-forcing equalised data-carrier symbols; noise_var float
    (T, n_data) noise variance of each z; residual_phase float, the mean phase (rad) the
    pilots found beyond the prediction (to carry to later symbols).
    """
    z, noise_var, residual = equalize_batch(np.asarray(symbols_fft)[None], [estimate], numerology, first_symbol,
                                            None if pilots is None else [pilots])
    return z[0], noise_var[0], residual[0]


def equalize_batch(symbols_fft, estimates, numerology, first_symbol=0, pilots=None):
    """``equalize`` of packets of equal length: symbols_fft complex (B, T, fft_len), one
    ``ChannelEstimate`` and (optional) ``PilotTrack`` each. Returns (z (B, T, n_data),
    noise_var (B, T, n_data), residual_phase list)."""
    nm = numerology
    if pilots is None:
        pilots = track_pilots_batch(symbols_fft, estimates, nm, first_symbol)
    index = carrier_index(nm)
    channel = np.stack([e.channel[index.data] for e in estimates])
    common = np.stack([p.common for p in pilots])
    phase = np.stack([p.phase for p in pilots])
    beta = np.asarray([p.beta for p in pilots], float)
    noise_var = np.maximum(np.asarray([e.noise_var for e in estimates]), 1e-30)
    z, noise_var = kernels.equalize_data(np.ascontiguousarray(symbols_fft), index.data_bins, channel, common, phase,
                                         beta, np.asarray(pilots[0].tau, float), index.data_k, noise_var)
    return z, noise_var, [p.residual_phase for p in pilots]
