# SPDX-License-Identifier: GPL-3.0-or-later
"""Layer-3 message blocks: PDU conventions, worker queues, fragmenter/reassembler, sinks."""
import json
import os
import threading
import time

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr

from gnuradio.gensemcom.blocks import pdus
from gnuradio.gensemcom.blocks.fragmenter import fragmenter
from gnuradio.gensemcom.blocks.image_sink import image_sink
from gnuradio.gensemcom.blocks.image_source import expand_images, image_source
from gnuradio.gensemcom.blocks.reassembler import pack_bundle, reassembler, unpack_bundle
from gnuradio.gensemcom.blocks.semantic_decoder import semantic_decoder
from gnuradio.gensemcom.blocks.semantic_encoder import semantic_encoder
from gnuradio.gensemcom.blocks.worker import CHILD_NICE, worker_block
from gnuradio.gensemcom.errors import BadInputError, CorruptDataError
from gnuradio.gensemcom.link.mcsplan import mcs_for_class, parse_mcs_plan
from gnuradio.gensemcom.phy.pdus import make_pdu, split_pdu

pytestmark = pytest.mark.timeout(180)


def post(block, port, msg):
    block.to_basic_block()._post(pmt.intern(port), msg)


def wait_until(predicate, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_image_pdu_round_trip_and_validation(astronaut):
    meta, image = pdus.pdu_to_image(pdus.image_to_pdu(astronaut, image_id=7, name="a.png"))
    assert meta["image_id"] == 7 and meta["name"] == "a.png"
    assert np.array_equal(image, astronaut)
    bad = pdus.make_pdu(b"\0" * 10, {"width": 4, "height": 4})
    with pytest.raises(CorruptDataError, match="expected 4x4x3"):
        pdus.pdu_to_image(bad)
    with pytest.raises(CorruptDataError):
        pdus.split_pdu(pmt.intern("not a pdu"))


def test_bundle_round_trip_and_untrusted_lengths():
    packets = [b"\xf1abc", b"", bytes(range(256)) * 3]
    assert unpack_bundle(pack_bundle(packets)) == packets
    with pytest.raises(CorruptDataError):
        unpack_bundle(b"\x00\x10abc")          # claims 16 bytes, has 3
    with pytest.raises(CorruptDataError):
        unpack_bundle(b"\x00")


def test_mcs_plan_parsing_and_class_lookup():
    plan = parse_mcs_plan("0:bpsk-1/2x4, 2:16qam-1/2")
    assert plan == {0: "bpsk-1/2x4", 2: "16qam-1/2"}
    assert mcs_for_class(plan, 0) == "bpsk-1/2x4"
    assert mcs_for_class(plan, 1) == "bpsk-1/2x4"     # nearest more important class
    assert mcs_for_class(plan, 3) == "16qam-1/2"
    with pytest.raises(BadInputError, match="unknown MCS"):
        parse_mcs_plan("0:qam1024")


def test_fragments_sent_in_different_numbers_of_copies_never_share_a_packet():
    """Prompt (class 0, three copies) and a key band (class 2, one copy) at the same MCS: one
    packet each, so the key band is not repeated with the prompt, and the costs agree."""
    from gnuradio.gensemcom.transport.packets import packet_costs, packetize_pieces
    frag = fragmenter(400, "0:qpsk-1/2,2:qpsk-1/2", repeats={0: 3})
    pieces = [(1, 0 << 5, b"p" * 60), (5, 2 << 5, b"k" * 90)]
    packets = packetize_pieces(7, pieces, 400, frag.group_of)
    assert sorted((imp, group) for imp, group, _ in packets) == [(0, ("qpsk-1/2", 3, 0.0)), (2, ("qpsk-1/2", 1, 0.0))]
    assert len(packet_costs([(0, 60), (2, 90)], 400, frag.group_of)) == 2
    shared = packetize_pieces(7, pieces, 400, fragmenter(400, "0:qpsk-1/2,2:qpsk-1/2").group_of)
    assert len(shared) == 1                                   # same copies: they may share


def test_band_bytes_cut_the_key_stream_into_packet_sized_bands(coffee):
    """A link that prefers ~380-byte bands (fading) gets several key bands, each decodable."""
    from gnuradio.gensemcom.semantic.codec import SemanticCodec
    from gnuradio.gensemcom.transport.budget import Budget
    codec = SemanticCodec()
    one = codec.encode(coffee, Budget(budget_bytes=6000))
    banded = codec.encode(coffee, Budget(budget_bytes=6000, band_bytes=380))
    assert one.report["key_bands"] == 1
    assert 3 <= banded.report["key_bands"] <= 8
    assert banded.report["container_bytes"] <= 6000
    keys = [s for s in banded.container.sections if s.type.name == "KEY"]
    assert len(keys) == banded.report["key_bands"]
    decoded = codec.decode(banded.container.to_bytes())
    assert decoded.image.shape == coffee.shape


class _gated(worker_block):
    """Worker whose processing waits for ``release``: makes queue behaviour deterministic."""

    def __init__(self):
        worker_block.__init__(self, "gated", queue_size=2, drop_policy="drop_newest")
        self.message_port_register_out(pmt.intern("out"))
        self.release = threading.Event()

    def process(self, msg):
        self.release.wait(30)
        yield "out", msg


def test_worker_queue_is_bounded_and_counts_drops():
    tb = gr.top_block()
    gated, sink = _gated(), blocks.message_debug()
    tb.msg_connect(gated, "out", sink, "store")
    tb.start()
    post(gated, "in", pmt.from_long(0))
    wait_until(lambda: gated.pending() == 1 and gated._queue.qsize() == 0)   # the worker holds #0
    for i in range(1, 10):
        post(gated, "in", pmt.from_long(i))
    wait_until(lambda: gated.stats["received"] == 10)
    gated.release.set()
    assert gated.wait_idle(10)
    wait_until(lambda: sink.num_messages() == 3)
    tb.stop()
    tb.wait()
    assert gated.stats["queue_high_water"] == 2
    assert gated.stats["dropped"] == 7 and gated.stats["processed"] == 3
    assert [pmt.to_long(sink.get_message(i)) for i in range(sink.num_messages())] == [0, 1, 2]


class _Reverser(worker_block):
    """Test worker: the payload reversed plus ``suffix``; meta says which process and priority ran it."""

    CHILD_STATE = ("last_length",)

    def __init__(self, fail_load=False, executor="thread"):
        worker_block.__init__(self, "test_reverser", queue_size=8, executor=executor)
        self.fail_load = fail_load
        self.last_length = None
        self.suffix = b""
        self.stats["bytes"] = 0
        self.message_port_register_out(pmt.intern("out"))

    def child_arguments(self):
        return {"fail_load": self.fail_load}

    def load(self):
        if self.fail_load:
            raise OSError("no weights here")

    def process(self, msg):
        meta, payload = split_pdu(msg)
        self.last_length = payload.size
        self.stats["bytes"] += payload.size
        yield "out", make_pdu(payload[::-1].tobytes() + self.suffix, dict(meta, pid=os.getpid(), nice=os.nice(0)))


def test_process_executor_gives_the_thread_executors_outputs_from_a_low_priority_child():
    big = bytes(range(200)) * 500
    runs = {}
    for executor in ("thread", "process"):
        tb = gr.top_block()
        worker, sink = _Reverser(executor=executor), blocks.message_debug()
        tb.msg_connect(worker, "out", sink, "store")
        tb.start()
        post(worker, "in", make_pdu(b"abc", {"image_id": 1}))
        wait_until(lambda: sink.num_messages() == 1)
        worker.set_child_attributes(suffix=b"!")        # reaches the child's copy while it runs
        post(worker, "in", make_pdu(big, {"image_id": 2}))
        wait_until(lambda: sink.num_messages() == 2)
        tb.stop()
        tb.wait()
        runs[executor] = worker, [split_pdu(sink.get_message(i)) for i in range(2)]
    for executor, (worker, outputs) in runs.items():
        assert [payload.tobytes() for _, payload in outputs] == [b"cba", big[::-1] + b"!"]
        assert [meta["image_id"] for meta, _ in outputs] == [1, 2]
        assert worker.last_length == len(big) and worker.stats["bytes"] == 3 + len(big)   # the child's state came back
        assert worker.stats["processed"] == 2 and worker.stats["errors"] == 0
    own_nice = os.nice(0)
    thread_metas = [meta for meta, _ in runs["thread"][1]]
    process_metas = [meta for meta, _ in runs["process"][1]]
    assert all(m["pid"] == os.getpid() and m["nice"] == own_nice for m in thread_metas)
    assert process_metas[0]["pid"] == process_metas[1]["pid"] != os.getpid()
    assert all(m["nice"] == min(19, own_nice + CHILD_NICE) for m in process_metas)
    assert runs["process"][0]._child is None                 # stopped with the flowgraph


def test_process_executor_fails_at_start_when_the_child_cannot_load():
    worker = _Reverser(fail_load=True, executor="process")
    with pytest.raises(RuntimeError, match="could not load: OSError: no weights here"):
        worker.start()
    assert worker._child is None and worker._conn is None      # nothing left behind: a retry spawns anew
    with pytest.raises(ValueError, match="executor must be one of thread, process"):
        _Reverser(executor="fork")


def _chain(scheme, budget_bytes, drop_every=0):
    """encoder → fragmenter → (lossy) → reassembler → decoder, message ports only."""
    tb = gr.top_block()
    enc = semantic_encoder(scheme, budget_bytes=budget_bytes, mtu_bytes=120)
    frag = fragmenter(120, "0:bpsk-1/2x4,2:qpsk-1/2")
    rea = reassembler(timeout_s=0.5)
    dec = semantic_decoder(scheme)
    packets, images = blocks.message_debug(), blocks.message_debug()
    tb.msg_connect(enc, "sections", frag, "in")
    tb.msg_connect(frag, "out", packets, "store")
    tb.msg_connect(rea, "out", dec, "in")
    tb.msg_connect(dec, "out", images, "store")
    return tb, enc, frag, rea, dec, packets, images


def test_encoder_to_decoder_survives_loss_and_reordering(coffee):
    tb, enc, frag, rea, dec, packets, images = _chain("semantic", 2500)
    tb.start()
    post(enc, "in", pdus.image_to_pdu(coffee, image_id=3, name="coffee"))
    wait_until(lambda: enc.stats["processed"] == 1 and frag.stats["pieces"] == enc.stats["pieces_out"])
    # each image ends with the PHY's filler burst (once the last piece's packets are out)
    wait_until(lambda: packets.num_messages() and pdus.split_pdu(
        packets.get_message(packets.num_messages() - 1))[0].get("filler"))
    sent = [packets.get_message(i) for i in range(packets.num_messages())]
    sent = sent[:-1]
    metas = [pdus.split_pdu(m)[0] for m in sent]
    assert metas[0]["importance"] == 0                      # header and prompt leave first
    assert all(m["mcs"] == ("bpsk-1/2x4" if m["importance"] <= 1 else "qpsk-1/2") for m in metas)
    assert all(pdus.split_pdu(m)[1].size <= 120 for m in sent)
    rng = np.random.default_rng(5)
    keep = [m for i, m in enumerate(sent) if metas[i]["importance"] < 2 or rng.random() > 0.4]
    for i in rng.permutation(len(keep)):
        post(rea, "in", keep[i])
    post(rea, "in", keep[0])                          # a duplicate
    wait_until(lambda: images.num_messages() == 1)
    tb.stop()
    tb.wait()
    meta, image = pdus.pdu_to_image(images.get_message(0))
    assert image.shape == coffee.shape
    assert meta["image_id"] == 3
    from gnuradio.gensemcom.transport.packets import split_packet
    assert rea.stats["duplicates"] == len(split_packet(pdus.split_pdu(keep[0])[1].tobytes()))
    if len(keep) < len(sent):
        assert meta["regenerated"]                    # the report says what was rebuilt


def test_baseline_complete_image_is_emitted_without_waiting(astronaut):
    tb, enc, frag, rea, dec, packets, images = _chain("jpeg", 6000)
    tb.msg_connect(frag, "out", rea, "in")
    tb.start()
    post(enc, "in", pdus.image_to_pdu(astronaut, image_id=9))
    wait_until(lambda: images.num_messages() == 1)
    tb.stop()
    tb.wait()
    meta, image = pdus.pdu_to_image(images.get_message(0))
    assert meta["delivered"] and image.shape == astronaut.shape
    assert rea.stats["images"] == 1 and pdus.split_pdu(packets.get_message(0))[0]["mcs"] == "bpsk-1/2x4"


def test_reassembler_flushes_pending_images_when_upstream_ends():
    tb = gr.top_block()
    rea, out = reassembler(timeout_s=0), blocks.message_debug()
    tb.msg_connect(rea, "out", out, "store")
    tb.start()
    fragment = bytes([0xF1, 0, 4, 1, 0x45, 0, 0, 0, 2]) + b"xyz"      # 1 of 2 fragments of a section
    post(rea, "in", pdus.make_pdu(fragment, {"crc_ok": True}))
    post(rea, "in", pdus.make_pdu(fragment, {"crc_ok": False}))     # failed CRC: dropped
    post(rea, "system", pmt.cons(pmt.intern("done"), pmt.from_long(1)))
    wait_until(rea.upstream_done.is_set)
    wait_until(lambda: out.num_messages() == 1)
    tb.stop()
    tb.wait()
    meta, payload = pdus.split_pdu(out.get_message(0))
    assert meta["reason"] == "flush" and not meta["complete"]
    assert unpack_bundle(payload.tobytes()) == [fragment]
    assert rea.stats["crc_failed"] == 1


def test_fragmenter_lingers_for_feedback_then_ends_and_stop_when_sees_it():
    """With linger_s the fragmenter outlives the end of its input while feedback keeps coming
    (a closed loop's late repeats), ends once the return link has been quiet that long, and
    ``stop_when`` ends the flowgraph then (a ZeroMQ return link's source never ends)."""
    from gnuradio.gensemcom.blocks.run_control import stop_when
    from gnuradio.gensemcom.transport.feedback import Feedback
    tb = gr.top_block()
    frag, out = fragmenter(400, "0:qpsk-1/2", linger_s=0.6), blocks.message_debug()
    tb.msg_connect(frag, "out", out, "store")
    return_link = blocks.message_strobe(pmt.PMT_T, 100)     # never ends (as ZeroMQ), sends garbage
    tb.msg_connect(return_link, "strobe", frag, "feedback")
    watcher = stop_when(tb, finished=[frag], poll_s=0.05)
    tb.start()
    ended = threading.Event()
    threading.Thread(target=lambda: (tb.wait(), ended.set()), daemon=True).start()
    started = time.monotonic()
    post(frag, "system", pmt.cons(pmt.intern("done"), pmt.from_long(1)))
    wait_until(frag.upstream_done.is_set)
    report = Feedback(image_id=5, snr_db=3.0, missing=[(1, 0)]).to_bytes()   # for an image not sent here
    for _ in range(3):                       # reports keep it alive; malformed ones do not
        time.sleep(0.3)
        post(frag, "feedback", pdus.make_pdu(report, {}))
        post(frag, "feedback", pmt.cons(pmt.make_dict(), pmt.init_u8vector(3, [1, 2, 3])))
    assert not frag.ended.is_set()
    assert ended.wait(10), "the flowgraph did not end after the linger"
    assert frag.ended.is_set() and watcher.reason == "finished"
    assert time.monotonic() - started >= 0.9 + 0.6
    assert frag.stats["feedback"] == 3


def test_image_source_and_sink(tmp_path, astronaut):
    from PIL import Image
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    Image.fromarray(astronaut[:64, :96]).save(tmp_path / "in" / "a.png")
    Image.fromarray(astronaut[:80, :80]).save(tmp_path / "in" / "b.jpg")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert [p.name for p in expand_images(tmp_path / "in")] == ["a.png", "b.jpg"]
    assert [p.name for p in expand_images(str(tmp_path / "in" / "*.png"))] == ["a.png"]
    with pytest.raises(BadInputError, match="no such image"):
        expand_images(tmp_path / "missing.png")
    tb = gr.top_block()
    src = image_source(tmp_path / "in", repeat=2)
    sink = image_sink(tmp_path / "out")
    tb.msg_connect(src, "out", sink, "in")
    tb.start()
    wait_until(lambda: len(sink.written) == 4)
    tb.stop()
    tb.wait()
    assert src.finished() and src.stats["sent"] == 4
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["00000_a.json", "00000_a.png", "00001_b.json", "00001_b.png",
                     "00002_a.json", "00002_a.png", "00003_b.json", "00003_b.png"]
    assert json.loads((tmp_path / "out" / "00001_b.json").read_text())["width"] == 80
    assert not any(p.name.startswith(".") for p in (tmp_path / "out").iterdir())   # no temp files left


def test_block_parameters_are_validated(tmp_path):
    with pytest.raises(ValueError, match="budget_bytes > 0, or a planner"):
        semantic_encoder("semantic", budget_bytes=0)      # no byte budget and no planner
    with pytest.raises(BadInputError, match="unknown scheme"):
        semantic_encoder("png", budget_bytes=100)
    with pytest.raises(ValueError, match="mtu_bytes must be >= 10"):
        fragmenter(9)
    with pytest.raises(ValueError, match="does not exist"):
        image_sink(tmp_path / "nope")
    with pytest.raises(ValueError, match="queue_size"):
        semantic_decoder("jpeg", queue_size=0)


def lossy_channel(lost, snr_db):
    """Message block standing in for the PHY: passes fragmenter packets on as received PDUs (CRC
    passed, the given SNR) except fillers and those ``lost(meta, count)`` (count: packets so far)."""
    from gnuradio.gensemcom.blocks.worker import message_block

    class channel(message_block):
        def __init__(self):
            message_block.__init__(self, "test_lossy_channel")
            self.message_port_register_out(pmt.intern("out"))
            self.register_input("in", self.handle)
            self.count = 0

        def handle(self, msg):
            meta, payload = pdus.split_pdu(msg)
            self.count += 1
            if meta.get("filler") or lost(meta, self.count):
                return
            self.message_port_pub(pmt.intern("out"),
                                  pdus.make_pdu(payload.tobytes(), {"crc_ok": True, "snr_db": snr_db}))
    return channel()


def closed_loop_graph(frag, chan, rea, out):
    """A top block: fragmenter -> chan -> reassembler (images to ``out``), feedback back to the fragmenter."""
    tb = gr.top_block()
    tb.msg_connect(frag, "out", chan, "in")
    tb.msg_connect(chan, "out", rea, "in")
    tb.msg_connect(rea, "feedback", frag, "feedback")
    tb.msg_connect(rea, "out", out, "store")
    tb.kept = (frag, chan, rea, out)       # a Python block must outlive the graph that calls it
    return tb


def send_image(frag, image_id):
    """Post a small two-section container's pieces (prompt, key stream) to the fragmenter."""
    from gnuradio.gensemcom.transport.container import Container, Section, SectionType, framed_pieces
    container = Container(image_id, 32, 32, [Section(SectionType.PROMPT, b"p" * 90),
                                             Section(SectionType.KEY, bytes(range(200)) * 2)])
    pieces = framed_pieces(container)
    for index, code, framed in pieces:
        post(frag, "in", pdus.make_pdu(framed, {
            "image_id": image_id, "section_index": index, "code": code, "pieces": len(pieces),
            "mtu_bytes": 120, "mcs": "qpsk-1/2", "samples_budget": 10_000_000}))


def test_silence_is_a_loss_and_an_acknowledgement_ends_the_loop():
    """Closed loop with the fragmenter's report timer and the reassembler's acknowledgements:
    image 1 loses every packet of its first round (the receiver cannot know it exists, so only
    the sender's timer can save it: a silent round sends it again, it arrives, it is
    acknowledged); image 2 arrives whole and is acknowledged (no silent round); image 3 loses
    everything always and gets exactly ``SILENT_ROUNDS`` silent rounds, then the sender gives it up."""
    from gnuradio.gensemcom.blocks.fragmenter import SILENT_ROUNDS

    def lost(meta, count):
        return meta["image_id"] == 3 or (meta["image_id"] == 1 and "round" not in meta)

    frag = fragmenter(120, "0:bpsk-1/2,2:qpsk-1/2", report_timeout_s=0.4)
    rea, out = reassembler(timeout_s=5, max_pending=4, feedback_after_s=0.2), blocks.message_debug()
    tb = closed_loop_graph(frag, lossy_channel(lost, snr_db=9.0), rea, out)
    tb.start()
    try:
        for image_id in (1, 2, 3):
            send_image(frag, image_id)
        wait_until(lambda: out.num_messages() == 2, 30)
        wait_until(lambda: frag.stats["silent_rounds"] == 1 + SILENT_ROUNDS, 30)
        wait_until(lambda: frag.awaiting_reports() == 0, 30)
        time.sleep(1.0)                                   # more than the timer: nothing more happens
    finally:
        tb.stop()
        tb.wait()
    delivered = {pdus.split_pdu(out.get_message(i))[0]["image_id"]: pdus.split_pdu(out.get_message(i))[0]
                 for i in range(out.num_messages())}
    assert sorted(delivered) == [1, 2] and all(meta["complete"] for meta in delivered.values())
    assert frag.stats["silent_rounds"] == 1 + SILENT_ROUNDS and frag.stats["acknowledged"] == 2
    assert rea.stats["acknowledgements"] >= 2


@pytest.mark.parametrize("repeat_channel", ["awgn", "rayleigh"])
def test_repeats_are_planned_with_the_stated_statistics_at_the_reported_snr(repeat_channel):
    """Every other packet of the first round is lost; the report says 12 dB. The repeats go at the
    fastest MCS that the stated channel's PER curves allow at 12 dB less the margin: a fast one
    where the channel holds still (AWGN), a robust one where it fades within the image."""
    from gnuradio.gensemcom.blocks.fragmenter import REPEAT_MARGIN_DB, REPEAT_PER_TARGET
    from gnuradio.gensemcom.link.per import best_mcs
    from gnuradio.gensemcom.phy.mcs import MCS_TABLE
    with pytest.raises(BadInputError, match="repeat_channel"):
        fragmenter(120, repeat_channel="fast")
    frag = fragmenter(120, "0:bpsk-1/2,2:qpsk-1/2", repeat_channel=repeat_channel)
    chan = lossy_channel(lambda meta, count: "round" not in meta and count % 2, snr_db=12.0)
    sent = blocks.message_debug()
    tb = closed_loop_graph(frag, chan, reassembler(timeout_s=5, feedback_after_s=0.2), blocks.message_debug())
    tb.msg_connect(frag, "out", sent, "store")
    tb.start()
    try:
        send_image(frag, 1)
        wait_until(lambda: frag.stats["repeat_packets"] > 0, 30)
        wait_until(lambda: frag.awaiting_reports() == 0, 30)
    finally:
        tb.stop()
        tb.wait()
    metas = [pdus.split_pdu(sent.get_message(i))[0] for i in range(sent.num_messages())]
    repeated = {meta["mcs"] for meta in metas if "round" in meta and not meta.get("filler")}
    expected = best_mcs(12.0 - REPEAT_MARGIN_DB, repeat_channel, REPEAT_PER_TARGET)
    assert repeated == {expected}
    efficiency = MCS_TABLE[expected].spectral_efficiency          # information bits per data symbol
    assert efficiency >= 2 if repeat_channel == "awgn" else efficiency <= 0.5


def test_a_repeat_the_stated_statistics_cannot_pay_goes_at_the_faster_mcs_a_still_channel_allows():
    """Samples left for one fast copy but not for a robust one: the repeat goes fast (counted in
    repeat_faster) instead of not at all; with too few samples for either it is skipped."""
    from gnuradio.gensemcom.link.mcsplan import TransmitPlan, repair_of_group
    from gnuradio.gensemcom.link.per import best_mcs
    from gnuradio.gensemcom.link.protection import ClassProtection, filler_samples, packet_samples
    from gnuradio.gensemcom.transport.arq import SentImage
    from gnuradio.gensemcom.transport.feedback import ALL_FRAGMENTS, Feedback
    from gnuradio.gensemcom.transport.packets import packetize_pieces, protect_packets
    frag = fragmenter(120, "0:qpsk-1/2", repeat_channel="rayleigh")
    plan = TransmitPlan(120, {0: ClassProtection("qpsk-1/2")})
    data = packetize_pieces(1, [(0, 0, b"p" * 80)], plan.mtu_bytes, plan.group_of)
    image = SentImage(1, data, protect_packets(1, data, repair_of_group), repair_of_group)
    packet = data[0][2]
    robust, fast = (best_mcs(12.0 - 1.0, channel, 0.05) for channel in ("rayleigh", "awgn"))
    costs = {mcs: packet_samples(len(packet), mcs, frag.numerology) for mcs in (robust, fast)}
    assert costs[robust] > costs[fast]
    report = Feedback(1, missing=[(0, ALL_FRAGMENTS)], snr_db=12.0)
    for samples_left, expected in ((costs[robust], robust), (costs[fast], fast), (costs[fast] - 1, None)):
        sent = []
        frag.message_port_pub = lambda port, msg: sent.append(pdus.split_pdu(msg)[0])
        before = dict(frag.stats)
        frag._answer(1, {"image": image, "samples_left": samples_left + filler_samples(frag.numerology)}, report)
        repeats = [meta for meta in sent if not meta.get("filler")]
        assert [meta["mcs"] for meta in repeats] == ([expected] if expected else [])
        assert frag.stats["repeat_faster"] - before["repeat_faster"] == (expected == fast)
        assert frag.stats["repeat_skipped"] - before["repeat_skipped"] == (expected is None)
