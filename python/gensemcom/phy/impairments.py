# SPDX-License-Identifier: GPL-3.0-or-later
"""Radio impairments on gr-channels blocks, and the tapped-delay profiles of the fading channels.

What ``channel_preset`` puts after its fading stage (``frontend_blocks``), in the order of a
receiver's front end; each one is a function of the seed and the sample index only, never of
what is sent (every scheme of a benchmark task meets the same channel):

  sample-clock offset   a fractional resampler (``clock_offset_resampler``: gr-filter's
                        polyphase arbitrary resampler, cleaner than channel_model's epsilon)
  CFO drift             ``channels.cfo_model``: a seeded, clipped Gaussian random walk
  phase noise           ``channels.phase_noise_gen`` (white noise -> one-pole IIR -> exp(j phi)),
                        its noise source reseeded; ``phase_noise_design`` sets it from a level in
                        dBc/Hz at an offset and a corner (PLL loop bandwidth)
  IQ imbalance          ``channels.iqbal_gen`` in receiver mode (gain in dB, phase in degrees)
  DC offset             ``blocks.add_const_cc``: a constant at ``dc_offset_dbc`` below the
                        signal's mean power during OFDM symbols, at 45 degrees

``DELAY_PROFILES``: 802.11n TGn models B and D (Erceg et al., IEEE 802.11-03/940r4, cluster
powers summed per tap) and 3GPP EPA, EVA, ETU (TS 36.101 Annex B.2.1), delays in ns, powers in
dB. At a sample rate fs a path of delay tau reaches the FIR taps k = 0.. through sinc(k - tau fs)
(the interpolation gr-channels' ``selective_fading_model`` uses), so block fading and Doppler
fading of one profile are the same channel.
"""
import numpy as np
from gnuradio import analog, blocks, channels
from gnuradio import filter as grfilter
from gnuradio.filter import firdes

from ..params import Param

DELAY_PROFILES = {
    # name: (delays in ns, mean powers in dB, source)
    "tgn-b": ((0, 10, 20, 30, 40, 50, 60, 70, 80),
              (0.0, -5.4, 10 * np.log10(10 ** -1.08 + 10 ** -0.32), 10 * np.log10(10 ** -1.62 + 10 ** -0.63),
               10 * np.log10(10 ** -2.17 + 10 ** -0.94), -12.5, -15.6, -18.7, -21.8),
              "IEEE 802.11-03/940r4 model B (residential, 15 ns rms)"),
    "tgn-d": ((0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 110, 140, 170, 200, 240, 290, 340, 390),
              (0.0, -0.9, -1.7, -2.6, -3.5, -4.3, -5.2, -6.1, -6.9, -7.8,
               10 * np.log10(10 ** -0.90 + 10 ** -0.66), 10 * np.log10(10 ** -1.11 + 10 ** -0.95),
               10 * np.log10(10 ** -1.37 + 10 ** -1.21), 10 * np.log10(10 ** -1.63 + 10 ** -1.47),
               10 * np.log10(10 ** -1.93 + 10 ** -1.74 + 10 ** -1.88),
               10 * np.log10(10 ** -2.32 + 10 ** -2.19 + 10 ** -2.32),
               10 * np.log10(10 ** -2.55 + 10 ** -2.52), -26.7),
              "IEEE 802.11-03/940r4 model D (office NLOS, 50 ns rms)"),
    "epa": ((0, 30, 70, 90, 110, 190, 410), (0.0, -1.0, -2.0, -3.0, -8.0, -17.2, -20.8),
            "3GPP TS 36.101 Annex B.2.1, Extended Pedestrian A (43 ns rms)"),
    "eva": ((0, 30, 150, 310, 370, 710, 1090, 1730, 2510), (0.0, -1.5, -1.4, -3.6, -0.6, -9.1, -7.0, -12.0, -16.9),
            "3GPP TS 36.101 Annex B.2.1, Extended Vehicular A (357 ns rms)"),
    "etu": ((0, 50, 120, 200, 230, 500, 1600, 2300, 5000), (-1.0, -1.0, -1.0, 0.0, 0.0, 0.0, -3.0, -5.0, -7.0),
            "3GPP TS 36.101 Annex B.2.1, Extended Typical Urban (991 ns rms)"),
}
PROFILES = ("exponential",) + tuple(DELAY_PROFILES)

# Two B200s (AD9361) at 2.45 GHz, 2 Msample/s. Values and where they come from: docs/phy.md.
_B200 = dict(sample_rate_hz=2e6, carrier_hz=2.45e9, phase_noise_dbc_hz=-102.0, phase_noise_offset_hz=100e3,
             phase_noise_corner_hz=100e3)
_B200_OTA = dict(_B200, sro_ppm=4.0, cfo_drift_hz=10.0, iq_imbalance_db=0.5, iq_phase_deg=3.0, dc_offset_dbc=-30.0)
IMPAIRMENT_PRESETS = {
    # name: (ChannelConfig fields, one line on what it models)
    "none": ({}, "an ideal radio: no impairment beyond the channel preset"),
    "lab-cable": (dict(_B200, name="awgn", iq_imbalance_db=0.1, iq_phase_deg=0.5, dc_offset_dbc=-45.0),
                  "two B200s on a cable sharing a 10 MHz reference: no clock or carrier offset, "
                  "AD9361 phase noise, calibrated IQ and DC"),
    "b200-indoor": (dict(_B200_OTA, name="awgn"),
                    "two B200s on their own TCXOs (4 ppm apart, carrier from the same oscillator: "
                    "0.31 subcarrier spacings), a static indoor line-of-sight channel, IQ and DC "
                    "tracking off"),
    "walking-nlos": (dict(_B200_OTA, name="multipath", profile="tgn-d", doppler_hz=6.8),
                     "b200-indoor's radios, 802.11n TGn D office NLOS multipath, Jakes Doppler of a "
                     "walker (3 km/h at 2.45 GHz: 6.8 Hz)"),
    "vehicular": (dict(_B200_OTA, name="multipath", profile="eva", doppler_hz=70.0),
                  "b200-indoor's radios, 3GPP EVA multipath with 70 Hz Doppler (EVA70; 31 km/h at 2.45 GHz)"),
    "walking-shadowed": (dict(_B200_OTA, name="multipath", profile="tgn-d", doppler_hz=6.8, shadowing_db=6.0,
                              shadowing_samples=200_000),
                         "walking-nlos with log-normal shadowing of 6 dB (a body or a wall in the path; "
                         "3GPP TR 38.901 indoor NLOS: 8 dB) decorrelating in 0.1 s at 2 Msample/s"),
    "vehicular-shadowed": (dict(_B200_OTA, name="multipath", profile="eva", doppler_hz=70.0, shadowing_db=6.0,
                                shadowing_samples=3_000_000),
                           "vehicular with log-normal shadowing of 6 dB decorrelating in 1.5 s at 2 Msample/s "
                           "(3GPP TR 38.901 UMi NLOS: 13 m at 31 km/h)"),
}
IMPAIRMENTS = Param("impairments", "str", "none", "Impairments",
                    "radio impairment preset (docs/phy.md: values and sources); single fields override it",
                    choices=tuple(IMPAIRMENT_PRESETS),
                    choice_labels=("None", "Lab Cable", "B200 Indoor", "Walking NLOS", "Vehicular", "Walking Shadowed",
                                   "Vehicular Shadowed"))
SINC_TAIL_TAPS = 3   # FIR taps beyond the last path's delay (the sinc interpolation's tail)
DC_PHASE_RAD = np.pi / 4
RESAMPLER_PHASES = 32


def preset_channel(preset):
    """(the channel preset that impairment preset ``preset`` brings, or None; its other
    ``ChannelConfig`` fields as a new dict)."""
    fields = dict(IMPAIRMENT_PRESETS[preset][0])
    return fields.pop("name", None), fields


def profile_paths(profile, sample_rate_hz):
    """(delays in samples, mean powers summing to 1) of a named ``DELAY_PROFILES`` entry."""
    delays_ns, powers_db, _ = DELAY_PROFILES[profile]
    powers = 10 ** (np.asarray(powers_db, float) / 10)
    return np.asarray(delays_ns, float) * 1e-9 * sample_rate_hz, powers / powers.sum()


def sinc_fir(delays_samples, n_taps):
    """(n_taps, n_paths) matrix: FIR taps k = 0..n_taps-1 of unit paths at fractional delays."""
    k = np.arange(n_taps)[:, None]
    return np.sinc(k - np.asarray(delays_samples, float)[None, :])


def fir_len(delays_samples):
    """FIR taps that hold every path: integer delays exactly, fractional ones with a sinc tail."""
    delays = np.asarray(delays_samples, float)
    whole = np.all(np.abs(delays - np.round(delays)) < 1e-9)
    return int(np.round(delays.max())) + 1 if whole else int(np.ceil(delays.max())) + 1 + SINC_TAIL_TAPS


def phase_noise_design(level_dbc_hz, offset_hz, corner_hz, sample_rate_hz):
    """(noise_mag, alpha, rms_rad) of ``phase_noise_gen`` for a phase-noise level.

    The generator's phase is white Gaussian noise (std noise_mag) through y[n] = alpha x[n] +
    (1 - alpha) y[n-1], so its two-sided PSD, which is L(f), is
    noise_mag^2 alpha^2 / (fs |1 - (1 - alpha) exp(-j 2 pi f / fs)|^2): flat up to the corner
    (3 dB down there, like a PLL's loop bandwidth), -20 dB/decade beyond. alpha puts the corner
    at ``corner_hz``; noise_mag makes L(offset_hz) = ``level_dbc_hz``. rms_rad: the phase's std.
    """
    omega_c = 2 * np.pi * min(corner_hz / sample_rate_hz, 0.45)
    c = 2 - np.cos(omega_c)
    pole = c - np.sqrt(c * c - 1)
    alpha = 1 - pole
    omega = 2 * np.pi * offset_hz / sample_rate_hz
    response = abs(1 - pole * np.exp(-1j * omega)) ** 2
    variance = 10 ** (level_dbc_hz / 10) * sample_rate_hz * response / alpha ** 2
    return float(np.sqrt(variance)), float(alpha), float(np.sqrt(variance * alpha ** 2 / (1 - pole ** 2)))


def phase_noise_psd(noise_mag, alpha, sample_rate_hz, freq_hz):
    """L(f) in dBc/Hz of ``phase_noise_gen(noise_mag, alpha)`` at ``freq_hz`` (see the design)."""
    response = np.abs(1 - (1 - alpha) * np.exp(-2j * np.pi * np.asarray(freq_hz) / sample_rate_hz)) ** 2
    return 10 * np.log10(noise_mag ** 2 * alpha ** 2 / (sample_rate_hz * response))


def stream_seed(seed, salt):
    """A seed of its own for each random impairment, a function of the channel seed."""
    return int(np.random.default_rng([int(seed) & 0x7FFFFFFF, salt]).integers(1, 2 ** 31 - 1))


def seeded_phase_noise(noise_mag, alpha, seed):
    """``channels.phase_noise_gen`` whose noise source is seeded by ``seed`` (it fixes 42)."""
    gen = channels.phase_noise_gen(noise_mag, alpha)
    gen.disconnect((gen.analog_noise_source_x_0, 0), (gen.filter_single_pole_iir_filter_xx_0, 0))
    gen.analog_noise_source_x_0 = analog.noise_source_f(analog.GR_GAUSSIAN, noise_mag, stream_seed(seed, 0x504E))
    gen.connect((gen.analog_noise_source_x_0, 0), (gen.filter_single_pole_iir_filter_xx_0, 0))
    return gen


def clock_offset_resampler(sro_ppm):
    """``filter.pfb_arb_resampler_ccf`` at 1 + sro_ppm 1e-6 output samples per input sample: the
    receiver's clock ``sro_ppm`` faster than the transmitter's. Its prototype filter (32 phases,
    passband to 0.45 of the sample rate, 70 dB stopband) keeps a signal on 52 of 64 carriers
    50 dB clean; ``channel_model``'s epsilon (an 8-tap MMSE interpolator) reaches only 23 dB
    there. It delays the signal by about 20 samples."""
    taps = firdes.low_pass_2(RESAMPLER_PHASES, RESAMPLER_PHASES, 0.45, 0.08, 70)
    return grfilter.pfb_arb_resampler_ccf(1.0 + sro_ppm * 1e-6, taps, RESAMPLER_PHASES)


def frontend_blocks(config, symbol_power, spacing_hz, cfo_margin):
    """The receiver front end's impairments of ``config`` as a list of blocks (maybe empty).

    symbol_power: mean TX power during OFDM symbols (the reference of dBc); spacing_hz:
    subcarrier spacing; cfo_margin: subcarrier spacings between the fixed CFO and the edge of
    the receiver's range (bounds the drift's random walk).
    """
    chain = []
    fs = config.sample_rate_hz
    if config.cfo_drift_hz > 0:
        bound_hz = max(cfo_margin, 0.0) * spacing_hz
        chain.append(channels.cfo_model(fs, config.cfo_drift_hz / np.sqrt(fs), bound_hz,
                                        stream_seed(config.seed, 0xCF0)))
    if config.phase_noise_dbc_hz < 0:
        mag, alpha, _ = phase_noise_design(config.phase_noise_dbc_hz, config.phase_noise_offset_hz,
                                           config.phase_noise_corner_hz, fs)
        chain.append(seeded_phase_noise(mag, alpha, config.seed))
    if config.iq_imbalance_db or config.iq_phase_deg:
        chain.append(channels.iqbal_gen(config.iq_imbalance_db, config.iq_phase_deg, 1))
    if config.dc_offset_dbc < 0:
        amplitude = np.sqrt(symbol_power * 10 ** (config.dc_offset_dbc / 10))
        chain.append(blocks.add_const_cc(complex(amplitude * np.exp(1j * DC_PHASE_RAD))))
    return chain
