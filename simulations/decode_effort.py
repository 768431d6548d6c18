#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the receiver's decoding costs per channel, at effort full and fast (``ofdm_qam_rx``).

For each impairment preset and (MCS, SNR) point, ``run_link`` sends --packets packets of
--payload-bytes at each effort. Per row it prints:

- PER;
- ``decode_cpu_us_per_sample``: the header and payload decoders' CPU time per channel sample,
  in microseconds;
- ``keep_up_msps`` = 1 / that: the highest rate, in Msample/s, at which the decoders keep pace
  with packets sent back to back. They hold the GIL, so they get one core at most;
- ``decode_cpu_max_ms``: the costliest packet.

The channel emulation's own cost is not in these numbers. It does not run in real time with
Doppler; a radio does that part.

    python simulations/decode_effort.py --packets 40 --json benchmarks/results/decode_effort_1500b.json
"""
import argparse
import json

from gnuradio.gensemcom.cli.common import progress
from gnuradio.gensemcom.constants import DECODING_EFFORTS
from gnuradio.gensemcom.fileio import check_output_path, to_jsonable, write_text_atomic
from gnuradio.gensemcom.phy.channel import impairment_config
from gnuradio.gensemcom.phy.impairments import IMPAIRMENT_PRESETS
from gnuradio.gensemcom.phy.link import run_link
from gnuradio.gensemcom.phy.mcs import MAX_PAYLOAD_BYTES

POINTS = (("qpsk-1/2", 10.0), ("16qam-1/2", 20.0))
PRESETS = ("none", "b200-indoor", "walking-nlos", "vehicular")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="Example: --packets 40 --presets walking-nlos,vehicular")
    parser.add_argument("--packets", type=int, default=40, help="packets per row (default 40)")
    parser.add_argument("--payload-bytes", type=int, default=1500, help="payload per packet (default 1500)")
    parser.add_argument("--presets", default=",".join(PRESETS),
                        help=f"impairment presets, comma-separated (default {','.join(PRESETS)})")
    parser.add_argument("--seed", type=int, default=1, help="seed of payloads, noise and fading (default 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args()
    presets = args.presets.split(",")
    unknown = [p for p in presets if p not in IMPAIRMENT_PRESETS]
    if unknown:
        parser.error(f"unknown preset(s) {', '.join(unknown)}; choose from {', '.join(IMPAIRMENT_PRESETS)}")
    if not 1 <= args.packets <= 65536 or not 1 <= args.payload_bytes <= MAX_PAYLOAD_BYTES:
        parser.error(f"--packets must be 1..65536 and --payload-bytes 1..{MAX_PAYLOAD_BYTES}")
    try:
        args.json and check_output_path(args.json)        # before minutes of runs
    except FileNotFoundError as exc:
        parser.error(f"--json: {exc.strerror}: {exc.filename}")
    rows = []
    print(f"{'preset':<14}{'mcs':<11}{'snr':>5}{'effort':>7}{'per':>7}{'us/sample':>11}{'keep-up Msps':>14}"
          f"{'max ms':>9}")
    for preset in presets:
        for mcs, snr in POINTS:
            for effort in DECODING_EFFORTS:
                config = impairment_config(preset, snr_db=snr, seed=args.seed,
                                           **({"name": "awgn"} if preset == "none" else {}))
                bar = progress(total=args.packets, desc=f"{preset} {mcs} {effort}", unit="pkt")
                with bar:
                    result = run_link(mcs, snr, config, args.packets, args.payload_bytes, args.seed, effort=effort,
                                      on_progress=lambda received, sent: bar.update(received - bar.n))
                row = {**result.to_dict(), "impairments": preset,
                       "keep_up_msps": 1.0 / max(result.decode_cpu_us_per_sample, 1e-9)}
                rows.append(row)
                print(f"{preset:<14}{mcs:<11}{snr:>5g}{effort:>7}{row['per']:>7.3f}"
                      f"{row['decode_cpu_us_per_sample']:>11.2f}{row['keep_up_msps']:>14.2f}"
                      f"{row['decode_cpu_max_ms']:>9.1f}", flush=True)
    if args.json:
        write_text_atomic(args.json, json.dumps(to_jsonable({"args": vars(args), "rows": rows}), indent=1))


if __name__ == "__main__":
    main()
