# SPDX-License-Identifier: GPL-3.0-or-later
"""The receiver's per-packet half: cut each burst out of the stream, decode header and payload.

``burst_decoder`` takes the synchronised sample stream of ``ofdm_qam_rx``, on which the
detector tagged each trigger (``phase_est``, its CFO estimate). For each trigger it decodes the
header from the preamble and header
OFDM symbols, then, once the payload's samples have arrived, the payload, and publishes one PDU.
Both decodes run in the block's own thread, one after the other: no message round trip to a
demultiplexer that would wait (GNU Radio 3.10's header_payload_demux busy-waits for the header
decoder's answer) and no second Python thread contending for the GIL.

Trigger rules are those of GNU Radio's header_payload_demux: after a header that fails, the
search for the next trigger resumes one sample after the failed one; after a packet, at its
last sample, so triggers inside a packet are ignored.
"""
import ctypes
import ctypes.util
import gc
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pmt
import scipy.fft
from gnuradio import gr

from .framing import (FLAG_FILLER, Header, decode_header_llr, decode_payload_llr, decode_payloads_llr,
                      encode_frame, payload_symbols_from_bits)
from .mcs import frame_size, get_mcs
from .modulation import demodulate_llr, error_power, nearest_points
from .pdus import c32vector, u8vector
from .receiver import equalize_batch, estimate_channels, track_pilots_batch
from .tracking import local_noise_var, needs_tracking, pilots_moved, track_carriers

CFO_TAG = "phase_est"  # corr_est_cc's tag: arg(P) at the trigger, rad per fft_len + cp_len
EVM_SYMBOLS = 1024
CONSTELLATION_SYMBOLS = 1024     # equalised symbols per packet on the ``symbols`` port
TRACKING_PASSES = 3   # decodes per start of the per-carrier tracking (its decisions, then the LDPC's)
WARM_UP_BYTES = 500   # long enough for every step of the pilot tracking (receiver.MIN_SYMBOLS_FOR_DRIFT)
MALLOC_MMAP_THRESHOLD_BYTES = 32 << 20
MALLOC_TRIM_THRESHOLD_BYTES = 64 << 20


def keep_freed_memory():
    """Ask glibc's malloc (where it is the C library) to keep freed memory up to 64 MiB instead of
    returning it to the kernel: a batch's arrays of about 1 MB each were otherwise unmapped when
    freed and faulted in again page by page for the next one, which doubled the cost of
    equalisation and LLR gathering. Process-wide; returns whether both settings took."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, MALLOC_MMAP_THRESHOLD_BYTES)) and \
        bool(mallopt(m_trim_threshold, MALLOC_TRIM_THRESHOLD_BYTES))


def freeze_collected_objects():
    """Collect garbage once, then exempt every object alive now (modules, numba's and torch's
    type systems, compiled kernels: some 270,000) from the garbage collector's full passes
    (``gc.freeze``): such a pass took 100 ms of the GIL with the kernels imported, a stall of
    every Python block of a flowgraph. Process-wide, like ``keep_freed_memory``; objects made
    later are collected as usual."""
    gc.collect()
    gc.freeze()


def clean_packet_ffts(header, numerology):
    """FFTs of a packet as the receiver sees it without a channel: (preamble and header symbols
    complex64 (1, preamble_repeats + header_symbols, fft_len), payload symbols complex64
    (1, payload_ofdm_symbols, fft_len)) of ``header`` with a zero payload."""
    nm = numerology
    data = encode_frame(bytes(header.payload_len), header.mcs, nm, header.seq, header.flags)
    rows = data.size // nm.n_data_carriers
    ffts = np.zeros((nm.preamble_repeats + rows, nm.fft_len), np.complex64)
    ffts[:nm.preamble_repeats] = nm.sync_spectrum
    ffts[nm.preamble_repeats:, nm.spectrum_index(nm.data_carriers)] = data.reshape(rows, -1)
    ffts[nm.preamble_repeats:, nm.spectrum_index(nm.pilot_carriers)] = nm.pilots(0, rows)
    split = nm.preamble_repeats + nm.header_symbols
    return ffts[None, :split].copy(), ffts[None, split:].copy()


def warm_up(numerology):
    """Decode a clean 500-byte packet, alone and in a batch of two, so that the compiled kernels
    (``receiver_kernels``, LLRs, LDPC syndromes, the header's Viterbi decoder, nearest points)
    are compiled, or loaded from numba's cache, for the arrays a flowgraph passes them before it
    runs, not at its first packets: the first compilation takes about 10 s, a cache load about
    0.3 s. Returns whether headers, payloads and symbols came back as sent."""
    header = Header("qpsk-1/2", WARM_UP_BYTES, 0)
    vectors, symbols = clean_packet_ffts(header, numerology)
    exact = True
    for count in (1, 2):      # a batch of one and of two: arrays of either layout
        decoded = decode_headers(np.repeat(vectors, count, axis=0), numerology)
        if any(h != header for h, _ in decoded):
            return False
        for z, _, result in decode_packets(np.repeat(symbols, count, axis=0), [e for _, e in decoded],
                                           [h for h, _ in decoded], numerology):
            on_points = np.allclose(nearest_points(z, "qpsk"), z, atol=1e-3) and error_power(z, "qpsk") < 1e-6
            exact &= result.crc_ok and result.payload == bytes(header.payload_len) and on_points
    return exact


def decode_headers(vectors, numerology):
    """[(``Header`` or None, ``ChannelEstimate``)] of packets from the FFTs of their preamble and
    header symbols, complex (packets, preamble_repeats + header_symbols, fft_len), vectorised
    over the packets; each estimate's phase_offset is its header pilots' residual phase."""
    nm = numerology
    reps = nm.preamble_repeats
    estimates = estimate_channels(vectors[:, :reps], nm)
    z, noise_var, offsets = equalize_batch(vectors[:, reps:], estimates, nm, 0)
    llr = demodulate_llr(z.reshape(-1), noise_var.reshape(-1), "bpsk").reshape(len(estimates), -1)
    for estimate, offset in zip(estimates, offsets):
        estimate.phase_offset = offset
    return [(decode_header_llr(row), estimate) for row, estimate in zip(llr, estimates)]


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
    return decode_packets(np.asarray(symbols)[None], [estimate], [header], numerology, effort)[0]


def decode_packets(symbols, estimates, headers, numerology, effort="full", cpu_s=None):
    """``decode_packet`` of packets whose headers give the same MCS and length: the first pass
    (pilots, equalisation, LLRs, one LDPC decoder call) vectorised over them, the passes after
    it packet by packet. symbols complex (B, T, fft_len). Returns a list of (z, noise_var,
    ``PayloadResult``); ``cpu_s`` (a list): each packet's CPU seconds are appended (its share of
    the first pass plus its own further passes)."""
    nm = numerology
    mcs = get_mcs(headers[0].mcs)
    first = nm.header_symbols
    fast = effort == "fast"
    started = time.thread_time()
    pilots = track_pilots_batch(symbols, estimates, nm, first)
    z, noise_var, _ = equalize_batch(symbols, estimates, nm, first, pilots)
    llr = demodulate_llr(z.reshape(-1), noise_var.reshape(-1), mcs.modulation).reshape(len(estimates), -1)
    results = decode_payloads_llr(llr, headers[0], nm, fast)
    share = (time.thread_time() - started) / len(estimates)
    out = []
    for b, result in enumerate(results):
        started = time.thread_time()
        out.append(_decode_again(symbols[b], estimates[b], headers[b], nm, fast, z[b], noise_var[b], pilots[b], result))
        if cpu_s is not None:
            cpu_s.append(share + time.thread_time() - started)
    return out


def _decode_again(symbols, estimate, header, nm, fast, z, noise_var, pilots, result):
    """The passes of ``decode_packet`` after the first: (z, noise_var, ``PayloadResult``)."""
    mcs = get_mcs(header.mcs)
    first = nm.header_symbols
    shape = z.shape
    z, noise_var = z.reshape(-1), noise_var.reshape(-1)
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


@dataclass
class Packet:
    """A burst whose header decoded: absolute sample indices of its start (the trigger) and end,
    header, ``ChannelEstimate``, CFO (subcarrier spacings)."""

    start: int
    stop: int
    header: object
    estimate: object
    cfo: float


class burst_decoder(gr.sync_block):
    """Decode bursts; publish one PDU per packet whose header decoded on message port ``out``.

    Input: complex64 samples, CFO-corrected and delayed so that a trigger marks the start of
    the first preamble symbol's FFT window (``TIMING_BACKOFF`` samples into its cyclic prefix);
    each trigger is a tag ``phase_est`` (the detector's CFO, rad per OFDM symbol). One input, not
    a second trigger stream: a Python block with two inputs that arrive from different threads
    is offered unequal lengths, and GNU Radio's scheduler then asks its Python ``forecast`` over
    and over (that cost 0.3 ms per work call). Message ``out``: pmt.cons(meta, u8vector
    payload), meta as ``ofdm_qam_rx`` documents; ``symbols``: up to 1024 equalised payload symbols
    per packet. ``emit_failed``: also publish packets whose CRC failed; ``effort``: see
    ``decode_packet``; ``data_delay_samples``: the delay of input 0 against the receiver's input
    (for ``samples_done``).

    Counters: headers_ok, headers_failed, packets_ok, packets_failed; decode_cpu_s (this
    thread's CPU seconds decoding headers and payloads) and decode_cpu_max_s (the costliest
    payload).
    """

    def __init__(self, numerology, samp_rate=20e6, emit_failed=True, effort="full", data_delay_samples=0):
        nm = self.numerology = numerology
        gr.sync_block.__init__(self, name="gensemcom_burst_decoder", in_sig=[np.complex64], out_sig=None)
        self._out_port = pmt.intern("out")
        self.message_port_register_out(self._out_port)
        self._symbols_port = pmt.intern("symbols")
        self.message_port_register_out(self._symbols_port)
        import ldpc  # noqa: F401  (its first import takes ~0.3 s: not inside a running flowgraph)
        keep_freed_memory()
        if not warm_up(nm):       # compiles the kernels now, not at the first packet
            self.logger.warn("a clean test packet did not decode; check the numerology")
        freeze_collected_objects()
        self.samp_rate = float(samp_rate)
        self.emit_failed = bool(emit_failed)
        self.effort = effort
        self.data_delay_samples = int(data_delay_samples)
        self._header_symbols = nm.preamble_repeats + nm.header_symbols
        self._header_samples = self._header_symbols * nm.symbol_len
        self._step_to_spacings = nm.fft_len / (2 * np.pi * nm.symbol_len)
        self._cfo_key = pmt.intern(CFO_TAG)
        self._triggers = deque()     # absolute sample indices not yet searched past
        self._cfo_tags = {}          # absolute index -> detector CFO (rad per OFDM symbol)
        self._search_from = 0        # the next trigger counts from this absolute index on
        self._accepted = []          # [Packet]: header decoded, payload not yet (stream order)
        self._chunks, self._start = [], 0   # samples kept from absolute index _start on
        self._done = 0
        self.headers_ok = self.headers_failed = 0
        self.packets_ok = self.packets_failed = 0
        self.decode_cpu_s = self.decode_cpu_max_s = 0.0

    def samples_done(self):
        """Input samples of the receiver (counted from the flowgraph's start) that this block is
        done with: every burst that ended before has been decoded and its PDU posted, or was not
        detected."""
        return max(self._done - self.data_delay_samples, 0)

    def work(self, input_items, output_items):
        data = input_items[0]
        count = len(data)
        base = self.nitems_read(0)
        for tag in sorted(self.get_tags_in_window(0, 0, count, self._cfo_key), key=lambda tag: tag.offset):
            if not self._triggers or tag.offset > self._triggers[-1]:
                self._triggers.append(tag.offset)
                self._cfo_tags[tag.offset] = pmt.to_double(tag.value)
        keep = self._keep_from(base + count)
        if keep < base + count:
            if not self._chunks:
                self._start = keep
            self._chunks.append(data[keep - base:].copy() if keep > base else data.copy())
        self._process(base + count)
        keep = self._keep_from(base + count)
        self._trim(keep, base + count)
        self._done = keep
        return count

    def _keep_from(self, end):
        """The first absolute index still needed: the first accepted packet's or the next trigger's."""
        if self._accepted:
            return self._accepted[0].start
        while self._triggers and self._triggers[0] < self._search_from:
            self._triggers.popleft()
        return self._triggers[0] if self._triggers else end

    def _trim(self, keep, end):
        if keep >= end:
            self._chunks, self._start = [], end
        elif keep > self._start:
            self._chunks = [self._window(keep, end)]
            self._start = keep
        for offset in [o for o in self._cfo_tags if o < keep]:
            del self._cfo_tags[offset]

    def _window(self, lo, hi):
        """Samples [lo, hi) (absolute indices) from the kept chunks."""
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0][lo - self._start:hi - self._start]

    def _ffts(self, starts, count):
        """FFTs (complex64 (len(starts), count, fft_len)) of ``count`` OFDM symbols from each of
        the absolute indices ``starts``."""
        nm = self.numerology
        windows = np.stack([self._window(start, start + count * nm.symbol_len) for start in starts])
        return scipy.fft.fft(windows.reshape(len(starts), count, nm.symbol_len)[:, :, nm.cp_len:], axis=2)

    def _process(self, end):
        """Decode what the samples up to absolute index ``end`` allow: the headers of every trigger
        whose header has arrived (one vectorised call), then the payloads that have arrived
        (one vectorised first pass per MCS and length), in stream order."""
        nm = self.numerology
        ready = []
        while self._triggers and self._triggers[0] + self._header_samples <= end:
            start = self._triggers.popleft()
            if start >= self._search_from:
                ready.append(start)
        if ready:
            started = time.thread_time()
            try:
                decoded = self._decode_headers(self._ffts(ready, self._header_symbols))
            except Exception as exc:  # a bad burst must not stop the flowgraph
                self.logger.error(f"header decoding failed: {exc!r}")
                decoded = [(None, None)] * len(ready)
            self.decode_cpu_s += time.thread_time() - started
            for start, (header, estimate) in zip(ready, decoded):
                if start < self._search_from:        # inside the packet accepted just before
                    continue
                if header is None:
                    self.headers_failed += 1
                    self._search_from = start + 1
                    continue
                self.headers_ok += 1
                size = frame_size(header.payload_len, header.mcs, nm)
                stop = start + self._header_samples + size.payload_ofdm_symbols * nm.symbol_len
                cfo = (self._cfo_tags.get(start, 0.0) + estimate.phase_step) * self._step_to_spacings
                self._accepted.append(Packet(start, stop, header, estimate, cfo))
                self._search_from = stop - 1
        arrived = [p for p in self._accepted if p.stop <= end]
        if not arrived:
            return
        self._accepted = self._accepted[len(arrived):]
        groups = {}
        for packet in arrived:
            groups.setdefault((packet.header.mcs, packet.header.payload_len), []).append(packet)
        done = []
        for group in groups.values():
            first = self._header_samples
            count = (group[0].stop - group[0].start - first) // nm.symbol_len
            symbols = self._ffts([p.start + first for p in group], count)
            done += zip(group, self._decode_payloads(symbols, group))
        show = bool(pmt.length(self.message_subscribers(self._symbols_port)))     # a constellation plot listens
        for packet, decoded in sorted(done, key=lambda item: item[0].start):
            if decoded is not None:
                self._publish(packet, *decoded, show)

    def _decode_headers(self, vectors):
        return decode_headers(vectors, self.numerology)

    def _decode_payloads(self, symbols, packets):
        """[(z, noise_var, PayloadResult) or None (a filler, or decoding failed)] of packets of one
        MCS and length; accounts decode_cpu_s and decode_cpu_max_s."""
        wanted = [not p.header.flags & FLAG_FILLER for p in packets]
        if not any(wanted):
            return [None] * len(packets)
        keep = np.flatnonzero(wanted)
        spent = []
        started = time.thread_time()
        try:
            results = decode_packets(symbols[keep], [packets[i].estimate for i in keep],
                                     [packets[i].header for i in keep], self.numerology, self.effort, spent)
        except Exception:  # a bad packet must not stop the flowgraph, nor take the others with it
            results = [self._decode_alone(symbols[i], packets[i], spent) for i in keep]
        self.decode_cpu_s += time.thread_time() - started
        self.decode_cpu_max_s = max([self.decode_cpu_max_s] + spent)
        out = [None] * len(packets)
        for i, result in zip(keep, results):
            out[i] = result
        return out

    def _decode_alone(self, symbols, packet, spent):
        try:
            return decode_packets(symbols[None], [packet.estimate], [packet.header], self.numerology, self.effort,
                                  spent)[0]
        except Exception as exc:
            self.logger.error(f"payload decoding failed: {exc!r}")
            return None

    def _publish(self, packet, z, noise_var, result, show):
        """Count a decoded packet and publish its PDU (and with ``show`` its symbols, for a
        constellation plot)."""
        header, nm = packet.header, self.numerology
        mcs = get_mcs(header.mcs)
        if show:
            shown = z[:CONSTELLATION_SYMBOLS].astype(np.complex64)
            self.message_port_pub(self._symbols_port, pmt.cons(
                pmt.to_pmt({"mcs": mcs.name, "seq": header.seq}), c32vector(shown)))
        evm_db = 10 * np.log10(max(error_power(z[:: max(1, z.size // EVM_SYMBOLS)], mcs.modulation), 1e-12))
        if result.crc_ok:
            self.packets_ok += 1
        else:
            self.packets_failed += 1
            if not self.emit_failed:
                return
        meta = {
            "mcs": mcs.name, "seq": header.seq, "flags": header.flags,
            "payload_len": header.payload_len, "crc_ok": bool(result.crc_ok),
            "snr_db": round(packet.estimate.snr_db, 3), "evm_db": round(evm_db, 3),
            "cfo": packet.cfo, "cfo_hz": packet.cfo * self.samp_rate / nm.fft_len,
            "ldpc_failed_codewords": result.failed_codewords,
        }
        self.message_port_pub(self._out_port, pmt.cons(pmt.to_pmt(meta), u8vector(result.payload)))
