#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput of our PHY (qpsk-1/2, 30 dB AWGN) against the stock digital.ofdm_tx/ofdm_rx.

Both run TX -> channel -> RX as one Python top block on this machine, alternately, several
times; the script prints each run, the medians and their ratio. samples_per_s counts the
complex samples through the channel per wall-clock second (start to finish of the top
block). The stock chain carries QPSK payloads (its maximum is 8-PSK) without FEC, in
500-byte packets: with its default buffers it stops at larger ones ("Buffer too small for
min_noutput_items"). Ours runs at 1500 bytes and, for a like-for-like figure, 500 bytes.

    python simulations/throughput_vs_stock.py --runs 5 --packets 300
"""
import argparse
import statistics
import time

import numpy as np
from gnuradio import blocks, channels, digital, gr

from gnuradio.gensemcom.phy.link import run_link
from gnuradio.gensemcom.phy.mcs import frame_size

STOCK_SAMPLES_PER_BYTE = 7.2  # stock ofdm_tx, QPSK payload: about 3600 samples per 500 bytes


def stock_loopback(packets, payload_bytes, seed=0):
    """samples_per_s and delivered packets of the stock OFDM loopback at 30 dB."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, packets * payload_bytes, dtype=np.uint8)
    tb = gr.top_block()
    src = blocks.vector_source_b(data.tolist(), False)
    tagger = blocks.stream_to_tagged_stream(gr.sizeof_char, 1, payload_bytes, "packet_len")
    tx = digital.ofdm_tx(fft_len=64, cp_len=16, packet_length_tag_key="packet_len",
                         bps_header=1, bps_payload=2, rolloff=0)
    # stock TX power is not normalised (about 149 for QPSK): noise for 30 dB relative to it
    power = 149.0
    chan = channels.channel_model(float(np.sqrt(power * 64 / 48 * 1e-3)), 0.0, 1.0, [1.0], 1, True)
    rx = digital.ofdm_rx(fft_len=64, cp_len=16, packet_length_tag_key="packet_len",
                         bps_header=1, bps_payload=2)
    counter = blocks.null_sink(gr.sizeof_gr_complex)
    sink = blocks.vector_sink_b()
    tb.connect(src, tagger, tx, chan, rx, sink)
    tb.connect(chan, counter)
    start = time.perf_counter()
    tb.run()
    wall = time.perf_counter() - start
    return counter.nitems_read(0) / wall, len(sink.data()) // payload_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--samples", type=float, default=5e6,
                        help="complex samples per run and chain (sets the packet counts)")
    parser.add_argument("--payload-bytes", type=int, default=1500)
    parser.add_argument("--stock-payload-bytes", type=int, default=500)
    args = parser.parse_args()
    sizes = tuple(dict.fromkeys((args.payload_bytes, args.stock_payload_bytes)))   # once each
    ours = {size: [] for size in sizes}
    stock = []
    stock_packets = int(args.samples / STOCK_SAMPLES_PER_BYTE / args.stock_payload_bytes)
    for run in range(args.runs):
        rate, delivered = stock_loopback(stock_packets, args.stock_payload_bytes, seed=run)
        stock.append(rate)
        line = f"run {run}: stock {rate / 1e6:.3f} Msample/s ({delivered}/{stock_packets} packets)"
        for size in sizes:
            packets = max(1, int(args.samples / frame_size(size, "qpsk-1/2").samples))
            result = run_link("qpsk-1/2", 30.0, "awgn", packets, size, seed=run)
            ours[size].append(result.samples_per_s)
            line += (f", gensemcom qpsk-1/2 {size} B {result.samples_per_s / 1e6:.3f} Msample/s"
                     f" (PER {result.per:.3f})")
        print(line, flush=True)
    m_stock = statistics.median(stock)
    print(f"median stock ({args.stock_payload_bytes} B): {m_stock / 1e6:.3f} Msample/s")
    for size in sizes:
        m_ours = statistics.median(ours[size])
        print(f"median gensemcom qpsk-1/2 ({size} B): {m_ours / 1e6:.3f} Msample/s, "
              f"ratio to stock {m_ours / m_stock:.2f}")


if __name__ == "__main__":
    main()
