# SPDX-License-Identifier: GPL-3.0-or-later
"""Link-level benchmark: PER and BER of one MCS over a channel preset, on the real flowgraph.

Runs ofdm_qam_tx -> channel_preset -> ofdm_qam_rx as one GNU Radio top block, sends
--packets random payloads of --payload-bytes (seeded by --seed) and compares what the
receiver delivers with what was sent.

definitions:
  snr_db        Es/N0 per data subcarrier in dB (noise set from the TX's known symbol power;
                pilots, cyclic prefix, preamble and gaps excluded). Eb/N0 = Es/N0 -
                10*log10(bits_per_symbol * code_rate / repetition).
  per           1 - packets_ok / packets_sent: a packet counts as ok only if its payload
                CRC-32 passed; lost headers are errors. At --effort full (default) the receiver
                decodes a packet first with 50 sum-product LDPC iterations, then (after
                retracking) with at most 12 min-sum ones; --effort fast, a radio's setting,
                min-sum throughout (up to 3.8x less CPU on fading channels).
  ber           bit errors / bits_compared over every payload the receiver delivered (CRC
                passed or not) against what was sent; packets never delivered are not in it.
  samples       complex samples through the channel; samples_per_s = samples / wall_s.
  decode_cpu_us_per_sample
                CPU microseconds the receiver's header and payload decoders spent per channel
                sample; 1 / it is the highest rate (Msample/s) at which they keep pace with
                packets sent back to back on a radio. decode_cpu_max_ms: the costliest
                packet's payload decoding (fading channels retrack failed packets: costly).

MCS: bpsk qpsk 16qam 64qam (uncoded), bpsk-1/2, {qpsk,16qam,64qam}-{1/2,2/3,3/4,5/6}
(802.11n LDPC), bpsk-1/2x4 (robust: rate-1/2 LDPC sent 4 times, decodes at -5 dB).
Channels: awgn, rayleigh (flat block fading), rician (K = 4), multipath (8 taps, exponential
profile, rms delay 2 samples); block fading draws new gains every --coherence-samples
(default 16384; 0 = one draw per packet, constant over it).
Impairments: a radio preset (lab-cable, b200-indoor, walking-nlos, vehicular; values and
sources in docs/phy.md) with single overrides (--sro-ppm, --phase-noise-dbc, --iq-imbalance-db,
--iq-phase-deg, --dc-offset-dbc, --doppler-hz with --sample-rate, ...).

examples:
  gensemcom link --mcs qpsk-1/2 --snr 4 --channel awgn --packets 200 --json
  gensemcom link --mcs 16qam --sweep 8:20:2 --packets 50 --payload-bytes 1500
  gensemcom link --mcs 64qam-5/6 --sweep 16,17,18,19 --csv per.csv --plot per.png
  gensemcom link --mcs bpsk-1/2x4 --snr -5 --packets 200 --payload-bytes 200 --cfo 0.2
  gensemcom link --mcs bpsk-1/2x4 --sweep=-8:-4:1      (write = when the list starts with -)
  gensemcom link --mcs 16qam-3/4 --sweep 8:14:0.5 --impairments b200-indoor
  gensemcom link --mcs qpsk-1/2 --snr 6 --sro-ppm 20 --iq-imbalance-db 0.5 --iq-phase-deg 3
  gensemcom link --mcs qpsk-1/2 --sweep 0:30:3 --impairments vehicular --doppler-hz 200 --sample-rate 5e6
  gensemcom link --mcs 16qam-1/2 --snr 20 --impairments vehicular --effort fast --json
"""
import argparse
import csv
import io
import math
from pathlib import Path

from ..params import CFO, CHANNEL, DECODING_EFFORT, DELAY_SAMPLES, SNR_DB
from .common import positive_int, print_json, progress, snr_db, snr_list
from .impairments import add_impairment_arguments, channel_config

COLUMNS = ("mcs", "snr_db", "channel", "effort", "payload_bytes", "packets_sent", "packets_received",
           "packets_ok", "per", "ber", "bit_errors", "bits_compared", "snr_est_db", "samples",
           "samples_per_s", "wall_s", "decode_cpu_us_per_sample", "decode_cpu_max_ms", "seed", "impairments")


def _mcs_name(text):
    from ..phy.mcs import MCS_TABLE
    name = text.strip().lower()
    if name not in MCS_TABLE:
        raise argparse.ArgumentTypeError(f"unknown MCS {text!r}; choose from {', '.join(MCS_TABLE)}")
    return name


def _channel_name(text):
    name = text.strip().lower()
    if name not in CHANNEL.choices:
        raise argparse.ArgumentTypeError(f"unknown channel {text!r}; choose from {', '.join(CHANNEL.choices)}")
    return name


def _payload_bytes(text):
    from ..phy.mcs import MAX_PAYLOAD_BYTES
    value = positive_int(text)
    if value > MAX_PAYLOAD_BYTES:
        raise argparse.ArgumentTypeError(f"payload must be 1 to {MAX_PAYLOAD_BYTES} bytes, got {value}")
    return value


def _cfo(text):
    value = snr_db(text)
    if abs(value) >= 0.4:
        raise argparse.ArgumentTypeError(f"--cfo must lie in (-0.4, 0.4) subcarrier spacings, got {text!r}")
    return value


def _delay(text):
    value = snr_db(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"--delay-samples must be >= 0, got {text!r}")
    return value


def add_arguments(parser, name):
    from ..phy.mcs import MCS_PARAMETER
    add = parser.add_argument
    MCS_PARAMETER.add_to(parser, type=_mcs_name, help=MCS_PARAMETER.help_text(MCS_PARAMETER.default))
    points = parser.add_mutually_exclusive_group()
    SNR_DB.add_to(points, type=snr_db, default=None, metavar="DB", help=SNR_DB.help_text(SNR_DB.default))
    points.add_argument("--sweep", type=snr_list, default=None, metavar="LIST",
                        help="several SNRs: a comma list (0,2,4) or START:STOP:STEP (0:10:2); "
                             "write --sweep=-8:-4:1 when it starts with a minus")
    CHANNEL.add_to(parser, type=_channel_name, default=None,
                   help=CHANNEL.help_text("awgn") + "; an --impairments preset may bring its own")
    add("--packets", type=positive_int, default=100, help="packets per SNR point (default 100)")
    add("--payload-bytes", type=_payload_bytes, default=1500,
        help="payload per packet, 1..4096 (default 1500)")
    add("--seed", type=int, default=0, help="seed of payloads, noise and fading (default 0)")
    CFO.add_to(parser, type=_cfo)
    DELAY_SAMPLES.add_to(parser, type=_delay)
    add_impairment_arguments(parser)
    DECODING_EFFORT.add_to(parser)
    add("--json", action="store_true", help="print one JSON object per SNR point")
    add("--csv", metavar="FILE", help="also write the rows as CSV")
    add("--plot", metavar="FILE.png", help="also plot PER and BER against SNR")
    add("--timeout", type=positive_int, default=None, metavar="S", help="seconds allowed per SNR point")


def _table(rows):
    lines = [f"{'mcs':<11}{'channel':<10}{'snr_db':>7}{'sent':>6}{'ok':>6}{'per':>8}{'ber':>11}"
             f"{'Msample/s':>11}"]
    for r in rows:
        lines.append(f"{r['mcs']:<11}{r['channel']:<10}{r['snr_db']:>7.2f}{r['packets_sent']:>6}"
                     f"{r['packets_ok']:>6}{r['per']:>8.3f}{r['ber']:>11.3e}"
                     f"{r['samples_per_s'] / 1e6:>11.3f}")
    return "\n".join(lines)


def write_csv(path, rows):
    from ..fileio import write_text_atomic
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, out.getvalue())


def plot_rows(path, rows, title=None):
    """PER and BER against SNR; uncoded MCS get their closed-form BER curve."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..fileio import atomic_path
    from ..phy.mcs import get_mcs
    from ..phy.modulation import ber_awgn
    fig, (ax_per, ax_ber) = plt.subplots(1, 2, figsize=(10, 4))
    for (mcs, channel) in dict.fromkeys((r["mcs"], r["channel"]) for r in rows):
        sel = [r for r in rows if r["mcs"] == mcs and r["channel"] == channel]
        snr = [r["snr_db"] for r in sel]
        label = f"{mcs} {channel}"
        ax_per.semilogy(snr, [max(r["per"], 1e-4) for r in sel], "o-", label=label)
        ber = [r["ber"] if r["ber"] and not math.isnan(r["ber"]) else np.nan for r in sel]
        ax_ber.semilogy(snr, ber, "o-", label=label)
        if not get_mcs(mcs).coded and channel == "awgn":
            grid = np.linspace(min(snr), max(snr), 100)
            ax_ber.semilogy(grid, ber_awgn(get_mcs(mcs).modulation, grid), "k--", lw=0.8,
                            label=f"{mcs} theory")
    for ax, name in ((ax_per, "PER"), (ax_ber, "BER")):
        ax.set_xlabel("Es/N0 per data subcarrier (dB)")
        ax.set_ylabel(name)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_per.set_ylim(1e-3, 1.1)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def _check_outputs(args):
    from ..errors import BadInputError
    for path in (args.csv, args.plot):
        if path and not Path(path).resolve().parent.is_dir():
            raise BadInputError(f"output folder does not exist: {Path(path).parent}")


def run(args):
    from ..phy.link import run_link
    _check_outputs(args)
    points = args.sweep if args.sweep is not None else [args.snr if args.snr is not None else SNR_DB.default]
    rows = []
    for snr in points:
        config = channel_config(args, snr, name=args.channel, seed=args.seed, cfo=args.cfo or None,
                                delay_samples=args.delay_samples or None)
        bar = progress(total=args.packets, desc=f"{args.mcs} {config.name} {snr:g} dB", unit="pkt")
        done = [0]

        def update(received, sent, bar=bar, done=done):
            bar.update(received - done[0])
            done[0] = received

        try:
            result = run_link(args.mcs, snr, config, args.packets, args.payload_bytes,
                              args.seed, timeout_s=args.timeout, on_progress=update, effort=args.effort)
        finally:
            bar.close()
        row = {**result.to_dict(), "impairments": args.impairments}
        rows.append(row)
        if args.json:
            print_json(row)
        else:
            print(_table([row]).splitlines()[-1] if len(rows) > 1 else _table([row]), flush=True)
    if args.csv:
        write_csv(args.csv, rows)
    if args.plot:
        plot_rows(args.plot, rows)
    return 0
