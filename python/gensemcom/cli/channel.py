# SPDX-License-Identifier: GPL-3.0-or-later
"""Channel emulator between a `gensemcom tx` and a `gensemcom rx` process.

Reads complex64 samples from one endpoint, passes them through a seeded channel preset
(AWGN, flat Rayleigh/Rician block fading, or frequency-selective multipath, with optional
CFO and timing offset, and radio impairments: --impairments PRESET and single overrides) and
writes them to another, until stopped (Ctrl-C) or the input ends
(a SigMF recording). SNR is Es/N0 per data subcarrier (see docs/phy.md).

example:
  gensemcom channel --from zmq:tcp://127.0.0.1:5555 --to zmq:tcp://127.0.0.1:5556 --snr 6 --channel multipath
"""
import time

from ..params import CFO, CHANNEL, DELAY_SAMPLES, PROFILE, SEED, SNR_DB
from .common import nonnegative_int, print_json, snr_db
from .impairments import add_impairment_arguments, channel_config


def add_arguments(parser, name):
    parser.add_argument("--from", dest="source", required=True, metavar="ENDPOINT",
                        help="zmq:tcp://HOST:PORT or sigmf:PATH")
    parser.add_argument("--to", required=True, metavar="ENDPOINT", help="zmq:tcp://HOST:PORT or sigmf:PATH")
    SNR_DB.add_to(parser, type=snr_db, required=True, metavar="DB")
    CHANNEL.add_to(parser, default=None,
                   help=CHANNEL.help_text("awgn") + "; an --impairments preset may bring its own")
    CFO.add_to(parser, type=float)
    DELAY_SAMPLES.add_to(parser, type=float)
    SEED.add_to(parser, type=nonnegative_int)
    add_impairment_arguments(parser)
    PROFILE.add_to(parser, help=PROFILE.help_text(PROFILE.default) + "; its numerology sets the SNR scale")
    parser.add_argument("--json", action="store_true", help="print a JSON summary at the end")


def run(args):
    from gnuradio import blocks, gr

    from ..blocks.radio_io import make_sink, make_source, parse_endpoint
    from ..link.profile import LinkProfile
    from ..phy.channel import make_channel
    for spec in (args.source, args.to):
        if parse_endpoint(spec)[0] not in ("zmq", "sigmf"):
            from ..errors import BadInputError
            raise BadInputError(f"the channel emulator connects zmq: or sigmf: endpoints, got {spec!r}")
    link = LinkProfile.load(args.profile)
    config = channel_config(args, args.snr, name=args.channel, seed=args.seed, cfo=args.cfo or None,
                            delay_samples=args.delay_samples or None)
    tb = gr.top_block("gensemcom_channel")
    source, sink = make_source(args.source), make_sink(args.to)
    counter = blocks.null_sink(gr.sizeof_gr_complex)
    chan = make_channel(config, link.numerology_object())
    tb.connect(source, chan, sink)
    tb.connect(chan, counter)
    started = time.perf_counter()
    try:
        tb.run()
    except KeyboardInterrupt:
        tb.stop()
        tb.wait()
    summary = {"samples": int(counter.nitems_read(0)), "channel": config.to_dict(),
               "wall_s": round(time.perf_counter() - started, 3)}
    if args.json:
        print_json(summary)
    else:
        print(f"channel passed {summary['samples']} samples")
    return 0
