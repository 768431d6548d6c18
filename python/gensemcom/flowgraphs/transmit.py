"""One image through the real flowgraph: semantic_tx → channel preset → semantic_rx.

``run_transmission`` builds a GNU Radio top block, sends one image, ends the stream once
every packet is on its way (the PHY's end-of-stream filler carries the last burst through
the receiver), waits for the receiver's reassembler to flush, and returns what came out with
the link's accounting. It is what ``gensemcom transmit`` and the flowgraph schemes of
``gensemcom bench`` run.

Accounting (all counted at the transmitter, per image):
  symbols_used  complex symbols on the data carriers of every packet's header and payload
                OFDM symbols (``LinkProfile.symbols_for_bytes``): what ``cpp`` budgets
  samples       every complex sample that went through the channel: preambles, pilots, cyclic
                prefixes, gaps and the filler burst after the image included
  bytes_sent    packet payload bytes (fragment headers included); packets_sent / packets_ok
                (payload CRC passed at the receiver, counted against packets sent)
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pmt

from ..errors import BadInputError, GensemcomError
from ..link.profile import LinkProfile
from ..link.senders import choose_baseline_mcs, semantic_budget

STAGE_TIMEOUT_S = 300.0


@dataclass
class TransmissionResult:
    """What one transmission produced (see module docstring for the accounting)."""

    image: np.ndarray                 # receiver output, original size (mid-grey if nothing decoded)
    delivered: bool                   # the receiver rebuilt the image from received data
    key_mask: np.ndarray              # the sender's key mask (all False for baselines)
    scheme: str
    mcs_plan: dict
    symbols_budget: int
    symbols_used: int
    samples: int
    bytes_sent: int
    packets_sent: int
    packets_ok: int
    sections_received: int
    sections_sent: int
    encoder_report: dict = field(default_factory=dict)
    decoder_report: dict = field(default_factory=dict)
    baseline_choice: dict = field(default_factory=dict)   # baselines: {MCS: expected PSNR} considered
    rx_snr_db: float = float("nan")
    wall_s: float = 0.0


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


def run_transmission(image, scheme="semantic", snr_db=10.0, channel="awgn", cpp=1 / 48, budget_symbols=None,
                     profile="default", models=None, quant=None, seed=0, key_fraction=None, fixed_mcs="",
                     plan_channel=None, timeout_s=STAGE_TIMEOUT_S) -> TransmissionResult:
    """Send ``image`` ((H, W, 3) uint8) through the real flowgraph and return what came out.

    scheme          "semantic" or a whole-image baseline "jpeg", "webp", "avif"
    snr_db          channel SNR, Es/N0 per data carrier (dB); also the transmitter's planning SNR
    channel         channel preset: awgn, rayleigh, rician, multipath
    cpp             channel uses per pixel (data-carrier symbols / (H·W·3)); or budget_symbols
    profile         link profile (name, path or LinkProfile); fixed_mcs: one MCS for all packets
    models, quant   semantic model stack; seed: channel noise/fading seed
    plan_channel    channel statistics the transmitter plans the MCS with (default: ``channel``)
    Baselines without ``fixed_mcs`` use ``choose_baseline_mcs`` (best expected PSNR).
    """
    from gnuradio import blocks, gr

    from ..blocks.pdus import image_to_pdu, pdu_to_image
    from ..blocks.semantic_txrx import semantic_rx, semantic_tx
    from ..phy.channel import ChannelConfig, make_channel

    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    link = LinkProfile.load(profile)
    if budget_symbols is not None:
        cpp = float(budget_symbols) / (height * width * 3)
    if not cpp or cpp <= 0:
        raise BadInputError("give a channel budget: cpp > 0 or budget_symbols > 0")
    symbols_budget = int(cpp * height * width * 3)
    baseline_choice = {}
    if scheme != "semantic" and not fixed_mcs:
        fixed_mcs, baseline_choice = choose_baseline_mcs(image, scheme, snr_db, plan_channel or channel,
                                                         symbols_budget, link)
    config = ChannelConfig(name=channel, snr_db=float(snr_db), seed=int(seed), **link.channel)

    tb = gr.top_block("gensemcom_transmit")
    tx = semantic_tx(scheme, link, snr_db, plan_channel or channel, cpp, 0, key_fraction or 0.0,
                     models=models or "offline", quant=quant or "none", fixed_mcs=fixed_mcs)
    chan = make_channel(config, link.numerology_object())
    rx = semantic_rx(scheme, link, models=models or "offline", quant=quant or "none",
                     default_width=width, default_height=height, timeout_s=timeout_s)
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

    started = time.perf_counter()
    tb.start()
    try:
        tx.encoder.to_basic_block()._post(pmt.intern("in"), image_to_pdu(image, image_id=int(seed) % 65536))
        _wait(lambda: tx.encoder.stats["processed"] + tx.encoder.stats["errors"] >= 1, timeout_s, "encoding")
        if tx.encoder.stats["errors"]:
            if isinstance(tx.encoder.last_exception, GensemcomError):
                raise tx.encoder.last_exception      # the user's problem (e.g. missing weights): exit 2
            raise RuntimeError(f"encoder failed: {tx.encoder.last_error}")
        _wait(lambda: sinks["mask"].num_messages() >= 1, timeout_s, "the encoder's output")
        pieces = tx.encoder.stats["pieces_out"]        # 0 when not even a minimal container fits
        _wait(lambda: tx.fragmenter.stats["pieces"] >= pieces, timeout_s, "fragmentation")
        tx.phy.post_done()
        _wait(rx.reassembler.upstream_done.is_set, timeout_s, "the receiver reaching the end of the stream")
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
    wall_s = time.perf_counter() - started

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
    cost = link.symbols_for_bytes(tx.plan)      # per packet sent (copies are logged one by one)
    sent = [(meta, size) for meta, size in sent_log.items if not meta.get("filler")]
    ok = sum(1 for meta, _ in rx_log.items if meta.get("crc_ok") and not meta.get("filler"))
    rx_snr = [float(meta["snr_db"]) for meta, _ in rx_log.items if "snr_db" in meta]
    return TransmissionResult(
        image=rx_image, delivered=delivered, key_mask=key_mask, scheme=scheme, mcs_plan=dict(tx.plan),
        symbols_budget=symbols_budget,
        symbols_used=int(sum(cost(size, int(meta.get("importance", 2))) for meta, size in sent)),
        samples=int(counter.nitems_read(0)), bytes_sent=int(sum(size for _, size in sent)),
        packets_sent=len(sent), packets_ok=min(ok, len(sent)), sections_received=sections_received,
        sections_sent=max(int(pieces) - 1, 0), encoder_report=encoder_report, decoder_report=decoder_report,
        baseline_choice=baseline_choice,
        rx_snr_db=float(np.mean(rx_snr)) if rx_snr else float("nan"), wall_s=wall_s)


def _split(msg):
    from ..phy.pdus import split_pdu
    return split_pdu(msg)


def _json(text):
    import json
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


_MASK_CODEC = {}


def semantic_sender_mask(image, snr_db, channel="awgn", cpp=1 / 48, profile="default", budget_symbols=None):
    """The key mask the semantic sender would choose for ``image`` under this channel budget.

    Runs the semantic encoder's rate control (no PHY) with the same MCS plan and symbol
    budget as ``run_transmission``: the mask baselines' key-region metrics are measured on.
    """
    from ..semantic.codec import SemanticCodec
    height, width = image.shape[:2]
    symbols = float(budget_symbols) if budget_symbols is not None else float(cpp) * height * width * 3
    _, budget = semantic_budget(LinkProfile.load(profile), snr_db, channel, symbols)
    codec = _MASK_CODEC.setdefault("offline", SemanticCodec())
    return np.asarray(codec.encode(np.ascontiguousarray(image, np.uint8), budget).key_mask, dtype=bool)
