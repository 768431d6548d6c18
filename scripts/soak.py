#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak test: many images through ONE running loopback flowgraph.

image_source (repeating a few images) → semantic_tx → channel preset → semantic_rx → counter,
as one GNU Radio top block that runs for the whole test. Reports images sent and decoded,
packets, drops and queue high-water marks, and the process's resident memory (RSS) after a
warm-up and at the end.

  scripts/soak.py --images 100 --snr 20                 # lossless: every image must come out
  scripts/soak.py --images 1000 --snr 4 --channel awgn  # lossy channel (packet losses)
  scripts/soak.py --images 8 --slow-decoder-s 5 --no-flow-control --interval-s 1.5
        # a decoder slower than the link: it drops (counted), the PHY keeps receiving
  scripts/soak.py --sample-rate 2e6 --duration-s 120 --snr 20
        # real time: a radio's continuous stream (zeros between bursts, phy.idle_fill) paced by
        # a throttle at 2 Msample/s for two minutes

Real-time runs (--sample-rate) also report: real_time_factor = samples through the throttle /
(rate x wall time); max_lag_ms, the most the stream ever fell behind its schedule (a radio
whose buffers hold less than that would have dropped samples: overflow at the receiver,
underflow at the transmitter); tx_starved_s, time a burst waited for its own samples; images
per second; end-to-end latency (the source emits an image -> its decoded image comes out).

Exit status 0 when the checks hold: no crash or deadlock, decoded images of full size,
bounded queues, RSS growth under --max-rss-growth (10 %) from after warm-up to the end, and
(lossless) every image decoded.
"""
import argparse
import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def rss_mib():
    """Current resident set size of this process, MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_images(folder, size):
    """A few skimage pictures, downscaled to ``size`` px on the long side."""
    from PIL import Image
    from skimage import data
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        image = Image.fromarray(getattr(data, name)())
        scale = size / max(image.size)
        image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC).save(
            Path(folder) / f"{name}.png")
    return folder


def main(argv=None):
    from gnuradio.gensemcom.params import EXECUTOR
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100, help="images to send (default 100)")
    parser.add_argument("--size", type=int, default=192, help="long side of the test images, px (default 192)")
    parser.add_argument("--scheme", default="semantic")
    parser.add_argument("--channel", default="awgn")
    parser.add_argument("--snr", type=float, default=20.0, help="channel SNR, dB (the TX plans for it too)")
    parser.add_argument("--plan-snr", type=float, default=None, help="SNR the TX plans for (default --snr)")
    parser.add_argument("--cpp", type=float, default=1 / 12)
    parser.add_argument("--warmup", type=int, default=20, help="images before the first RSS reading")
    parser.add_argument("--slow-decoder-s", type=float, default=0.0, help="add this delay to every decode")
    parser.add_argument("--no-flow-control", action="store_true", help="send without waiting for the receiver")
    parser.add_argument("--max-in-flight", type=int, default=2,
                        help="images sent before the receiver acknowledges one (flow control; default 2)")
    parser.add_argument("--interval-s", type=float, default=0.0, help="pause between images")
    parser.add_argument("--max-rss-growth", type=float, default=0.10)
    parser.add_argument("--timeout-s", type=float, default=7200)
    parser.add_argument("--sample-rate", type=float, default=0.0,
                        help="run in real time at this many samples/s: continuous stream, throttle (default: "
                             "as fast as possible, bursts only)")
    parser.add_argument("--duration-s", type=float, default=0.0,
                        help="stream for this long instead of a number of images (needs --sample-rate)")
    parser.add_argument("--radio-buffer-ms", type=float, default=50.0,
                        help="real time: lag the radio's buffers absorb; more counts as dropped (default 50)")
    EXECUTOR.add_to(parser)
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args(argv)
    if args.duration_s and not args.sample_rate:
        parser.error("--duration-s needs --sample-rate")
    if args.duration_s:
        args.images = 10 ** 6      # a stream: as many as the duration allows

    import pmt
    from gnuradio import blocks, gr

    from gnuradio.gensemcom.blocks.image_source import image_source
    from gnuradio.gensemcom.blocks.pdus import pdu_to_image
    from gnuradio.gensemcom.blocks.semantic_txrx import semantic_rx, semantic_tx
    from gnuradio.gensemcom.phy.channel import channel_preset
    from gnuradio.gensemcom.phy.idle_fill import idle_fill

    folder = make_images(tempfile.mkdtemp(prefix="gensemcom-soak-"), args.size)
    files = sorted(Path(folder).glob("*.png"))
    repeat = -(-args.images // len(files))
    flow = 0 if args.no_flow_control else max(1, args.max_in_flight)
    source = image_source(folder, args.interval_s, repeat, max_in_flight=flow, ack_timeout_s=20)
    tx = semantic_tx(args.scheme, "default", args.plan_snr if args.plan_snr is not None else args.snr,
                     args.channel, args.cpp, executor=args.executor)
    chan = channel_preset(args.channel, args.snr, seed=7)
    rx = semantic_rx(args.scheme, timeout_s=2.0, executor=args.executor)
    if args.slow_decoder_s > 0:
        if args.executor == "process":
            parser.error("--slow-decoder-s slows the decoder thread: use it with --executor thread")
        decode = rx.decoder.process

        def slow(msg):
            time.sleep(args.slow_decoder_s)
            yield from decode(msg)
        rx.decoder.process = slow

    lock = threading.Lock()
    decoded = {"count": 0, "bad_size": 0, "delivered": 0, "reports": 0}
    sent_at, latencies = {}, []
    sizes = {f.name: None for f in files}

    class counter(gr.basic_block):
        def __init__(self):
            gr.basic_block.__init__(self, name="soak_counter", in_sig=None, out_sig=None)
            self.message_port_register_in(pmt.intern("in"))
            self.set_msg_handler(pmt.intern("in"), self.handle)
            self.message_port_register_in(pmt.intern("report"))
            self.set_msg_handler(pmt.intern("report"), self.report)

        def handle(self, msg):
            meta, image = pdu_to_image(msg)
            with lock:
                if meta.get("image_id") in sent_at:
                    latencies.append(time.monotonic() - sent_at.pop(meta["image_id"]))
                decoded["count"] += 1
                decoded["delivered"] += bool(meta.get("delivered"))
                if image.shape[0] > args.size or image.shape[1] > args.size or min(image.shape[:2]) < 16:
                    decoded["bad_size"] += 1

        def report(self, msg):
            with lock:
                decoded["reports"] += 1

    class sent_clock(gr.basic_block):
        """When each image left the source. A block of its own: the source's ``done`` ends
        every block it feeds, and the counter must outlive it."""

        def __init__(self):
            gr.basic_block.__init__(self, name="soak_sent_clock", in_sig=None, out_sig=None)
            self.message_port_register_in(pmt.intern("in"))
            self.set_msg_handler(pmt.intern("in"), self.handle)

        def handle(self, msg):
            image_id = pmt.to_python(pmt.dict_ref(pmt.car(msg), pmt.intern("image_id"), pmt.PMT_NIL))
            with lock:
                sent_at[image_id] = time.monotonic()

    sink, clock = counter(), sent_clock()
    tb = gr.top_block("gensemcom_soak")
    if args.sample_rate:
        fill = idle_fill()
        throttle = blocks.throttle(gr.sizeof_gr_complex, args.sample_rate)
        tb.connect(tx, fill, throttle, chan, rx)
    else:
        tb.connect(tx, chan, rx)
    tb.msg_connect(source, "out", tx, "in")
    tb.msg_connect(source, "out", clock, "in")
    tb.msg_connect(rx, "out", sink, "in")
    tb.msg_connect(rx, "report", sink, "report")
    if flow:
        tb.msg_connect(rx, "report", source, "ack")     # one report per image the receiver saw

    started = time.monotonic()
    tb.start()
    max_lag, lag_trace = 0.0, []
    rss_warm = None
    rss_samples = []
    last_progress = 0.0
    last_activity, quiet_since = None, time.monotonic()
    try:
        while True:
            time.sleep(0.5)
            if args.sample_rate:
                lag = args.sample_rate * (time.monotonic() - started) - throttle.nitems_written(0)
                lag_trace.append(round(1e3 * lag / args.sample_rate, 1))
                max_lag = max(max_lag, lag)
            with lock:
                done = decoded["reports"]
            if rss_warm is None and done >= args.warmup:
                rss_warm = rss_mib()
            if rss_warm is not None:
                rss_samples.append(rss_mib())
            if time.monotonic() - last_progress > 15:
                last_progress = time.monotonic()
                print(f"soak: sent {source.stats['sent']}/{args.images}, decoded {decoded['count']}, "
                      f"RSS {rss_mib():.0f} MiB", file=sys.stderr, flush=True)
            activity = (done, tx.encoder.stats["processed"], tx.fragmenter.stats["packets"],
                        rx.reassembler.stats["packets"], rx.decoder.stats["received"])
            if activity != last_activity:
                last_activity, quiet_since = activity, time.monotonic()
            finished_sending = source.stats["sent"] >= args.images or source.finished()
            # an image still in the encoder (a child process may take seconds to start) is not drained
            drained = tx.encoder.pending() == 0 and rx.decoder.pending() == 0 and rx.reassembler.pending_images() == 0
            if finished_sending and drained and time.monotonic() - quiet_since > 5:
                break              # everything sent has been received, decoded or dropped
            if time.monotonic() - started > args.timeout_s:
                print("soak: timed out", file=sys.stderr)
                break
            out_of_time = args.duration_s and time.monotonic() - started > args.duration_s
            if source.stats["sent"] >= args.images or out_of_time:
                args.images = min(args.images, source.stats["sent"])
                source._stop.set()     # enough images: stop feeding
    finally:
        rss_end = rss_mib()
        stream_samples = throttle.nitems_written(0) if args.sample_rate else 0
        stream_wall = time.monotonic() - started
        tb.stop()
        tb.wait()
    wall = time.monotonic() - started
    summary = {
        "images_requested": args.images, "images_sent": source.stats["sent"],
        "images_decoded": decoded["count"], "images_delivered": decoded["delivered"],
        "decoder_reports": decoded["reports"], "bad_size": decoded["bad_size"],
        "scheme": args.scheme, "channel": args.channel, "snr_db": args.snr, "cpp": args.cpp,
        "plan_snr_db": args.plan_snr if args.plan_snr is not None else args.snr, "size_px": args.size,
        "max_in_flight": flow, "executor": args.executor,
        "packets_sent": tx.fragmenter.stats["packets"], "packets_received": rx.reassembler.stats["packets"],
        "packets_crc_failed": rx.reassembler.stats["crc_failed"],
        "encoder": dict(tx.encoder.stats), "decoder": dict(rx.decoder.stats),
        "reassembler": dict(rx.reassembler.stats), "source": dict(source.stats),
        "rss_mib_after_warmup": round(rss_warm or float("nan"), 1), "rss_mib_end": round(rss_end, 1),
        "rss_mib_peak_sampled": round(max(rss_samples), 1) if rss_samples else None,
        "maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_s": round(wall, 1),
    }
    if args.sample_rate:
        lat = np.asarray(latencies) if latencies else np.full(1, np.nan)
        summary["stream"] = {
            "sample_rate": args.sample_rate, "samples": int(stream_samples), "wall_s": round(stream_wall, 1),
            "real_time_factor": round(stream_samples / (args.sample_rate * stream_wall), 4),
            "max_lag_ms": round(1e3 * max_lag / args.sample_rate, 1), "radio_buffer_ms": args.radio_buffer_ms,
            "lag_ms_every_0.5s": lag_trace,
            "tx_starved_s": round(fill.stats["starved_s"], 3), "tx_starved_events": fill.stats["starved_events"],
            "bursts": fill.stats["bursts"], "air_busy_fraction": round(
                fill.stats["burst_samples"] / max(1, fill.stats["burst_samples"] + fill.stats["idle_samples"]), 4),
            "images_per_s": round(decoded["count"] / stream_wall, 3),
            "latency_s": {"median": round(float(np.median(lat)), 3), "p95": round(float(np.percentile(lat, 95)), 3),
                          "max": round(float(np.max(lat)), 3), "n": len(latencies)}}
    growth = (rss_end - rss_warm) / rss_warm if rss_warm else float("nan")
    summary["rss_growth"] = round(growth, 4)
    checks = {
        "no_bad_sizes": decoded["bad_size"] == 0,
        "queues_bounded": rx.decoder.stats["queue_high_water"] <= rx.decoder.queue_size
        and tx.encoder.stats["queue_high_water"] <= tx.encoder.queue_size,
        "rss_growth_ok": bool(growth < args.max_rss_growth),
        "all_sent": source.stats["sent"] >= args.images,
    }
    if args.snr >= 15 and args.channel == "awgn" and not args.slow_decoder_s and not args.no_flow_control:
        checks["every_image_decoded"] = decoded["count"] >= args.images
    if args.sample_rate:
        checks["real_time"] = summary["stream"]["real_time_factor"] >= 0.99
        checks["no_dropped_samples"] = summary["stream"]["max_lag_ms"] <= args.radio_buffer_ms
    if args.slow_decoder_s and args.snr >= 15:
        # the decoder is the bottleneck: it drops (counted) while the PHY receives everything
        checks["phy_kept_receiving"] = rx.reassembler.stats["packets"] >= 0.95 * tx.fragmenter.stats["packets"] - 2
        checks["decoder_dropped_with_a_count"] = rx.decoder.stats["dropped"] > 0
    summary["checks"] = checks
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
