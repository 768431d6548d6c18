#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Soft LDPC decoder speed: the `ldpc` package (what the PHY uses) against gr-fec.

Decodes the same IEEE 802.11n code (n=1944, rate 1/2; BPSK over AWGN at Eb/N0 = 1 dB, where
most codewords fail and a decoder runs all its iterations, 2.5 dB, where a packet decoder spends
most of its time near threshold, and 5 dB) with

- ldpc.BpDecoder as the PHY uses it, one call per codeword with flip probabilities and the
  syndrome of the hard decisions: sum-product, 50 iterations (receiver effort "full"); normalised
  min-sum (scale 0.75), 50 iterations; the receiver's "fast" decoder (normalised min-sum, serial
  schedule, at most 12 iterations);
- gr-fec's fec.ldpc_decoder (sum-product, 50 iterations) in fec.extended_decoder, fed by
  its own fec.ldpc_encoder from an alist file of the same parity-check matrix.

Prints information bits decoded per second and the codeword error rate of each.

    python simulations/ldpc_decoder_speed.py --codewords 200
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from gnuradio import blocks, fec, gr

from gnuradio.gensemcom.phy.ldpc import get_code


def write_alist(pcm, path):
    """MacKay alist file of a scipy sparse parity-check matrix."""
    dense = pcm.toarray().astype(bool)
    rows, cols = dense.shape
    col_idx = [np.flatnonzero(dense[:, c]) + 1 for c in range(cols)]
    row_idx = [np.flatnonzero(dense[r]) + 1 for r in range(rows)]
    max_col, max_row = max(map(len, col_idx)), max(map(len, row_idx))
    lines = [f"{cols} {rows}", f"{max_col} {max_row}",
             " ".join(str(len(c)) for c in col_idx), " ".join(str(len(r)) for r in row_idx)]
    lines += [" ".join(map(str, list(c) + [0] * (max_col - len(c)))) for c in col_idx]
    lines += [" ".join(map(str, list(r) + [0] * (max_row - len(r)))) for r in row_idx]
    Path(path).write_text("\n".join(lines) + "\n")


def package_decoders(code):
    """(label, ldpc.BpDecoder) of the configurations compared."""
    from ldpc import BpDecoder
    min_sum = BpDecoder(code.pcm, error_rate=0.1, max_iter=50, bp_method="minimum_sum", ms_scaling_factor=0.75,
                        input_vector_type="syndrome")
    return (("ldpc sum-product, 50 it. (effort full)", code.decoder(False)),
            ("ldpc min-sum, 50 it.", min_sum),
            ("ldpc min-sum serial, 12 it. (effort fast)", code.decoder(True)))


def ldpc_package(code, codewords, llr, decoder):
    hard = (llr < 0).astype(np.uint8)
    syndromes = code.syndrome(hard)
    flip = 1.0 / (1.0 + np.exp(np.abs(llr)))
    errors = 0
    start = time.perf_counter()
    for b in range(len(llr)):
        decoder.update_channel_probs(flip[b])
        errors += np.any((hard[b] ^ decoder.decode(syndromes[b])) != codewords[b])
    return time.perf_counter() - start, errors


def gr_fec(code, count, ebno_db, rng):
    with tempfile.TemporaryDirectory() as tmp:
        alist = str(Path(tmp) / "h.alist")
        write_alist(code.pcm, alist)
        encoder = fec.ldpc_encoder_make(alist)
        k = int(encoder.get_input_size())
        info = rng.integers(0, 2, count * k).astype(np.uint8)
        tb = gr.top_block()
        src, sink = blocks.vector_source_b(info.tolist()), blocks.vector_sink_b()
        tb.connect(src, fec.extended_encoder(encoder, threading=None, puncpat="11"), sink)
        tb.run()
        coded = np.array(sink.data(), np.float32)
        rate = k / code.n
        sigma = np.sqrt(1.0 / (2 * rate * 10 ** (ebno_db / 10)))
        soft = (2 * coded - 1 + sigma * rng.standard_normal(coded.size)).astype(np.float32)
        decoder = fec.ldpc_decoder.make(alist, float(sigma), 50)
        tb = gr.top_block()
        src, sink = blocks.vector_source_f(soft.tolist()), blocks.vector_sink_b()
        decode = fec.extended_decoder(decoder, threading=None, ann=None, puncpat="11",
                                      integration_period=10000)
        tb.connect(src, decode, sink)
        start = time.perf_counter()
        tb.run()
        wall = time.perf_counter() - start
        out = np.array(sink.data(), np.uint8)[:info.size]
        errors = int(np.count_nonzero(np.any((out != info[:out.size]).reshape(-1, k), axis=1)))
        return wall, errors, k


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codewords", type=int, default=200)
    args = parser.parse_args()
    code = get_code(1944, "1/2")
    for ebno_db in (1.0, 2.5, 5.0):
        rng = np.random.default_rng(1)
        info = rng.integers(0, 2, (args.codewords, code.k), dtype=np.uint8)
        codewords = code.encode(info)
        noise_var = 1.0 / (2 * 0.5 * 10 ** (ebno_db / 10))      # per real dimension
        received = 1 - 2.0 * codewords + np.sqrt(noise_var) * rng.standard_normal(codewords.shape)
        llr = 2 * received / noise_var
        for label, decoder in package_decoders(code):
            wall, errors = ldpc_package(code, codewords, llr, decoder)
            print(f"Eb/N0 {ebno_db} dB  {label:<42} {args.codewords * code.k / wall / 1e6:6.3f} Mbit/s  "
                  f"{wall / args.codewords * 1e3:6.2f} ms/codeword  CWER {errors / args.codewords:.3f}", flush=True)
        if ebno_db < 2:
            continue                     # gr-fec decodes nothing even at 2.5 dB (docs/phy.md)
        count = max(20, args.codewords // 4)
        wall, errors, k = gr_fec(code, count, ebno_db, rng)
        print(f"Eb/N0 {ebno_db} dB  gr-fec ldpc_decoder   {count * k / wall / 1e6:6.3f} Mbit/s  "
              f"CWER {errors / count:.3f}", flush=True)


if __name__ == "__main__":
    main()
