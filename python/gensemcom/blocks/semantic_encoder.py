"""Semantic encoder block: image PDU → container pieces (section PDUs), key mask, report."""
import json

import numpy as np
import pmt

from ..constants import FRAGMENT_HEADER_BYTES
from ..errors import BadInputError
from ..grc_yaml import GrcBlock, message
from ..params import BUDGET_BYTES, CODEC, CPP, KEY_FRACTION, MODELS, MTU_BYTES, QUANT, QUEUE_SIZE, SCHEME, Param, Params
from ..phy.pdus import make_pdu
from ..semantic.config import BudgetTooSmallError
from ..transport.budget import Budget
from ..transport.container import framed_pieces
from .image_codecs import make_codec
from .pdus import pdu_to_image
from .worker import worker_block


class semantic_encoder(worker_block):
    """Encodes each image into a ``.gsc`` container and emits it piece by piece.

    Message input ``in``: image PDU (see ``pdus``).
    Message outputs
      sections  one PDU per framed piece: the container header (section_index 0), then each
                section. Meta: image_id, section_index, pieces (header + sections), code,
                importance (0 = most important), type, width, height.
      mask      the sender's key mask: u8 H×W (255 = key); meta image_id, width, height,
                key_fraction
      report    empty payload; meta image_id and ``report`` (JSON text: sizes, split, costs)
    Parameters (``PARAMETERS``)
      scheme         "semantic" or a whole-image baseline "jpeg", "webp", "avif"
      budget_bytes   bytes per image (0 = no byte limit: then cpp > 0)
      cpp            channel uses per pixel: the symbol budget is cpp·H·W·3 data-carrier
                     symbols per image (0 = no symbol limit; needs ``symbols_for_bytes``)
      symbols_for_bytes  cost hook (n_bytes, importance) → data-carrier symbols; semantic_tx
                     sets it from the link profile's MCS plan
      mtu_bytes      packet size the costs are counted in, as the fragmenter's (0 = whole sections)
      packet_group   (importance) → protection group (the MCS): which fragments may share an
                     aggregate packet, as the fragmenter will pack them (None = by class)
      band_bytes     key-stream bytes per band the link prefers (0 = none); semantic_tx sets
                     one packet's payload on fading channels (``Budget.band_bytes``)
      key_fraction   target key-area share (0 = automatic); codec: key-stream codec
      models, quant  semantic model stack (``gensemcom models list``)
      queue_size     images waiting at most; more are dropped (counted) so the PHY never blocks
    An image whose budget cannot hold even a minimal container sends nothing: its report says
    ``fits: false`` and ``stats["too_small"]`` counts it.
    """

    PARAMETERS = Params(
        SCHEME,
        BUDGET_BYTES,
        MTU_BYTES.with_(lo=0, doc="packet size the costs are counted in, as the fragmenter's (0 = whole sections)"),
        KEY_FRACTION,
        CODEC,
        MODELS,
        QUANT,
        Param("band_bytes", "int", 0, "Key Band Size", "key-stream bytes per independently decodable band",
              unit="bytes, 0 = auto", lo=0, hide="part"),
        QUEUE_SIZE,
        CPP.with_(default=0.0, default_text=None, grc=False),
        Param("symbols_for_bytes", "raw", None, "Cost Hook", "(n_bytes, importance) -> symbols", grc=False),
        Param("packet_group", "raw", None, "Packet Group Hook", "(importance) -> protection group", grc=False),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Semantic Encoder", category="[GenSemCom]/Semantic", inputs=(message("in"),),
        outputs=(message("sections", optional=True), message("mask", optional=True),
                 message("report", optional=True)),
        asserts=("${ budget_bytes > 0 }",      # GRC's encoder has no symbol budget (cpp): Semantic TX has
                 f"${{ mtu_bytes == 0 or mtu_bytes > {FRAGMENT_HEADER_BYTES} }}"),
        documentation=f"""
Encodes each image into a .gsc container within a byte budget and emits it piece by piece.
(For a channel-symbol budget and unequal error protection use Semantic TX.)

Input (message "in"): image PDU.
Outputs
  sections: one PDU per framed piece - the container header (section_index 0), then each
            section (metadata, prompt, mask, hints, key streams). Meta: image_id,
            section_index, pieces, code, importance (0 = most important), type, width, height.
  mask: the sender's key mask, u8 H x W (255 = key); meta image_id, key_fraction.
  report: meta "report" = JSON text of the encoder's choices and sizes.

Scheme: Semantic (key regions + structured prompt + hints) or a whole-image baseline.
Packet Size: the fragmenter's, so that rate control counts the packets it will send.
Models: a model card ("offline" = the default stack; see `gensemcom models list`).
Models load once at flowgraph start; encoding runs in a worker thread with a bounded
queue (Queue Size): when it is full, the oldest image is dropped and counted.
Key Band Size: bytes per independently decodable key band the link prefers (0 = the
encoder's default, one band per 8 KB of budget). Over fading channels use about one
packet's payload (packet size - {FRAGMENT_HEADER_BYTES}), so that a faded packet loses one band, not all.
""")

    def __init__(self, scheme=DEFAULT.scheme, budget_bytes=DEFAULT.budget_bytes, cpp=DEFAULT.cpp,
                 symbols_for_bytes=DEFAULT.symbols_for_bytes, mtu_bytes=DEFAULT.mtu_bytes,
                 key_fraction=DEFAULT.key_fraction, codec=DEFAULT.codec, models=DEFAULT.models, quant=DEFAULT.quant,
                 queue_size=DEFAULT.queue_size, packet_group=DEFAULT.packet_group, band_bytes=DEFAULT.band_bytes):
        worker_block.__init__(self, "gensemcom_semantic_encoder", queue_size=queue_size)
        checked = self.PARAMETERS.check("semantic_encoder", budget_bytes=budget_bytes, cpp=cpp, mtu_bytes=mtu_bytes,
                                        key_fraction=key_fraction, band_bytes=band_bytes)
        budget_bytes, cpp, mtu_bytes = checked.budget_bytes, checked.cpp, checked.mtu_bytes
        if 0 < mtu_bytes <= FRAGMENT_HEADER_BYTES:
            raise BadInputError(f"semantic_encoder: mtu_bytes must exceed the {FRAGMENT_HEADER_BYTES}-byte fragment "
                                f"header (or be 0), got {mtu_bytes}")
        if budget_bytes <= 0 and cpp <= 0:
            raise ValueError("semantic_encoder needs budget_bytes > 0 or cpp > 0")
        if cpp > 0 and symbols_for_bytes is None:
            raise ValueError("semantic_encoder: a cpp budget needs symbols_for_bytes (use semantic_tx)")
        self.scheme, self.models, self.quant = scheme, models, quant
        self.codec_name, self.key_fraction = codec, checked.key_fraction
        self.budget_bytes, self.cpp = int(budget_bytes), float(cpp)
        self.symbols_for_bytes, self.mtu_bytes = symbols_for_bytes, int(mtu_bytes)
        self.packet_group = packet_group
        self.band_bytes = checked.band_bytes
        self.codec = None
        self.last_report = None
        self.stats["pieces_out"] = 0
        self.stats["too_small"] = 0
        for port in ("sections", "mask", "report"):
            self.message_port_register_out(pmt.intern(port))
        make_codec(scheme, models, quant, codec=codec)   # validate names now, load at start

    def load(self):
        self.codec = make_codec(self.scheme, self.models, self.quant, codec=self.codec_name,
                                key_fraction=self.key_fraction or None)

    def budget_for(self, width, height):
        """The ``Budget`` of one width×height image."""
        symbols = self.cpp * width * height * 3 if self.cpp > 0 else None
        return Budget(budget_bytes=self.budget_bytes or None, budget_symbols=symbols,
                      symbols_for_bytes=self.symbols_for_bytes if symbols else None,
                      mtu_bytes=self.mtu_bytes or None, group_of=self.packet_group,
                      band_bytes=self.band_bytes or None)

    def process(self, msg):
        meta, image = pdu_to_image(msg)
        height, width = image.shape[:2]
        image_id = int(meta.get("image_id", 0)) % 65536
        try:
            result = self.codec.encode(image, self.budget_for(width, height), image_id=image_id)
        except BudgetTooSmallError as exc:   # nothing fits: send nothing, say so
            self.last_report = {"image_id": image_id, "fits": False, "error": str(exc), "sections": []}
            self.stats["too_small"] += 1
            yield "mask", make_pdu(np.zeros(height * width, np.uint8), {
                "image_id": image_id, "width": width, "height": height, "key_fraction": 0.0})
            yield "report", make_pdu(b"", {"image_id": image_id, "report": json.dumps(self.last_report)})
            return
        pieces = framed_pieces(result.container)
        report = dict(result.report, image_id=image_id, name=meta.get("name", ""))
        self.last_report = report
        for index, code, framed in pieces:
            yield "sections", make_pdu(framed, {
                "image_id": image_id, "section_index": index, "pieces": len(pieces), "code": code,
                "importance": code >> 5, "type": "header" if index == 0 else
                result.container.sections[index - 1].type_name, "width": width, "height": height})
            self.stats["pieces_out"] += 1
        mask = np.asarray(result.key_mask, dtype=bool)
        yield "mask", make_pdu(mask.astype(np.uint8) * 255, {
            "image_id": image_id, "width": width, "height": height, "key_fraction": float(mask.mean())})
        yield "report", make_pdu(b"", {"image_id": image_id, "report": json.dumps(report, default=str)})
