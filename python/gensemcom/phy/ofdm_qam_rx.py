# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM/QAM + LDPC receiver: complex baseband in, one PDU per decoded packet out.

Sample-rate work (detection, CFO correction) runs in GNU Radio blocks; per-packet work
(FFTs, channel estimation, header and payload decoding) in one Python block, vectorised per
packet, that copies samples only from a trigger to the end of its packet::

  x --> fir_filter_ccc (matched filter on one preamble symbol) = y
        y * conj(delay(y, L)) --> moving_average_cc over L-vectors (sum at lags 0, L, ...
        (R-2)L) = P
        |P| / moving_average(|x|^2, R L) = metric --> gate (threshold) --> peak_detector2_fb
            = trigger (one 1 per packet, at the end of the preamble)
        arg(P) --> sample_and_hold(trigger) --> frequency_modulator_fc = CFO correction
  x --> delay(one preamble) --> multiply(CFO correction) --\
        trigger ---------------------------------------------> packet_decoder --> PDU out
        arg(P) ----------------------------------------------/

L = fft_len + cp_len, R = preamble repeats. The detection metric is ~SNR/(1+SNR) (per-sample
SNR) at the end of the preamble and ~1/(sqrt(R-1) L) on noise or data; the phase of P is
2 pi CFO L / fft_len.
"""
import sys

import numpy as np
import pmt
from gnuradio import analog, blocks
from gnuradio import filter as gr_filter
from gnuradio import gr

from ..grc_yaml import GrcBlock, message, stream
from ..params import NUMEROLOGY, Param, Params
from .framing import FLAG_FILLER, decode_header_llr, decode_payload_llr, payload_symbols_from_bits
from .mcs import frame_size, get_mcs
from .modulation import demodulate_llr, nearest_points
from .ofdm_qam_tx import as_numerology
from .receiver import TIMING_BACKOFF, equalize, estimate_channel, track_pilots
from .tracking import local_noise_var, needs_tracking, track_carriers

EVM_SYMBOLS = 1024
CONSTELLATION_SYMBOLS = 1024     # equalised symbols per packet on the ``symbols`` port
DETECTION_THRESHOLD = 0.09
GIL_SWITCH_INTERVAL_S = 0.0005
TRACKING_PASSES = 3   # decodes per start of the per-carrier tracking (its decisions, then the LDPC's)


def decode_packet(symbols, estimate, header, numerology):
    """Equalise and decode a payload: (z, noise_var, ``framing.PayloadResult``).

    First with the pilots' tracking; when that fails the CRC and the symbols scatter more than
    the noise explains (``tracking.needs_tracking``: the channel changed within the packet),
    the same symbols with LLRs scaled by their local scatter (``tracking.local_noise_var``: no
    over-confident bits where the channel moved), then with the channel tracked per carrier
    from decisions (``tracking.track_carriers``: first those the pilots' channel gives, then
    forward ones), each followed by passes with the symbols the LDPC decoder's output
    re-encodes to.
    """
    nm = numerology
    mcs = get_mcs(header.mcs)
    first = nm.header_symbols
    pilots = track_pilots(symbols, estimate, nm, first)
    z, noise_var, _ = equalize(symbols, estimate, nm, first, pilots)
    shape = z.shape
    z, noise_var = z.reshape(-1), noise_var.reshape(-1)
    result = decode_payload_llr(demodulate_llr(z, noise_var, mcs.modulation), header, nm)
    if result.crc_ok or not needs_tracking(z, noise_var, mcs.modulation):
        return z, noise_var, result
    honest = local_noise_var(z.reshape(shape), noise_var.reshape(shape), mcs.modulation).reshape(-1)
    result = decode_payload_llr(demodulate_llr(z, honest, mcs.modulation), header, nm)
    if result.crc_ok:
        return z, honest, result
    for start in (None, "forward"):
        decisions = start
        for _ in range(TRACKING_PASSES):
            z, noise_var = track_carriers(symbols, estimate, nm, first, mcs.modulation, decisions)
            z, noise_var = z.reshape(-1), noise_var.reshape(-1)
            result = decode_payload_llr(demodulate_llr(z, noise_var, mcs.modulation), header, nm)
            if result.crc_ok:
                return z, noise_var, result
            decisions = payload_symbols_from_bits(result.coded_bits, header, nm)
    return z, noise_var, result


class packet_decoder(gr.sync_block):
    """Find, decode and publish packets: one PDU per packet on message port ``out``.

    Inputs (aligned streams): 0 complex64 samples, CFO-corrected and delayed so that a packet's
    first preamble sample (less ``TIMING_BACKOFF``) sits at its trigger; 1 uint8 trigger (1 at
    a detected preamble); 2 float32 arg(P), the preamble correlation's phase (its value at the
    trigger is the coarse CFO, rad per ``symbol_len``).

    Per trigger: the preamble and header symbols (cyclic prefixes dropped, FFT) give the channel
    estimate and the header; a failed header resumes the search one sample after its trigger, a
    decoded one takes the payload's symbols and resumes after them (triggers inside a packet are
    ignored). Samples are copied only from a trigger until its packet is complete. PDU meta: mcs,
    seq, flags, payload_len, crc_ok, snr_db, evm_db, cfo (subcarrier spacings), cfo_hz,
    ldpc_failed_codewords. ``emit_failed``: also publish packets whose CRC failed (for BER).
    Counters: headers_ok, headers_failed, packets_ok, packets_failed.
    """

    def __init__(self, numerology, samp_rate=20e6, emit_failed=True):
        nm = self.numerology = numerology
        gr.sync_block.__init__(self, name="gensemcom_packet_decoder",
                               in_sig=[np.complex64, np.uint8, np.float32], out_sig=None)
        self.message_port_register_out(pmt.intern("out"))
        self._symbols_port = pmt.intern("symbols")
        self.message_port_register_out(self._symbols_port)
        import ldpc  # noqa: F401  (its first import takes ~0.3 s: not inside a running flowgraph)
        self.samp_rate = float(samp_rate)
        self.emit_failed = bool(emit_failed)
        self._header_samples = (nm.preamble_repeats + nm.header_symbols) * nm.symbol_len
        self._step_to_spacings = nm.fft_len / (2 * np.pi * nm.symbol_len)
        self._resume = 0          # absolute index from which the next trigger counts
        self._packet = None       # the packet being gathered (see ``_begin``)
        self.headers_ok = self.headers_failed = 0
        self.packets_ok = self.packets_failed = 0

    def work(self, input_items, output_items):
        samples, trigger, phase = input_items
        count = len(samples)
        base = self.nitems_read(0)
        pos = 0
        while pos < count:
            if self._packet is None:
                hits = np.flatnonzero(trigger[max(pos, self._resume - base):])
                if not hits.size:
                    break
                pos = max(pos, self._resume - base) + int(hits[0])
                self._begin(base + pos, float(phase[pos]))
            packet = self._packet
            take = min(count - pos, packet["need"] - packet["have"])
            packet["chunks"].append(samples[pos:pos + take].copy())
            if packet["header"] is None:   # triggers after a header that fails are tried in turn
                later = np.flatnonzero(trigger[pos:pos + take])
                packet["triggers"].extend((base + pos + int(i), float(phase[pos + int(i)])) for i in later
                                          if base + pos + int(i) > packet["start"])
            packet["have"] += take
            pos += take
            if packet["have"] == packet["need"]:
                self._step()
        return count

    def _begin(self, start, phase, chunks=(), triggers=()):
        have = sum(len(c) for c in chunks)
        self._packet = {"start": start, "cfo": phase * self._step_to_spacings, "chunks": list(chunks),
                        "have": have, "need": self._header_samples, "header": None, "triggers": list(triggers)}

    def _step(self):
        """A packet's header or payload samples are complete: decode them."""
        packet = self._packet
        gathered = np.concatenate(packet["chunks"])
        packet["chunks"] = [gathered]
        if packet["header"] is not None:
            self._packet = None
            self._resume = packet["start"] + packet["need"] - 1
            try:
                self._publish(gathered[self._header_samples:], packet)
            except Exception as exc:  # a bad packet must not stop the flowgraph
                self.logger.error(f"payload decoding failed: {exc!r}")
            return
        try:
            self._decode_header(gathered, packet)
        except Exception as exc:
            self.logger.error(f"header decoding failed: {exc!r}")
            packet["header"] = None
        if packet["header"] is not None:
            return
        self._packet = None
        self._resume = packet["start"] + 1
        if packet["triggers"]:   # the next trigger's samples are here already (fewer than a header)
            (start, phase), rest = packet["triggers"][0], packet["triggers"][1:]
            self._resume = start
            self._begin(start, phase, [gathered[start - packet["start"]:]], rest)

    def _ffts(self, samples):
        nm = self.numerology
        return np.fft.fft(samples.reshape(-1, nm.symbol_len)[:, nm.cp_len:], axis=1)

    def _decode_header(self, samples, packet):
        nm = self.numerology
        reps = nm.preamble_repeats
        vectors = self._ffts(samples[:self._header_samples])
        estimate = estimate_channel(vectors[:reps], nm)
        z, noise_var, offset = equalize(vectors[reps:], estimate, nm, first_symbol=0)
        header = decode_header_llr(demodulate_llr(z.reshape(-1), noise_var.reshape(-1), "bpsk"))
        if header is None:
            self.headers_failed += 1
            return
        self.headers_ok += 1
        estimate.phase_offset = offset
        payload_symbols = frame_size(header.payload_len, header.mcs, nm).payload_ofdm_symbols
        packet.update(header=header, estimate=estimate, need=self._header_samples + payload_symbols * nm.symbol_len,
                      cfo=packet["cfo"] + estimate.phase_step * self._step_to_spacings)

    def _publish(self, samples, packet):
        header = packet["header"]
        if header.flags & FLAG_FILLER:
            return
        nm = self.numerology
        mcs = get_mcs(header.mcs)
        z, noise_var, result = decode_packet(self._ffts(samples), packet["estimate"], header, nm)
        probe = z[:: max(1, z.size // EVM_SYMBOLS)]
        if pmt.length(self.message_subscribers(self._symbols_port)):     # a constellation plot listens
            shown = z[:CONSTELLATION_SYMBOLS].astype(np.complex64)
            self.message_port_pub(self._symbols_port, pmt.cons(
                pmt.to_pmt({"mcs": mcs.name, "seq": header.seq}), pmt.init_c32vector(shown.size, shown.tolist())))
        error = probe - nearest_points(probe, mcs.modulation)
        evm_db = 10 * np.log10(max(float(np.mean(np.abs(error) ** 2)), 1e-12))
        if result.crc_ok:
            self.packets_ok += 1
        else:
            self.packets_failed += 1
            if not self.emit_failed:
                return
        meta = {
            "mcs": mcs.name, "seq": header.seq, "flags": header.flags,
            "payload_len": header.payload_len, "crc_ok": bool(result.crc_ok),
            "snr_db": round(packet["estimate"].snr_db, 3), "evm_db": round(evm_db, 3),
            "cfo": packet["cfo"], "cfo_hz": packet["cfo"] * self.samp_rate / nm.fft_len,
            "ldpc_failed_codewords": result.failed_codewords,
        }
        data = list(result.payload)
        self.message_port_pub(pmt.intern("out"),
                              pmt.cons(pmt.to_pmt(meta), pmt.init_u8vector(len(data), data)))


class ofdm_qam_rx(gr.hier_block2):
    """OFDM/QAM/LDPC receiver (hier block).

    Input: complex64 baseband stream (bursts from ``ofdm_qam_tx`` through a channel). Output:
    message port ``out``, one PDU (meta dict, u8vector payload) per packet whose header
    decoded. Meta: ``mcs`` (name), ``seq``, ``flags``, ``payload_len`` (bytes), ``crc_ok``
    (payload CRC-32 passed; with ``emit_failed`` False only passing packets are sent),
    ``snr_db`` (Es/N0 per data carrier estimated from the preamble), ``evm_db``, ``cfo``
    (carrier frequency offset in subcarrier spacings, |cfo| < 0.4), ``cfo_hz`` (scaled by
    ``samp_rate``), ``ldpc_failed_codewords``. Message port ``symbols``: per packet, up to
    1024 equalised payload data symbols (c32vector PDU; meta mcs, seq) for a constellation plot.

    Parameters (``PARAMETERS``): ``numerology`` (must match the TX), ``samp_rate`` (Hz, only for
    cfo_hz), ``threshold`` (detection metric, ~SNR/(1+SNR) of the preamble; default 0.09 detects
    down to about -7 dB Es/N0; the metric on noise or data stays below 0.05 in 1e6 samples;
    ``set_threshold`` changes it while running), ``emit_failed``.
    """

    PARAMETERS = Params(
        NUMEROLOGY,
        Param("samp_rate", "float", 20e6, "Sample Rate", "sample rate: only scales cfo_hz", unit="Hz", lo=0,
              lo_open=True, grc_default="samp_rate"),
        Param("threshold", "float", DETECTION_THRESHOLD, "Detection Threshold",
              "preamble detection metric, about SNR/(1+SNR) per sample at the end of the preamble",
              lo=0, lo_open=True, hi=1, hide="part", runtime_setter="set_threshold"),
        Param("emit_failed", "bool", True, "Emit CRC Failures",
              "also publish packets whose payload CRC failed (for BER)"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="OFDM QAM RX", category="[GenSemCom]/PHY", inputs=(stream(),),
        outputs=(message("out", optional=True), message("symbols", optional=True)),
        documentation="""
OFDM receiver for gensemcom.ofdm_qam_tx bursts (gr-gensemcom PHY).

Message output "symbols": per packet, up to 1024 equalised payload symbols as a complex
vector PDU - connect a QT GUI Constellation Sink of type "Complex Message".

Input (stream): complex64 baseband. Needs no prior knowledge of the MCS: the BPSK
header carries it.

Output (message port "out"): one PDU per packet whose header decoded,
pmt.cons(meta dict, u8vector payload). Meta: "mcs" (name), "seq", "flags",
"payload_len" (bytes), "crc_ok" (payload CRC-32 passed), "snr_db" (Es/N0 per data
subcarrier estimated from the preamble), "evm_db", "cfo" (carrier frequency offset in
subcarrier spacings), "cfo_hz", "ldpc_failed_codewords". Filter on crc_ok before using
a payload.

Parameters:
Numerology: must match the transmitter's (None = default).
Sample Rate: only scales cfo_hz (cfo * samp_rate / fft_len).
Detection Threshold: preamble metric, about SNR/(1+SNR) per sample at the end of the
preamble; 0.09 detects down to about -7 dB Es/N0 without false alarms on noise or data.
It can change while the flowgraph runs.
Emit CRC Failures: also publish packets whose payload CRC failed (for BER).

CFO range: |cfo| < 0.4 subcarrier spacings. The receiver delays its data path by one
preamble (640 samples), so a packet is delivered once that many samples have followed
it; a finite stream from ofdm_qam_tx ends with a filler burst that provides them.
""")

    def __init__(self, numerology=DEFAULT.numerology, samp_rate=DEFAULT.samp_rate, threshold=DEFAULT.threshold,
                 emit_failed=DEFAULT.emit_failed):
        gr.hier_block2.__init__(self, "gensemcom_ofdm_qam_rx",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex), gr.io_signature(0, 0, 0))
        samp_rate = self.PARAMETERS["samp_rate"].check("ofdm_qam_rx", samp_rate)
        threshold = self.PARAMETERS["threshold"].check("ofdm_qam_rx", threshold)
        nm = self.numerology = as_numerology(numerology)
        self.message_port_register_hier_out("out")
        self.message_port_register_hier_out("symbols")
        # With Python's default 5 ms thread switch interval the decoder can hold the GIL that
        # long, and other Python blocks (the TX's encoder, a PDU sink) wait behind it.
        if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        sym, reps = nm.symbol_len, nm.preamble_repeats
        products = reps - 1

        template = nm.sync_time / np.sqrt(np.mean(np.abs(nm.sync_time) ** 2))
        # time-domain FIR and running sums: exact zeros on digital silence (an FFT filter's
        # rounding noise divided by a near-zero energy would look like a preamble)
        matched = gr_filter.fir_filter_ccc(1, list(np.conj(template[::-1])))
        delayed_y = blocks.delay(gr.sizeof_gr_complex, sym)
        product = blocks.multiply_conjugate_cc()
        to_vectors = blocks.stream_to_vector(gr.sizeof_gr_complex, sym)
        lag_sum = blocks.moving_average_cc(products, 1.0, 4000, sym)
        self.correlation = to_stream = blocks.vector_to_stream(gr.sizeof_gr_complex, sym)
        energy = blocks.complex_to_mag_squared()
        window_energy = blocks.moving_average_ff(reps * sym, products * sym / reps, 4000)
        # E + 1e-3 * (E averaged over ~1e4 samples): keeps the metric tiny in digital silence
        # after a burst, where running sums leave rounding residue; + 1e-30 avoids 0/0
        alpha, keep = 1e-4, 1 - 1e-4
        floored = gr_filter.iir_filter_ffd([1 + 1e-3 * alpha, -keep], [0.0, keep], True)
        tiny = blocks.add_const_ff(1e-30)
        magnitude = blocks.complex_to_mag()
        self.metric = metric = blocks.divide_ff()
        self.gate = gate = blocks.threshold_ff(threshold, threshold, 0)
        gated = blocks.multiply_ff()
        self.peaks = blocks.peak_detector2_fb(0.0, 2 * reps * sym, 0.001)  # both ramps of P
        angle = blocks.complex_to_arg()
        hold = blocks.sample_and_hold_ff()
        correction = analog.frequency_modulator_fc(-1.0 / sym)
        delay = blocks.delay(gr.sizeof_gr_complex, reps * sym - 1 + TIMING_BACKOFF)
        derotate = blocks.multiply_cc()
        self.decoder = packet_decoder(nm, samp_rate, emit_failed)

        self.connect(self, matched)
        self.connect(matched, delayed_y)
        self.connect(matched, (product, 0))
        self.connect(delayed_y, (product, 1))
        self.connect(product, to_vectors, lag_sum, to_stream, magnitude, (metric, 0))
        self.connect(self, energy, window_energy, floored, tiny, (metric, 1))
        self.connect(metric, gate, (gated, 0))
        self.connect(metric, (gated, 1))
        self.connect(gated, self.peaks)
        self.connect(to_stream, angle, (hold, 0))
        self.connect(self.peaks, (hold, 1))
        self.connect(hold, correction)
        self.connect(self, delay, (derotate, 0))
        self.connect(correction, (derotate, 1))
        self.connect(derotate, (self.decoder, 0))
        self.connect(self.peaks, (self.decoder, 1))
        self.connect(angle, (self.decoder, 2))
        self.msg_connect(self.decoder, "out", self, "out")
        self.msg_connect(self.decoder, "symbols", self, "symbols")

    def set_threshold(self, threshold):
        """Change the detection threshold while running (see ``PARAMETERS``)."""
        threshold = self.PARAMETERS["threshold"].check("ofdm_qam_rx", threshold)
        self.gate.set_lo(threshold)
        self.gate.set_hi(threshold)
