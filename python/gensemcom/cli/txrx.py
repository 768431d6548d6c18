# SPDX-License-Identifier: GPL-3.0-or-later
"""Transmitter and receiver as separate processes: ZeroMQ links, SigMF recordings, SDRs.

  gensemcom tx IMAGES --to ENDPOINT    image source → semantic_tx → endpoint
  gensemcom rx --from ENDPOINT --out DIR   endpoint → semantic_rx → PNG + JSON per image

Endpoints: zmq:tcp://HOST:PORT (ZeroMQ PUSH from tx, PULL into rx), sigmf:PATH (a SigMF
recording: tx writes PATH.sigmf-data/.sigmf-meta, rx plays it), uhd:ARGS, soapy:ARGS (SDRs:
--freq, --rate, --gain). Between a tx and an rx, `gensemcom channel` emulates a channel.
Both sides must use the same --scheme, --profile and models. The transmitter plans its MCS
per importance class with --snr (the SNR it expects at the receiver).

examples (three terminals, or `&`):
  gensemcom rx --from zmq:tcp://127.0.0.1:5556 --out rx_images --count 2
  gensemcom channel --from zmq:tcp://127.0.0.1:5555 --to zmq:tcp://127.0.0.1:5556 --snr 8 --channel rayleigh
  gensemcom tx photos/ --to zmq:tcp://127.0.0.1:5555 --snr 8
  gensemcom tx photo.png --to sigmf:capture --snr 5 && gensemcom rx --from sigmf:capture --out rx_images
"""
import sys
import time
from pathlib import Path

from ..errors import BadInputError
from ..params import (BUDGET_BYTES, CPP, DECODING_EFFORT, DEFAULT_HEIGHT, DEFAULT_WIDTH, EXECUTOR, PLANNING_CHANNEL,
                      PLANNING_SNR_DB, PROFILE, SCHEME)
from .common import fraction, nonnegative_int, positive_int, print_json, snr_db
from .models import add_stack_arguments

DESCRIPTIONS = {"tx": __doc__, "rx": __doc__}


def _radio_arguments(parser):
    group = parser.add_argument_group("radio (uhd:/soapy: endpoints; sigmf: records the rate and frequency)")
    group.add_argument("--rate", type=float, default=20e6, metavar="HZ", help="sample rate (default 20e6)")
    group.add_argument("--freq", type=float, default=2.45e9, metavar="HZ", help="centre frequency (default 2.45e9)")
    group.add_argument("--gain", type=float, default=0.0, metavar="DB", help="device gain (default 0)")


def add_arguments(parser, name):
    SCHEME.add_to(parser)
    PROFILE.add_to(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    if name == "tx":
        parser.add_argument("images", nargs="+", help="image files, folders or globs")
        parser.add_argument("--to", required=True, metavar="ENDPOINT",
                            help="zmq:tcp://HOST:PORT, sigmf:PATH, uhd:ARGS, soapy:ARGS")
        PLANNING_SNR_DB.add_to(parser, type=snr_db, required=True, metavar="DB")
        PLANNING_CHANNEL.add_to(parser)
        budget = parser.add_mutually_exclusive_group()
        CPP.add_to(budget, type=fraction, default=None, metavar="R", help=CPP.help_text(CPP.default))
        BUDGET_BYTES.add_to(budget, type=positive_int, default=None, metavar="N",
                            help=BUDGET_BYTES.help_text() + " (instead of --cpp)")
        parser.add_argument("--mcs", default="", metavar="MCS", help="send every packet at this MCS")
        parser.add_argument("--repeat", type=positive_int, default=1, help="passes over the images (default 1)")
        parser.add_argument("--interval-s", type=float, default=0.0, help="pause between images (default 0)")
    else:
        parser.add_argument("--from", dest="source", required=True, metavar="ENDPOINT",
                            help="zmq:tcp://HOST:PORT, sigmf:PATH, uhd:ARGS, soapy:ARGS")
        parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for received images")
        parser.add_argument("--count", type=nonnegative_int, default=0,
                            help="stop after this many images (0 = until the stream ends or Ctrl-C)")
        parser.add_argument("--idle-timeout-s", type=float, default=0.0,
                            help="stop when no image arrived for this long (0 = never)")
        DEFAULT_WIDTH.add_to(parser, "--width", type=nonnegative_int)
        DEFAULT_HEIGHT.add_to(parser, "--height", type=nonnegative_int)
    _radio_arguments(parser)
    add_stack_arguments(parser)
    parser.add_argument("--executor", choices=EXECUTOR.choices, default=None,
                        help="where the models run: thread, or process (a child process at low CPU priority, so that "
                             "a radio's sample stream keeps real time while images are coded); default: process for "
                             "uhd:/soapy: endpoints, thread otherwise")
    if name == "rx":
        DECODING_EFFORT.add_to(parser, default=None,
                               help="the PHY receiver's decoding effort: " + DECODING_EFFORT.doc
                                    + "; default: fast for uhd:/soapy: sources, full otherwise")


def _is_radio(endpoint):
    return endpoint.startswith(("uhd:", "soapy:"))


def _executor(args, endpoint):
    """--executor, or the default for ``endpoint``: a child process for a radio's real-time stream."""
    if args.executor:
        return args.executor
    return "process" if _is_radio(endpoint) else "thread"


def _effort(args):
    """--effort, or the default for the source: bounded decoding for a radio's real-time stream."""
    return args.effort or ("fast" if _is_radio(args.source) else "full")


def run(args):
    from ..blocks.radio_io import parse_endpoint
    from ..link.profile import LinkProfile
    LinkProfile.load(args.profile)
    parse_endpoint(args.to if args.command == "tx" else args.source)
    return run_tx(args) if args.command == "tx" else run_rx(args)


def run_tx(args):
    from gnuradio import gr

    from ..blocks.image_source import image_source
    from ..blocks.radio_io import make_sink
    from ..blocks.semantic_txrx import semantic_tx
    if args.interval_s < 0:
        raise BadInputError("--interval-s must be >= 0")
    cpp = args.cpp if args.cpp is not None else (0.0 if args.budget_bytes else CPP.default)
    source = image_source(args.images, args.interval_s, args.repeat, max_in_flight=1)
    tx = semantic_tx(args.scheme, args.profile, args.snr, args.plan_channel, cpp, args.budget_bytes or 0,
                     models=args.models or "offline", quant=args.quant or "none", fixed_mcs=args.mcs,
                     executor=_executor(args, args.to))
    sink = make_sink(args.to, args.rate, args.freq, args.gain,
                     description=f"gensemcom tx: scheme {args.scheme}, profile {args.profile}, "
                                 f"planning SNR {args.snr} dB")
    tb = gr.top_block("gensemcom_tx")
    tb.msg_connect(source, "out", tx, "in")
    tb.msg_connect(tx, "report", source, "ack")
    tb.connect(tx, sink)
    started = time.perf_counter()
    tb.run()        # ends after the last image: source → encoder → fragmenter → PHY end in turn
    summary = {"images_sent": source.stats["sent"], "skipped": source.stats["skipped"],
               "packets_sent": tx.fragmenter.stats["packets"], "encoder_errors": tx.encoder.stats["errors"],
               "mcs_plan": {str(k): v for k, v in tx.plan.items()}, "to": args.to,
               "wall_s": round(time.perf_counter() - started, 3)}
    _report(args, summary, f"sent {summary['images_sent']} image(s) in {summary['packets_sent']} packets to {args.to}")
    return 0


def run_rx(args):
    import threading

    from gnuradio import gr

    from ..blocks.image_sink import image_sink
    from ..blocks.radio_io import make_source
    from ..blocks.semantic_txrx import semantic_rx
    if not args.out.is_dir():
        raise BadInputError(f"--out folder does not exist: {args.out} (create it first)")
    source = make_source(args.source, args.rate, args.freq, args.gain)
    rx = semantic_rx(args.scheme, args.profile, models=args.models or "offline", quant=args.quant or "none",
                     default_width=args.width, default_height=args.height, executor=_executor(args, args.source),
                     effort=_effort(args))
    sink = image_sink(args.out, print_each=False)     # this command prints its own progress
    tb = gr.top_block("gensemcom_rx")
    tb.connect(source, rx)
    tb.msg_connect(rx, "out", sink, "in")
    started = time.perf_counter()
    finished = threading.Event()
    waiter = threading.Thread(target=lambda: (tb.wait(), finished.set()), daemon=True)
    tb.start()
    waiter.start()
    last_count, last_change = 0, time.monotonic()
    try:
        while not finished.wait(0.1):
            count = len(sink.written)
            if count != last_count:
                last_count, last_change = count, time.monotonic()
                print(f"received {count} image(s): {sink.written[-1].name}", file=sys.stderr, flush=True)
            if args.count and count >= args.count:
                break
            if args.idle_timeout_s and time.monotonic() - last_change > args.idle_timeout_s:
                break
    except KeyboardInterrupt:
        pass
    tb.stop()
    tb.wait()
    packets = rx.reassembler.stats
    summary = {"images_received": len(sink.written), "files": [str(p) for p in sink.written],
               "packets": packets["packets"], "crc_failed": packets["crc_failed"],
               "decoder_dropped": rx.decoder.stats["dropped"], "from": args.source,
               "wall_s": round(time.perf_counter() - started, 3)}
    _report(args, summary, f"received {summary['images_received']} image(s) into {args.out}")
    return 0


def _report(args, summary, line):
    if args.json:
        print_json(summary)
    else:
        print(line)
