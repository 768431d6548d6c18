# SPDX-License-Identifier: GPL-3.0-or-later
"""TX -> channel -> RX as GNU Radio top blocks: exact payloads, CRC, detection, estimates."""
import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.gensemcom.errors import BadInputError
from gnuradio.gensemcom.phy.burst_decoder import burst_decoder
from gnuradio.gensemcom.phy.channel import ChannelConfig
from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
from gnuradio.gensemcom.phy.link import pdu_collector, run_link, transmit
from gnuradio.gensemcom.phy.mcs import MAX_PAYLOAD_BYTES, MCS_TABLE, frame_size
from gnuradio.gensemcom.phy.ofdm_qam_rx import ofdm_qam_rx
from gnuradio.gensemcom.phy.ofdm_qam_tx import ofdm_qam_tx
from gnuradio.gensemcom.phy.receiver import TIMING_BACKOFF

pytestmark = [pytest.mark.flowgraph, pytest.mark.timeout(180)]


def test_every_mcs_returns_exact_payloads_at_high_snr(rng):
    """One packet per MCS (lengths 1..4096) through 35 dB AWGN with CFO and timing offset."""
    names = list(MCS_TABLE)
    lengths = [1, MAX_PAYLOAD_BYTES] + list(rng.integers(2, 2000, len(names) - 2))
    packets = [(rng.integers(0, 256, int(n), dtype=np.uint8).tobytes(), {"seq": i, "mcs": m})
               for i, (m, n) in enumerate(zip(names, lengths))]
    config = ChannelConfig("awgn", snr_db=35.0, seed=3, cfo=0.17, delay_samples=2.4)
    collector, samples, _, _ = transmit(packets, config, timeout_s=150)
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


def _burst_decoder_pdus(samples, triggers):
    """PDUs and the block of a ``burst_decoder`` fed ``samples`` with trigger tags (CFO 0) at
    ``triggers`` (no delay)."""
    tags = [gr.tag_utils.python_to_tag((int(t), pmt.intern("phase_est"), pmt.from_double(0.0)))
            for t in sorted(triggers)]
    tb = gr.top_block()
    decoder = burst_decoder(DEFAULT_NUMEROLOGY)
    store = blocks.message_debug()
    tb.connect(blocks.vector_source_c(np.asarray(samples, np.complex64), False, 1, tags), decoder)
    tb.msg_connect(decoder, "out", store, "store")
    tb.run()
    pdus = [store.get_message(i) for i in range(store.num_messages())]
    return [(pmt.to_python(pmt.car(m)), bytes(pmt.u8vector_elements(pmt.cdr(m)))) for m in pdus], decoder


def test_burst_decoder_follows_the_demux_trigger_rules(rng):
    """The rules of GNU Radio's header_payload_demux, which burst_decoder replaced: after a failed
    header the search resumes one sample on (a false trigger 300 samples before a preamble costs
    nothing), a trigger inside a decoded packet is ignored, and a packet whose payload has not
    arrived when the stream ends is not decoded, nor counted as done."""
    payloads = [rng.integers(0, 256, 200, dtype=np.uint8).tobytes() for _ in range(3)]
    x = _tx_samples(payloads, "qpsk-1/2")
    x = x + (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)) * 1e-3
    size = frame_size(200, "qpsk-1/2")
    starts = [k * size.samples + DEFAULT_NUMEROLOGY.gap_len - TIMING_BACKOFF for k in range(3)]
    header_samples = (8 + 11) * DEFAULT_NUMEROLOGY.symbol_len
    false_alarm, inside = starts[0] - 300, starts[1] + header_samples + 500
    pdus, decoder = _burst_decoder_pdus(x, starts + [false_alarm, inside])
    assert [(m["seq"], m["crc_ok"], data) for m, data in pdus] == [(k, True, payloads[k]) for k in range(3)]
    assert (decoder.headers_ok, decoder.headers_failed) == (3, 1)
    assert decoder.samples_done() == x.size
    cut = starts[2] + size.burst_samples - 100          # the stream ends inside packet 2's payload
    pdus, decoder = _burst_decoder_pdus(x[:cut], starts)
    assert [m["seq"] for m, _ in pdus] == [0, 1]
    assert decoder.headers_ok == 3 and decoder.samples_done() == starts[2]


def test_noise_alone_yields_no_packets(rng):
    noise = (rng.standard_normal(3_000_000) + 1j * rng.standard_normal(3_000_000)) * 0.1
    pdus, rx = _rx_pdus(noise)
    assert pdus == []
    assert rx.decoder.headers_ok == 0


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


def test_encoder_batches_its_queue_in_order_and_drops_only_bad_pdus(rng):
    """The encoder takes the PDUs queued behind one and encodes the payloads of one MCS and
    length in one call: they must come out in arrival order, each as ``encode_frame`` makes it
    alone, and a bad PDU among them (flags out of range) must be dropped alone."""
    import time
    from gnuradio.gensemcom.phy.framing import encode_frame
    from gnuradio.gensemcom.phy.ofdm_qam_tx import packet_encoder
    from gnuradio.gensemcom.phy.pdus import make_pdu
    specs = [(200, "qpsk-1/2", 0), (200, "qpsk-1/2", 1), (50, "16qam-3/4", 0), (200, "qpsk-1/2", 99),
             (200, "qpsk-1/2", 2), (1, "bpsk", 0)]
    payloads = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n, _, _ in specs]
    tb = gr.top_block()
    encoder = packet_encoder()
    store = blocks.message_debug()
    tb.msg_connect(encoder, "out", store, "store")
    for seq, ((_, mcs, flags), payload) in enumerate(zip(specs, payloads)):
        encoder.to_basic_block()._post(pmt.intern("in"), make_pdu(payload, seq=seq, mcs=mcs, flags=flags))
    tb.start()
    deadline = time.monotonic() + 30
    while store.num_messages() < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    tb.stop()
    tb.wait()
    out = [store.get_message(i) for i in range(store.num_messages())]
    assert [pmt.to_python(pmt.car(m))["seq"] for m in out] == [0, 1, 2, 4, 5]
    for message, seq in zip(out, [0, 1, 2, 4, 5]):
        _, mcs, flags = specs[seq]
        expected = encode_frame(payloads[seq], mcs, DEFAULT_NUMEROLOGY, seq, flags)
        assert np.array_equal(np.asarray(pmt.c32vector_elements(pmt.cdr(message))), expected)


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


def test_thread_cpu_names_the_blocks_a_flowgraph_spent_its_cpu_on():
    """A 256-tap FIR over 1e6 samples dominates its flowgraph's CPU, under the FIR's own name;
    CPU never exceeds the cores times the wall time, and an idle thread is charged nothing."""
    import os
    import threading

    from gnuradio import filter as gr_filter

    from gnuradio.gensemcom.flowgraphs.thread_cpu import ThreadCpu, block_name, merge_truncated
    assert block_name("header_payload4") == "header_payload" and block_name("python") == "python"
    assert block_name("fir_filter_blk<") == "fir_filter_blk"
    assert merge_truncated(["header_payloa", "header_payload", "gensemcom_p", "gensemcom_pay", "gensemcom_pac"]) == {
        "header_payloa": "header_payload", "header_payload": "header_payload", "gensemcom_p": "gensemcom_p",
        "gensemcom_pay": "gensemcom_pay", "gensemcom_pac": "gensemcom_pac"}
    idle = threading.Event()
    sleeper = threading.Thread(target=idle.wait, daemon=True)
    sleeper.start()
    tb = gr.top_block()
    source = blocks.vector_source_c(np.ones(1_000_000, np.complex64).tolist(), False)
    fir = gr_filter.fir_filter_ccc(1, [0.01 + 0j] * 256)
    tb.connect(source, fir, blocks.null_sink(gr.sizeof_gr_complex))
    with ThreadCpu(interval_s=0.02) as cpu:
        tb.run()
    idle.set()
    by_name = cpu.by_name()
    top = next(iter(by_name))
    assert len(top) >= 11 and "fir_filter_blk".startswith(top)   # the kernel's 15 characters less the id
    assert by_name[top] > 0.5 * cpu.total_s > 0
    assert cpu.total_s <= os.cpu_count() * cpu.wall_s + 0.05      # 10 ms clock ticks of slack
    assert cpu.by_thread.get(sleeper.native_id, ("", 0.0))[1] == 0.0


def test_link_reports_what_decoding_cost_per_sample():
    """The decoders' CPU time is counted: positive, the costliest packet part of the total, and
    no more than the process could have spent on two decoder threads in the run's wall time."""
    result = run_link("qpsk-1/2", 30.0, "awgn", 12, 300, seed=2)
    assert result.per == 0.0
    total_s = result.decode_cpu_us_per_sample * result.samples * 1e-6
    assert 0 < result.decode_cpu_max_ms * 1e-3 <= total_s <= 2 * result.wall_s


def test_fast_effort_decodes_clean_packets_and_is_checked():
    result = run_link("16qam-3/4", 30.0, "awgn", 6, 400, seed=4, effort="fast")
    assert (result.effort, result.per, result.ber) == ("fast", 0.0, 0.0)
    rx = ofdm_qam_rx(effort="fast")
    rx.set_effort("full")
    assert rx.decoder.effort == "full"
    with pytest.raises(BadInputError, match="effort"):
        ofdm_qam_rx(effort="quick")
    with pytest.raises(BadInputError, match="effort"):
        rx.set_effort("")


@pytest.mark.parametrize("count", [0, 1, 4992])
def test_c32vector_equals_the_pmt_constructor(rng, count):
    """``pdus.c32vector`` builds the TX's symbol PDUs from PMT's serialised form; it must give the
    vector ``pmt.init_c32vector`` gives, for any length and for complex128 input."""
    from gnuradio.gensemcom.phy.pdus import c32vector
    values = rng.standard_normal(count) + 1j * rng.standard_normal(count)
    built = c32vector(values)
    assert pmt.is_c32vector(built) and pmt.length(built) == count
    assert pmt.equal(built, pmt.init_c32vector(count, values.astype(np.complex64).tolist()))


@pytest.mark.parametrize("count", [0, 1, 500, 4096])
def test_u8vector_and_split_pdu_round_trip_bytes(rng, count):
    """``pdus.u8vector`` (PDUs' payloads, from PMT's serialised form) must equal
    ``pmt.init_u8vector``; ``split_pdu`` must give the bytes back as a writable uint8 array."""
    from gnuradio.gensemcom.phy.pdus import make_pdu, split_pdu, u8vector
    data = rng.integers(0, 256, count, dtype=np.uint8)
    for form in (data, data.tobytes(), bytearray(data.tobytes())):
        assert pmt.equal(u8vector(form), pmt.init_u8vector(count, data.tolist()))
    meta, payload = split_pdu(make_pdu(data.tobytes(), seq=7))
    assert meta == {"seq": 7} and payload.dtype == np.uint8 and np.array_equal(payload, data)
    payload[:1] = 0                                  # callers may edit what they got


def test_the_warm_up_compiles_what_the_flowgraph_uses():
    """The receiver compiles its numba kernels on a clean packet when it is built
    (``burst_decoder.warm_up``); a compilation at the first packets would stall a real-time
    stream (a cache load alone took 30 ms). Decoding through a flowgraph must need no kernel
    signature that the warm-up did not make."""
    from numba.core.registry import CPUDispatcher

    from gnuradio.gensemcom.phy import burst_decoder, convcode, framing, ldpc, modulation, receiver_kernels
    from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY

    def signatures():
        return {(module.__name__, name, str(signature))
                for module in (receiver_kernels, modulation, framing, ldpc, convcode)
                for name, kernel in vars(module).items() if isinstance(kernel, CPUDispatcher)
                for signature in kernel.signatures}

    assert burst_decoder.warm_up(DEFAULT_NUMEROLOGY)
    before = signatures()
    result = run_link("qpsk-1/2", 30.0, "awgn", 6, 300)
    assert result.packets_ok == 6 and signatures() == before


def test_a_receiver_exempts_the_objects_alive_at_its_start_from_full_collections():
    """A full garbage collection over numba's and torch's objects held the GIL for 100 ms, and
    streaming at 2 Msample/s fell behind by as much; ``burst_decoder.freeze_collected_objects``
    (called when a receiver is built) moves what is alive into the permanent generation, so a
    later full pass scans only newer objects."""
    import gc

    from gnuradio.gensemcom.phy.ofdm_qam_rx import ofdm_qam_rx
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    ofdm_qam_rx(DEFAULT_NUMEROLOGY)
    assert gc.get_freeze_count() > 10_000
