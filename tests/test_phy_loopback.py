# SPDX-License-Identifier: GPL-3.0-or-later
"""TX -> channel -> RX as GNU Radio top blocks: exact payloads, CRC, detection, estimates."""
import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.gensemcom.phy.channel import ChannelConfig
from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
from gnuradio.gensemcom.phy.link import pdu_collector, run_link, transmit
from gnuradio.gensemcom.phy.mcs import MAX_PAYLOAD_BYTES, MCS_TABLE, frame_size
from gnuradio.gensemcom.phy.ofdm_qam_rx import ofdm_qam_rx
from gnuradio.gensemcom.phy.ofdm_qam_tx import ofdm_qam_tx

pytestmark = [pytest.mark.flowgraph, pytest.mark.timeout(180)]


def test_every_mcs_returns_exact_payloads_at_high_snr(rng):
    """One packet per MCS (lengths 1..4096) through 35 dB AWGN with CFO and timing offset."""
    names = list(MCS_TABLE)
    lengths = [1, MAX_PAYLOAD_BYTES] + list(rng.integers(2, 2000, len(names) - 2))
    packets = [(rng.integers(0, 256, int(n), dtype=np.uint8).tobytes(), {"seq": i, "mcs": m})
               for i, (m, n) in enumerate(zip(names, lengths))]
    config = ChannelConfig("awgn", snr_db=35.0, seed=3, cfo=0.17, delay_samples=2.4)
    collector, samples, _ = transmit(packets, config, timeout_s=150)
    assert collector.seen == set(range(len(names)))
    assert collector.ok == len(names) and collector.bit_errors == 0
    for seq, (payload, meta) in enumerate(packets):
        got = collector.metas[seq]
        assert got["mcs"] == meta["mcs"] and got["payload_len"] == len(payload)
        assert abs(got["cfo"] - 0.17) < 0.01
    expected = sum(frame_size(len(p), m["mcs"]).samples for p, m in packets) \
        + frame_size(1, "bpsk").samples                # + the end-of-stream filler burst
    assert expected - 16 <= samples <= expected        # the channel's filters keep a few


def test_back_to_back_packets_are_not_lost():
    result = run_link("qpsk-1/2", 30.0, "awgn", packets=60, payload_bytes=1500, seed=5)
    assert result.packets_ok == result.packets_sent == 60
    assert result.ber == 0.0 and result.bits_compared == 60 * 1500 * 8
    assert abs(result.snr_est_db - 30.0) < 0.5


def test_robust_mode_decodes_at_minus_5_db():
    result = run_link("bpsk-1/2x4", -5.0, "awgn", packets=25, payload_bytes=100, seed=2)
    assert result.per <= 0.1
    assert abs(result.snr_est_db + 5.0) < 0.5


def _rx_pdus(samples, emit_failed=True):
    tb = gr.top_block()
    source = blocks.vector_source_c(np.asarray(samples, np.complex64))
    rx = ofdm_qam_rx(emit_failed=emit_failed)
    store = blocks.message_debug()
    tb.connect(source, rx)
    tb.msg_connect(rx, "out", store, "store")
    tb.run()
    pdus = [store.get_message(i) for i in range(store.num_messages())]
    return [(pmt.to_python(pmt.car(m)), bytes(pmt.u8vector_elements(pmt.cdr(m)))) for m in pdus], rx


def _tx_samples(payloads, mcs):
    tb = gr.top_block()
    tx = ofdm_qam_tx(mcs)
    sink = blocks.vector_sink_c()
    tb.connect(tx, sink)
    for seq, payload in enumerate(payloads):
        tx.post(payload, seq=seq)
    tx.post_done()
    tb.run()
    return np.array(sink.data())


def test_noise_alone_yields_no_packets(rng):
    noise = (rng.standard_normal(3_000_000) + 1j * rng.standard_normal(3_000_000)) * 0.1
    pdus, rx = _rx_pdus(noise)
    assert pdus == []
    assert rx.header_decoder.headers_ok == 0


def test_corrupted_packet_is_rejected_by_crc(rng):
    payloads = [rng.integers(0, 256, 400, dtype=np.uint8).tobytes() for _ in range(2)]
    x = _tx_samples(payloads, "16qam")
    size = frame_size(400, "16qam")
    payload_start = size.samples + DEFAULT_NUMEROLOGY.gap_len + (8 + 11) * 80   # second packet
    x[payload_start + 300: payload_start + 700] *= -1j
    pdus, _ = _rx_pdus(x)
    assert [(m["seq"], m["crc_ok"]) for m, _ in pdus] == [(0, True), (1, False)]
    assert pdus[0][1] == payloads[0] and pdus[1][1] != payloads[1]
    pdus, _ = _rx_pdus(x, emit_failed=False)
    assert [m["seq"] for m, _ in pdus] == [0]


def test_tx_power_and_peaks(rng):
    payloads = [rng.integers(0, 256, 1500, dtype=np.uint8).tobytes() for _ in range(30)]
    x = _tx_samples(payloads, "64qam-3/4")
    size = frame_size(1500, "64qam-3/4")
    gap = DEFAULT_NUMEROLOGY.gap_len
    frames = x[:30 * size.samples].reshape(30, size.samples)
    power_db = 10 * np.log10(np.mean(np.abs(frames[:, gap:]) ** 2))
    assert abs(power_db - (-15.0)) < 0.1
    assert np.abs(x).max() < 1.0
    assert np.all(frames[:, :gap] == 0)


def _shared_memory_mappings():
    """Mappings of GNU Radio's POSIX shared-memory buffers in this process (tests/conftest.py
    chooses that factory): two per stream buffer, gone when the buffer is freed."""
    with open("/proc/self/maps") as maps:
        return sum("/dev/shm/" in line for line in maps)


def test_a_finished_link_run_releases_most_of_its_buffers():
    """run_link releases the hier blocks (ofdm_qam_tx.release): of the 72 buffer mappings of a
    TX -> channel -> RX flowgraph, 14 stay; without the release all 72 did."""
    run_link("qpsk-1/2", 30.0, "awgn", 2, 100)          # buffers of the first run's singletons
    before = _shared_memory_mappings()
    for _ in range(3):
        assert run_link("qpsk-1/2", 30.0, "awgn", 3, 100).per == 0.0
    assert 0 <= _shared_memory_mappings() - before <= 3 * 20
