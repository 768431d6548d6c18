# SPDX-License-Identifier: GPL-3.0-or-later
"""A closed link loop on the real PHY: packets out, reports back, the sender adapts.

``run_closed_loop`` sends packets through ofdm_qam_tx → shadowing → channel preset → ofdm_qam_rx
in one top block. The receiver's report of each packet (ACK with its SNR estimate when the CRC
passed, NACK otherwise) reaches the sender ``feedback_delay`` packets later, unless the report
is lost (``feedback_loss``). With ``adapt`` the sender chooses each packet's MCS from
``link.adaptation.AdaptiveLink``: the fastest MCS whose planning PER at the reported SNR less
the outer loop's offset is within the target; without it, from the mean SNR it was told (open
loop). Every packet is followed by a 1-byte filler burst so that the receiver delivers it at
once (its samples are counted like all others).

Returns a ``ClosedLoopResult``: packets sent and lost, the measured PER, the outer loop's
final offset, goodput (payload bits per sample of channel time) and the MCS used.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pmt

from ..errors import BadInputError

RX_WAIT_S = 0.5          # how long after its filler a packet may still arrive before it counts as lost


@dataclass
class ClosedLoopResult:
    """One closed-loop (or open-loop) run; ``per`` counts against packets sent."""

    packets: int
    lost: int
    per: float
    target: float
    adapt: bool
    feedback_delay: int
    feedback_loss: float
    offset_db: float
    goodput_bits_per_sample: float
    samples: int
    mcs_used: dict = field(default_factory=dict)
    per_trace: list = field(default_factory=list)       # measured PER of each window of 100 packets

    def to_dict(self):
        from dataclasses import asdict
        return asdict(self)


def run_closed_loop(packets=1000, payload_bytes=200, snr_db=10.0, channel="rayleigh", shadowing_db=6.0,
                    correlation_samples=200_000, target=0.1, adapt=True, feedback_delay=1, feedback_loss=0.0,
                    seed=0, profile="default", timeout_s=1800.0, on_progress=None) -> ClosedLoopResult:
    """Run the loop (see module docstring); ``snr_db`` is the mean SNR (Es/N0 per data carrier)."""
    from gnuradio import blocks, gr

    from ..link.adaptation import AdaptiveLink
    from ..link.per import best_mcs
    from ..link.profile import LinkProfile
    from ..phy.channel import ChannelConfig, make_channel
    from ..phy.framing import FLAG_FILLER
    from ..phy.ofdm_qam_rx import ofdm_qam_rx
    from ..phy.ofdm_qam_tx import ofdm_qam_tx, release
    from ..phy.shadowing import Shadowing, shadowing

    if not 1 <= packets <= 65536 or feedback_delay < 0 or not 0.0 <= feedback_loss < 1.0:
        raise BadInputError("packets 1..65536, feedback_delay >= 0 and feedback_loss in [0, 1)")
    link = LinkProfile.load(profile)
    nm = link.numerology_object()
    rng = np.random.default_rng([int(seed), 0xFEED])
    payloads = [rng.integers(0, 256, payload_bytes, dtype=np.uint8).tobytes() for _ in range(packets)]
    tb = gr.top_block("gensemcom_closed_loop")
    tx = ofdm_qam_tx("qpsk-1/2", nm)
    fade = shadowing(Shadowing(shadowing_db, correlation_samples, seed)) if shadowing_db > 0 else None
    chan = make_channel(ChannelConfig(name=channel, snr_db=float(snr_db), seed=int(seed)), nm)
    rx = ofdm_qam_rx(nm)
    counter = blocks.null_sink(gr.sizeof_gr_complex)
    outcomes, arrived = {}, threading.Condition()

    class collector(gr.basic_block):
        def __init__(self):
            gr.basic_block.__init__(self, name="gensemcom_loop_reports", in_sig=None, out_sig=None)
            self.message_port_register_in(pmt.intern("in"))
            self.set_msg_handler(pmt.intern("in"), self.handle)

        def handle(self, msg):
            meta = pmt.to_python(pmt.car(msg))
            seq = int(meta.get("seq", -1))
            if meta.get("flags", 0) & FLAG_FILLER or not 0 <= seq < packets:
                return
            ok = bool(meta.get("crc_ok")) and bytes(pmt.u8vector_elements(pmt.cdr(msg))) == payloads[seq]
            with arrived:
                outcomes[seq] = (ok, float(meta.get("snr_db", float("nan"))))
                arrived.notify_all()

    reports = collector()
    chain = [tx] + ([fade] if fade is not None else []) + [chan, rx]
    tb.connect(*chain)
    tb.connect(chan, counter)
    tb.msg_connect(rx, "out", reports, "in")

    targets = {0: target}
    loop = AdaptiveLink(float(snr_db), targets)
    sent_mcs, known = [], {}           # known: seq -> outcome the sender has heard of
    deadline = time.monotonic() + timeout_s

    def outcome(seq):
        """The receiver's outcome of packet ``seq`` (waits until it arrived or is overdue)."""
        end = time.monotonic() + RX_WAIT_S
        with arrived:
            while seq not in outcomes and time.monotonic() < end:
                arrived.wait(0.02)
            return outcomes.get(seq, (False, float("nan")))

    tb.start()
    try:
        for seq in range(packets):
            if time.monotonic() > deadline:
                raise TimeoutError(f"closed loop did not finish within {timeout_s:.0f} s")
            heard = seq - 1 - feedback_delay                  # the newest report that has reached the sender
            if adapt and heard >= 0 and heard not in known:
                ok, snr = outcome(heard)
                known[heard] = ok
                if rng.random() >= feedback_loss:            # the report itself may be lost
                    loop.report(snr if ok and np.isfinite(snr) else None, acks=[0] if ok else [],
                                nacks=[] if ok else [0])
            planning = loop.planning_snr_db(0) if adapt else float(snr_db)
            mcs = best_mcs(planning, "awgn" if adapt else channel, target)
            sent_mcs.append(mcs)
            tx.post(payloads[seq], seq=seq, mcs=mcs)
            tx.post(b"\0", mcs="bpsk", flags=FLAG_FILLER)     # pushes the packet through the receiver
            if on_progress and seq % 50 == 0:
                on_progress(seq, packets)
            if not adapt:
                outcome(seq) if seq % 20 == 0 else None      # keep the open loop from running far ahead
        for seq in range(packets):
            outcome(seq)
    finally:
        tx.post_done(filler=True)
        tb.wait()
        release(tx, chan, rx)
    results = [outcomes.get(seq, (False, float("nan")))[0] for seq in range(packets)]
    lost = packets - sum(results)
    bits = sum(8 * payload_bytes for ok in results if ok)
    samples = int(counter.nitems_read(0))
    windows = [1.0 - float(np.mean(results[i:i + 100])) for i in range(0, packets, 100)]
    return ClosedLoopResult(packets=packets, lost=lost, per=lost / packets, target=target, adapt=adapt,
                            feedback_delay=feedback_delay, feedback_loss=feedback_loss,
                            offset_db=round(loop.loops[0].offset_db, 3),
                            goodput_bits_per_sample=bits / max(samples, 1), samples=samples,
                            mcs_used=dict(Counter(sent_mcs)), per_trace=windows)
