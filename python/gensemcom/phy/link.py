# SPDX-License-Identifier: GPL-3.0-or-later
"""Link-level Monte Carlo: ofdm_qam_tx -> channel_preset -> ofdm_qam_rx in one top block.

``run_link`` sends ``packets`` random payloads (seeded), collects the receiver's PDUs and
returns a ``LinkResult``:

- per = 1 - packets_ok / packets_sent (lost headers count as errors), at the receiver's decoding
  ``effort`` ("full" by default: what the PER curves are; "fast": a radio's bounded decoding);
- ber = bit errors / bits_compared over every payload the receiver delivered, CRC passed or
  not, against what was sent with the same sequence number;
- samples: complex samples through the channel; samples_per_s = samples / wall_s;
- decode_cpu_us_per_sample: CPU time the receiver's header and payload decoders spent (their
  threads' ``time.thread_time``), per channel sample, in microseconds: at R Msample/s the
  decoders need R times that of a core (the GIL allows them one), so 1 / it is the highest
  sample rate in Msample/s at which they keep pace with a radio sending packets back to back;
  decode_cpu_max_ms: the costliest packet's payload decoding.

A feeder thread posts PDUs while the receiver keeps up (at most ``IN_FLIGHT_SAMPLES``
samples ahead), then ends the TX with a filler burst and ``done``; the top block stops by
itself, or after ``timeout_s`` with ``TimeoutError``.
"""
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np
import pmt
from gnuradio import blocks, gr

from ..errors import BadInputError
from .channel import ChannelConfig, make_channel
from .framing import MAX_SEQ
from .mcs import check_payload_bytes, frame_size, get_mcs
from .ofdm_qam_rx import ofdm_qam_rx
from .ofdm_qam_tx import as_numerology, ofdm_qam_tx, release
from .pdus import drain, is_done

IN_FLIGHT_SAMPLES = 2_000_000


@dataclass
class LinkResult:
    """One link measurement (see the module docstring for the definitions)."""

    mcs: str
    snr_db: float
    channel: str
    effort: str
    payload_bytes: int
    seed: int
    packets_sent: int
    packets_received: int
    packets_ok: int
    per: float
    ber: float
    bit_errors: int
    bits_compared: int
    snr_est_db: float
    samples: int
    samples_per_s: float
    wall_s: float
    decode_cpu_us_per_sample: float
    decode_cpu_max_ms: float

    def to_dict(self):
        return asdict(self)


class pdu_collector(gr.basic_block):
    """Message sink comparing received PDUs with the payloads sent (by ``seq``).

    Counts packets received and CRC-passed (``metas``: seq -> PDU meta), bit errors over all
    delivered payloads, and the receiver's SNR estimates. Duplicates of a sequence number
    are counted once.
    """

    def __init__(self, payloads):
        gr.basic_block.__init__(self, name="gensemcom_pdu_collector", in_sig=None, out_sig=None)
        self.payloads = payloads
        self.seen = set()
        self.metas = {}
        self.received = self.ok = self.bit_errors = self.bits_compared = 0
        self.snr_db = []
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self.handle)
        self.set_msg_handler(pmt.intern("system"), self.handle_system)

    def handle_system(self, msg):
        """``done`` (the receiver finished): count the PDUs still queued first (GNU Radio handles
        the system port before other queued messages, and would drop them)."""
        if is_done(msg):
            drain(self, "in", self.handle)
        self.system_handler(msg)

    def handle(self, msg):
        meta = pmt.to_python(pmt.car(msg))
        seq = int(meta["seq"])
        if seq in self.seen or seq >= len(self.payloads):
            return
        self.metas[seq] = meta
        self.seen.add(seq)
        data = np.frombuffer(bytes(pmt.u8vector_elements(pmt.cdr(msg))), np.uint8)
        sent = np.frombuffer(self.payloads[seq], np.uint8)
        common = min(data.size, sent.size)
        errors = int(np.unpackbits(data[:common] ^ sent[:common]).sum())
        self.received += 1
        self.ok += bool(meta["crc_ok"])
        self.bit_errors += errors + 8 * (sent.size - common)
        self.bits_compared += 8 * sent.size
        self.snr_db.append(float(meta["snr_db"]))


def transmit(packets, config, numerology=None, timeout_s=60.0, on_progress=None, effort="full"):
    """Send PDUs through ofdm_qam_tx -> channel_preset -> ofdm_qam_rx in one top block.

    packets: list of (payload bytes, meta dict) with meta ``seq`` = list index (``mcs``
    optional); config: ``ChannelConfig``; effort: the receiver's (``ofdm_qam_rx``). Returns
    (pdu_collector, samples, wall_s, (decode CPU s, costliest payload's decode CPU s)).
    """
    nm = as_numerology(numerology)
    payloads = [payload for payload, _ in packets]
    bursts = np.cumsum([frame_size(len(p), meta.get("mcs", "qpsk-1/2"), nm).samples
                        for p, meta in packets])
    tb = gr.top_block("gensemcom_link")
    tx = ofdm_qam_tx("qpsk-1/2", nm)
    chan = make_channel(config, nm)
    rx = ofdm_qam_rx(nm, effort=effort)
    counter = blocks.null_sink(gr.sizeof_gr_complex)
    collector = pdu_collector(payloads)
    tb.connect(tx, chan, rx)
    tb.connect(chan, counter)
    tb.msg_connect(rx, "out", collector, "in")
    stop = threading.Event()

    def feed():
        for seq, (payload, meta) in enumerate(packets):
            ahead = (bursts[seq - 1] if seq else 0) - counter.nitems_read(0)
            while ahead > IN_FLIGHT_SAMPLES and not stop.is_set():
                time.sleep(0.01)
                ahead = bursts[seq - 1] - counter.nitems_read(0)
            tx.post(payload, **meta)
        tx.post_done()

    start = time.perf_counter()
    tb.start()
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    waiter = threading.Thread(target=tb.wait, daemon=True)
    waiter.start()
    deadline = start + timeout_s
    while waiter.is_alive():
        waiter.join(0.1)
        if on_progress:
            on_progress(collector.received, len(packets))
        if time.perf_counter() > deadline:
            stop.set()
            tb.stop()
            waiter.join(10)
            raise TimeoutError(f"link run did not finish within {timeout_s:.0f} s")
    wall = time.perf_counter() - start
    stop.set()
    feeder.join(1)
    decode_cpu = rx.decode_cpu_s()
    release(tx, chan, rx)
    return collector, int(counter.nitems_read(0)), wall, decode_cpu


def run_link(mcs="qpsk-1/2", snr_db=30.0, channel="awgn", packets=100, payload_bytes=1500,
             seed=0, numerology=None, channel_options=None, timeout_s=None, on_progress=None, effort="full"):
    """Measure PER/BER of ``mcs`` over a channel preset. Returns a ``LinkResult``.

    channel: preset name or ``ChannelConfig``; channel_options: extra ``ChannelConfig``
    fields (cfo, delay_samples, k_factor, ...); on_progress(received, sent): called about
    ten times a second; timeout_s: default scales with the number of samples; effort: the
    receiver's decoding effort ("full" or "fast", ``ofdm_qam_rx``).
    """
    mcs = get_mcs(mcs).name
    check_payload_bytes(payload_bytes)
    if not 1 <= packets <= MAX_SEQ + 1:
        raise BadInputError(f"packets must be 1 to {MAX_SEQ + 1} (16-bit sequence numbers)")
    nm = as_numerology(numerology)
    if isinstance(channel, ChannelConfig):
        config = channel
    else:
        config = ChannelConfig(name=channel, snr_db=float(snr_db), seed=int(seed),
                               **(channel_options or {}))
    rng = np.random.default_rng([int(seed), 0x11C])
    specs = [(rng.integers(0, 256, payload_bytes, dtype=np.uint8).tobytes(),
              {"seq": seq, "mcs": mcs}) for seq in range(packets)]
    if timeout_s is None:
        timeout_s = 60 + packets * frame_size(payload_bytes, mcs, nm).samples / 5e4
    collector, samples, wall, (decode_cpu_s, decode_cpu_max_s) = transmit(specs, config, nm, timeout_s, on_progress,
                                                                          effort)
    return LinkResult(
        mcs=mcs, snr_db=float(config.snr_db), channel=config.name, effort=effort, payload_bytes=int(payload_bytes),
        seed=int(seed), packets_sent=packets, packets_received=collector.received,
        packets_ok=collector.ok, per=1.0 - collector.ok / packets,
        ber=collector.bit_errors / collector.bits_compared if collector.bits_compared else float("nan"),
        bit_errors=collector.bit_errors, bits_compared=collector.bits_compared,
        snr_est_db=float(np.mean(collector.snr_db)) if collector.snr_db else float("nan"),
        samples=samples, samples_per_s=samples / wall, wall_s=wall,
        decode_cpu_us_per_sample=decode_cpu_s / max(samples, 1) * 1e6, decode_cpu_max_ms=decode_cpu_max_s * 1e3)
