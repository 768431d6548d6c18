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
import scipy.fft

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
        power = float(np.mean(np.abs(self.channel) ** 2)) - self.estimate_noise_var
        return 10 * np.log10(max(power, 1e-30) / max(self.noise_var, 1e-30))


def estimate_channel(preamble_fft, numerology):
    """``ChannelEstimate`` from the preamble's FFTs, complex (preamble_repeats, fft_len)."""
    return estimate_channels(np.asarray(preamble_fft)[None], numerology)[0]


def estimate_channels(preamble_ffts, numerology):
    """``ChannelEstimate`` of each packet (a list) from the FFTs of their preambles, complex
    (packets, preamble_repeats, fft_len)."""
    nm = numerology
    occupied = nm.occupied_carriers
    ls = preamble_ffts[:, :, nm.spectrum_index(occupied)] / nm.sync_values[None, None, :]
    reps, n_occupied = ls.shape[1], ls.shape[2]
    index = np.arange(reps) - (reps - 1) / 2
    step = np.angle(np.sum(ls[:, 1:] * np.conj(ls[:, :-1]), axis=(1, 2)))
    # refine: least-squares slope of each repetition's phase against the average
    aligned = ls * cis(-step[:, None] * index[None, :], complex)[:, :, None]
    # einsum, not matmul, here and below: BLAS would wake its worker thread, which then spins on
    # the core the flowgraph's other blocks need
    phases = np.unwrap(np.angle(np.einsum("brk,bk->br", aligned, np.conj(aligned.mean(axis=1)))), axis=-1)
    step = step + np.einsum("br,r->b", phases, index) / np.dot(index, index)
    ls = ls * cis(-step[:, None] * index[None, :], complex)[:, :, None]
    # a sample-clock offset tilts each repetition's phase across carriers a little more: measure
    # the tilt per repetition (weighed against the prior of clock offsets) and undo it, so that
    # it neither blurs the average nor counts as noise
    carriers = np.asarray(occupied, float)
    turn = np.sum(ls[:, 1:] * np.conj(ls[:, :-1]), axis=1)
    weight = np.abs(turn)
    leverage = np.einsum("bk,k->b", weight, carriers ** 2)
    tilt = np.einsum("bk,k->b", weight * np.angle(turn), carriers) / np.maximum(leverage, 1e-30)
    dof = ls[0].size - n_occupied
    spread = np.sum(np.abs(ls - ls.mean(axis=1, keepdims=True)) ** 2, axis=(1, 2)) / dof
    tilt_var = spread / np.maximum(leverage * 2 / (reps - 1), 1e-30)
    prior = (2 * np.pi * CLOCK_OFFSET_PRIOR_PPM * 1e-6 * nm.symbol_len / nm.fft_len) ** 2
    tilt = tilt * prior / (prior + tilt_var)
    ls = ls * cis(-tilt[:, None, None] * index[None, :, None] * carriers[None, None, :], complex)
    mean = ls.mean(axis=1)
    noise_var = np.sum(np.abs(ls - mean[:, None, :]) ** 2, axis=(1, 2)) / dof
    taps = nm.cp_len + 1
    channel = np.einsum("bk,jk->bj", mean, _smoother(occupied, nm.fft_len, taps))
    return [ChannelEstimate(channel[b], float(noise_var[b]), float(step[b]),
                            estimate_noise_var=float(noise_var[b]) * taps / (n_occupied * reps))
            for b in range(ls.shape[0])]


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
    spectrum = np.abs(scipy.fft.fft(values, nfft, axis=1))
    rows = np.arange(values.shape[0])
    peak = np.argmax(spectrum, axis=1)
    left, mid, right = spectrum[rows, peak - 1], spectrum[rows, peak], spectrum[rows, (peak + 1) % nfft]
    denom = left - 2 * mid + right
    offset = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
    return np.angle(np.exp(2j * np.pi * (peak + offset) / nfft))


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
    """``track`` of each packet: values (B, T) or (B, T, m), noise (B,) their noise variances."""
    count = values.shape[1]
    if count < 3:
        return values
    lo, hi, n, leverage, centred, spread = _windows(count)
    extra = (1,) * (values.ndim - 2)
    cumulative = np.zeros((values.shape[0], count + 1) + values.shape[2:], values.dtype)
    np.cumsum(values, axis=1, out=cumulative[:, 1:])
    slope = np.einsum("bt...,t->b...", values, centred) / spread
    line = cumulative[:, -1:] / count + slope[:, None] * centred.reshape((1, -1) + extra)
    windows = (np.take(cumulative, hi, axis=1) - np.take(cumulative, lo, axis=1)) / n.reshape(n.shape + extra)
    candidates = np.concatenate([windows, line[:, None]], axis=1)
    residual = np.abs(candidates - values[:, None]) ** 2
    residual = residual.reshape(residual.shape[:2] + (-1,)).sum(axis=2) / values[0].size
    noise = noise[:, None]
    error = noise * leverage + np.maximum(residual - noise * (1 - leverage), 0.0)
    best = np.argmin(error, axis=1)
    rows = np.arange(values.shape[0])
    return np.where((error[rows, best] < noise[:, 0]).reshape((-1, 1) + extra), candidates[rows, best], values)


def _pair_rate(r, gains, times, carriers, noise_var):
    """Coarse slope rate (see ``_slope_rate``) of each packet from products of neighbouring
    pilots, which the common phase does not touch: their phase turns by beta * spacing per
    symbol. Returned only where it aligns the pilots clearly better than no slope (sum over
    symbols of |sum of the pilots|^2, which no common phase changes, by 4 standard deviations of
    its noise), else 0: large clock offsets at a useful SNR. r: (B, T, P); gains: (B, P);
    noise_var: (B,)."""
    order = np.argsort(carriers)
    count = r.shape[1]
    if len(order) < 2 or count < 4:
        return np.zeros(r.shape[0])
    pairs = (r[:, :, order[1:]] * np.conj(r[:, :, order[:-1]])).sum(axis=2)
    lag = min(count // 2, 100)
    spacing = float(np.mean(np.diff(carriers[order])))
    rotation = np.angle(np.sum(np.conj(pairs[:, :-lag]) * pairs[:, lag:], axis=1))
    beta = rotation / (lag * spacing * (times[1] - times[0]))

    def aligned(beta):
        turned = r * cis(-beta[:, None, None] * times[None, :, None] * carriers[None, None, :], complex)
        return (np.abs(turned.sum(axis=2)) ** 2).sum(axis=1)

    total = gains.sum(axis=1)
    margin = 4 * total * np.sqrt(2 * count * noise_var * total)
    return np.where(aligned(beta) > (np.abs(r.sum(axis=2)) ** 2).sum(axis=1) + margin, beta, 0.0)


def _slope_rate(r, gains, times, carriers, noise_var, start, prior_var):
    """Rate beta (rad per carrier per OFDM symbol) of the phase slope across carriers that a
    sample-clock offset builds up, per packet: slope beta * times[t] at symbol t (zero at the
    preamble's centre, where the channel was measured).

    r: (B, T, P) pilot observations relative to the preamble's channel with the common phase
    removed (|H_p|^2 exp(j beta t k_p) + noise); gains: (B, P) |H_p|^2; noise_var, start: (B,).
    Maximises the linear statistic Re sum r exp(-j beta t k) (Newton steps from ``start``, the
    coarse rate of ``_pair_rate``), then weighs it against the prior of clock offsets (zero
    mean, variance ``prior_var``): beta prior_var / (prior_var + its noise variance), so a short
    or noisy packet (a header) is not tilted by noise.
    """
    # carriers centred on their gain-weighted mean: a common phase error then moves no slope
    weighted = np.einsum("bp,p->b", gains, carriers) / np.maximum(gains.sum(axis=1), 1e-30)
    centred = carriers[None, :] - weighted[:, None]
    tk = (times[None, :, None] * centred[:, None, :]).reshape(r.shape[0], -1)
    tk2 = tk * tk
    r = r.reshape(r.shape[0], -1)
    limit = MAX_CLOCK_OFFSET_PRIORS * np.sqrt(prior_var)
    beta = np.where(np.abs(start) <= limit, start, 0.0)
    active = np.ones(r.shape[0], bool)
    for _ in range(3):
        turned = r * cis(-beta[:, None] * tk, complex)
        slope = np.sum(tk * turned.imag, axis=1)
        curvature = np.sum(tk2 * turned.real, axis=1)
        active &= curvature > 0
        step = slope / np.where(active, curvature, 1.0)
        beta = np.where(active, np.minimum(np.maximum(beta + step, -limit), limit), beta)
    information = 2 * np.sum(gains[:, None, :] * tk2.reshape(r.shape[0], times.size, -1), axis=(1, 2))
    information = information / np.maximum(noise_var, 1e-30)
    return beta * prior_var / (prior_var + 1.0 / np.maximum(information, 1e-30))


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
    sample-clock offset builds up (``_slope_rate``); common: the remaining common complex gain
    (phase noise, CFO drift, flat fading), smoothed by ``track``.
    """
    return track_pilots_batch(np.asarray(symbols_fft)[None], [estimate], numerology, first_symbol)[0]


def track_pilots_batch(symbols_fft, estimates, numerology, first_symbol=0):
    """``track_pilots`` of packets of equal length: symbols_fft complex (B, T, fft_len), one
    ``ChannelEstimate`` each. Returns a list of ``PilotTrack``."""
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
    r = (symbols_fft[:, :, index.pilot_bins] * np.conj(nm.pilots(first_symbol, count)[None] * h_pilot[:, None, :])
         * cis(-predicted)[:, :, None])
    if count < MIN_SYMBOLS_FOR_DRIFT or len(pilot_k) < 2:
        # a header: too short for a drift or a slope to show above the noise
        common = r.sum(axis=2) / gain_pilots[:, None]
        smooth = track_batch(common, sigma2 / gain_pilots)
        residual = np.angle(common.sum(axis=1))
        return [PilotTrack(smooth[b], predicted[b], 0.0, tau, float(residual[b])) for b in range(len(estimates))]
    beta = _pair_rate(r, gains, tau, pilot_k, sigma2)

    def common_gain(beta):
        turned = r * cis(-beta[:, None, None] * tau[None, :, None] * pilot_k[None, None, :])
        return turned.sum(axis=2) / gain_pilots[:, None]

    common = common_gain(beta)
    residual_phase = np.angle(common.sum(axis=1))
    drift = _tone_frequency(common)
    predicted = predicted + drift[:, None] * steps[None, :]
    r = r * cis(-drift[:, None] * steps[None, :])[:, :, None]
    smooth = track_batch(common_gain(beta), sigma2 / gain_pilots)
    prior = (2 * np.pi * CLOCK_OFFSET_PRIOR_PPM * 1e-6 * nm.symbol_len / nm.fft_len) ** 2
    beta = _slope_rate(r * np.conj(smooth / np.maximum(np.abs(smooth), 1e-30))[:, :, None], gains, tau, pilot_k,
                       sigma2, beta, prior)
    smooth = track_batch(common_gain(beta), sigma2 / gain_pilots)
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
    slope = np.asarray([p.beta for p in pilots])[:, None] * pilots[0].tau[None, :]
    # each packet's channel as ``PilotTrack`` describes it (a zero slope adds exact zeros to the phase)
    ramp = cis(phase[:, :, None] + slope[:, :, None] * index.data_k[None, None, :])
    h = channel[:, None, :] * (common[:, :, None] * ramp)
    gain = np.maximum(h.real ** 2 + h.imag ** 2, 1e-30)
    z = symbols_fft[:, :, index.data_bins] * np.conj(h) / gain
    noise_var = np.maximum(np.asarray([e.noise_var for e in estimates]), 1e-30)[:, None, None] / gain
    return z, noise_var, [p.residual_phase for p in pilots]
