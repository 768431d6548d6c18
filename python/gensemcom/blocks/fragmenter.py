# SPDX-License-Identifier: GPL-3.0-or-later
"""Fragmenter (packetizer): container pieces → packets of at most ``mtu_bytes`` with an MCS each."""
import threading
import time

import pmt
from gnuradio import gr

from ..constants import FRAGMENT_HEADER_BYTES
from ..grc_yaml import GrcBlock, message
from ..link.mcsplan import parse_mcs_plan, protection_group, repair_of_group
from ..params import CHANNEL, MTU_BYTES, NUMEROLOGY, Param, Params
from ..phy.framing import FLAG_FILLER
from ..phy.pdus import make_pdu, split_pdu
from ..transport.packets import packetize_pieces, protect_packets
from .worker import message_block

RECENT_IMAGES = 8                 # images whose packets are kept for repeats
REPEAT_PER_TARGET = 0.05          # repeats use the fastest MCS this safe at the reported SNR less a margin
REPEAT_MARGIN_DB = 1.0
SILENT_ROUNDS = 4       # rounds a sender answers silence with before it gives an image up (or its samples run out)


class fragmenter(message_block):
    """Cuts each image's container pieces into fragments, packs them into packets of at most
    ``mtu_bytes`` (small fragments with the same MCS share an aggregate packet, exactly as
    rate control counted them: ``container.packetize``) and gives each packet the MCS of its
    importance class (unequal error protection).

    Input ``in``: section PDUs from ``semantic_encoder`` (meta image_id, section_index, code,
    pieces); an image's packets leave once all its pieces arrived (or at end of stream).
    Output ``out``: packet PDUs; meta image_id, importance (most important fragment's), and
    ``mcs`` when the plan names one (the PHY reads it).
    Protection: when the encoder's pieces carry the plan it costed (meta mtu_bytes, mcs,
    copies, repair: ``semantic_encoder`` with a planner), the fragmenter sends exactly that;
    otherwise its own parameters apply.
    Parameters (``PARAMETERS``): mtu_bytes (more than the fragment header); mcs_plan
    ("0:bpsk-1/2x4,1:qpsk-1/2,2:16qam-1/2" or a dict);
    repeats ({class: copies}, e.g. {0: 2}): packets of that class are sent again after the
    image's other packets, so that each copy meets another fade (time diversity); the
    reassembler drops the duplicates. repair ({class: R/K}): the class's packets are
    erasure-coded across packets (``transport.erasure``: K packets become K + R shares, any K
    rebuild them). Closed loop: a ``feedback`` message (``transport.feedback.Feedback`` from the
    receiver's reassembler) makes it repeat what the image lacks (selective repeat of packets,
    more repair shares for coded blocks: ``transport.arq``) at the MCS the reported SNR allows
    on ``repeat_channel``'s PER curves (where that copy does not fit, the faster one AWGN's allow;
    stats repeat_faster), while the image's channel samples last (meta ``samples_budget`` of the
    pieces: the round's
    own packets, the feedback message on the reverse link and each round's filler are
    charged). flush (default True): after each image a 1-byte filler
    burst (uncoded BPSK, the PHY's filler flag; receivers drop it, meta ``filler`` True) pushes
    the image's last burst through the receiver, which delivers a packet only once a
    preamble's worth of samples followed it: in a simulated or message-driven stream nothing
    else may follow until the next image. linger_s (closed loop): when its input has ended it
    keeps serving feedback until none has come for ``linger_s`` seconds and no image awaits a
    report, then ends (0 = at once). report_timeout_s (closed loop, > 0): silence is a loss. The
    receiver acknowledges a complete image with an empty report; an image that heard nothing
    (neither report nor acknowledgement) for a timeout after a round gets another round within
    its samples: the last report's repeats again, or, when none came, every packet (a receiver
    that lost them all cannot know the image exists), most important first, at most
    ``SILENT_ROUNDS`` times. The timeout is TCP's (RFC 6298) on the measured report latency,
    smoothed latency + 4 x its deviation, and never less than ``report_timeout_s``
    (``report_timeout()``; stats report_latency_s: the last).
    """

    PARAMETERS = Params(
        MTU_BYTES,
        Param("mcs_plan", "str", "", "MCS per Class",
              'MCS of each importance class: "CLASS:MCS,..." or a dict (empty = the PHY\'s default MCS)',
              runtime_setter="set_mcs_plan"),
        Param("repeats", "raw", None, "Copies per Class",
              "copies of each packet of a class, e.g. {0: 2} (None = one copy each)", hide="part"),
        Param("repair", "raw", None, "Erasure Code per Class",
              "repair shares per data packet of a class, e.g. {2: 0.25} (None = no erasure code)", hide="part"),
        Param("flush", "bool", True, "Filler Burst per Image",
              "a 1-byte filler burst after each image pushes its last packet through the receiver", hide="part"),
        NUMEROLOGY.with_(doc="the PHY's numerology (what repeats cost in samples)"),
        Param("linger_s", "float", 0.0, "Linger (s)", "closed loop: after the last image, keep serving feedback "
              "until none has come for this long, then end (0 = end at once)", lo=0, hide="part"),
        Param("report_timeout_s", "float", 0.0, "Report Timeout (s)", "closed loop: an image that heard no report "
              "(nor its acknowledgement) this long after a round is sent again within its samples (0 = never)",
              lo=0, hide="part"),
        CHANNEL.with_(name="repeat_channel", label="Repeat Statistics", cli_flag="--repeat-channel",
                      doc="closed loop: the PER curves repeats are planned with at the reported SNR: awgn when the "
                          "channel holds still for an image (coherence time longer than its air time), else the "
                          "fading channel's", hide="part", runtime_setter="set_repeat_channel"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Fragmenter", category="[GenSemCom]/Semantic", inputs=(message("in"),), outputs=(message("out"),),
        documentation=f"""
Packetizer: cuts each container piece into packets of at most "Packet Size" bytes (a
{FRAGMENT_HEADER_BYTES}-byte fragment header included: image id, section, code, fragment index and count) and
sets each packet's MCS from its importance class - unequal error protection.

Input (message "in"): section PDUs from the Semantic Encoder.
Output (message "out"): packet PDUs for OFDM/QAM TX; meta image_id, section_index,
importance, fragment, mcs.

MCS per Class: "CLASS:MCS,..." e.g. "0:bpsk-1/2x4,1:bpsk-1/2,2:qpsk-1/2". A class without
an entry uses the nearest more important class's MCS; empty = the PHY's default MCS.
It can change while the flowgraph runs (from the next image on).
Classes: 0 header/metadata/prompt, 1 mask/hints, 2 key streams, 3 refinements.
Copies per Class: e.g. {{0: 2}} sends class 0's packets twice (time diversity on fading
channels); the reassembler drops the duplicates.
Repeat Statistics (closed loop): the PER curves a repeat round's MCS is chosen with at the
SNR the receiver reported. AWGN when the channel holds still for an image (its coherence
time, about 0.423/Doppler, longer than the image's air time: the report's fade is the
repeats' fade); the fading channel's curves when it changes within an image (a vehicle).
""")

    def __init__(self, mtu_bytes=DEFAULT.mtu_bytes, mcs_plan=DEFAULT.mcs_plan, repeats=DEFAULT.repeats,
                 repair=DEFAULT.repair, flush=DEFAULT.flush, numerology=DEFAULT.numerology,
                 linger_s=DEFAULT.linger_s, report_timeout_s=DEFAULT.report_timeout_s,
                 repeat_channel=DEFAULT.repeat_channel):
        from ..phy.ofdm_qam_tx import as_numerology
        message_block.__init__(self, "gensemcom_fragmenter")
        self.mtu_bytes = self.PARAMETERS["mtu_bytes"].check("fragmenter", mtu_bytes)
        self.numerology = as_numerology(numerology)
        self.set_mcs_plan(mcs_plan, repeats or {}, repair or {})
        self._sent = {}          # image_id -> {"image": SentImage, "samples_left": float}, the last few
        self.set_repeat_channel(repeat_channel)
        self.flush = bool(flush)
        self.linger_s = self.PARAMETERS["linger_s"].check("fragmenter", linger_s)
        self._quiet_since = time.monotonic()      # last feedback (or the end of the input)
        self._lingering = False                   # the end of the input came; done is deferred
        self.report_timeout_s = self.PARAMETERS["report_timeout_s"].check("fragmenter", report_timeout_s)
        self._watching = threading.Event()
        self._latency_s = None                    # smoothed report latency and its deviation (RFC 6298)
        self._latency_dev_s = 0.0
        self.stats = {"pieces": 0, "packets": 0, "dropped": 0, "feedback": 0, "repeat_rounds": 0,
                      "repeat_packets": 0, "repeat_skipped": 0, "repeat_faster": 0, "acknowledged": 0,
                      "silent_rounds": 0}
        self._pieces = {}       # image_id -> {"expected": n, "pieces": [(index, code, framed)]}
        self.message_port_register_out(pmt.intern("out"))
        self.register_input("in", self.handle)
        self.register_input("feedback", self.handle_feedback)
        self.register_input("silence", self.handle_silence)    # the report timer's own port

    def set_repeat_channel(self, repeat_channel):
        """The PER curves the next repeat rounds are planned with (see ``PARAMETERS``)."""
        self.repeat_channel = self.PARAMETERS["repeat_channel"].check("fragmenter", repeat_channel)

    def start(self):
        if self.report_timeout_s > 0:
            self._watching.set()
            threading.Thread(target=self._watch_reports, name="gensemcom-fragmenter-reports", daemon=True).start()
        return True

    def stop(self):
        self._watching.clear()
        return True

    def set_mcs_plan(self, mcs_plan, repeats=None, repair=None):
        """Change the plan (and, when given, the copies and erasure code per class) for the next image."""
        self.mcs_plan = parse_mcs_plan(mcs_plan)
        if repeats is not None:
            self.repeats = {int(k): int(v) for k, v in dict(repeats).items()}
        if repair is not None:
            self.repair = {int(k): float(v) for k, v in dict(repair).items()}

    def group_of(self, importance):
        """Protection group of an importance class: (its MCS or the class without a plan, its
        copies, its repair ratio); only fragments of one group share a packet
        (``link.mcsplan.protection_group``)."""
        return protection_group(self.mcs_plan, self.repeats, importance, self.repair)

    def handle(self, msg):
        try:
            meta, framed = split_pdu(msg)
            image_id, index, code = int(meta["image_id"]), int(meta["section_index"]), int(meta["code"])
            expected = int(meta.get("pieces", 1))
        except (KeyError, TypeError, ValueError) as exc:
            self.stats["dropped"] += 1
            gr.log.warn(f"fragmenter: dropping a piece: {exc}")
            return
        entry = self._pieces.setdefault(image_id, {"expected": expected, "pieces": [], "plan": {}})
        entry["pieces"].append((index, code, framed.tobytes()))
        if "mtu_bytes" in meta and "mcs" in meta:       # the encoder's costed plan travels with its pieces
            entry["mtu_bytes"] = int(meta["mtu_bytes"])
            entry["samples_budget"] = meta.get("samples_budget")
            entry["plan"][code >> 5] = (str(meta["mcs"]), int(meta.get("copies", 1)), float(meta.get("repair", 0.0)))
        if len(entry["pieces"]) >= entry["expected"]:
            self._send(image_id)

    def _send(self, image_id):
        entry = self._pieces.pop(image_id)
        plan = entry["plan"]
        if plan:
            def group_of(importance):
                return plan[importance]              # every class present brought its protection
            mtu_bytes = entry["mtu_bytes"]
        else:
            group_of, mtu_bytes = self.group_of, self.mtu_bytes
        try:
            data_packets = packetize_pieces(image_id, entry["pieces"], mtu_bytes, group_of)
            packets = protect_packets(image_id, data_packets, repair_of_group)
        except ValueError as exc:
            self.stats["dropped"] += len(entry["pieces"])
            gr.log.warn(f"fragmenter: dropping image {image_id}: {exc}")
            return
        copies = [(imp, group, packet) for imp, group, packet in packets for _ in range(group[1] - 1)]
        for importance, group, packet in packets + copies:
            out = {"image_id": image_id, "importance": importance}
            if isinstance(group[0], str):
                out["mcs"] = group[0]
            self.message_port_pub(pmt.intern("out"), make_pdu(packet, out))
            self.stats["packets"] += 1
        self._filler(image_id)
        if entry.get("samples_budget") is not None:
            from ..transport.arq import SentImage
            used = sum(self._samples(packet, group) * group[1] for _, group, packet in packets)
            self._sent[image_id] = {"image": SentImage(image_id, data_packets, packets, repair_of_group),
                                    "samples_left": float(entry["samples_budget"]) - used,
                                    "awaiting_s": time.monotonic(), "silent_rounds": 0, "last_report": None}
            while len(self._sent) > RECENT_IMAGES:
                self._sent.pop(next(iter(self._sent)))
        self.stats["pieces"] += len(entry["pieces"])      # counted last: all their packets are out

    def _filler(self, image_id):
        if self.flush:
            self.message_port_pub(pmt.intern("out"), make_pdu(b"\0", {
                "image_id": image_id, "mcs": "bpsk", "flags": FLAG_FILLER, "filler": True}))

    def _samples(self, packet, group, mcs=None):
        from ..link.protection import packet_samples
        mcs = mcs or (group[0] if isinstance(group[0], str) else "qpsk-1/2")
        return packet_samples(len(packet), mcs, self.numerology)

    def charge_feedback(self, image_id, report):
        """A feedback message for ``image_id`` was on the reverse link but got lost: charge it."""
        from ..link.protection import packet_samples
        state = self._sent.get(image_id)
        if state is not None:
            cost = packet_samples(len(report.to_bytes()), "bpsk-1/2", self.numerology)
            state["samples_left"] -= cost
            state["reverse_samples"] = state.get("reverse_samples", 0) + cost

    def room_for_a_round(self, image_id, report_bytes) -> bool:
        """Whether ``image_id``'s samples still pay a feedback report of ``report_bytes``, a
        filler burst and at least one small repeat packet (else the loop ends: a sender that
        cannot repeat asks for no more reports)."""
        from ..link.protection import filler_samples, packet_samples
        state = self._sent.get(image_id)
        if state is None:
            return False
        need = (packet_samples(report_bytes, "bpsk-1/2", self.numerology) + filler_samples(self.numerology)
                + packet_samples(FRAGMENT_HEADER_BYTES + 1, "64qam-5/6", self.numerology))
        return state["samples_left"] >= need

    def reverse_samples(self, image_id) -> int:
        """Samples the feedback of ``image_id`` took on the reverse link (charged to the image)."""
        return int(self._sent.get(image_id, {}).get("reverse_samples", 0))

    def handle_feedback(self, msg):
        """Repeat what a ``Feedback`` says the image lacks, within the image's samples (closed loop)."""
        from ..errors import CorruptDataError
        from ..transport.feedback import Feedback
        try:
            _, payload = split_pdu(msg)
            report = Feedback.from_bytes(payload.tobytes())
        except CorruptDataError as exc:
            gr.log.warn(f"fragmenter: dropping a feedback message: {exc}")
            return
        self.stats["feedback"] += 1
        self._quiet_since = time.monotonic()
        state = self._sent.get(report.image_id)
        if state is None:
            return
        if state["awaiting_s"] is not None:
            self._measure_latency(time.monotonic() - state["awaiting_s"])
        state["awaiting_s"] = None
        # the report came over the reverse link, an acknowledgement too
        self.charge_feedback(report.image_id, report)
        if report.complete:
            self.stats["acknowledged"] += 1
            state["complete"] = True
            return
        state["last_report"] = report
        self._answer(report.image_id, state, report)

    def handle_silence(self, msg):
        """The report timer: no report for an image since its last round; answer the silence."""
        from ..transport.feedback import ALL_FRAGMENTS, Feedback
        image_id = pmt.to_long(msg)
        state = self._sent.get(image_id)
        if state is None or state.get("complete") or state["awaiting_s"] is None \
                or state["silent_rounds"] >= SILENT_ROUNDS:
            return
        state["awaiting_s"] = None
        state["silent_rounds"] += 1
        self.stats["silent_rounds"] += 1
        report = state["last_report"]
        if report is None:      # nothing of the image arrived, or nothing the receiver could say
            image = state["image"]
            sections = {section for held in image.contents for section, _ in held}
            sections |= {section for block in image.blocks.values() for section, _ in block["fragments"]}
            report = Feedback(image_id, missing=[(section, ALL_FRAGMENTS) for section in sorted(sections)])
        self._quiet_since = time.monotonic()
        self._answer(image_id, state, report)

    def _answer(self, image_id, state, report):
        """One repeat round for ``report`` within the image's samples (then a filler burst)."""
        from ..link.per import best_mcs
        from ..link.protection import filler_samples
        state["samples_left"] -= filler_samples(self.numerology)
        choices = [None]
        if report.snr_db is not None:
            # the stated statistics' MCS; where it does not fit, the one a still channel would
            # allow at the report (a faster copy may still arrive; none surely does not)
            choices = list(dict.fromkeys(best_mcs(report.snr_db - REPEAT_MARGIN_DB, channel, REPEAT_PER_TARGET)
                                         for channel in (self.repeat_channel, "awgn")))
        sent = 0
        for importance, group, packet in state["image"].repeats(report):
            own = group[0] if isinstance(group[0], str) else None
            costs = [(mcs or own, self._samples(packet, group, mcs or own)) for mcs in choices]
            fitting = [(mcs, cost) for mcs, cost in costs if cost <= state["samples_left"]]
            if not fitting:
                self.stats["repeat_skipped"] += 1
                continue
            chosen, cost = fitting[0]
            self.stats["repeat_faster"] += chosen != costs[0][0]
            state["samples_left"] -= cost
            out = {"image_id": image_id, "importance": importance, "round": report.round}
            if chosen:
                out["mcs"] = chosen
            self.message_port_pub(pmt.intern("out"), make_pdu(packet, out))
            self.stats["packets"] += 1
            self.stats["repeat_packets"] += 1
            sent += 1
        if sent:
            self.stats["repeat_rounds"] += 1
            self._filler(image_id)
            state["awaiting_s"] = time.monotonic()
        else:
            state["samples_left"] += filler_samples(self.numerology)     # no round: no filler

    def _measure_latency(self, latency_s):
        if self._latency_s is None:
            self._latency_s, self._latency_dev_s = latency_s, latency_s / 2
        else:
            self._latency_dev_s = 0.75 * self._latency_dev_s + 0.25 * abs(self._latency_s - latency_s)
            self._latency_s = 0.875 * self._latency_s + 0.125 * latency_s
        self.stats["report_latency_s"] = round(latency_s, 3)

    def report_timeout(self) -> float:
        """Seconds of silence after a round that count as a loss (see the class docstring)."""
        if self._latency_s is None:
            return self.report_timeout_s
        return max(self.report_timeout_s, self._latency_s + 4 * self._latency_dev_s)

    def awaiting_reports(self) -> int:
        """Images whose last round heard nothing yet and that may still get a round for silence."""
        if self.report_timeout_s <= 0:
            return 0
        return sum(1 for state in list(self._sent.values())
                   if state.get("awaiting_s") is not None and state["silent_rounds"] < SILENT_ROUNDS)

    def _watch_reports(self):
        posted = set()
        while self._watching.is_set():
            time.sleep(min(0.1, self.report_timeout_s / 4))
            now = time.monotonic()
            for image_id, state in list(self._sent.items()):
                since = state.get("awaiting_s")
                if since is not None and now - since > self.report_timeout() and (image_id, since) not in posted:
                    posted.add((image_id, since))
                    self.to_basic_block()._post(pmt.intern("silence"), pmt.from_long(image_id))

    def on_upstream_done(self):
        for image_id in list(self._pieces):
            self._send(image_id)

    def finish(self, msg):
        """End at once, or (``linger_s``) once the return link has been quiet that long: a timer
        posts the ``done`` again to this block's own queue, where feedback is handled too."""
        if self.linger_s <= 0 or self._lingering:
            message_block.finish(self, msg)
            return
        self._lingering = True
        self._quiet_since = time.monotonic()

        def wait_quiet():
            while time.monotonic() - self._quiet_since < self.linger_s or self.awaiting_reports():
                time.sleep(min(0.1, self.linger_s))
            self.to_basic_block()._post(pmt.intern("system"), msg)
        threading.Thread(target=wait_quiet, name="gensemcom-fragmenter-linger", daemon=True).start()
