# SPDX-License-Identifier: GPL-3.0-or-later
"""Channel tracking per carrier within a packet, for channels that change while it lasts.

The pilots (``receiver.track_pilots``) follow what all carriers share: a common gain (flat
fading, phase noise, CFO drift) and the phase slope of a clock offset. A frequency-selective
channel with Doppler (3GPP EVA at 70 Hz: the channel decorrelates within a few ms) also changes
its shape across carriers, which four pilots cannot see. ``track_carriers`` estimates it from
the data symbols themselves (decision directed), vectorised over the packet:

1. remove the residual CFO's phase ramp the preamble predicts (nothing the pilots estimated:
   where carriers fade differently, a common gain, a drift or a slope fitted to four pilots is
   no channel at all); the rest, H(t, k) s(t, k) + noise, is tracked as a whole, clock offset
   and CFO drift included;
2. decisions s: known (the symbols re-encoded from the LDPC decoder's output,
   ``framing.payload_symbols_from_bits``), or the nearest constellation points after
   equalising with the pilots' channel (each pilot's change since the preamble, smoothed in
   time, interpolated linearly across carriers: no decision feeds the next, but four pilots
   undersample a channel with microseconds of delay spread), or "forward": symbol by symbol,
   each equalised with the channel the one before gave (the preamble's first), fitted as
   impulse-response taps by least squares in which each carrier counts with its power (the
   decisions on faded carriers are the ones that go wrong, and the strong carriers around a
   fade then carry its phase across), or "forward-local": two symbols at a time, the channel
   averaged over neighbouring carriers only. Decision-directed tracking can come out of a fade
   with a region of carriers a quarter turn off and keep it; the two forward variants slip on
   different packets (on 300 vehicular packets, 1500 bytes at 18-30 dB, pilots then
   "forward-local" lost 54 of them, pilots then "forward" 33, all three 23). The receiver tries
   the pilots' decisions first, then "forward", then "forward-local";
3. raw estimates Y / s on every occupied carrier and symbol, smoothed across carriers (least
   squares onto impulse responses within the cyclic prefix) and in time (``receiver.track``: the
   averaging window of least estimated error, short when the channel moves, long when not);
4. zero-forcing equalisation with that channel; the noise variance of the LLRs is the larger
   of the preamble's and what the tracked channel leaves unexplained around each symbol and
   carrier (``NOISE_AREA``).

``needs_tracking`` decides when a packet is worth it: when the equalised symbols of the first
pass scatter around their decisions far more than the noise the preamble measured, or
(``pilots_moved``) when the pilots' common gain changed within the packet.
"""
import numpy as np
from scipy.ndimage import uniform_filter

from .modulation import nearest_points
from .receiver import _smoother, cis, track

EXCESS_ERROR_RATIO = 2.0    # first-pass error / expected noise above which carriers are tracked
FORWARD_SYMBOLS = 2         # "forward" decisions: OFDM symbols per step
FORWARD_CARRIERS = 3        # "forward" decisions: carriers averaged into each one's channel
TAP_FLOOR = 0.01            # impulse-response taps weaker than this (relative) do not count
TAP_MARGIN = 2              # taps kept beyond the last strong one
NOISE_AREA = (9, 5)         # OFDM symbols x carriers over which the unexplained power is averaged
COMMON_GAIN_MOVED = 0.3     # the pilots' common gain this far from its median: the channel moved


def _nonzero(channel):
    """``channel`` with exact zeros (a carrier with no signal at all) replaced by a tiny value."""
    return np.where(channel == 0, 1e-30, channel)


def needs_tracking(z, noise_var, modulation):
    """True when the first pass's equalised symbols scatter around their decisions more than
    ``EXCESS_ERROR_RATIO`` times the noise (a channel that changed within the packet)."""
    error = np.abs(z - nearest_points(z, modulation)) ** 2
    # decision errors at low SNR make the scatter smaller than the noise, never larger
    return float(np.mean(error)) > EXCESS_ERROR_RATIO * float(np.mean(np.minimum(noise_var, 10.0)))


def pilots_moved(common):
    """True when the pilots' common gain (``receiver.PilotTrack.common``, relative to the
    preamble's channel) strays more than ``COMMON_GAIN_MOVED`` from its median within the
    packet: a flat channel that jumped (block fading) leaves the equalised symbols consistent
    with their noise, so ``needs_tracking`` does not see it."""
    common = np.asarray(common)
    centre = np.median(common.real) + 1j * np.median(common.imag)
    return bool(common.size) and float(np.max(np.abs(common - centre))) > COMMON_GAIN_MOVED


def local_noise_var(z, noise_var, modulation):
    """(T, carriers) noise variance for LLRs: the larger of ``noise_var`` and the scatter of the
    equalised symbols ``z`` around their decisions, averaged over ``NOISE_AREA``. Where the
    channel moved since the preamble, LLRs scaled by the preamble's noise are over-confident."""
    error = np.abs(z - nearest_points(z, modulation)) ** 2
    return np.maximum(noise_var, uniform_filter(error, NOISE_AREA, mode="nearest"))


def delay_taps(channel, numerology):
    """Impulse-response taps that hold the channel ``channel`` (on the occupied carriers): the
    last tap above ``TAP_FLOOR`` of the strongest, plus ``TAP_MARGIN``, within the cyclic prefix.
    Fewer taps tie the carriers closer together, so one carrier cannot slip on its own."""
    nm = numerology
    taps = nm.cp_len + 1
    k = np.asarray(nm.occupied_carriers)[:, None]
    basis = np.exp(-2j * np.pi * k * np.arange(taps)[None, :] / nm.fft_len)
    power = np.abs(np.linalg.lstsq(basis, channel, rcond=None)[0]) ** 2
    strong = np.nonzero(power >= TAP_FLOOR * power.max())[0]
    return int(min(taps, strong[-1] + 1 + TAP_MARGIN))


def interpolation_matrix(pilot_carriers, carriers):
    """(pilots, carriers) weights: linear interpolation between the pilots (sorted), constant
    beyond the outermost ones."""
    pilots = np.sort(np.asarray(pilot_carriers, float))
    weights = np.zeros((pilots.size, len(carriers)))
    for j, k in enumerate(carriers):
        unit = np.zeros(pilots.size)
        for i in range(pilots.size):
            unit[:] = 0.0
            unit[i] = 1.0
            weights[i, j] = np.interp(k, pilots, unit)
    order = np.argsort(np.asarray(pilot_carriers, float))
    return weights[np.argsort(order)]


def track_carriers(symbols_fft, estimate, numerology, first_symbol, modulation, decisions=None):
    """Equalise with a channel tracked per carrier and symbol (see the module docstring).

    symbols_fft: complex (T, fft_len), symbols ``first_symbol ..`` after the preamble;
    decisions: the data-carrier symbols (T * n_data,) if known; None: taken from the symbols
    equalised with the pilots' interpolated channel; "forward" or "forward-local": decided
    symbol by symbol from the channel tracked so far. Returns (z, noise_var) as
    ``receiver.equalize``.
    """
    nm = numerology
    occupied = np.asarray(nm.occupied_carriers)
    where = {k: i for i, k in enumerate(occupied)}
    data = np.asarray([where[k] for k in nm.data_carriers])
    pilot = np.asarray([where[k] for k in nm.pilot_carriers])
    count = symbols_fft.shape[0]
    tau = nm.preamble_repeats + first_symbol + np.arange(count) - (nm.preamble_repeats - 1) / 2
    rotation = cis(estimate.phase_step * tau + estimate.phase_offset)[:, None]
    received = symbols_fft[:, nm.spectrum_index(occupied)] / rotation
    sigma2 = max(estimate.noise_var, 1e-30)
    sent = np.empty((count, occupied.size), complex)
    sent[:, pilot] = nm.pilots(first_symbol, count)
    if isinstance(decisions, str) and decisions == "forward":
        # symbol by symbol, each equalised with the channel the one before gave (the preamble's
        # first): a least-squares fit of impulse-response taps in which each carrier counts with
        # its power, since the decisions on faded carriers are the ones that go wrong
        channel = estimate.channel
        n_taps = delay_taps(channel, nm)
        basis = np.exp(-2j * np.pi * occupied[:, None] * np.arange(n_taps)[None, :] / nm.fft_len)
        ridge = 1e-9 * np.eye(n_taps)       # keeps the fit defined when every carrier has faded
        for start in range(count):
            sent[start, data] = nearest_points(received[start, data] / _nonzero(channel[data]), modulation)
            weighted = basis.conj().T * (np.abs(channel) ** 2)[None, :]
            gram = weighted @ basis
            channel = basis @ np.linalg.solve(gram + ridge * (np.trace(gram).real + 1e-30),
                                              weighted @ (received[start] / sent[start]))
    elif isinstance(decisions, str) and decisions == "forward-local":
        # symbol pairs in turn, each equalised with the channel of the pair before (the
        # preamble's first), averaged over neighbouring carriers
        channel = estimate.channel
        kernel = np.ones(FORWARD_CARRIERS)
        count_near = np.convolve(np.ones(occupied.size), kernel, mode="same")
        for start in range(0, count, FORWARD_SYMBOLS):
            rows = slice(start, min(start + FORWARD_SYMBOLS, count))
            sent[rows, data] = nearest_points(received[rows][:, data] / _nonzero(channel[None, data]), modulation)
            fresh = np.mean(received[rows] / sent[rows], axis=0)
            channel = np.convolve(fresh, kernel, mode="same") / count_near
    elif decisions is not None:
        sent[:, data] = np.asarray(decisions).reshape(count, data.size)
    else:
        # the pilots' change since the preamble, smoothed in time, interpolated across carriers
        h0 = estimate.channel
        change = received[:, pilot] / (sent[:, pilot] * h0[pilot][None, :])
        change = track(change, sigma2 / np.mean(np.abs(h0[pilot]) ** 2))
        guess = h0[None, :] * (change @ interpolation_matrix(nm.pilot_carriers, occupied))
        sent[:, data] = nearest_points(received[:, data] / guess[:, data], modulation)
    smoother = _smoother(tuple(occupied), nm.fft_len, nm.cp_len + 1)
    raw = (received / sent) @ smoother.T
    # noise of each raw estimate, after the projection onto trace(smoother) of the carriers' dimensions
    noise = sigma2 / np.mean(np.abs(sent) ** 2) * np.trace(smoother).real / occupied.size
    channel = track(raw, noise)
    # what the tracked channel leaves unexplained nearby (tracking error in a fast fade) counts
    # as noise too, where it exceeds the preamble's
    unexplained = uniform_filter(np.abs(received - channel * sent) ** 2, NOISE_AREA, mode="nearest")
    noise_var = np.maximum(unexplained[:, data], sigma2)
    h = channel[:, data] * rotation
    gain = np.maximum(np.abs(h) ** 2, 1e-30)
    return symbols_fft[:, nm.spectrum_index(nm.data_carriers)] * np.conj(h) / gain, noise_var / gain
