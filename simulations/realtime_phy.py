#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real-time PHY stream: does the receiver keep pace with a radio's sample rate?

ofdm_qam_tx -> idle_fill (zeros between bursts, as a radio's DAC sends) -> throttle at
--sample-rate -> channel preset -> ofdm_qam_rx, for --duration-s, with --packets-per-s random
payloads of --payload-bytes posted at a steady rate. Every 0.5 s it reads how far the stream
lags its schedule (rate x elapsed time - samples through the throttle): a radio whose buffers
hold less than the largest lag would have dropped samples.

Prints one JSON object: real_time_factor (samples / (rate x wall)), max_lag_ms, lag_p99_ms,
packets sent / decoded with CRC ok, air_busy_fraction, tx_starved_s.

    python simulations/realtime_phy.py --sample-rate 2e6 --duration-s 120 --packets-per-s 20
"""
import argparse
import json
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample-rate", type=float, default=2e6, help="samples/s (default 2e6)")
    parser.add_argument("--duration-s", type=float, default=120.0, help="seconds of streaming (default 120)")
    parser.add_argument("--packets-per-s", type=float, default=20.0, help="packets posted per second (default 20)")
    parser.add_argument("--payload-bytes", type=int, default=1500)
    parser.add_argument("--mcs", default="qpsk-1/2")
    parser.add_argument("--snr", type=float, default=20.0, help="AWGN Es/N0, dB (default 20)")
    parser.add_argument("--impairments", default="none", help="radio impairment preset (default none)")
    args = parser.parse_args(argv)

    from gnuradio import blocks, gr

    from gnuradio.gensemcom.phy.channel import impairment_config, make_channel
    from gnuradio.gensemcom.phy.idle_fill import idle_fill
    from gnuradio.gensemcom.phy.link import pdu_collector
    from gnuradio.gensemcom.phy.ofdm_qam_rx import ofdm_qam_rx
    from gnuradio.gensemcom.phy.ofdm_qam_tx import ofdm_qam_tx

    rng = np.random.default_rng(0)
    count = int(args.duration_s * args.packets_per_s)
    payloads = [rng.integers(0, 256, args.payload_bytes, dtype=np.uint8).tobytes() for _ in range(count)]
    config = impairment_config(args.impairments, snr_db=args.snr, seed=1, sample_rate_hz=args.sample_rate)
    tb = gr.top_block("gensemcom_realtime_phy")
    tx, fill = ofdm_qam_tx(args.mcs), idle_fill()
    throttle = blocks.throttle(gr.sizeof_gr_complex, args.sample_rate)
    rx, collector = ofdm_qam_rx(), pdu_collector(payloads)
    tb.connect(tx, fill, throttle, make_channel(config), rx)
    tb.msg_connect(rx, "out", collector, "in")
    lags = []
    tb.start()
    started = time.monotonic()
    next_lag = started
    for seq, payload in enumerate(payloads):
        while time.monotonic() < started + seq / args.packets_per_s:
            time.sleep(0.002)
        tx.post(payload, seq=seq % 65536)
        if time.monotonic() >= next_lag:
            lags.append(args.sample_rate * (time.monotonic() - started) - throttle.nitems_written(0))
            next_lag += 0.5
    time.sleep(1.0)                         # the last packets' air time and decoding
    wall = time.monotonic() - started
    samples = throttle.nitems_written(0)
    tb.stop()
    tb.wait()
    lag_ms = 1e3 * np.asarray(lags or [0.0]) / args.sample_rate
    result = {
        "sample_rate": args.sample_rate, "duration_s": args.duration_s, "wall_s": round(wall, 1),
        "mcs": args.mcs, "payload_bytes": args.payload_bytes, "snr_db": args.snr, "impairments": args.impairments,
        "real_time_factor": round(samples / (args.sample_rate * wall), 4),
        "max_lag_ms": round(float(lag_ms.max()), 1), "lag_p99_ms": round(float(np.percentile(lag_ms, 99)), 1),
        "packets_sent": count, "packets_ok": collector.ok,
        "air_busy_fraction": round(fill.stats["burst_samples"] / max(1, samples), 4),
        "tx_starved_s": round(fill.stats["starved_s"], 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
