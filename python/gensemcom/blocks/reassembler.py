# SPDX-License-Identifier: GPL-3.0-or-later
"""Reassembler: received packets → one bundle per image, whatever arrived."""
import collections
import struct
import threading
import time

import pmt

from ..errors import CorruptDataError
from ..grc_yaml import GrcBlock, message
from ..params import Param, Params
from ..phy.pdus import make_pdu, split_pdu
from ..transport.erasure import ERASURE_MAGIC, ErasureStore
from ..transport.fragments import parse_fragment
from ..transport.packets import split_packet
from ..transport.reassembly import Reassembler as FragmentStore
from .worker import message_block

MAX_BUNDLE_FRAGMENTS = 1 << 16
RECENT_IMAGES = 16      # ids of images already emitted: their late packets (repeated copies) are dropped


def pack_bundle(packets) -> bytes:
    """Fragments → one payload: for each, u16 length then the bytes."""
    return b"".join(struct.pack(">H", len(p)) + bytes(p) for p in packets)


def unpack_bundle(data) -> list:
    """Inverse of ``pack_bundle``; validates every length (untrusted)."""
    data, packets, pos = bytes(data), [], 0
    while pos < len(data):
        if pos + 2 > len(data) or len(packets) >= MAX_BUNDLE_FRAGMENTS:
            raise CorruptDataError("bundle truncated or too many fragments")
        (length,) = struct.unpack_from(">H", data, pos)
        if pos + 2 + length > len(data):
            raise CorruptDataError("bundle fragment length runs past the end")
        packets.append(data[pos + 2:pos + 2 + length])
        pos += 2 + length
    return packets


class _Pending:
    def __init__(self, image_id):
        self.store = FragmentStore(image_id)
        self.packets = []
        self.last_s = time.monotonic()
        self.snr_db = []          # the receiver's SNR estimate of each packet of the image
        self.received = 0         # packets (or shares) of the image that passed their CRC


class reassembler(message_block):
    """Collects the packets of each image and emits them as one bundle PDU.

    Input ``in``: packet PDUs from the PHY receiver. Packets whose meta says ``crc_ok`` False
    and packets that are not fragments are dropped (counted).
    Output ``out``: bundle PDU (u16-length-prefixed fragments, see ``pack_bundle``); meta
    image_id, fragments (distinct received), complete (bool), reason ("complete", "newer
    image", "timeout", "flush").
    An image is emitted when every piece announced by its header has all its fragments, when
    more than ``max_pending`` newer images have started, when no packet of it arrived for
    ``timeout_s`` seconds, or on ``flush()`` — which also happens when the upstream PHY
    ends (a finite flowgraph's last packet was handled). Packets of one of the last 16
    images already emitted (late repeated copies) are dropped and counted as ``late``.
    Feedback (closed loop): a message on ``poll`` (meta image_id, round) publishes on
    ``feedback`` what the image still lacks (``transport.feedback.Feedback``: missing
    fragments, erasure blocks short of shares, the mean SNR estimate of its packets); so does
    a pending image ``feedback_after_s`` seconds after its last packet (0 = only when polled).
    With ``feedback_after_s`` > 0 a complete image is acknowledged at once (an empty report), and
    again when late copies of it still come (its acknowledgement was lost; at most once per
    ``feedback_after_s``): a sender that hears nothing can then take silence for a loss.
    The sender (``fragmenter``'s ``feedback`` port) repeats what is missing.
    """

    PARAMETERS = Params(
        Param("timeout_s", "float", 2.0, "Timeout", "an image is emitted this long after its last packet",
              unit="s", lo=0),
        Param("max_pending", "int", 1, "Images Pending", "images collected at once; a newer one emits the oldest",
              lo=1, hide="part"),
        Param("feedback_after_s", "float", 0.0, "Feedback After", "report a pending image's losses this long after "
              "its last packet (0 = only when polled)", unit="s", lo=0, hide="part"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Reassembler", category="[GenSemCom]/Semantic", inputs=(message("in"),), outputs=(message("out"),),
        documentation="""
Collects the received packets of each image, in any order, ignoring duplicates, packets
whose CRC failed (meta crc_ok false) and packets that are not fragments.

Input (message "in"): packet PDUs from OFDM/QAM RX.
Output (message "out"): one bundle PDU per image (the fragments that arrived), meta
image_id, fragments, complete, reason.

An image is emitted when all its pieces arrived, when a newer image starts (more than
"Images Pending"), "Timeout" seconds after its last packet, or when the receiver's
stream ends.
""")

    def __init__(self, timeout_s=DEFAULT.timeout_s, max_pending=DEFAULT.max_pending,
                 feedback_after_s=DEFAULT.feedback_after_s):
        message_block.__init__(self, "gensemcom_reassembler")
        checked = self.PARAMETERS.check("reassembler", timeout_s=timeout_s, max_pending=max_pending,
                                        feedback_after_s=feedback_after_s)
        self.timeout_s, self.max_pending = checked.timeout_s, checked.max_pending
        self.feedback_after_s = checked.feedback_after_s
        self._rounds = {}           # image_id -> feedback rounds sent
        self._pending = {}          # image_id -> _Pending, insertion order = arrival order
        self._emitted = collections.deque(maxlen=RECENT_IMAGES)
        self._acknowledged = {}     # image_id -> (Feedback, monotonic time) of the recent complete images
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer = None
        self.stats = {"packets": 0, "crc_failed": 0, "not_fragments": 0, "duplicates": 0, "late": 0, "images": 0,
                      "shares": 0, "recovered": 0}
        self._erasure = ErasureStore()
        self.message_port_register_out(pmt.intern("out"))
        self.message_port_register_out(pmt.intern("feedback"))
        self.register_input("in", self.handle)
        self.register_input("poll", self.handle_poll)

    def start(self):
        self._stop.clear()
        if self.timeout_s > 0 or self.feedback_after_s > 0:
            self._timer = threading.Thread(target=self._watch, name="gensemcom-reassembler", daemon=True)
            self._timer.start()
        return True

    def stop(self):
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        return True

    def handle(self, msg):
        try:
            meta, payload = split_pdu(msg)
        except CorruptDataError:
            self.stats["not_fragments"] += 1
            return
        if meta.get("crc_ok") is False:
            self.stats["crc_failed"] += 1
            return
        data = payload.tobytes()
        snr = meta.get("snr_db")
        inner = [data]
        if data[:1] == bytes([ERASURE_MAGIC]):           # an erasure-code share: what it carries or rebuilds
            try:
                with self._lock:
                    before = self._erasure.recovered
                    inner = self._erasure.add(data)
                    self.stats["recovered"] += self._erasure.recovered - before
            except CorruptDataError:
                self.stats["not_fragments"] += 1
                return
            self.stats["shares"] += 1
        self.stats["packets"] += 1
        for packet in inner:
            try:
                fragments = split_packet(packet)
            except CorruptDataError:
                self.stats["not_fragments"] += 1
                continue
            for fragment in fragments:
                self._add(fragment, snr)

    def _add(self, packet, snr_db=None):
        try:
            info = parse_fragment(packet)
        except CorruptDataError:
            self.stats["not_fragments"] += 1
            return
        with self._lock:
            pending = self._pending.get(info.image_id)
            if pending is None and info.image_id in self._emitted:
                self.stats["late"] += 1
                self._acknowledge_locked(info.image_id)
                return
            if pending is None:
                pending = self._pending[info.image_id] = _Pending(info.image_id)
                while len(self._pending) > self.max_pending:
                    oldest = next(iter(self._pending))
                    self._emit_locked(oldest, "newer image")
            before = pending.store.fragments
            if snr_db is not None:
                pending.snr_db.append(float(snr_db))
            pending.received += 1
            if not pending.store.add(packet):
                return
            if pending.store.fragments == before:
                self.stats["duplicates"] += 1
                return
            pending.packets.append(packet)
            pending.last_s = time.monotonic()
            if pending.store.complete():
                self._emit_locked(info.image_id, "complete")

    def _emit_locked(self, image_id, reason):
        pending = self._pending.pop(image_id, None)
        if pending is None:
            return
        self._emitted.append(image_id)
        self.stats["images"] += 1
        if reason == "complete" and self.feedback_after_s > 0:
            from ..transport.feedback import Feedback
            snr = sum(pending.snr_db) / len(pending.snr_db) if pending.snr_db else None
            self._acknowledged[image_id] = (Feedback(image_id, self._rounds.get(image_id, 0), snr, pending.received),
                                            float("-inf"))
            while len(self._acknowledged) > RECENT_IMAGES:
                self._acknowledged.pop(next(iter(self._acknowledged)))
            self._acknowledge_locked(image_id)
        meta = {"image_id": image_id, "fragments": len(pending.packets),
                "complete": reason == "complete", "reason": reason}
        self.message_port_pub(pmt.intern("out"), make_pdu(pack_bundle(pending.packets), meta))

    def _acknowledge_locked(self, image_id):
        """Publish a complete image's acknowledgement (not twice within ``feedback_after_s``)."""
        report, last_s = self._acknowledged.get(image_id, (None, 0.0))
        now = time.monotonic()
        if report is None or now - last_s < self.feedback_after_s:
            return
        self._acknowledged[image_id] = (report, now)
        self.stats["acknowledgements"] = self.stats.get("acknowledgements", 0) + 1
        self.message_port_pub(pmt.intern("feedback"), make_pdu(report.to_bytes(), {
            "image_id": image_id, "round": report.round, "missing": 0, "blocks": 0}))

    def handle_poll(self, msg):
        try:
            meta, _ = split_pdu(msg)
            image_id = int(meta["image_id"]) % 65536
        except (CorruptDataError, KeyError, TypeError, ValueError):
            return
        self.publish_feedback(image_id, meta.get("round"))

    def feedback(self, image_id, round_=None):
        """The ``Feedback`` of a pending image (None when it is not pending: complete or unknown)."""
        from ..transport.feedback import feedback_from
        with self._lock:
            pending = self._pending.get(image_id)
            if pending is None:
                return None
            round_ = self._rounds.get(image_id, 0) + 1 if round_ is None else int(round_)
            self._rounds[image_id] = round_
            snr = sum(pending.snr_db) / len(pending.snr_db) if pending.snr_db else None
            return feedback_from(pending.store, self._erasure, round_, snr, pending.received)

    def publish_feedback(self, image_id, round_=None):
        """Publish the ``feedback`` of a pending image (nothing when it is not pending)."""
        report = self.feedback(image_id, round_)
        if report is not None:
            self.stats["feedback"] = self.stats.get("feedback", 0) + 1
            self.message_port_pub(pmt.intern("feedback"), make_pdu(report.to_bytes(), {
                "image_id": image_id, "round": report.round, "missing": len(report.missing),
                "blocks": len(report.blocks)}))

    def flush(self):
        """Emit every pending image now (end of a run)."""
        with self._lock:
            for image_id in list(self._pending):
                self._emit_locked(image_id, "flush")

    def on_upstream_done(self):
        self.flush()

    def knows(self, image_id) -> bool:
        """Whether any packet of ``image_id`` arrived (it is pending or was emitted lately)."""
        with self._lock:
            return image_id in self._pending or image_id in self._emitted

    def pending_images(self):
        with self._lock:
            return len(self._pending)

    def _watch(self):
        quiet = set()
        while not self._stop.wait(0.05):
            now = time.monotonic()
            with self._lock:
                for image_id, pending in list(self._pending.items()):
                    if now - pending.last_s > self.timeout_s:
                        self._emit_locked(image_id, "timeout")
                due = [i for i, p in self._pending.items() if self.feedback_after_s > 0
                       and now - p.last_s > self.feedback_after_s and (i, p.last_s) not in quiet]
                quiet.update((i, self._pending[i].last_s) for i in due)
            for image_id in due:
                self.publish_feedback(image_id)
