# SPDX-License-Identifier: GPL-3.0-or-later
"""Radio impairments: each changes the signal as specified, each is a function of the seed and the
sample index only, and the receiver decodes through each of them at high SNR."""
import numpy as np
import pytest
from gnuradio import channels
from scipy.signal import welch
from test_phy_channel import _through as through

from gnuradio.gensemcom.errors import BadInputError
from gnuradio.gensemcom.phy.channel import ChannelConfig, block_fader, impairment_config, make_channel
from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
from gnuradio.gensemcom.phy.impairments import IMPAIRMENT_PRESETS, phase_noise_design, phase_noise_psd
from gnuradio.gensemcom.phy.link import run_link

pytestmark = [pytest.mark.flowgraph, pytest.mark.timeout(300)]
QUIET = 200.0   # SNR (dB) at which the channel's noise does not matter


def _through(block, x):
    return through(block, x)[0]


def _pulse_positions(y, period, count):
    """Sub-sample positions of the ``count`` strongest pulses (parabola through each peak)."""
    positions = []
    for start in range(0, count * period, period):
        window = np.abs(y[start:start + period]) ** 2
        peak = int(np.argmax(window[1:-1])) + 1
        left, mid, right = window[peak - 1:peak + 2]
        positions.append(start + peak + 0.5 * (left - right) / (left - 2 * mid + right))
    return np.asarray(positions)


@pytest.mark.parametrize("ppm", [-40.0, 20.0, 100.0])
def test_clock_offset_stretches_time_by_the_ppm(ppm):
    """Pulses 10,000 samples apart arrive (1 + ppm 1e-6) x 10,000 apart: the receiver's clock
    is ``sro_ppm`` faster than the transmitter's."""
    period, count = 10_000, 30
    x = np.zeros(period * (count + 1), complex)
    x[period // 2::period] = 1.0
    y = _through(make_channel(ChannelConfig("awgn", snr_db=QUIET, sro_ppm=ppm)), x)
    measured = (np.polyfit(np.arange(count), _pulse_positions(y, period, count), 1)[0] / period - 1) * 1e6
    assert abs(measured - ppm) < 0.5


def test_shared_oscillator_offsets_the_carrier_with_the_clock():
    config = ChannelConfig("awgn", snr_db=QUIET, sro_ppm=4.0, carrier_hz=2.45e9, sample_rate_hz=2e6)
    y = _through(make_channel(config), np.ones(50_000, complex))
    step = np.angle(np.mean(y[1001:-1000] * np.conj(y[1000:-1001])))
    assert np.isclose(step / (2 * np.pi) * 2e6, -4e-6 * 2.45e9, rtol=0.01)      # -9.8 kHz
    assert np.isclose(config.total_cfo(), -9.8e3 / (2e6 / DEFAULT_NUMEROLOGY.fft_len))
    with pytest.raises(BadInputError, match="receiver's range"):
        ChannelConfig("awgn", sro_ppm=20.0, carrier_hz=2.45e9, sample_rate_hz=2e6)   # 1.6 spacings


def test_phase_noise_has_the_specified_spectrum():
    """L(f) measured on a carrier through the channel: the level at the offset and the corner,
    and the rms phase, as designed."""
    fs, level, offset, corner = 2e6, -90.0, 100e3, 50e3
    config = ChannelConfig("awgn", snr_db=QUIET, seed=3, sample_rate_hz=fs, phase_noise_dbc_hz=level,
                           phase_noise_offset_hz=offset, phase_noise_corner_hz=corner)
    y = _through(make_channel(config), np.ones(2_000_000, complex))[10_000:]
    phase = np.unwrap(np.angle(y))
    freqs, psd = welch(phase - phase.mean(), fs=fs, nperseg=8192, return_onesided=False)
    measured = 10 * np.log10(np.interp([offset, 10 * offset], np.fft.fftshift(freqs), np.fft.fftshift(psd)))
    mag, alpha, rms = phase_noise_design(level, offset, corner, fs)
    assert abs(measured[0] - level) < 1.0
    assert abs(measured[1] - phase_noise_psd(mag, alpha, fs, 10 * offset)) < 1.0   # -20 dB/decade beyond
    assert abs(np.std(phase) / rms - 1) < 0.1


@pytest.mark.parametrize("gain_db, phase_deg", [(0.5, 3.0), (1.0, 0.0), (0.0, 5.0)])
def test_iq_imbalance_gives_the_image_rejection_of_its_gain_and_phase(gain_db, phase_deg):
    config = ChannelConfig("awgn", snr_db=QUIET, iq_imbalance_db=gain_db, iq_phase_deg=phase_deg)
    n, bin_ = 65536, 3000
    x = np.exp(2j * np.pi * bin_ * np.arange(n) / n)
    y = _through(make_channel(config), np.tile(x, 2))[n // 2:n // 2 + n]
    spectrum = np.abs(np.fft.fft(y * np.exp(-2j * np.pi * bin_ * (n // 2) / n))) ** 2
    measured = 10 * np.log10(spectrum[bin_] / spectrum[-bin_])
    g, phi = 10 ** (gain_db / 20), np.radians(phase_deg)
    expected = 10 * np.log10((1 + 2 * g * np.cos(phi) + g * g) / (1 - 2 * g * np.cos(phi) + g * g))
    assert abs(measured - expected) < 0.2
    if (gain_db, phase_deg) == (0.5, 3.0):
        assert 27.5 < measured < 28.5


def test_dc_offset_sits_at_its_level_below_the_signal():
    config = ChannelConfig("awgn", snr_db=QUIET, dc_offset_dbc=-30.0)
    y = _through(make_channel(config), np.zeros(10_000, complex))[100:]
    power = np.abs(np.mean(y)) ** 2
    assert abs(10 * np.log10(power / DEFAULT_NUMEROLOGY.tx_symbol_power) + 30.0) < 0.01
    assert np.isclose(np.angle(np.mean(y)), np.pi / 4)


def test_shadowing_spreads_the_received_power_by_its_sigma_and_depends_on_the_seed():
    """Log-normal shadowing in the channel preset: the received power of a constant-envelope
    signal, in dB, has the preset's standard deviation (many correlation times), changes slowly
    (neighbouring windows agree) and is the same for the same seed."""
    x = np.full(400_000, 0.18 + 0j)
    config = ChannelConfig("awgn", snr_db=QUIET, seed=4, shadowing_db=6.0, shadowing_samples=1_600)
    y = _through(make_channel(config), x)
    power_db = 10 * np.log10(np.mean(np.abs(y[:399_800].reshape(-1, 100)) ** 2, axis=1) / 0.18 ** 2)
    assert 4.5 < np.std(power_db) < 7.5 and abs(np.mean(power_db)) < 2.0
    assert np.median(np.abs(np.diff(power_db))) < 1.0
    assert np.allclose(_through(make_channel(config), x[:50_000])[:49_000], y[:49_000], atol=1e-6)
    with pytest.raises(BadInputError):
        ChannelConfig("awgn", shadowing_db=-1.0)


def test_cfo_drift_walks_at_its_rate():
    """gr-channels' cfo_model: the carrier's frequency changes by cfo_drift_hz rms per second."""
    fs, drift = 1e6, 200.0
    changes = []
    for seed in range(6):
        config = ChannelConfig("awgn", snr_db=QUIET, seed=seed, sample_rate_hz=fs, cfo_drift_hz=drift)
        y = _through(make_channel(config), np.ones(250_000, complex))
        freq = np.angle(y[1:] * np.conj(y[:-1])) * fs / (2 * np.pi)
        changes.append(np.mean(freq[-2000:]) - np.mean(freq[:2000]))
    assert 0.4 * drift * 0.5 < np.sqrt(np.mean(np.square(changes))) < 2.0 * drift * 0.5   # sqrt(0.25 s)


@pytest.mark.parametrize("profile", ["tgn-b", "tgn-d", "epa", "eva", "etu"])
def test_tapped_delay_profiles_block_and_doppler_fading_agree(profile):
    """A standard profile's FIR taps (sinc-interpolated paths, mean powers summing to 1) are the
    same channel with block fading and with gr-channels' Doppler fading."""
    fs = 20e6 if profile.startswith("tgn") else 2e6
    static = ChannelConfig("multipath", seed=2, profile=profile, sample_rate_hz=fs, coherence_samples=64)
    powers = static.tap_powers()
    assert abs(powers.sum() - 1) < 1e-9
    x = np.zeros(64 * 4000, complex)
    x[::64] = 1.0
    fader = block_fader(static)
    measured = np.mean(np.abs(_through(fader, x)[:x.size].reshape(-1, 64)[:, :powers.size]) ** 2, axis=0)
    assert np.allclose(measured, powers, atol=0.03 + 0.15 * powers)
    moving = make_channel(ChannelConfig("multipath", snr_db=QUIET, seed=2, profile=profile, sample_rate_hz=fs,
                                        doppler_hz=fs / 500))
    assert isinstance(moving.fader, channels.selective_fading_model)
    assert np.isclose(moving.config.doppler_norm, 1 / 500)


def test_impairment_presets_resolve_with_overrides():
    for preset in IMPAIRMENT_PRESETS:
        assert isinstance(impairment_config(preset), ChannelConfig)
    indoor = impairment_config("b200-indoor", snr_db=12.0, seed=4, sro_ppm=2.0, doppler_hz=None)
    assert indoor.name == "awgn" and indoor.sro_ppm == 2.0 and indoor.snr_db == 12.0
    assert indoor.iq_imbalance_db == 0.5 and indoor.dc_offset_dbc == -30.0
    walking = impairment_config("walking-nlos", doppler=1e-4)
    assert walking.doppler == 1e-4 and walking.doppler_hz == 0.0 and walking.profile == "tgn-d"
    assert impairment_config("vehicular", name="rayleigh").name == "rayleigh"
    with pytest.raises(BadInputError, match="choose from none, lab-cable"):
        impairment_config("moon")
    with pytest.raises(BadInputError, match="unknown channel fields"):
        impairment_config("none", warp=9)
    with pytest.raises(BadInputError):
        impairment_config("none", iq_phase_deg=90.0)


@pytest.mark.parametrize("preset", ["b200-indoor", "walking-nlos"])
def test_impairments_depend_on_the_sample_index_not_on_what_is_sent(preset):
    """Two transmissions that differ before sample m meet the same channel after it: phase noise,
    CFO walk, fading, noise, DC and IQ imbalance are functions of the seed and the sample index."""
    config = impairment_config(preset, snr_db=10.0, seed=5)
    rng = np.random.default_rng(1)
    m, n = 20_000, 40_000
    tail = np.exp(2j * np.pi * rng.random(n - m)) * 0.18
    a = np.concatenate([rng.standard_normal(m) * 0.2, tail])
    b = np.concatenate([np.zeros(m), tail])
    ya, yb = _through(make_channel(config), a), _through(make_channel(config), b)
    settle = m + 64                                   # the filters' memory of what came before
    assert np.allclose(ya[settle:n - 64], yb[settle:n - 64], atol=2e-4)
    assert not np.allclose(ya[:m - 64], yb[:m - 64], atol=1e-2)


IMPAIRMENTS = {
    "clock +20 ppm": dict(sro_ppm=20.0),
    "clock -20 ppm": dict(sro_ppm=-20.0),
    "clock 100 ppm": dict(sro_ppm=100.0),
    "cfo 0.3": dict(cfo=0.3),
    "cfo drift": dict(cfo=0.2, cfo_drift_hz=2000.0),
    "phase noise": dict(phase_noise_dbc_hz=-90.0),
    "iq imbalance": dict(iq_imbalance_db=0.5, iq_phase_deg=3.0),
    "dc offset": dict(dc_offset_dbc=-30.0),
}


@pytest.mark.parametrize("mcs", ["qpsk-1/2", "16qam-3/4"])
@pytest.mark.parametrize("label", list(IMPAIRMENTS))
def test_receiver_decodes_through_each_impairment_at_high_snr(label, mcs):
    config = impairment_config("none", snr_db=25.0, seed=3, **IMPAIRMENTS[label])
    result = run_link(mcs, 25.0, config, packets=8, payload_bytes=1500, seed=3)
    assert result.packets_ok == 8, f"{label}: {result.packets_ok}/8"


@pytest.mark.parametrize("preset", ["lab-cable", "b200-indoor"])
def test_receiver_decodes_through_the_front_end_presets_at_high_snr(preset):
    result = run_link("16qam-3/4", 25.0, impairment_config(preset, snr_db=25.0, seed=1), packets=8,
                      payload_bytes=1500, seed=1)
    assert result.packets_ok == 8


@pytest.mark.parametrize("preset", ["walking-nlos", {"name": "rayleigh", "doppler_hz": 70.0}])
def test_receiver_follows_fading_with_doppler(preset):
    """A walker's TGn D channel and flat Rayleigh fading at 70 Hz: the pilots track the common
    gain; at 30 dB only a rare deep fade loses a packet."""
    config = (impairment_config(preset, snr_db=30.0, seed=1) if isinstance(preset, str)
              else impairment_config("none", snr_db=30.0, seed=1, **preset))
    result = run_link("16qam-3/4", 30.0, config, packets=10, payload_bytes=1500, seed=1)
    assert result.packets_ok >= 9


def test_receiver_tracks_a_frequency_selective_channel_with_doppler():
    """3GPP EVA at 70 Hz (the channel decorrelates within 6 ms, a 1500-byte packet lasts 11 ms at
    2 Msample/s): the per-carrier tracking recovers most packets that the pilots alone lose."""
    result = run_link("qpsk-1/2", 25.0, impairment_config("vehicular", snr_db=25.0, seed=1), packets=12,
                      payload_bytes=1500, seed=1)
    assert result.packets_ok >= 6


def test_local_noise_var_covers_what_the_preamble_did_not_see():
    """LLR noise after a failed first pass: never below the preamble's, equal to it where the
    symbols sit on the constellation, the local scatter where the channel moved."""
    from gnuradio.gensemcom.phy.modulation import nearest_points
    from gnuradio.gensemcom.phy.tracking import local_noise_var
    rng = np.random.default_rng(4)
    ideal = nearest_points((rng.choice([-1, 1], (40, 48)) + 1j * rng.choice([-1, 1], (40, 48))) / np.sqrt(2), "qpsk")
    noise = np.full(ideal.shape, 1e-4)
    assert np.allclose(local_noise_var(ideal, noise, "qpsk"), noise)
    moved = ideal.copy()
    moved[20:, :24] *= np.exp(0.3j)                  # a region whose channel turned since the preamble
    local = local_noise_var(moved, noise, "qpsk")
    assert np.all(local >= noise)
    expected = abs(np.exp(0.3j) - 1) ** 2            # |z - decision|^2 of a 0.3 rad turn (QPSK, unit power)
    assert np.allclose(local[30, 5], expected, rtol=0.05) and np.allclose(local[5, 40], noise[5, 40])
