# SPDX-License-Identifier: GPL-3.0-or-later
"""idle_fill: bursts become a continuous stream (zeros between them) that a throttle paces,
and the receiver still finds every packet in it."""
import time

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.gensemcom.phy.channel import ChannelConfig, make_channel
from gnuradio.gensemcom.phy.idle_fill import idle_fill
from gnuradio.gensemcom.phy.link import pdu_collector
from gnuradio.gensemcom.phy.mcs import frame_size
from gnuradio.gensemcom.phy.ofdm_qam_rx import ofdm_qam_rx
from gnuradio.gensemcom.phy.ofdm_qam_tx import TX_LEN_TAG, ofdm_qam_tx


def test_bursts_pass_whole_with_their_tags_and_zeros_fill_the_rest():
    rng = np.random.default_rng(1)
    payloads = [rng.integers(0, 256, 300, dtype=np.uint8).tobytes() for _ in range(3)]
    tb = gr.top_block()
    tx = ofdm_qam_tx("qpsk-1/2")
    fill = idle_fill(idle_chunk=256)
    head = blocks.head(gr.sizeof_gr_complex, 200_000)
    sink = blocks.vector_sink_c()
    tb.connect(tx, fill, head, sink)
    for seq, payload in enumerate(payloads):
        tx.post(payload, seq=seq)
    tb.start()                     # a message-fed TX never ends by itself: stop once head is full
    deadline = time.monotonic() + 30
    while head.nitems_written(0) < 200_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    tb.stop()
    tb.wait()
    out = np.array(sink.data())
    burst = frame_size(300, "qpsk-1/2").samples
    tags = [t for t in sink.tags() if pmt.symbol_to_string(t.key) == TX_LEN_TAG]
    assert len(out) == 200_000
    assert [pmt.to_long(t.value) for t in tags] == [burst] * 3
    starts = [t.offset for t in tags]
    assert starts == sorted(starts) and all(b - a >= burst for a, b in zip(starts, starts[1:]))
    inside = np.zeros(len(out), bool)
    for start in starts:
        inside[start:start + burst] = True
    assert not np.any(out[~inside])                    # zeros between bursts
    assert fill.stats["bursts"] == 3 and fill.stats["burst_samples"] == 3 * burst
    assert fill.stats["idle_samples"] >= 200_000 - 3 * burst


@pytest.mark.parametrize("snr_db", [20.0])
def test_receiver_decodes_packets_from_a_throttled_continuous_stream(snr_db):
    """1 Msample/s through a throttle for about a second: every packet decoded, the stream
    keeps pace (at least 80 % of the nominal rate here, whatever the load)."""
    rate = 1e6
    rng = np.random.default_rng(2)
    payloads = [rng.integers(0, 256, 500, dtype=np.uint8).tobytes() for _ in range(5)]
    tb = gr.top_block()
    tx = ofdm_qam_tx("qpsk-1/2")
    fill = idle_fill()
    throttle = blocks.throttle(gr.sizeof_gr_complex, rate)
    chan = make_channel(ChannelConfig(name="awgn", snr_db=snr_db, seed=3))
    rx = ofdm_qam_rx()
    collector = pdu_collector(payloads)
    tb.connect(tx, fill, throttle, chan, rx)
    tb.msg_connect(rx, "out", collector, "in")
    tb.start()
    started = time.monotonic()
    for seq, payload in enumerate(payloads):
        tx.post(payload, seq=seq)
        time.sleep(0.1)
    time.sleep(0.6)
    samples, wall = throttle.nitems_written(0), time.monotonic() - started
    tb.stop()
    tb.wait()
    assert collector.ok == len(payloads)
    assert samples >= 0.8 * rate * wall
    assert fill.stats["idle_samples"] > fill.stats["burst_samples"]


def test_bursts_only_mode_passes_the_bursts_and_ends_with_its_input_and_stop_when_ignores_zeros():
    """idle_chunk=0: no zeros, the stream ends when the TX's does (a simulation's pace); and
    ``stop_when`` watches an idle_fill's burst samples, not its zeros (``busy_items``)."""
    from gnuradio.gensemcom.blocks.run_control import Watcher
    rng = np.random.default_rng(4)
    payloads = [rng.integers(0, 256, 200, dtype=np.uint8).tobytes() for _ in range(2)]
    tb = gr.top_block()
    tx, fill, sink = ofdm_qam_tx("qpsk-1/2"), idle_fill(idle_chunk=0), blocks.vector_sink_c()
    tb.connect(tx, fill, sink)
    for seq, payload in enumerate(payloads):
        tx.post(payload, seq=seq)
    tx.post_done()
    tb.run()                                            # ends by itself
    expected = 2 * frame_size(200, "qpsk-1/2").samples + frame_size(1, "bpsk").samples   # + the filler
    assert len(sink.data()) == expected and fill.stats["idle_samples"] == 0
    zeros = idle_fill(idle_chunk=64)
    zeros.stats["idle_samples"] = 10_000                 # zeros moved, no burst
    assert Watcher(None, idle_block=zeros)._items() == 0
    zeros.stats["burst_samples"] = 7
    assert Watcher(None, idle_block=zeros)._items() == 7
