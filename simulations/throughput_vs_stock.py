#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput of our PHY (qpsk-1/2, 30 dB AWGN) against the stock digital.ofdm_tx/ofdm_rx.

Both run TX -> channel -> RX as one Python top block on this machine, alternately, several
times; the script prints each run, the medians and their ratio, and the per-run ratios' geometric
mean with its 95 % interval (runs paired by their index: they alternate). samples_per_s counts the
complex samples through the channel per wall-clock second (start to finish of the top
block). The stock chain carries QPSK payloads (its maximum is 8-PSK) without FEC, in
500-byte packets: with its default buffers it stops at larger ones ("Buffer too small for
min_noutput_items"). Ours runs at 1500 bytes and, for a like-for-like figure, 500 bytes.

``--cpu`` also measures where the CPU goes: each run's CPU seconds over all threads of the
process (``flowgraphs.thread_cpu``; flowgraph construction included), the cores that kept
busy (CPU / wall) and CPU microseconds per channel sample, and at the end the median CPU
seconds per million samples of the busiest blocks of each chain. A chain that keeps both cores
of a 2-core machine busy is CPU-bound: another chain reaches its sample rate only by spending
less CPU per sample.

``--stand-ins`` adds two what-if chains of ours (``payload_bytes``), alternated with the others:
``burst_decoder``'s header decoding replaced by a stand-in that answers every header with the
run's first (constant time, in Python), and its payload decoding replaced too (zeros posted:
PER is not measured there). They bound what compiled decoding alone could give: the rest of
the loop (encoder, GNU Radio blocks, the burst decoder's cutting and FFTs, messages) still runs.

    python simulations/throughput_vs_stock.py --runs 5 --samples 3e6 --payload-bytes 500 --cpu
"""
import argparse
import json
import math
import statistics
import time
from contextlib import contextmanager, nullcontext

import numpy as np
import pmt
from gnuradio import blocks, channels, digital, gr

from gnuradio.gensemcom.bench.summary import t_interval
from gnuradio.gensemcom.fileio import check_output_path, to_jsonable, write_text_atomic
from gnuradio.gensemcom.flowgraphs.thread_cpu import ThreadCpu, merge_truncated
from gnuradio.gensemcom.phy.burst_decoder import burst_decoder
from gnuradio.gensemcom.phy.framing import MAX_SEQ, Header
from gnuradio.gensemcom.phy.link import run_link
from gnuradio.gensemcom.phy.mcs import frame_size
from gnuradio.gensemcom.phy.pdus import u8vector

STOCK_SAMPLES_PER_BYTE = 7.2  # stock ofdm_tx, QPSK payload: about 3600 samples per 500 bytes
TOP_BLOCKS = 8                # blocks listed per chain with --cpu


def stock_loopback(packets, payload_bytes, seed=0):
    """(samples_per_s, delivered packets, samples) of the stock OFDM loopback at 30 dB."""
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
    samples = counter.nitems_read(0)
    return samples / wall, len(sink.data()) // payload_bytes, samples


@contextmanager
def decoders_replaced(which):
    """What-if (see the module docstring): ``which`` None, "header" or "both" of the receiver's
    decoders replaced by constant-time stand-ins while the block runs. Valid only for runs of
    equal packets, as this script sends."""
    decode_headers, decode_payloads = burst_decoder._decode_headers, burst_decoder._decode_payloads
    first = []

    def header_stand_in(self, vectors):
        if not first:
            first.append(decode_headers(self, vectors[:1])[0])
        header, estimate = first[0]
        out = []
        for _ in range(len(vectors)):
            self.stand_in_seq = getattr(self, "stand_in_seq", -1) + 1
            out.append((Header(header.mcs, header.payload_len, self.stand_in_seq & MAX_SEQ), estimate))
        return out

    def payload_stand_in(self, symbols, packets):
        for packet in packets:
            header = packet.header
            meta = {"mcs": header.mcs, "seq": header.seq, "flags": header.flags,
                    "payload_len": header.payload_len, "crc_ok": False, "snr_db": 0.0}
            self.message_port_pub(pmt.intern("out"), pmt.cons(pmt.to_pmt(meta), u8vector(bytes(header.payload_len))))
        return [None] * len(packets)

    if which in ("header", "both"):
        burst_decoder._decode_headers = header_stand_in
    if which == "both":
        burst_decoder._decode_payloads = payload_stand_in
    try:
        yield
    finally:
        burst_decoder._decode_headers, burst_decoder._decode_payloads = decode_headers, decode_payloads


def paired_ratio(rates, stock_rates):
    """(geometric mean, 95 % interval low, high) of the per-run ratios rate / stock rate: the
    runs alternate, so run k of each chain met the same machine state; a Student-t interval on
    the log ratios (NaN bounds with one run)."""
    logs = [math.log(ours / stock) for ours, stock in zip(rates, stock_rates)]
    mean, half, _ = t_interval(logs)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


class Chain:
    """One chain's runs: samples per second, and with --cpu the CPU accounting of each run."""

    def __init__(self, label):
        self.label = label
        self.rates = []
        self.cpu = []           # per run: (cpu_s, wall_s, samples, {block: cpu_s})

    def add(self, rate, samples, meter):
        self.rates.append(rate)
        if meter is not None:
            self.cpu.append((meter.total_s, meter.wall_s, samples, meter.by_name()))

    def cpu_line(self):
        cpu_s, wall_s, samples, _ = self.cpu[-1]
        return f" [{cpu_s:.2f} CPU-s, {cpu_s / wall_s:.2f} cores, {cpu_s / samples * 1e6:.2f} CPU-us/sample]"

    def summary(self):
        out = {"label": self.label, "samples_per_s": self.rates, "median_samples_per_s": statistics.median(self.rates)}
        if self.cpu:
            out["median_cores_busy"] = statistics.median(c / w for c, w, _, _ in self.cpu)
            out["median_cpu_us_per_sample"] = statistics.median(c / n * 1e6 for c, _, n, _ in self.cpu)
            # one name per block across runs: block ids grow, and the kernel's 15 characters cut
            # longer ids' names shorter
            canonical = merge_truncated(name for *_, blocks in self.cpu for name in blocks)
            runs = []
            for _, _, samples, blocks in self.cpu:
                merged = {}
                for name, cpu_s in blocks.items():
                    merged[canonical[name]] = merged.get(canonical[name], 0.0) + cpu_s / samples * 1e6
                runs.append(merged)
            per_block = {name: statistics.median(run.get(name, 0.0) for run in runs)
                         for name in set(canonical.values())}
            out["cpu_s_per_msample_by_block"] = dict(sorted(per_block.items(), key=lambda item: -item[1]))
        return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="Example: --runs 5 --samples 3e6 --payload-bytes 500 --cpu")
    parser.add_argument("--runs", type=int, default=5, help="alternated runs of each chain (medians over them)")
    parser.add_argument("--samples", type=float, default=5e6,
                        help="complex samples per run and chain (sets the packet counts)")
    parser.add_argument("--payload-bytes", type=int, default=1500, help="our packets' payload (bytes)")
    parser.add_argument("--stock-payload-bytes", type=int, default=500, help="the stock chain's payload (bytes)")
    parser.add_argument("--cpu", action="store_true", help="also account CPU per run and per block (see above)")
    parser.add_argument("--stand-ins", action="store_true",
                        help="add what-if chains with the receiver's decoders replaced (see above)")
    parser.add_argument("--json", metavar="PATH", help="also write the runs and medians as JSON")
    args = parser.parse_args()
    if args.runs < 1 or args.samples < 1e4 or min(args.payload_bytes, args.stock_payload_bytes) < 1:
        parser.error("--runs must be >= 1, --samples >= 1e4 and payloads >= 1 byte")
    try:
        args.json and check_output_path(args.json)        # before minutes of runs
    except FileNotFoundError as exc:
        parser.error(f"--json: {exc.strerror}: {exc.filename}")
    sizes = tuple(dict.fromkeys((args.payload_bytes, args.stock_payload_bytes)))   # once each
    ours = {size: Chain(f"gensemcom qpsk-1/2 {size} B") for size in sizes}
    what_if = {which: Chain(f"gensemcom qpsk-1/2 {args.payload_bytes} B, {label}") for which, label in
               (("header", "header decoding replaced"), ("both", "all decoding replaced"))} if args.stand_ins else {}
    stock = Chain(f"stock {args.stock_payload_bytes} B")
    stock_packets = int(args.samples / STOCK_SAMPLES_PER_BYTE / args.stock_payload_bytes)

    def meter():
        return ThreadCpu() if args.cpu else nullcontext()

    # warm-up, not counted: first imports (the LDPC decoder's ~0.3 s) and caches
    stock_loopback(20, args.stock_payload_bytes)
    run_link("qpsk-1/2", 30.0, "awgn", 20, args.payload_bytes)
    for run in range(args.runs):
        with meter() as cpu:
            rate, delivered, samples = stock_loopback(stock_packets, args.stock_payload_bytes, seed=run)
        stock.add(rate, samples, cpu)
        line = f"run {run}: stock {rate / 1e6:.3f} Msample/s ({delivered}/{stock_packets} packets)"
        line += stock.cpu_line() if args.cpu else ""
        for size in sizes:
            packets = max(1, int(args.samples / frame_size(size, "qpsk-1/2").samples))
            with meter() as cpu:
                result = run_link("qpsk-1/2", 30.0, "awgn", packets, size, seed=run)
            ours[size].add(result.samples_per_s, result.samples, cpu)
            line += (f", gensemcom qpsk-1/2 {size} B {result.samples_per_s / 1e6:.3f} Msample/s"
                     f" (PER {result.per:.3f})") + (ours[size].cpu_line() if args.cpu else "")
        for which, chain in what_if.items():
            packets = max(1, int(args.samples / frame_size(args.payload_bytes, "qpsk-1/2").samples))
            with decoders_replaced(which), meter() as cpu:
                result = run_link("qpsk-1/2", 30.0, "awgn", packets, args.payload_bytes, seed=run)
            chain.add(result.samples_per_s, result.samples, cpu)
            line += (f", {which} replaced {result.samples_per_s / 1e6:.3f} Msample/s"
                     + (chain.cpu_line() if args.cpu else ""))
        print(line, flush=True)
    m_stock = statistics.median(stock.rates)
    print(f"median stock ({args.stock_payload_bytes} B): {m_stock / 1e6:.3f} Msample/s")
    for size in sizes:
        m_ours = statistics.median(ours[size].rates)
        gain, low, high = paired_ratio(ours[size].rates, stock.rates)
        print(f"median gensemcom qpsk-1/2 ({size} B): {m_ours / 1e6:.3f} Msample/s, "
              f"ratio to stock {m_ours / m_stock:.2f}; paired per run: {gain:.3f} (95 % interval {low:.3f}-{high:.3f})")
    for chain in what_if.values():
        m_chain = statistics.median(chain.rates)
        print(f"median {chain.label}: {m_chain / 1e6:.3f} Msample/s, ratio to stock {m_chain / m_stock:.2f}")
    chains = [stock] + list(ours.values()) + list(what_if.values())
    if args.cpu:
        for chain in chains:
            summary = chain.summary()
            top = list(summary["cpu_s_per_msample_by_block"].items())[:TOP_BLOCKS]
            print(f"{chain.label}: median {summary['median_cores_busy']:.2f} cores busy, "
                  f"{summary['median_cpu_us_per_sample']:.2f} CPU-us per sample; CPU-s per Msample: "
                  + ", ".join(f"{name} {value:.2f}" for name, value in top))
    if args.json:
        report = {"args": vars(args), "chains": [chain.summary() for chain in chains],
                  "ratio_to_stock": {size: statistics.median(ours[size].rates) / m_stock for size in sizes},
                  "paired_ratio_to_stock": {size: dict(zip(("geometric_mean", "low_95", "high_95"),
                                                           paired_ratio(ours[size].rates, stock.rates)))
                                            for size in sizes}}
        write_text_atomic(args.json, json.dumps(to_jsonable(report), indent=1))


if __name__ == "__main__":
    main()
