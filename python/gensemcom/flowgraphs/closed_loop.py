# SPDX-License-Identifier: GPL-3.0-or-later
"""A closed link loop on the real PHY: packets out, reports back, the sender adapts.

``run_closed_loop`` sends packets through ofdm_qam_tx → shadowing → channel preset → ofdm_qam_rx
in one top block. Each transmission is a burst followed by a 1-byte filler burst that carries
it through the receiver at once (its samples count like all others). The receiver's report of
each transmission (for a data packet ACK with its SNR estimate when the CRC passed, NACK
otherwise) reaches the sender ``feedback_delay`` transmissions later, unless the report is lost
(``feedback_loss``). With ``adapt`` the sender chooses each packet's MCS from
``link.adaptation.AdaptiveLink``: the fastest MCS whose planning PER at the reported SNR less
the outer loop's offset is within the target; without it, from the mean SNR it was told (open
loop).

With ``defer`` (closed loop only) the sender sends no data while even the most robust MCS
misses the target at its planning SNR: it waits about ``probe_samples`` samples (as a filler
burst, which the receiver drops undecoded, so that the channel's clock runs on), then sends a
probe, a 1-byte packet of seq >= ``PROBE_SEQ_BASE`` that the receiver reports with its SNR (a
sounding burst), and decides again when that report is due. Waiting is paid in channel time: the probes'
samples are charged to the goodput like every other sample.

``warm_start`` starts the outer loop's offset at the planning model's fading margin (the SNR the
robust mode needs for the target on ``channel`` less what it needs on AWGN) instead of 0 dB, so
that the first hundred packets do not pay for the offset's climb.

Returns a ``ClosedLoopResult``: packets sent and lost, the measured PER, the outer loop's
final offset, goodput (payload bits per sample of channel time), the MCS used and the probes.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pmt

from ..errors import BadInputError

RX_WAIT_S = 2.0          # the longest a sender waits for a report (normally it knows sooner, see SETTLE_S)
SETTLE_S = 0.05          # once the receiver is done with a burst's samples, the time its PDU may take to arrive
DEFER_LIMITS_DB = (-10.0, 30.0)  # outer-loop offset range of a waiting sender: it may wait for 30 dB better
PROBE_SEQ_BASE = 0x8000  # probes carry seq PROBE_SEQ_BASE + transmission number mod 2**15; data seq < 2**15


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
    defer: bool = False
    probes: int = 0                                      # probe bursts sent while waiting (``defer``)
    probe_samples: int = 0                               # channel samples of one probe: its wait, itself, its filler
    probe_share: float = 0.0                             # share of the channel samples the probes took
    report_timeouts: int = 0                             # reports given up on after RX_WAIT_S (should be 0)

    def to_dict(self):
        from dataclasses import asdict
        return asdict(self)


def run_closed_loop(packets=1000, payload_bytes=200, snr_db=10.0, channel="rayleigh", shadowing_db=6.0,
                    correlation_samples=200_000, target=0.1, adapt=True, feedback_delay=1, feedback_loss=0.0,
                    seed=0, profile="default", defer=False, probe_samples=8192, warm_start=False,
                    timeout_s=1800.0, on_progress=None, channel_options=None) -> ClosedLoopResult:
    """Run the loop (see module docstring); ``snr_db`` is the mean SNR (Es/N0 per data carrier);
    ``channel_options``: more ``ChannelConfig`` fields (an impairment preset's, e.g. Doppler)."""
    from gnuradio import blocks, gr

    from ..link.adaptation import OFFSET_LIMITS_DB, AdaptiveLink
    from ..link.per import best_mcs, fading_margin_db
    from ..link.profile import LinkProfile
    from ..phy.channel import ChannelConfig, make_channel
    from ..phy.framing import FLAG_FILLER
    from ..phy.mcs import ROBUST_MCS, frame_size, max_payload_bytes
    from ..phy.ofdm_qam_rx import ofdm_qam_rx
    from ..phy.ofdm_qam_tx import ofdm_qam_tx, release
    from ..phy.shadowing import Shadowing, shadowing

    if not 1 <= packets < PROBE_SEQ_BASE or feedback_delay < 0 or not 0.0 <= feedback_loss < 1.0:
        raise BadInputError(f"packets 1..{PROBE_SEQ_BASE - 1}, feedback_delay >= 0 and feedback_loss in [0, 1)")
    if defer and not adapt:
        raise BadInputError("defer needs adapt: an open-loop sender hears no reports to wait for")
    link = LinkProfile.load(profile)
    nm = link.numerology_object()
    rng = np.random.default_rng([int(seed), 0xFEED])
    payloads = [rng.integers(0, 256, payload_bytes, dtype=np.uint8).tobytes() for _ in range(packets)]
    flush = frame_size(1, "bpsk", nm).samples                      # a 1-byte burst: a filler, or a probe
    wait_ofdm = max(1, (int(probe_samples) - 3 * flush) // nm.symbol_len + 1)
    wait_bytes = max(1, max_payload_bytes("bpsk", wait_ofdm * nm.n_data_carriers, nm))
    wait_each = frame_size(wait_bytes, "bpsk", nm).samples
    probe_each = wait_each + 2 * flush                             # a probe's samples: wait, probe, filler
    tb = gr.top_block("gensemcom_closed_loop")
    tx = ofdm_qam_tx("qpsk-1/2", nm)
    fade = shadowing(Shadowing(shadowing_db, correlation_samples, seed)) if shadowing_db > 0 else None
    config = ChannelConfig(name=channel, snr_db=float(snr_db), seed=int(seed), **dict(channel_options or {}))
    chan = make_channel(config, nm)
    rx = ofdm_qam_rx(nm)
    counter = blocks.null_sink(gr.sizeof_gr_complex)
    # transmission t: kinds[t] ("data" or "probe"), ends[t] (its burst's last sample + 1, before
    # its filler), outcomes[t] = (ok, snr_db) once the receiver has reported it; given_up: those
    # the receiver passed without a report (lost)
    kinds, ends, outcomes, data_tx, probe_tx, given_up = [], [], {}, {}, {}, set()
    arrived = threading.Condition()

    class collector(gr.basic_block):
        def __init__(self):
            gr.basic_block.__init__(self, name="gensemcom_loop_reports", in_sig=None, out_sig=None)
            self.message_port_register_in(pmt.intern("in"))
            self.set_msg_handler(pmt.intern("in"), self.handle)

        def handle(self, msg):
            meta = pmt.to_python(pmt.car(msg))
            seq, snr = int(meta.get("seq", -1)), float(meta.get("snr_db", float("nan")))
            with arrived:
                if seq in probe_tx:                             # a probe: heard, with its SNR
                    outcomes[probe_tx[seq]] = (True, snr)
                elif seq in data_tx:
                    ok = bool(meta.get("crc_ok")) and bytes(pmt.u8vector_elements(pmt.cdr(msg))) == payloads[seq]
                    outcomes[data_tx[seq]] = (ok, snr)
                arrived.notify_all()

    reports = collector()
    chain = [tx] + ([fade] if fade is not None else []) + [chan, rx]
    tb.connect(*chain)
    tb.connect(chan, counter)
    tb.msg_connect(rx, "out", reports, "in")

    loop = AdaptiveLink(float(snr_db), {0: target}, limits_db=DEFER_LIMITS_DB if defer else OFFSET_LIMITS_DB)
    if warm_start:
        loop.loops[0].offset_db = min(fading_margin_db(ROBUST_MCS, channel, target), loop.limits_db[1])
    sent_mcs, timeouts = [], []
    deadline = time.monotonic() + timeout_s

    def outcome(t):
        """The receiver's outcome of transmission ``t``: waits until it arrived, or until the
        receiver is done with its samples and the message had time to come."""
        limit, settled = time.monotonic() + RX_WAIT_S, None
        with arrived:
            while t not in outcomes and t not in given_up:
                now = time.monotonic()
                if settled is None and rx.samples_done() >= ends[t]:
                    settled = now + SETTLE_S
                if now > min(limit, settled or limit):
                    timeouts.extend([t] if settled is None else [])
                    given_up.add(t)
                    break
                arrived.wait(0.005)
            return outcomes.get(t, (False, float("nan")))

    def send(payload, mcs, seq=None):
        """Post data packet ``seq``, or with seq None a wait filler and a probe, then a filler;
        returns the transmission number."""
        probe = seq is None
        with arrived:
            t = len(kinds)
            kinds.append("probe" if probe else "data")
            if probe:
                seq = PROBE_SEQ_BASE + t % PROBE_SEQ_BASE
                probe_tx[seq] = t
            else:
                data_tx[seq] = t
            lead = wait_each if probe else 0
            ends.append((ends[-1] + flush if ends else 0) + lead + frame_size(len(payload), mcs, nm).samples)
        if probe:
            tx.post(bytes(wait_bytes), mcs="bpsk", flags=FLAG_FILLER)
        tx.post(payload, seq=seq, mcs=mcs)
        tx.post(b"\0", mcs="bpsk", flags=FLAG_FILLER)            # pushes the burst through the receiver
        return t

    tb.start()
    try:
        heard, data = -1, 0
        while data < packets:
            if time.monotonic() > deadline:
                raise TimeoutError(f"closed loop did not finish within {timeout_s:.0f} s")
            while adapt and heard < len(kinds) - 1 - feedback_delay:     # reports that reached the sender
                heard += 1
                ok, snr = outcome(heard)
                if rng.random() < feedback_loss:                        # the report itself is lost
                    continue
                snr = snr if ok and np.isfinite(snr) else None
                if kinds[heard] == "data":
                    loop.report(snr, acks=[0] if ok else [], nacks=[] if ok else [0])
                elif snr is not None:
                    loop.report(snr)
            planning = loop.planning_snr_db(0) if adapt else float(snr_db)
            mcs = best_mcs(planning, "awgn" if adapt else channel, target, fallback=None if defer else "robust")
            if mcs is None:
                send(b"\0", "bpsk")
                continue
            sent_mcs.append(mcs)
            t = send(payloads[data], mcs, seq=data)
            if on_progress and data % 50 == 0:
                on_progress(data, packets)
            data += 1
            if not adapt and data % 20 == 0:
                outcome(t)                                              # keep the open loop from running far ahead
        for t in range(len(kinds)):
            outcome(t)
    finally:
        tx.post_done(filler=True)
        tb.wait()
        release(tx, chan, rx)
    results = [outcomes.get(data_tx[seq], (False, 0.0))[0] for seq in range(packets)]
    lost = packets - sum(results)
    bits = sum(8 * payload_bytes for ok in results if ok)
    samples = int(counter.nitems_read(0))
    probes = kinds.count("probe")
    windows = [1.0 - float(np.mean(results[i:i + 100])) for i in range(0, packets, 100)]
    return ClosedLoopResult(packets=packets, lost=lost, per=lost / packets, target=target, adapt=adapt,
                            feedback_delay=feedback_delay, feedback_loss=feedback_loss,
                            offset_db=round(loop.loops[0].offset_db, 3),
                            goodput_bits_per_sample=bits / max(samples, 1), samples=samples,
                            mcs_used=dict(Counter(sent_mcs)), per_trace=windows, defer=bool(defer), probes=probes,
                            probe_samples=probe_each, probe_share=probes * probe_each / max(samples, 1),
                            report_timeouts=len(timeouts))
