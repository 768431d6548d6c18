# SPDX-License-Identifier: GPL-3.0-or-later
"""Decision-directed channel tracking within a packet (phy.tracking), on synthetic FFT outputs."""
import numpy as np
import pytest

from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY as NM
from gnuradio.gensemcom.phy.modulation import nearest_points
from gnuradio.gensemcom.phy.receiver import ChannelEstimate
from gnuradio.gensemcom.phy.tracking import track_carriers

SYMBOLS = 120


def received_fft(qpsk, channel, noise_db, rng):
    """(symbols_fft, noise variance): QPSK data symbols ``qpsk`` (T, data carriers) and the
    pilots through ``channel`` (T, occupied carriers), with complex noise at ``noise_db``."""
    occupied = np.asarray(NM.occupied_carriers)
    where = {k: i for i, k in enumerate(occupied)}
    sent = np.empty(channel.shape, complex)
    sent[:, [where[k] for k in NM.data_carriers]] = qpsk
    sent[:, [where[k] for k in NM.pilot_carriers]] = NM.pilots(NM.header_symbols, channel.shape[0])
    sigma2 = 10 ** (noise_db / 10)
    noise = np.sqrt(sigma2 / 2) * (rng.normal(size=sent.shape) + 1j * rng.normal(size=sent.shape))
    fft = np.zeros((channel.shape[0], NM.fft_len), complex)
    fft[:, NM.spectrum_index(occupied)] = channel * sent + noise
    return fft, sigma2


def random_qpsk(rng, count):
    """(count, data carriers) random unit-power QPSK symbols."""
    shape = (count, len(NM.data_carriers))
    return (rng.choice([-1, 1], shape) + 1j * rng.choice([-1, 1], shape)) / np.sqrt(2)


def moving_channel(seed, turns=0.5, noise_db=-30.0):
    """(symbols_fft, estimate, data symbols): QPSK through a 5-tap channel whose taps turn at
    different rates (up to ``turns`` turns over the packet), so its shape across carriers changes."""
    rng = np.random.default_rng(seed)
    occupied = np.asarray(NM.occupied_carriers)
    qpsk = random_qpsk(rng, SYMBOLS)
    taps0 = (rng.normal(size=5) + 1j * rng.normal(size=5)) * np.exp(-np.arange(5) / 2.0)
    taps0 /= np.linalg.norm(taps0)
    rates = rng.uniform(-turns, turns, 5) * 2 * np.pi / SYMBOLS
    time = np.arange(SYMBOLS)[:, None]
    taps = taps0[None, :] * np.exp(1j * rates[None, :] * time)
    basis = np.exp(-2j * np.pi * occupied[:, None] * np.arange(5)[None, :] / NM.fft_len)
    fft, sigma2 = received_fft(qpsk, taps @ basis.T, noise_db, rng)
    estimate = ChannelEstimate(channel=taps0 @ basis.T, noise_var=sigma2, phase_step=0.0)
    return fft, estimate, qpsk


def symbol_errors(z, sent):
    """Share of QPSK decisions of ``z`` that differ from ``sent``."""
    decided = nearest_points(z.reshape(-1), "qpsk")
    return float(np.mean(np.abs(decided - sent.reshape(-1)) > 0.1))


@pytest.mark.parametrize("mode", ["forward", "forward-local"])
def test_forward_tracking_follows_a_channel_whose_shape_changes_within_the_packet(mode):
    for seed in range(4):
        fft, estimate, sent = moving_channel(seed)
        z, noise_var = track_carriers(fft, estimate, NM, NM.header_symbols, "qpsk", mode)
        assert z.shape == sent.shape and noise_var.shape == sent.shape and np.all(noise_var > 0)
        errors = symbol_errors(z, sent)
        assert errors < 0.01, (seed, errors)          # a few on carriers inside a notch
        # the preamble's channel alone (no tracking) gets many symbols wrong: the test can fail
        fixed = fft[:, NM.spectrum_index(NM.data_carriers)] / estimate.channel[
            [list(NM.occupied_carriers).index(k) for k in NM.data_carriers]][None, :]
        assert symbol_errors(fixed, sent) > 0.1


def test_known_decisions_and_a_dead_channel_keep_the_output_finite():
    fft, estimate, sent = moving_channel(7)
    z, _ = track_carriers(fft, estimate, NM, NM.header_symbols, "qpsk", sent.reshape(-1))
    assert np.mean(np.abs(z - sent) ** 2) < 0.01            # genie decisions: the tracked channel is right
    z, noise_var = track_carriers(np.zeros_like(fft), estimate, NM, NM.header_symbols, "qpsk", "forward")
    assert np.all(np.isfinite(z)) and np.all(np.isfinite(noise_var))


@pytest.mark.parametrize("effort", ["full", "fast"])
def test_each_effort_decodes_a_failing_packet_with_its_own_ldpc_decoder(effort, monkeypatch):
    """A packet whose channel moved and whose CRC never passes goes through the same eleven
    decodes at either effort: the pilots' pass and the honest-noise pass, with the sum-product
    decoder (full) or the bounded min-sum one (fast), then three retracking starts of three
    passes each, always with min-sum (whose result does not depend on the LLRs' scale)."""
    from gnuradio.gensemcom.phy import burst_decoder
    from gnuradio.gensemcom.phy.framing import Header
    from gnuradio.gensemcom.phy.mcs import frame_size
    fft, estimate, _ = moving_channel(3)
    payload_len = next(n for n in range(1, 4097) if frame_size(n, "qpsk-1/2").payload_ofdm_symbols == SYMBOLS)
    calls = []
    real, real_batch = burst_decoder.decode_payload_llr, burst_decoder.decode_payloads_llr

    def counted(llr, header, numerology, fast=False):
        calls.append(fast)
        return real(llr, header, numerology, fast)

    def counted_batch(llr, header, numerology, fast=False):
        calls.extend([fast] * len(llr))
        return real_batch(llr, header, numerology, fast)

    monkeypatch.setattr(burst_decoder, "decode_payload_llr", counted)
    monkeypatch.setattr(burst_decoder, "decode_payloads_llr", counted_batch)
    z, noise_var, result = burst_decoder.decode_packet(fft, estimate, Header("qpsk-1/2", payload_len), NM, effort)
    assert not result.crc_ok and z.shape == noise_var.shape == (SYMBOLS * NM.n_data_carriers,)
    assert calls == [effort == "fast"] * 2 + [True] * 9


def flat_packet(gains, noise_db, seed=0):
    """(symbols_fft, estimate): QPSK through a flat channel of gain ``gains[t]`` in OFDM symbol t
    (the preamble measured 1), with noise at ``noise_db`` per carrier."""
    rng = np.random.default_rng(seed)
    channel = np.repeat(np.asarray(gains, complex)[:, None], len(NM.occupied_carriers), axis=1)
    fft, sigma2 = received_fft(random_qpsk(rng, len(gains)), channel, noise_db, rng)
    return fft, ChannelEstimate(channel=np.ones(len(NM.occupied_carriers), complex), noise_var=sigma2, phase_step=0.0)


def test_pilots_see_a_flat_channel_jump_that_the_symbols_scatter_does_not():
    """Block fading can jump within a packet; the pilots' common gain follows the jump, so the
    equalised symbols stay consistent with their noise (``needs_tracking`` is False), and only
    ``pilots_moved`` tells the receiver to track the packet again. A static channel, even at
    0 dB, does not move the pilots."""
    from gnuradio.gensemcom.phy.receiver import equalize, track_pilots
    from gnuradio.gensemcom.phy.tracking import needs_tracking, pilots_moved
    jump = np.where(np.arange(SYMBOLS) < SYMBOLS // 3, 1.0, 0.5 * np.exp(1.0j))
    fft, estimate = flat_packet(jump, -25.0)
    pilots = track_pilots(fft, estimate, NM, NM.header_symbols)
    z, noise_var, _ = equalize(fft, estimate, NM, NM.header_symbols, pilots)
    assert pilots_moved(pilots.common)
    assert not needs_tracking(z.reshape(-1), noise_var.reshape(-1), "qpsk")
    for noise_db in (-25.0, 0.0):
        for seed in range(3):
            fft, estimate = flat_packet(np.ones(SYMBOLS), noise_db, seed)
            assert not pilots_moved(track_pilots(fft, estimate, NM, NM.header_symbols).common), (noise_db, seed)


def test_a_batch_of_packets_decodes_as_each_packet_alone():
    """The receiver decodes the packets that arrived together in one vectorised first pass
    (``burst_decoder.decode_packets``, ``receiver.track_pilots_batch``); each packet's pilots,
    symbols and bits must be what it gets alone, with or without a clock-offset slope."""
    from gnuradio.gensemcom.phy import burst_decoder
    from gnuradio.gensemcom.phy.framing import Header
    from gnuradio.gensemcom.phy.mcs import frame_size
    from gnuradio.gensemcom.phy.receiver import track_pilots, track_pilots_batch
    packets = [moving_channel(seed, turns) for seed, turns in ((1, 0.0), (2, 0.5), (3, 0.02))]
    # a clock offset's phase slope across carriers on the third packet
    k = np.fft.fftfreq(NM.fft_len, 1 / NM.fft_len)
    packets[2] = (packets[2][0] * np.exp(2e-3j * np.arange(SYMBOLS)[:, None] * k[None, :]),) + packets[2][1:]
    symbols = np.stack([fft for fft, _, _ in packets])
    estimates = [estimate for _, estimate, _ in packets]
    alone = [track_pilots(fft, estimate, NM, NM.header_symbols) for fft, estimate, _ in packets]
    together = track_pilots_batch(symbols, estimates, NM, NM.header_symbols)
    assert alone[2].beta != 0.0
    for a, b in zip(alone, together):
        assert abs(a.beta - b.beta) <= 1e-9 * max(abs(a.beta), 1e-6)
        assert np.allclose(a.common, b.common, rtol=1e-9, atol=1e-12) and np.allclose(a.phase, b.phase)
    payload_len = next(n for n in range(1, 4097) if frame_size(n, "qpsk-1/2").payload_ofdm_symbols == SYMBOLS)
    headers = [Header("qpsk-1/2", payload_len, seq) for seq in range(3)]
    batch = burst_decoder.decode_packets(symbols, estimates, headers, NM, "fast")
    for (fft, estimate, _), header, (z, noise_var, result) in zip(packets, headers, batch):
        z1, noise_var1, result1 = burst_decoder.decode_packet(fft, estimate, header, NM, "fast")
        assert np.allclose(z, z1, rtol=1e-9, atol=1e-9) and np.allclose(noise_var, noise_var1, rtol=1e-9)
        assert (result.payload, result.crc_ok, result.failed_codewords) == \
            (result1.payload, result1.crc_ok, result1.failed_codewords)


def test_compiled_helpers_agree_with_numpy(rng):
    """The receiver's compiled kernels replace numpy calls: the phase unwrapping of the preamble's
    repetitions must be numpy's (jumps of exactly pi included), the drift estimate must find a
    tone between FFT bins, and the time smoothing must keep a real input real."""
    from gnuradio.gensemcom.phy import receiver_kernels
    from gnuradio.gensemcom.phy.receiver import _tone_frequency, track
    for trial in range(200):
        phases = rng.uniform(-3 * np.pi, 3 * np.pi, rng.integers(2, 12))
        if trial % 4 == 0:
            phases[1] = phases[0] + np.pi * rng.choice([-1, 1])
        unwrapped = phases.copy()
        receiver_kernels._unwrap(unwrapped)
        assert np.allclose(unwrapped, np.unwrap(phases), rtol=0, atol=1e-12), phases
    for frequency in (-2.9, -0.0123, 0.0, 0.3071, 3.1):
        tone = np.exp(1j * frequency * np.arange(93))[None] + 0.05 * rng.standard_normal((1, 93))
        assert abs(np.angle(np.exp(1j * (_tone_frequency(tone)[0] - frequency)))) < 2e-3, frequency
    ramp = np.linspace(0, 1, 40) + 0.01 * rng.standard_normal(40)
    smooth = track(ramp, 1e-4)
    assert smooth.dtype == np.float64 and np.max(np.abs(smooth - np.linspace(0, 1, 40))) < 0.01


def test_the_warm_up_packet_decodes_exactly():
    """``burst_decoder.warm_up`` compiles the kernels on a clean packet before a flowgraph runs;
    that packet must come back exactly (header, payload, symbols on the constellation)."""
    from gnuradio.gensemcom.phy.burst_decoder import clean_packet_ffts, warm_up
    from gnuradio.gensemcom.phy.burst_decoder import decode_headers, decode_packets
    from gnuradio.gensemcom.phy.framing import Header
    from gnuradio.gensemcom.phy.mcs import frame_size
    assert warm_up(NM)
    header = Header("16qam-3/4", 700, 5)
    vectors, symbols = clean_packet_ffts(header, NM)
    assert vectors.shape == (1, NM.preamble_repeats + NM.header_symbols, NM.fft_len)
    assert symbols.shape == (1, frame_size(700, "16qam-3/4", NM).payload_ofdm_symbols, NM.fft_len)
    (decoded, estimate), = decode_headers(vectors, NM)
    (_, _, result), = decode_packets(symbols, [estimate], [decoded], NM)
    assert decoded == header and result.crc_ok and result.payload == bytes(700) and estimate.snr_db > 100
