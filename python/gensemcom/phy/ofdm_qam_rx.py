# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM/QAM + LDPC receiver: complex baseband in, one PDU per decoded packet out.

Sample-rate work runs in GNU Radio blocks; per-packet work (channel estimation, header and
payload decoding) in two Python blocks, vectorised per packet::

  x --> fir_filter_ccc (matched filter on one preamble symbol) = y
        y * conj(delay(y, L)) --> moving_average_cc over L-vectors (sum at lags 0, L, ...
        (R-2)L) = P
        |P| / moving_average(|x|^2, R L) = metric --> gate (threshold) --> peak_detector2_fb
            = trigger (one 1 per packet, at the end of the preamble)
        arg(P) --> sample_and_hold(trigger) --> frequency_modulator_fc = CFO correction
        P x trigger --> corr_est_cc (tags arg(P) where non-zero) --> tag_share onto the data
  x --> delay(one preamble) --> multiply(CFO correction) --> tag_share --> header_payload_demux
        header port: fft_vcc --> header_decoder --(payload length, channel)--> demux
        payload port: fft_vcc --> payload_decoder --> PDU out

L = fft_len + cp_len, R = preamble repeats. The detection metric is ~SNR/(1+SNR) (per-sample
SNR) at the end of the preamble and ~1/(sqrt(R-1) L) on noise or data; the phase of P is
2 pi CFO L / fft_len.
"""
import sys
import time

import numpy as np
import pmt
from gnuradio import analog, blocks, digital, fft
from gnuradio import filter as gr_filter
from gnuradio import gr

from ..grc_yaml import GrcBlock, message, stream
from ..params import DECODING_EFFORT, NUMEROLOGY, Param, Params
from .framing import FLAG_FILLER, decode_header_llr, decode_payload_llr, payload_symbols_from_bits
from .mcs import frame_size, get_mcs, largest_frame
from .modulation import demodulate_llr, nearest_points
from .ofdm_qam_tx import as_numerology, reserve_buffer
from .receiver import TIMING_BACKOFF, equalize, estimate_channel, track_pilots
from .tracking import local_noise_var, needs_tracking, pilots_moved, track_carriers

CFO_TAG = "phase_est"  # corr_est_cc's tag: arg(P) at the trigger, rad per fft_len + cp_len
LENGTH_TAG = "gsc_payload_symbols"
PACKET_TAG = "gsc_packet"
HANDOFF_LIMIT = 256
EVM_SYMBOLS = 1024
CONSTELLATION_SYMBOLS = 1024     # equalised symbols per packet on the ``symbols`` port
DETECTION_THRESHOLD = 0.09
GIL_SWITCH_INTERVAL_S = 0.0005
TRACKING_PASSES = 3   # decodes per start of the per-carrier tracking (its decisions, then the LDPC's)


class header_decoder(gr.sync_block):
    """Decode headers; answer the demux on message port ``header_data``.

    Input: fft_len vectors (unshifted FFTs), per packet the preamble symbols then the header
    symbols. Output message: PMT_F when the header fails, else a dict whose entries become
    tags on the payload's first symbol: ``gsc_payload_symbols`` (length) and ``gsc_packet``
    (key of the packet's header, channel estimate and CFO in ``handoff``, a dict shared
    with the payload decoder: Python objects, no PMT conversion per packet).
    ``decode_cpu_s``: CPU seconds this block's thread spent decoding headers.
    """

    def __init__(self, numerology):
        nm = self.numerology = numerology
        gr.sync_block.__init__(self, name="gensemcom_header_decoder",
                               in_sig=[(np.complex64, nm.fft_len)], out_sig=None)
        self.message_port_register_out(pmt.intern("header_data"))
        self._per_packet = nm.preamble_repeats + nm.header_symbols
        self._pending = []
        self._cfo = 0.0
        self._step_to_spacings = nm.fft_len / (2 * np.pi * nm.symbol_len)
        self.handoff = {}
        self._key = 0
        self.headers_ok = 0
        self.headers_failed = 0
        self.decode_cpu_s = 0.0

    def work(self, input_items, output_items):
        items = input_items[0]
        for tag in self.get_tags_in_window(0, 0, len(items), pmt.intern(CFO_TAG)):
            self._cfo = pmt.to_double(tag.value) * self._step_to_spacings
        self._pending.append(items.copy())
        buffered = sum(len(p) for p in self._pending)
        if buffered >= self._per_packet:
            stacked = np.concatenate(self._pending)
            while len(stacked) >= self._per_packet:
                started = time.thread_time()
                try:
                    self._decode(stacked[:self._per_packet])
                except Exception as exc:  # never leave the demux waiting
                    self.logger.error(f"header decoding failed: {exc!r}")
                    self.message_port_pub(pmt.intern("header_data"), pmt.PMT_F)
                self.decode_cpu_s += time.thread_time() - started
                stacked = stacked[self._per_packet:]
            self._pending = [stacked] if len(stacked) else []
        return len(items)

    def _decode(self, vectors):
        nm = self.numerology
        reps = nm.preamble_repeats
        estimate = estimate_channel(vectors[:reps], nm)
        z, noise_var, offset = equalize(vectors[reps:], estimate, nm, first_symbol=0)
        header = decode_header_llr(demodulate_llr(z.reshape(-1), noise_var.reshape(-1), "bpsk"))
        if header is None:
            self.headers_failed += 1
            self.message_port_pub(pmt.intern("header_data"), pmt.PMT_F)
            return
        self.headers_ok += 1
        estimate.phase_offset = offset
        self.hand_off(header, estimate, self._cfo + estimate.phase_step * self._step_to_spacings)

    def hand_off(self, header, estimate, cfo):
        """Keep a decoded header's packet (header, ``ChannelEstimate``, CFO in subcarrier spacings)
        for the payload decoder and tell the demux the payload's length."""
        size = frame_size(header.payload_len, header.mcs, self.numerology)
        self._key += 1
        self.handoff[self._key] = (header, estimate, cfo)
        while len(self.handoff) > HANDOFF_LIMIT:   # payloads that never came (end of stream)
            self.handoff.pop(next(iter(self.handoff)))
        msg = pmt.dict_add(pmt.make_dict(), pmt.intern(LENGTH_TAG), pmt.from_long(size.payload_ofdm_symbols))
        msg = pmt.dict_add(msg, pmt.intern(PACKET_TAG), pmt.from_long(self._key))
        self.message_port_pub(pmt.intern("header_data"), msg)


def decode_packet(symbols, estimate, header, numerology, effort="full"):
    """Equalise and decode a payload: (z, noise_var, ``framing.PayloadResult``).

    First with the pilots' tracking; when that fails the CRC and the symbols scatter more than
    the noise explains or the pilots' common gain moved (``tracking.needs_tracking``,
    ``tracking.pilots_moved``: the channel changed within the packet),
    the same symbols with LLRs scaled by their local scatter (``tracking.local_noise_var``: no
    over-confident bits where the channel moved), then with the channel tracked per carrier
    from decisions (``tracking.track_carriers``: first those the pilots' channel gives, then
    forward ones of the power-weighted impulse-response fit, then forward ones averaged over
    neighbouring carriers: each recovers packets where the others slip), each followed by
    passes with the symbols the LDPC decoder's output re-encodes to.

    The tracking passes decode with the bounded min-sum LDPC decoder (``ldpc.FAST_*``) at either
    effort: their noise variance is too small where decisions steered the channel, and min-sum,
    unlike sum-product, does not depend on the LLRs' scale (docs/phy.md, "Doppler").
    ``effort`` "full": the first two decodes with sum-product (50 iterations); "fast" (a receiver
    that must keep pace with a radio): those two with min-sum as well, which costs less and loses
    more packets near the AWGN threshold.
    """
    nm = numerology
    mcs = get_mcs(header.mcs)
    first = nm.header_symbols
    fast = effort == "fast"
    pilots = track_pilots(symbols, estimate, nm, first)
    z, noise_var, _ = equalize(symbols, estimate, nm, first, pilots)
    shape = z.shape
    z, noise_var = z.reshape(-1), noise_var.reshape(-1)
    result = decode_payload_llr(demodulate_llr(z, noise_var, mcs.modulation), header, nm, fast)
    if result.crc_ok or not (needs_tracking(z, noise_var, mcs.modulation) or pilots_moved(pilots.common)):
        return z, noise_var, result
    honest = local_noise_var(z.reshape(shape), noise_var.reshape(shape), mcs.modulation).reshape(-1)
    result = decode_payload_llr(demodulate_llr(z, honest, mcs.modulation), header, nm, fast)
    if result.crc_ok:
        return z, honest, result
    for start in (None, "forward", "forward-local"):
        decisions = start
        for _ in range(TRACKING_PASSES):
            z, noise_var = track_carriers(symbols, estimate, nm, first, mcs.modulation, decisions)
            z, noise_var = z.reshape(-1), noise_var.reshape(-1)
            result = decode_payload_llr(demodulate_llr(z, noise_var, mcs.modulation), header, nm, fast=True)
            if result.crc_ok:
                return z, noise_var, result
            decisions = payload_symbols_from_bits(result.coded_bits, header, nm)
    return z, noise_var, result


class payload_decoder(gr.sync_block):
    """Decode payloads; publish one PDU per packet on message port ``out``.

    Input: fft_len vectors of payload symbols, the first of each packet tagged by the demux
    with the header decoder's dict (``handoff``: the header decoder's dict of packets).
    PDU meta: mcs, seq, flags, payload_len, crc_ok, snr_db,
    evm_db, cfo (subcarrier spacings), cfo_hz, ldpc_failed_codewords. ``emit_failed``:
    also publish packets whose CRC failed (for BER measurement). ``effort``: see
    ``decode_packet``. ``decode_cpu_s``, ``decode_cpu_max_s``: CPU seconds this block's thread
    spent decoding payloads, in all and on its costliest packet (a receiver keeps pace with a
    radio only while decoding costs less than the air time).
    """

    def __init__(self, numerology, handoff, samp_rate=20e6, emit_failed=True, effort="full"):
        nm = self.numerology = numerology
        self.handoff = handoff
        self.effort = effort
        gr.sync_block.__init__(self, name="gensemcom_payload_decoder",
                               in_sig=[(np.complex64, nm.fft_len)], out_sig=None)
        self.message_port_register_out(pmt.intern("out"))
        self._symbols_port = pmt.intern("symbols")
        self.message_port_register_out(self._symbols_port)
        import ldpc  # noqa: F401  (its first import takes ~0.3 s: not inside a running flowgraph)
        self.samp_rate = float(samp_rate)
        self.emit_failed = bool(emit_failed)
        self._packet = None
        self._chunks = []
        self._have = 0
        self.packets_ok = 0
        self.packets_failed = 0
        self.decode_cpu_s = 0.0
        self.decode_cpu_max_s = 0.0

    def work(self, input_items, output_items):
        items = input_items[0]
        base = self.nitems_read(0)
        starts = {tag.offset - base: pmt.to_long(tag.value)
                  for tag in self.get_tags_in_window(0, 0, len(items), pmt.intern(PACKET_TAG))}
        pos = 0
        while pos < len(items):
            if self._packet is None:
                later = sorted(i for i in starts if i >= pos)
                if not later:
                    break
                pos = later[0]
                self._start(starts[pos])
            take = min(len(items) - pos, self._packet["symbols"] - self._have)
            self._chunks.append(items[pos:pos + take].copy())
            self._have += take
            pos += take
            if self._have == self._packet["symbols"]:
                started = time.thread_time()
                try:
                    self._finish()
                except Exception as exc:  # a bad packet must not stop the flowgraph
                    self.logger.error(f"payload decoding failed: {exc!r}")
                spent = time.thread_time() - started
                self.decode_cpu_s += spent
                self.decode_cpu_max_s = max(self.decode_cpu_max_s, spent)
        return len(items)

    def _start(self, key):
        header, estimate, cfo = self.handoff.pop(key)
        symbols = frame_size(header.payload_len, header.mcs, self.numerology).payload_ofdm_symbols
        self._packet = {"symbols": symbols, "header": header, "estimate": estimate, "cfo": cfo}
        self._chunks, self._have = [], 0

    def _finish(self):
        packet, self._packet = self._packet, None
        symbols = np.concatenate(self._chunks)
        self._chunks, self._have = [], 0
        header = packet["header"]
        if header.flags & FLAG_FILLER:
            return
        nm = self.numerology
        mcs = get_mcs(header.mcs)
        z, noise_var, result = decode_packet(symbols, packet["estimate"], header, nm, self.effort)
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
    ``set_threshold`` changes it while running), ``emit_failed``, ``effort`` ("full": a
    packet's first two LDPC decodes with 50 sum-product iterations, as the PER curves are
    measured; "fast": those with at most 12 min-sum iterations too, like the tracking passes,
    so that decoding keeps closer pace with a radio; ``set_effort`` changes it while running).
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
        DECODING_EFFORT,
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
Decoding Effort: a packet whose channel changed while it lasted is tracked again and
decoded again, up to 11 times; the tracking passes decode with at most 12 min-sum LDPC
iterations at either effort. Full decodes the first two passes with 50 sum-product
iterations (what the PER curves assume), Fast with min-sum too: on fading channels it
cost 1.4-3.7 times less CPU and lost about as many packets in our measurements; near the
AWGN threshold it loses more (docs/phy.md, "Decoding effort").
It can change while running.

CFO range: |cfo| < 0.4 subcarrier spacings. The receiver delays its data path by one
preamble (640 samples), so a packet is delivered once that many samples have followed
it; a finite stream from ofdm_qam_tx ends with a filler burst that provides them.
""")

    def __init__(self, numerology=DEFAULT.numerology, samp_rate=DEFAULT.samp_rate, threshold=DEFAULT.threshold,
                 emit_failed=DEFAULT.emit_failed, effort=DEFAULT.effort):
        gr.hier_block2.__init__(self, "gensemcom_ofdm_qam_rx",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex), gr.io_signature(0, 0, 0))
        samp_rate = self.PARAMETERS["samp_rate"].check("ofdm_qam_rx", samp_rate)
        threshold = self.PARAMETERS["threshold"].check("ofdm_qam_rx", threshold)
        effort = self.PARAMETERS["effort"].check("ofdm_qam_rx", effort)
        nm = self.numerology = as_numerology(numerology)
        self.message_port_register_hier_out("out")
        self.message_port_register_hier_out("symbols")
        # The demux waits for the header decoder on every packet; with Python's default 5 ms
        # thread switch interval the payload decoder can hold the GIL that long.
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
        self.data_delay_samples = reps * sym - 1 + TIMING_BACKOFF
        self._samples_done = 0
        delay = blocks.delay(gr.sizeof_gr_complex, self.data_delay_samples)
        derotate = blocks.multiply_cc()
        # the CFO estimate at the trigger becomes a tag on the data stream: P x trigger is
        # non-zero at one sample, where corr_est_cc tags its phase; tag_share moves the tag
        trigger_float = blocks.char_to_float(1, 1.0)
        trigger_complex = blocks.float_to_complex(1)
        picked = blocks.multiply_cc()
        marker = digital.corr_est_cc([1.0 + 0j], 1, 0, 1e-20, digital.THRESHOLD_ABSOLUTE)
        tagged = blocks.tag_share(gr.sizeof_gr_complex, gr.sizeof_gr_complex)
        self.demux = digital.header_payload_demux(
            reps + nm.header_symbols, nm.fft_len, nm.cp_len, LENGTH_TAG, "", True,
            gr.sizeof_gr_complex, "", 1.0, [], 0)
        header_fft = fft.fft_vcc(nm.fft_len, True, (), False)
        payload_fft = fft.fft_vcc(nm.fft_len, True, (), False)
        self.header_decoder = header_decoder(nm)
        self.payload_decoder = payload_decoder(nm, self.header_decoder.handoff, samp_rate,
                                               emit_failed, effort)

        longest = largest_frame(nm)
        reserve_buffer(tagged, longest.burst_samples + 2 * sym)
        marker.set_log_level("warn")
        reserve_buffer(self.peaks, longest.burst_samples + 2 * sym)
        # the demux asks for a whole payload of space on both of its outputs; its info line
        # on every failed header ("Parser returned #f") is silenced too
        reserve_buffer(self.demux, longest.payload_ofdm_symbols + 1)

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
        self.connect(self.peaks, trigger_float, trigger_complex, (picked, 1))
        self.connect(to_stream, (picked, 0))
        self.connect(picked, marker, (tagged, 1))
        self.connect(derotate, (tagged, 0))
        self.connect(tagged, (self.demux, 0))
        self.connect(self.peaks, (self.demux, 1))
        self.connect((self.demux, 0), header_fft, self.header_decoder)
        self.connect((self.demux, 1), payload_fft, self.payload_decoder)
        self.msg_connect(self.header_decoder, "header_data", self.demux, "header_data")
        self.msg_connect(self.payload_decoder, "out", self, "out")
        self.msg_connect(self.payload_decoder, "symbols", self, "symbols")

    def samples_done(self):
        """Input samples (counted from the flowgraph's start) that the receiver is done with:
        every burst that ended before this index has been decoded and its PDU posted, or was
        not detected. A sender that must know whether a burst was lost (not just late) waits
        for this, plus the time a posted message takes to arrive."""
        read = self.demux.nitems_read(0)
        if self.payload_decoder.nitems_read(0) >= self.demux.nitems_written(1):
            self._samples_done = max(self._samples_done, read - self.data_delay_samples)
        return self._samples_done

    def decode_cpu_s(self):
        """(CPU seconds spent decoding headers and payloads, CPU seconds of the costliest payload)."""
        return (self.header_decoder.decode_cpu_s + self.payload_decoder.decode_cpu_s,
                self.payload_decoder.decode_cpu_max_s)

    def set_effort(self, effort):
        """Change the decoding effort while running (see ``PARAMETERS``); from the next packet."""
        self.payload_decoder.effort = self.PARAMETERS["effort"].check("ofdm_qam_rx", effort)

    def set_threshold(self, threshold):
        """Change the detection threshold while running (see ``PARAMETERS``)."""
        threshold = self.PARAMETERS["threshold"].check("ofdm_qam_rx", threshold)
        self.gate.set_lo(threshold)
        self.gate.set_hi(threshold)
