# SPDX-License-Identifier: GPL-3.0-or-later
"""Compiled inner loops of ``receiver`` (numba).

Each kernel loops over a batch of packets and over their OFDM symbols, pilots and carriers with
scalar code: numpy spent most of a packet's time on per-call overhead of arrays of a few hundred
elements. The kernels keep the GIL, as numpy did on such small arrays: released, each of the
twenty-odd calls per batch let another Python thread take it, and the receiver waited up to a
switch interval (5 ms) to get it back. Phase ramps that are linear in the symbol index
(exp(-j beta tau(t) k)) are built by complex rotation from one sine and cosine per carrier, not
one per element. ``receiver`` documents what each quantity means; here are the shapes:

B packets, T OFDM symbols, P pilots, D data carriers, M values per symbol, C smoothing windows.
"""
import math

import numpy as np
from numba import njit

_JIT = {"cache": True}


@njit(**_JIT)
def _cis(angle):
    return complex(math.cos(angle), math.sin(angle))


@njit(**_JIT)
def smooth_in_time(values, noise, lo, hi, n, leverage, centred, spread):
    """``receiver.track_batch`` (``receiver.track`` says what it chooses): values complex128
    (B, T, M), noise float64 (B,), the window tables of ``receiver._windows(T)`` (lo, hi int
    (C, T), n float (C, T), leverage (C + 1,), centred (T,), spread). Returns complex128
    (B, T, M): per packet the candidate (a window width, or the line) of least estimated error,
    or ``values`` where none beats no smoothing."""
    batch, count, width = values.shape
    windows = lo.shape[0]
    out = values.copy()
    cumulative = np.empty((count + 1, width), np.complex128)
    candidates = np.empty((windows + 1, count, width), np.complex128)
    for b in range(batch):
        cumulative[0, :] = 0
        for t in range(count):
            for m in range(width):
                cumulative[t + 1, m] = cumulative[t, m] + values[b, t, m]
        for m in range(width):
            slope = 0j
            for t in range(count):
                slope += values[b, t, m] * centred[t]
            slope /= spread
            mean = cumulative[count, m] / count
            for t in range(count):
                candidates[windows, t, m] = mean + slope * centred[t]
        for c in range(windows):
            for t in range(count):
                for m in range(width):
                    candidates[c, t, m] = (cumulative[hi[c, t], m] - cumulative[lo[c, t], m]) / n[c, t]
        noise_b = noise[b]
        best, best_error = 0, np.inf
        for c in range(windows + 1):
            residual = 0.0
            for t in range(count):
                for m in range(width):
                    d = candidates[c, t, m] - values[b, t, m]
                    residual += d.real * d.real + d.imag * d.imag
            residual /= count * width
            error = noise_b * leverage[c] + max(residual - noise_b * (1 - leverage[c]), 0.0)
            if error < best_error:
                best, best_error = c, error
        if best_error < noise_b:
            out[b] = candidates[best]
    return out


@njit(**_JIT)
def _rotations(beta, tau0, dtau, carriers, out_start, out_step):
    """exp(-j beta tau0 k) and exp(-j beta dtau k) per carrier k: the ramp at the first symbol
    and its step per symbol."""
    for p in range(carriers.size):
        out_start[p] = _cis(-beta * tau0 * carriers[p])
        out_step[p] = _cis(-beta * dtau * carriers[p])


@njit(**_JIT)
def _common_gain(r, beta, tau, carriers, gain_pilots, out):
    """out[t] = sum_p r[t, p] exp(-j beta tau[t] k_p) / gain_pilots; r complex (T, P)."""
    count, pilots = r.shape
    rot, step = np.empty(pilots, np.complex128), np.empty(pilots, np.complex128)
    _rotations(beta, tau[0], tau[1] - tau[0] if count > 1 else 1.0, carriers, rot, step)
    for t in range(count):
        total = 0j
        for p in range(pilots):
            total += r[t, p] * rot[p]
            rot[p] *= step[p]
        out[t] = total / gain_pilots


@njit(**_JIT)
def pilot_observations(received, sent, h_pilot, predicted):
    """r = received conj(sent h_pilot) exp(-j predicted): received complex (B, T, P) pilot bins,
    sent complex (T, P) pilot values, h_pilot complex (B, P), predicted float (B, T) phase (rad).
    Returns complex128 (B, T, P)."""
    batch, count, pilots = received.shape
    r = np.empty((batch, count, pilots), np.complex128)
    for b in range(batch):
        for t in range(count):
            turn = _cis(-predicted[b, t])
            for p in range(pilots):
                r[b, t, p] = received[b, t, p] * np.conj(sent[t, p] * h_pilot[b, p]) * turn
    return r


@njit(**_JIT)
def pair_rate_and_common(r, gains, tau, carriers, order, noise_var):
    """Coarse slope rate (see ``slope_rate``) of each packet from products of neighbouring
    pilots, which the common phase does not touch: their phase turns by beta * spacing per
    symbol. Returned only where it aligns the pilots clearly better than no slope (sum over
    symbols of |sum of the pilots|^2, which no common phase changes, by 4 standard deviations of
    its noise), else 0: large clock offsets at a useful SNR.

    r complex128 (B, T, P), T >= 2 and P >= 2; gains (B, P) |H_p|^2; tau (T,) evenly spaced;
    carriers (P,) signed indices, order (P,) their ascending order; noise_var (B,). Returns
    (beta (B,), the common gain under it complex128 (B, T), the mean phase of that gain (B,)).
    """
    batch, count, pilots = r.shape
    lag = min(count // 2, 100)
    spacing = (carriers[order[-1]] - carriers[order[0]]) / (pilots - 1)
    beta = np.zeros(batch)
    common = np.empty((batch, count), np.complex128)
    residual = np.empty(batch)
    pairs = np.empty(count, np.complex128)
    unturned = np.empty(count, np.complex128)
    for b in range(batch):
        total = 0.0
        for p in range(pilots):
            total += gains[b, p]
        for t in range(count):
            s = 0j
            for j in range(pilots - 1):
                s += r[b, t, order[j + 1]] * np.conj(r[b, t, order[j]])
            pairs[t] = s
        turn = 0j
        for t in range(count - lag):
            turn += np.conj(pairs[t]) * pairs[t + lag]
        rate = math.atan2(turn.imag, turn.real) / (lag * spacing * (tau[1] - tau[0]))
        _common_gain(r[b], rate, tau, carriers, 1.0, common[b])
        aligned = 0.0
        plain = 0.0
        for t in range(count):
            aligned += common[b, t].real ** 2 + common[b, t].imag ** 2
            s = 0j
            for p in range(pilots):
                s += r[b, t, p]
            unturned[t] = s
            plain += s.real ** 2 + s.imag ** 2
        margin = 4 * total * math.sqrt(2 * count * noise_var[b] * total)
        if aligned > plain + margin:
            beta[b] = rate
        else:
            common[b] = unturned     # the common gain without a slope
        for t in range(count):
            common[b, t] = common[b, t] / (total + 1e-30)
        s = 0j
        for t in range(count):
            s += common[b, t]
        residual[b] = math.atan2(s.imag, s.real)
    return beta, common, residual


@njit(**_JIT)
def turn_by_drift(r, drift):
    """r exp(-j drift t) per symbol t = 0..T-1: r complex128 (B, T, P), drift (B,) rad per symbol."""
    batch, count, pilots = r.shape
    out = np.empty_like(r)
    for b in range(batch):
        step = _cis(-drift[b])
        turn = 1.0 + 0j
        for t in range(count):
            for p in range(pilots):
                out[b, t, p] = r[b, t, p] * turn
            turn *= step
    return out


@njit(**_JIT)
def common_gains(r, beta, tau, carriers, gain_pilots):
    """Common gain of each packet under its slope rate: complex128 (B, T)."""
    batch, count, _ = r.shape
    out = np.empty((batch, count), np.complex128)
    for b in range(batch):
        _common_gain(r[b], beta[b], tau, carriers, gain_pilots[b], out[b])
    return out


@njit(**_JIT)
def slope_rate(r, smooth, gains, tau, carriers, noise_var, start, prior_var, max_priors):
    """Rate beta (rad per carrier per OFDM symbol) of the phase slope across carriers that a
    sample-clock offset builds up, per packet: slope beta * tau[t] at symbol t (zero at the
    preamble's centre, where the channel was measured).

    r complex128 (B, T, P), T >= 2: pilot observations relative to the preamble's channel
    (|H_p|^2 common[t] exp(j beta tau[t] k_p) + noise); smooth complex128 (B, T): the common gain,
    whose phase is removed; gains (B, P) |H_p|^2; noise_var, start (B,). Maximises the linear
    statistic Re sum r exp(-j beta tau k) (three Newton steps from ``start``, the coarse rate of
    ``pair_rate_and_common``, within +-max_priors prior standard deviations), then weighs it
    against the prior of clock offsets (zero mean, variance ``prior_var``): beta prior_var /
    (prior_var + its noise variance), so that a short or noisy packet (a header) is not tilted by
    noise. Carriers count from their gain-weighted mean, so that a common phase moves no slope.
    """
    batch, count, pilots = r.shape
    limit = max_priors * math.sqrt(prior_var)
    out = np.empty(batch)
    centred = np.empty(pilots)
    x = np.empty((count, pilots), np.complex128)
    rot, step = np.empty(pilots, np.complex128), np.empty(pilots, np.complex128)
    for b in range(batch):
        weight = 0.0
        moment = 0.0
        for p in range(pilots):
            weight += gains[b, p]
            moment += gains[b, p] * carriers[p]
        mean_k = moment / max(weight, 1e-30)
        for p in range(pilots):
            centred[p] = carriers[p] - mean_k
        for t in range(count):
            unit = np.conj(smooth[b, t]) / max(abs(smooth[b, t]), 1e-30)
            for p in range(pilots):
                x[t, p] = r[b, t, p] * unit
        beta = start[b] if abs(start[b]) <= limit else 0.0
        active = True
        for _ in range(3):
            _rotations(beta, tau[0], tau[1] - tau[0], centred, rot, step)
            slope = 0.0
            curvature = 0.0
            for t in range(count):
                for p in range(pilots):
                    turned = x[t, p] * rot[p]
                    rot[p] *= step[p]
                    tk = tau[t] * centred[p]
                    slope += tk * turned.imag
                    curvature += tk * tk * turned.real
            active = active and curvature > 0
            if active:
                beta = min(max(beta + slope / curvature, -limit), limit)
        information = 0.0
        for t in range(count):
            for p in range(pilots):
                tk = tau[t] * centred[p]
                information += gains[b, p] * tk * tk
        information = 2 * information / max(noise_var[b], 1e-30)
        out[b] = beta * prior_var / (prior_var + 1.0 / max(information, 1e-30))
    return out


@njit(**_JIT)
def equalize_data(symbols, data_bins, channel, common, phase, beta, tau, data_k, noise_var):
    """Zero-forcing equalisation with h = channel[d] common[t] exp(j (phase[t] + beta tau[t] k_d)):
    symbols complex (B, T, fft_len), data_bins int (D,), channel complex (B, D), common complex
    (B, T), phase float (B, T), beta (B,), tau (T,) evenly spaced, data_k (D,), noise_var (B,).
    Returns (z complex128 (B, T, D), noise variance of each z float64 (B, T, D))."""
    batch, count, _ = symbols.shape
    carriers = data_bins.size
    z = np.empty((batch, count, carriers), np.complex128)
    var = np.empty((batch, count, carriers))
    rot, step = np.empty(carriers, np.complex128), np.empty(carriers, np.complex128)
    for b in range(batch):
        _rotations(-beta[b], tau[0], tau[1] - tau[0] if count > 1 else 1.0, data_k, rot, step)
        for t in range(count):
            g = common[b, t] * _cis(phase[b, t])
            for d in range(carriers):
                h = channel[b, d] * g * rot[d]
                gain = max(h.real * h.real + h.imag * h.imag, 1e-30)
                z[b, t, d] = symbols[b, t, data_bins[d]] * np.conj(h) / gain
                var[b, t, d] = noise_var[b] / gain
                rot[d] *= step[d]
    return z, var


@njit(**_JIT)
def _unwrap(phases):
    """numpy.unwrap of a short float array, in place."""
    correction = 0.0
    previous = phases[0]
    for i in range(1, phases.size):
        jump = phases[i] - previous
        wrapped = (jump + math.pi) % (2 * math.pi) - math.pi
        if wrapped == -math.pi and jump > 0:
            wrapped = math.pi
        if abs(jump) >= math.pi:
            correction += wrapped - jump
        previous = phases[i]
        phases[i] += correction


@njit(**_JIT)
def preamble_channels(ffts, bins, sync, carriers, smoother, prior):
    """``receiver.estimate_channels`` (its docstring names the steps): ffts complex
    (B, R, fft_len) of the R >= 2 preamble repetitions, bins int (N,) of the occupied carriers,
    sync complex (N,) their preamble values, carriers float (N,) their signed indices, smoother
    complex (N, N) the impulse-response projection, prior the variance of the per-repetition
    phase tilt a clock offset makes. Returns (channel complex128 (B, N), noise_var (B,),
    phase_step (B,) rad per OFDM symbol)."""
    batch, reps, _ = ffts.shape
    count = bins.size
    index = np.arange(reps) - (reps - 1) / 2
    index_power = np.sum(index * index)
    dof = reps * count - count
    channel = np.empty((batch, count), np.complex128)
    noise_var = np.empty(batch)
    steps = np.empty(batch)
    ls = np.empty((reps, count), np.complex128)
    turned = np.empty((reps, count), np.complex128)
    mean = np.empty(count, np.complex128)
    phases = np.empty(reps)
    for b in range(batch):
        turn = 0j
        for r in range(reps):
            for k in range(count):
                ls[r, k] = ffts[b, r, bins[k]] / sync[k]
                if r > 0:
                    turn += ls[r, k] * np.conj(ls[r - 1, k])
        step = math.atan2(turn.imag, turn.real)
        for i in range(2):
            # i = 0: refine the step from each repetition's phase against the average; i = 1: undo it
            for r in range(reps):
                rotation = _cis(-step * index[r])
                for k in range(count):
                    turned[r, k] = ls[r, k] * rotation
            if i == 1:
                break
            _mean_over_rows(turned, mean)
            for r in range(reps):
                s = 0j
                for k in range(count):
                    s += turned[r, k] * np.conj(mean[k])
                phases[r] = math.atan2(s.imag, s.real)
            _unwrap(phases)
            step += np.sum(phases * index) / index_power
        _mean_over_rows(turned, mean)
        spread = _spread(turned, mean) / dof
        weighted_angle = 0.0
        leverage = 0.0
        for k in range(count):
            s = 0j
            for r in range(1, reps):
                s += turned[r, k] * np.conj(turned[r - 1, k])
            weight = abs(s)
            leverage += weight * carriers[k] * carriers[k]
            weighted_angle += weight * math.atan2(s.imag, s.real) * carriers[k]
        tilt = weighted_angle / max(leverage, 1e-30)
        tilt_var = spread / max(leverage * 2 / (reps - 1), 1e-30)
        tilt = tilt * prior / (prior + tilt_var)
        for r in range(reps):
            for k in range(count):
                turned[r, k] *= _cis(-tilt * index[r] * carriers[k])
        _mean_over_rows(turned, mean)
        noise_var[b] = _spread(turned, mean) / dof
        for j in range(count):
            s = 0j
            for k in range(count):
                s += mean[k] * smoother[j, k]
            channel[b, j] = s
        steps[b] = step
    return channel, noise_var, steps


@njit(**_JIT)
def _mean_over_rows(values, out):
    rows, columns = values.shape
    for k in range(columns):
        s = 0j
        for r in range(rows):
            s += values[r, k]
        out[k] = s / rows


@njit(**_JIT)
def _spread(values, mean):
    """Sum of |values[r, k] - mean[k]|^2."""
    total = 0.0
    for r in range(values.shape[0]):
        for k in range(values.shape[1]):
            d = values[r, k] - mean[k]
            total += d.real * d.real + d.imag * d.imag
    return total


@njit(**_JIT)
def spectral_peaks(spectrum):
    """Frequency (rad per sample, in (-pi, pi]) of the strongest bin of each row of a
    zero-padded spectrum, complex (B, nfft), refined by a parabola through the magnitudes of
    the peak and its two neighbours."""
    batch, size = spectrum.shape
    out = np.empty(batch)
    for b in range(batch):
        peak, top = 0, -1.0
        for i in range(size):
            magnitude = abs(spectrum[b, i])
            if magnitude > top:
                peak, top = i, magnitude
        left, right = abs(spectrum[b, peak - 1]), abs(spectrum[b, (peak + 1) % size])
        denom = left - 2 * top + right
        offset = 0.5 * (left - right) / denom if denom < 0 else 0.0
        angle = 2 * math.pi * (peak + offset) / size
        out[b] = math.atan2(math.sin(angle), math.cos(angle))
    return out
