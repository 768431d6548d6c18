# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM/QAM + LDPC receiver: complex baseband in, one PDU per decoded packet out.

Sample-rate work runs in GNU Radio blocks; per-packet work (channel estimation, header and
payload decoding) in one Python block, ``burst_decoder``, vectorised per packet::

  x --> fir_filter_ccc (matched filter on one preamble symbol) = y
        y * conj(delay(y, L)) --> moving_average_cc over L-vectors (sum at lags 0, L, ...
        (R-2)L) = P
        |P| / moving_average(|x|^2, R L) = metric --> gate (threshold) --> peak_detector2_fb
            = trigger (one 1 per packet, at the end of the preamble)
        arg(P) --> sample_and_hold(trigger) --> frequency_modulator_fc = CFO correction
        P x trigger --> corr_est_cc (tags arg(P) where non-zero) --> tag_share onto the data
  x --> delay(one preamble) --> multiply(CFO correction) --> tag_share --> burst_decoder:
        per trigger (the tag), header then payload --> PDU out

L = fft_len + cp_len, R = preamble repeats. The detection metric is ~SNR/(1+SNR) (per-sample
SNR) at the end of the preamble and ~1/(sqrt(R-1) L) on noise or data; the phase of P is
2 pi CFO L / fft_len.
"""

import numpy as np
from gnuradio import analog, blocks, digital
from gnuradio import filter as gr_filter
from gnuradio import gr

from ..grc_yaml import GrcBlock, message, stream
from ..params import DECODING_EFFORT, NUMEROLOGY, Param, Params
from .burst_decoder import burst_decoder
from .mcs import largest_frame
from .ofdm_qam_tx import as_numerology, reserve_buffer
from .receiver import TIMING_BACKOFF

DETECTION_THRESHOLD = 0.09
SYNC_BUFFER_SAMPLES = 1 << 16   # output buffer of each detector block


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
cost 1.6-3.8 times less CPU and lost about as many packets in our measurements; near the
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
        delay = blocks.delay(gr.sizeof_gr_complex, self.data_delay_samples)
        derotate = blocks.multiply_cc()
        # the CFO estimate at the trigger becomes a tag on the data stream: P x trigger is
        # non-zero at one sample, where corr_est_cc tags its phase; tag_share moves the tag
        trigger_float = blocks.char_to_float(1, 1.0)
        trigger_complex = blocks.float_to_complex(1)
        picked = blocks.multiply_cc()
        marker = digital.corr_est_cc([1.0 + 0j], 1, 0, 1e-20, digital.THRESHOLD_ABSOLUTE)
        tagged = blocks.tag_share(gr.sizeof_gr_complex, gr.sizeof_gr_complex)
        self.decoder = burst_decoder(nm, samp_rate, emit_failed, effort, self.data_delay_samples)

        longest = largest_frame(nm)
        reserve_buffer(tagged, longest.burst_samples + 2 * sym)
        marker.set_log_level("warn")
        reserve_buffer(self.peaks, longest.burst_samples + 2 * sym)

        # larger chunks per work call through the twenty detector blocks: fewer hand-offs between
        # their threads (the 500-byte loopback ran about 5 % faster with them)
        for block in (matched, delayed_y, product, to_vectors, lag_sum, to_stream, energy, window_energy, floored,
                      tiny, magnitude, metric, gate, gated, angle, hold, correction, delay, derotate,
                      trigger_float, trigger_complex, picked, marker):
            reserve_buffer(block, SYNC_BUFFER_SAMPLES // (sym if block in (to_vectors, lag_sum) else 1))
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
        self.connect(tagged, self.decoder)
        self.msg_connect(self.decoder, "out", self, "out")
        self.msg_connect(self.decoder, "symbols", self, "symbols")

    def samples_done(self):
        """Input samples (counted from the flowgraph's start) that the receiver is done with:
        every burst that ended before this index has been decoded and its PDU posted, or was
        not detected. A sender that must know whether a burst was lost (not just late) waits
        for this, plus the time a posted message takes to arrive."""
        return self.decoder.samples_done()

    def decode_cpu_s(self):
        """(CPU seconds spent decoding headers and payloads, CPU seconds of the costliest payload)."""
        return self.decoder.decode_cpu_s, self.decoder.decode_cpu_max_s

    def set_effort(self, effort):
        """Change the decoding effort while running (see ``PARAMETERS``); from the next packet."""
        self.decoder.effort = self.PARAMETERS["effort"].check("ofdm_qam_rx", effort)

    def set_threshold(self, threshold):
        """Change the detection threshold while running (see ``PARAMETERS``)."""
        threshold = self.PARAMETERS["threshold"].check("ofdm_qam_rx", threshold)
        self.gate.set_lo(threshold)
        self.gate.set_hi(threshold)
