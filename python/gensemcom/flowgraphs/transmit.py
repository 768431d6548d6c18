# SPDX-License-Identifier: GPL-3.0-or-later
"""One image through the real flowgraph: semantic_tx → channel preset → semantic_rx.

``run_transmission`` builds a GNU Radio top block, sends one image, ends the stream once
every packet is on its way (the PHY's end-of-stream filler carries the last burst through
the receiver), waits for the receiver's reassembler to flush, and returns what came out with
the link's accounting. It is what ``gensemcom transmit`` and the flowgraph schemes of
``gensemcom bench`` run.

Accounting (all counted at the transmitter, per image):
  samples_budget  the channel samples the image may use: ``cpp``·H·W·3 data-carrier symbols at
                  the PHY's nominal samples per data symbol (``link.protection.samples_budget``)
  samples_used    every complex sample that went through the channel: gaps, preambles,
                  headers, pilots, cyclic prefixes, copies, repair packets and the filler burst
                  that ends the image, and in a closed loop the probe, the repeats and the
                  feedback messages on the reverse link; never more than ``samples_budget``
  symbols_used    data-carrier symbols of every packet's header and payload OFDM symbols (the
                  unit ``cpp`` is written in), copies and repair packets included
  bytes_sent      packet payload bytes (fragment headers included); packets_sent / packets_ok
                  (payload CRC passed at the receiver, counted against packets sent)
Outcome:
  sent        the sender put something on the air (False: nothing fits the budget; ``note``
              says why, the same rule for every scheme)
  delivered   the receiver's decoder produced an image from received data
  complete    every section the sender meant arrived (after copies and erasure decoding)
"""
from __future__ import annotations

import functools
import math
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pmt

from ..constants import BASELINE_SCHEMES
from ..errors import BadInputError, GensemcomError
from ..link.profile import LinkProfile
from ..link.protection import packet_symbols
from ..link.senders import SenderPlanner

STAGE_TIMEOUT_S = 300.0
FEEDBACK_MODES = ("none", "csi", "ack", "full")
DEFAULT_REPEAT_RESERVE = 0.15     # closed loop: share of the samples the first round leaves for repeats
PROBE_PAYLOAD = b"gensemcom probe."
PROBE_FLAG = 0x10                 # PHY header flag of a channel probe (receivers pass it on, blocks ignore it)
FILLER_FLAG = 0x20
PROBE_MARGIN_DB = 1.0             # the sender plans this far below the probe's SNR estimate
GAIN_DRAWS = 2000                 # fading draws behind the spread of a probe's SNR estimate


@dataclass
class TransmissionResult:
    """What one transmission produced (see module docstring for the accounting)."""

    image: np.ndarray                 # receiver output, original size (mid-grey if nothing decoded)
    delivered: bool                   # the receiver's decoder produced an image from received data
    complete: bool                    # every section the sender meant arrived
    sent: bool                        # something was put on the air
    key_mask: np.ndarray              # the sender's key mask (all False for baselines)
    scheme: str
    plan: str                         # the protection sent (``TransmitPlan.describe``)
    mcs_plan: dict
    samples_budget: int
    samples_used: int
    symbols_used: int
    bytes_sent: int
    packets_sent: int
    packets_ok: int
    sections_received: int
    sections_sent: int
    channel_seed: int = 0
    note: str = ""
    encoder_report: dict = field(default_factory=dict)
    decoder_report: dict = field(default_factory=dict)
    rx_snr_db: float = float("nan")
    wall_s: float = 0.0

    @property
    def samples(self) -> int:
        return self.samples_used


class _PacketLog:
    """Collects the PDUs of a message port (runs in the scheduler thread)."""

    def __init__(self):
        self.items = []
        self.lock = threading.Lock()

    def add(self, meta, size):
        with self.lock:
            self.items.append((meta, size))


def _collector(name, log):
    from gnuradio import gr

    from ..phy.pdus import split_pdu

    class collector(gr.basic_block):
        def __init__(self):
            gr.basic_block.__init__(self, name=name, in_sig=None, out_sig=None)
            self.message_port_register_in(pmt.intern("in"))
            self.set_msg_handler(pmt.intern("in"), self.handle)

        def handle(self, msg):
            meta, payload = split_pdu(msg)
            log.add(meta, int(payload.size))
    return collector()


OUTPUT_GRACE_S = 2.0     # after the decoder's reports: time for its images to reach their sink


def _wait(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"transmission stalled: {what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.01)


def run_transmission(image, scheme="semantic", snr_db=10.0, channel="awgn", cpp=1 / 48,
                     profile="default", models=None, quant=None, seed=0, key_fraction=None, fixed_mcs="",
                     plan_channel=None, channel_options=None, timeout_s=STAGE_TIMEOUT_S,
                     on_progress=None, feedback="none", feedback_loss=0.0, max_rounds=3,
                     repeat_reserve=None) -> TransmissionResult:
    """Send ``image`` ((H, W, 3) uint8) through the real flowgraph and return what came out.

    scheme          "semantic" or a whole-image baseline (``constants.BASELINE_SCHEMES``)
    snr_db          channel SNR, Es/N0 per data carrier (dB); also the transmitter's planning SNR
    channel         channel preset: awgn, rayleigh, rician, multipath
    cpp             channel uses per pixel (data-carrier symbols / (H·W·3)): the sample budget
    profile         link profile (name, path or LinkProfile); fixed_mcs: one MCS for all packets
    models, quant   semantic model stack; seed: channel noise and fading seed (schemes compared on
                    one channel use one seed)
    plan_channel    channel statistics the transmitter plans with (default: ``channel``)
    channel_options extra ``ChannelConfig`` fields (cfo, coherence_samples, ...)
    on_progress     called with each stage's name: "planning and encoding", "on the air",
                    "decoding", "done"
    feedback        closed loop (``FEEDBACK_MODES``): "none" (open loop), "csi" (a short robust
                    probe first; the receiver's SNR estimate of it comes back and the sender plans
                    at that SNR), "ack" (after each round the receiver reports what the image lacks
                    and the sender repeats it: selective repeat, more erasure-code shares), "full"
                    (both, repeats at the MCS the reported SNR allows). The probe, the feedback
                    messages (on the reverse link) and every repeat are charged to the image's
                    samples; the first round leaves ``repeat_reserve`` of them for repeats.
    feedback_loss   probability that a feedback message is lost (``blocks.feedback_link``)
    max_rounds      rounds of repeats at most (ack, full)
    The sender plans its protection per image (``link.senders.SenderPlanner``); when nothing
    fits the budget it sends nothing and the result says so (``sent`` False, ``note``).
    """
    from gnuradio import blocks, gr

    from ..blocks.feedback_link import feedback_link
    from ..blocks.pdus import image_to_pdu, pdu_to_image
    from ..blocks.semantic_txrx import semantic_rx, semantic_tx
    from ..phy.channel import ChannelConfig, make_channel
    from ..phy.ofdm_qam_tx import release

    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    link = LinkProfile.load(profile)
    if not cpp or cpp <= 0:
        raise BadInputError("give a channel budget: cpp > 0")
    if feedback not in FEEDBACK_MODES:
        raise BadInputError(f"unknown feedback mode {feedback!r}; choose from {', '.join(FEEDBACK_MODES)}")
    config = ChannelConfig(name=channel, snr_db=float(snr_db), seed=int(seed),
                           **{**link.channel, **dict(channel_options or {})})
    repeats = feedback in ("ack", "full")
    reserve = (DEFAULT_REPEAT_RESERVE if repeats else 0.0) if repeat_reserve is None else float(repeat_reserve)

    tb = gr.top_block("gensemcom_transmit")
    tx = semantic_tx(scheme, link, snr_db, plan_channel or channel, cpp, 0, key_fraction or 0.0,
                     models=models or "offline", quant=quant or "none", fixed_mcs=fixed_mcs,
                     repeat_reserve=reserve)
    planner = tx.planner
    samples_budget = planner.samples_for(width, height) + _filler(link)
    chan = make_channel(config, link.numerology_object())
    rx = semantic_rx(scheme, link, models=models or "offline", quant=quant or "none",
                     default_width=width, default_height=height, timeout_s=timeout_s)
    back = feedback_link(feedback_loss, seed)
    tb.msg_connect(rx, "feedback", back, "in")
    tb.msg_connect(back, "out", tx, "feedback")
    counter = blocks.null_sink(gr.sizeof_gr_complex)
    sent_log, rx_log = _PacketLog(), _PacketLog()
    collectors = {"packets": _collector("tx_packets", sent_log), "rx_packets": _collector("rx_packets", rx_log)}
    tb.connect(tx, chan, rx)
    tb.connect(chan, counter)
    tb.msg_connect(tx, "packets", collectors["packets"], "in")
    tb.msg_connect(rx, "packets", collectors["rx_packets"], "in")
    sinks = {}
    for name, (block, port) in {"out": (rx, "out"), "mask": (tx, "mask"), "report": (rx, "report")}.items():
        sinks[name] = blocks.message_debug()
        tb.msg_connect(block, port, sinks[name], "store")

    progress = on_progress or (lambda stage: None)
    started = time.perf_counter()
    tb.start()
    try:
        statistics = closed_loop_statistics(config, planner, width, height)
        tx.set_repeat_channel(statistics)
        if feedback in ("csi", "full"):
            _probe(tx, rx_log, counter, planner, link, config, statistics, timeout_s)
        progress("planning and encoding")
        tx.encoder.to_basic_block()._post(pmt.intern("in"), image_to_pdu(image, image_id=int(seed) % 65536))
        _wait(lambda: tx.encoder.stats["processed"] + tx.encoder.stats["errors"] >= 1, timeout_s, "encoding")
        if tx.encoder.stats["errors"]:
            if isinstance(tx.encoder.last_exception, GensemcomError):
                raise tx.encoder.last_exception      # the user's problem (e.g. missing weights): exit 2
            raise RuntimeError(f"encoder failed: {tx.encoder.last_error}")
        _wait(lambda: sinks["mask"].num_messages() >= 1, timeout_s, "the encoder's output")
        pieces = tx.encoder.stats["pieces_out"]        # 0 when not even a minimal container fits
        _wait(lambda: tx.fragmenter.stats["pieces"] >= pieces, timeout_s, "fragmentation")
        progress("on the air")
        if repeats and pieces:
            _repeat_rounds(tx, rx, back, counter, int(seed) % 65536, max_rounds, timeout_s)
        tx.phy.post_done(filler=False)     # the fragmenter ended the image with its filler burst
        _wait(rx.reassembler.upstream_done.is_set, timeout_s, "the receiver reaching the end of the stream")
        progress("decoding")
        _wait(lambda: rx.decoder.pending() == 0 and rx.decoder.stats["received"] >= 1
              or rx.reassembler.stats["images"] == 0, timeout_s, "decoding")
        rx.decoder.wait_idle(timeout_s)
        # every bundle the decoder takes yields a report; an image only when something can be
        # shown (a bundle without the container header and no known size yields none)
        _wait(lambda: sinks["report"].num_messages() + rx.decoder.stats["errors"] + rx.decoder.stats["dropped"]
              >= rx.reassembler.stats["images"], timeout_s, "the decoder's report")
        try:
            _wait(lambda: sinks["out"].num_messages() >= rx.reassembler.stats["images"], OUTPUT_GRACE_S, "")
        except TimeoutError:
            pass
    finally:
        tb.stop()
        tb.wait()
        release(tx, chan, rx)
    wall_s = time.perf_counter() - started
    progress("done")

    decoded = [pdu_to_image(sinks["out"].get_message(i)) for i in range(sinks["out"].num_messages())]
    mask_meta, mask_payload = _split(sinks["mask"].get_message(0))
    key_mask = mask_payload.reshape(height, width) > 0
    report_meta = [_split(sinks["report"].get_message(i))[0] for i in range(sinks["report"].num_messages())]
    encoder_report = tx.encoder.last_report or {}
    if decoded:
        meta, rx_image = decoded[-1]
        delivered = bool(meta.get("delivered", True))
        sections_received = int(meta.get("sections_received", 0))
        decoder_report = _json(report_meta[-1].get("report")) if report_meta else {}
    else:   # nothing of the image arrived: the receiver has nothing to show
        from ..classical.baselines import mean_grey
        rx_image, delivered, sections_received, decoder_report = mean_grey(image.shape), False, 0, {}
    numerology = link.numerology_object()
    sent = [(meta, size) for meta, size in sent_log.items if not meta.get("filler")]
    ok = sum(1 for meta, _ in rx_log.items if meta.get("crc_ok") and not meta.get("filler"))
    rx_snr = [float(meta["snr_db"]) for meta, _ in rx_log.items if "snr_db" in meta]
    missing = decoder_report.get("lost", []) if scheme not in BASELINE_SCHEMES else None
    complete = bool(pieces) and (delivered if missing is None else delivered and not missing
                                 and sections_received >= max(int(pieces) - 1, 0))
    return TransmissionResult(
        image=rx_image, delivered=delivered, complete=complete, sent=bool(sent), key_mask=key_mask,
        scheme=scheme, plan=str(encoder_report.get("plan", "")),
        mcs_plan=_mcs_plan(sent), samples_budget=int(samples_budget),
        samples_used=int(counter.nitems_read(0)) + tx.fragmenter.reverse_samples(int(seed) % 65536),
        symbols_used=int(sum(packet_symbols(size, meta.get("mcs", "qpsk-1/2"), numerology) for meta, size in sent)),
        bytes_sent=int(sum(size for _, size in sent)),
        packets_sent=len(sent), packets_ok=min(ok, len(sent)), sections_received=sections_received,
        sections_sent=max(int(pieces) - 1, 0), channel_seed=int(seed),
        note="" if pieces else str(encoder_report.get("error", "nothing was sent")),
        encoder_report=encoder_report, decoder_report=decoder_report,
        rx_snr_db=float(np.mean(rx_snr)) if rx_snr else float("nan"), wall_s=wall_s)


def _settled(counter, quiet_s=0.3, timeout_s=STAGE_TIMEOUT_S):
    """Wait until no new samples reach the receiver for ``quiet_s`` (what was sent has arrived)."""
    deadline = time.monotonic() + timeout_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = counter.nitems_read(0)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return
        time.sleep(0.02)
    raise TimeoutError(f"transmission stalled: the channel did not settle within {timeout_s:.0f} s")


def _repeat_rounds(tx, rx, back, counter, image_id, max_rounds, timeout_s):
    """Closed loop after the first round: poll the receiver's report; the sender repeats what is
    missing while its samples last; stop when nothing is missing or nothing more is sent. A
    receiver that got nothing of the image cannot report it: the sender's report timer takes
    the silence for a loss (``fragmenter.handle_silence``: every packet again, within the samples)."""
    from ..phy.pdus import make_pdu
    frag = tx.fragmenter
    for round_ in range(1, max_rounds + 1):
        _settled(counter, timeout_s=timeout_s)
        report = rx.reassembler.feedback(image_id, round_)
        if report is None and not rx.reassembler.knows(image_id):
            sent = frag.stats["repeat_rounds"]
            frag.handle_silence(pmt.from_long(image_id))
            if frag.stats["repeat_rounds"] == sent:
                return
            continue
        if report is None or report.complete or not frag.room_for_a_round(image_id, len(report.to_bytes())):
            return
        heard, lost, sent = frag.stats["feedback"], back.stats["lost"], frag.stats["repeat_rounds"]
        back.to_basic_block()._post(pmt.intern("in"), make_pdu(report.to_bytes(), {"image_id": image_id}))
        _wait(lambda: frag.stats["feedback"] > heard or back.stats["lost"] > lost, timeout_s, "the feedback")
        if back.stats["lost"] > lost:
            frag.charge_feedback(image_id, report)      # it was on the air all the same
            continue
        time.sleep(0.05)
        if frag.stats["repeat_rounds"] == sent:
            return                                      # nothing more to send (or no samples left)


def closed_loop_statistics(config, planner, width, height):
    """The channel statistics a closed loop plans with at a reported SNR: "awgn" when the channel
    holds still for the image (its coherence time at least the image's samples: the report's
    fade is the image's), else the planner's own (fading) statistics."""
    from ..constants import FADING_CHANNELS
    samples = planner.samples_for(width, height) or math.inf
    if planner.channel not in FADING_CHANNELS or config.coherence_time_samples >= samples:
        return "awgn"
    return planner.channel


def _probe(tx, rx_log, counter, planner, link, config, statistics, timeout_s):
    """Channel state before the image: a short robust probe; the receiver's SNR estimate of it
    comes back and the sender plans at that SNR. On a channel that holds still for the image
    (``statistics`` "awgn") the probe's fade is the image's: the sender plans with AWGN
    statistics at it. On one that changes within the image only the slow part carries over:
    the sender plans with the fading statistics at the local mean the probe suggests
    (``link.adaptation.snr_from_probe``, from the mean SNR it knew, the shadowing and the
    fading's spread). The probe and the report are charged to the image."""
    from ..link.adaptation import snr_from_probe
    from ..link.protection import packet_samples
    from ..link.senders import SenderPlanner
    from ..phy.mcs import ROBUST_MCS
    numerology = link.numerology_object()
    before = len(rx_log.items)
    tx.phy.post(PROBE_PAYLOAD, mcs=ROBUST_MCS, flags=PROBE_FLAG)
    tx.phy.post(b"\0", mcs="bpsk", flags=FILLER_FLAG)
    _settled(counter, timeout_s=timeout_s)
    heard = [m for m, _ in rx_log.items[before:] if m.get("flags", 0) & PROBE_FLAG and m.get("crc_ok")]
    cost = (2 * packet_samples(len(PROBE_PAYLOAD), ROBUST_MCS, numerology)
            + packet_samples(1, "bpsk", numerology))
    if heard:
        probe_db = float(heard[-1]["snr_db"])
        if statistics != "awgn":
            probe_db, _ = snr_from_probe(planner.snr_db, probe_db, config.shadowing_db,
                                         _fading_gains_db(replace(config, seed=0, snr_db=0.0), numerology))
        planner = SenderPlanner(planner.profile, planner.scheme, probe_db - PROBE_MARGIN_DB, statistics, planner.cpp,
                                planner.budget_bytes, planner.fixed_mcs, planner.repeat_reserve)
    planner.overhead_samples = cost
    tx.planner = tx.encoder.planner = planner


@functools.lru_cache(maxsize=8)
def _fading_gains_db(fading, numerology):
    """``phy.channel.wideband_gain_db`` once per fading model (``fading``: a ChannelConfig with
    seed and SNR zeroed, which the draws do not depend on), not once per image."""
    from ..phy.channel import wideband_gain_db
    return tuple(wideband_gain_db(fading, numerology, draws=GAIN_DRAWS))


def _filler(link):
    from ..link.protection import filler_samples
    return filler_samples(link.numerology_object())


def _mcs_plan(sent) -> dict:
    """{importance class: MCS} of the packets sent (the plan as it went on the air)."""
    plan = {}
    for meta, _ in sent:
        if "mcs" in meta:
            plan.setdefault(int(meta.get("importance", 2)), meta["mcs"])
    return dict(sorted(plan.items()))


def _split(msg):
    from ..phy.pdus import split_pdu
    return split_pdu(msg)


def _json(text):
    import json
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def semantic_sender_mask(image, snr_db, channel="awgn", cpp=1 / 48, profile="default"):
    """The key mask the semantic sender would choose for ``image`` under this link and budget.

    Runs the semantic encoder's rate control (no PHY) with the same planner and sample budget
    as ``run_transmission``: the mask every scheme's key-region metrics are measured on, and
    the one ``roi-av1`` codes finer.
    """
    from ..blocks.semantic_encoder import semantic_key_mask
    planner = SenderPlanner(profile, "semantic", snr_db, channel, cpp)
    return semantic_key_mask(planner, np.ascontiguousarray(image, np.uint8))
