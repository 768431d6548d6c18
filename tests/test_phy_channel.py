# SPDX-License-Identifier: GPL-3.0-or-later
"""Channel presets: SNR calibration, reproducibility, fading statistics, timing, tags."""
import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio.gensemcom.errors import BadInputError
from gnuradio.gensemcom.phy.channel import ChannelConfig, block_fader, make_channel
from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
from gnuradio.gensemcom.phy.link import run_link
from gnuradio.gensemcom.phy.mcs import frame_size
from gnuradio.gensemcom.phy.ofdm_qam_tx import ofdm_qam_tx

pytestmark = [pytest.mark.flowgraph, pytest.mark.timeout(120)]


def _through(block, x):
    tb = gr.top_block()
    source = blocks.vector_source_c(np.asarray(x, np.complex64))
    sink = blocks.vector_sink_c()
    tb.connect(source, block, sink)
    tb.run()
    return np.array(sink.data()), sink.tags()


@pytest.fixture(scope="module")
def tx_bursts():
    """30 packets of 64qam-3/4 from the real TX (with its length tags) and their size."""
    rng = np.random.default_rng(11)
    tb = gr.top_block()
    tx = ofdm_qam_tx("64qam-3/4")
    sink = blocks.vector_sink_c()
    tb.connect(tx, sink)
    for seq in range(30):
        tx.post(rng.integers(0, 256, 1000, dtype=np.uint8).tobytes(), seq=seq)
    tx.post_done(filler=False)
    tb.run()
    return np.array(sink.data()), frame_size(1000, "64qam-3/4")


@pytest.mark.parametrize("snr_db", [-5.0, 10.0, 25.0])
def test_measured_snr_matches_requested(tx_bursts, snr_db):
    """Es/N0 per data subcarrier from measured signal and noise powers, within 0.2 dB."""
    x, size = tx_bursts
    y, _ = _through(make_channel(ChannelConfig("awgn", snr_db=snr_db, seed=4)), x)
    n = min(len(x), len(y)) - 16
    noise = y[:n] - x[:n]
    assert abs(np.vdot(x[:n], noise)) / (np.linalg.norm(x[:n]) * np.linalg.norm(noise)) < 0.01
    in_burst = np.zeros(n, bool)
    for start in range(DEFAULT_NUMEROLOGY.gap_len, n, size.samples):
        in_burst[start:start + size.burst_samples] = True
    signal_power = np.mean(np.abs(x[:n][in_burst]) ** 2)
    noise_var = np.mean(np.abs(noise) ** 2)
    nm = DEFAULT_NUMEROLOGY
    measured = 10 * np.log10(signal_power * nm.fft_len / len(nm.occupied_carriers) / noise_var)
    assert abs(measured - snr_db) < 0.2
    assert abs(10 * np.log10(signal_power) - nm.tx_power_db) < 0.1


def test_channel_is_seeded_and_blocks_tx_tags(tx_bursts):
    x, _ = tx_bursts
    config = ChannelConfig("multipath", snr_db=10.0, seed=7, cfo=0.1)
    a, tags = _through(make_channel(config), x)
    b, _ = _through(make_channel(config), x)
    c, _ = _through(make_channel(ChannelConfig("multipath", snr_db=10.0, seed=8, cfo=0.1)), x)
    # the CFO rotator renormalises per work() call: equal up to float32 rounding
    assert np.allclose(a, b, atol=1e-5) and not np.allclose(a, c, atol=1e-2)
    assert tags == []


@pytest.mark.parametrize("name", ["rayleigh", "rician", "multipath"])
def test_fading_has_unit_mean_power_and_redraws_per_block(name):
    config = ChannelConfig(name, seed=1, coherence_samples=50)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(200_000) + 1j * rng.standard_normal(200_000)) / np.sqrt(2)
    y, _ = _through(block_fader(config), x)
    blocks_power = np.mean(np.abs(y.reshape(-1, 50)) ** 2, axis=1)
    assert abs(np.mean(blocks_power) - 1.0) < 0.1
    assert np.std(blocks_power) > 0.2                           # gains differ between blocks
    if name == "multipath":
        assert np.allclose(config.tap_powers().sum(), 1.0) and config.tap_powers()[0] > 0.3


@pytest.mark.parametrize("coherence", [0, 4096])
@pytest.mark.parametrize("chunk", [1, 7, 64, 1000, 4096])
def test_fades_do_not_depend_on_how_the_scheduler_cuts_the_stream(tx_bursts, chunk, coherence):
    """Per burst tag or per coherence block, however work() calls fall: outputs equal to a 1-call run."""
    x, _ = tx_bursts
    x = x[:20_000]

    def faded(max_items):
        tb = gr.top_block()
        source = blocks.vector_source_c(np.asarray(x, np.complex64), False, 1, _length_tags(x))
        fader = block_fader(ChannelConfig("multipath", seed=3, coherence_samples=coherence))
        sink = blocks.vector_sink_c()
        tb.connect(source, fader, sink)
        tb.run(max_items)
        return np.array(sink.data())

    whole = faded(len(x))
    assert np.array_equal(faded(chunk), whole)


@pytest.mark.parametrize("name", ["awgn", "rayleigh", "multipath"])
def test_two_transmissions_see_the_same_channel_at_the_same_sample_index(name):
    """Common random numbers: the noise and the fade at sample n depend on the seed and n only,
    not on what was sent or how long it is (schemes of one benchmark task share a channel)."""
    config = ChannelConfig(name, snr_db=5.0, seed=11)
    n = 30_000
    ones = np.ones(n, complex)
    zeros = np.zeros(n // 2, complex)
    rng = np.random.default_rng(5)
    other = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * 0.2
    noise_a, _ = _through(make_channel(config), zeros)
    noise_b, _ = _through(make_channel(config), np.zeros(n, complex))
    assert np.array_equal(noise_a, noise_b[:len(noise_a)])         # the same noise, sample by sample
    y_ones, _ = _through(make_channel(config), ones)
    y_other, _ = _through(make_channel(config), other)
    gain = y_ones - noise_b[:len(y_ones)]                           # the fade seen by a constant input
    if name != "multipath":                                         # flat: y = h x + w for any x
        m = min(len(gain), len(y_other))                           # the channel drops a few tail samples
        assert np.allclose(y_other[:m], gain[:m] * other[:m] + noise_b[:m], atol=1e-4)
    different, _ = _through(make_channel(ChannelConfig(name, snr_db=5.0, seed=12)), zeros)
    assert not np.allclose(different, noise_a)


def _length_tags(x):
    """gsc_tx_len tags every 1,000 samples (packet starts) for a vector_source."""
    import pmt

    from gnuradio.gensemcom.phy.ofdm_qam_tx import TX_LEN_TAG
    tags = []
    for offset in range(0, len(x), 1000):
        tag = gr.tag_t()
        tag.offset, tag.key, tag.value = offset, pmt.intern(TX_LEN_TAG), pmt.from_long(1000)
        tags.append(tag)
    return tags


def test_timing_offset_and_cfo():
    impulse = np.zeros(200, complex)
    impulse[50] = 1.0
    y, _ = _through(make_channel(ChannelConfig("awgn", snr_db=200.0, delay_samples=5)), impulse)
    assert np.argmax(np.abs(y)) == 55
    y, _ = _through(make_channel(ChannelConfig("awgn", snr_db=200.0, delay_samples=5.5)), impulse)
    assert np.argsort(np.abs(y))[-2:].tolist() in ([55, 56], [56, 55])
    tone = np.ones(1000, complex)
    y, _ = _through(make_channel(ChannelConfig("awgn", snr_db=200.0, cfo=0.25)), tone)
    step = np.angle(np.mean(y[101:900] * np.conj(y[100:899])))
    assert np.isclose(step, 2 * np.pi * 0.25 / DEFAULT_NUMEROLOGY.fft_len, rtol=1e-3)


def test_bad_channel_config_is_rejected():
    with pytest.raises(BadInputError, match="choose from awgn, rayleigh, rician, multipath"):
        ChannelConfig("rain")
    with pytest.raises(BadInputError):
        ChannelConfig("awgn", cfo=0.6)
    assert ChannelConfig.from_dict(ChannelConfig("rician", k_factor=2).to_dict()).k_factor == 2


@pytest.mark.parametrize("name", ["rayleigh", "multipath"])
def test_fading_presets_run_and_cost_packets(name):
    faded = run_link("qpsk-1/2", 8.0, name, packets=40, payload_bytes=300, seed=3)
    awgn = run_link("qpsk-1/2", 8.0, "awgn", packets=40, payload_bytes=300, seed=3)
    assert awgn.per == 0.0
    assert 0.0 < faded.per < 1.0 and faded.packets_ok > 0


@pytest.mark.parametrize("name", ["rayleigh", "multipath"])
def test_doppler_fading_comes_from_gr_channels(name):
    from gnuradio import channels
    preset = make_channel(ChannelConfig(name, snr_db=200.0, seed=2, doppler=1e-3))
    assert isinstance(preset.fader, (channels.fading_model, channels.selective_fading_model))
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(100_000) + 1j * rng.standard_normal(100_000)) / np.sqrt(2)
    y, _ = _through(preset, x)
    assert 0.5 < np.mean(np.abs(y) ** 2) < 2.0
    power = np.mean(np.abs(y[: y.size // 1000 * 1000].reshape(-1, 1000)) ** 2, axis=1)
    assert np.std(power) > 0.1                                   # it does vary in time
