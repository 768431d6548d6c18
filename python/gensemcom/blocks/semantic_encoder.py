# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic encoder block: image PDU → container pieces (section PDUs), key mask, report."""
import json

import numpy as np
import pmt

from ..constants import BASELINE_SCHEMES, FRAGMENT_HEADER_BYTES
from ..errors import BadInputError
from ..grc_yaml import GrcBlock, message
from ..params import (BUDGET_BYTES, CODEC, EXECUTOR, KEY_FRACTION, MODELS, MTU_BYTES, QUANT, QUEUE_SIZE, SCHEME, Param,
                      Params)
from ..phy.pdus import make_pdu
from ..semantic.config import BudgetTooSmallError
from ..transport.budget import Budget
from ..transport.container import framed_pieces
from .image_codecs import make_codec
from .pdus import pdu_to_image
from .worker import worker_block

_MASK_CODEC = {}
KEY_MASK_CACHE_ENV = "GENSEMCOM_KEYMASK_CACHE"


def semantic_key_mask(planner, image) -> np.ndarray:
    """(H, W) bool: the key mask of the semantic sender (offline stack) for ``image`` under
    ``planner``'s link and budget, trying its plans as the encoder does (all False when
    nothing fits).

    The mask is deterministic; with $GENSEMCOM_KEYMASK_CACHE set (``gensemcom bench`` sets it
    to its output folder) it is computed once per image, link and budget and read back by
    every scheme and process that needs it (roi-av1's sender, key-region metrics)."""
    import hashlib
    import os
    from pathlib import Path
    image = np.ascontiguousarray(image, np.uint8)
    height, width = image.shape[:2]
    cache = os.environ.get(KEY_MASK_CACHE_ENV)
    path = None
    if cache:
        from ..version import __version__
        key = hashlib.sha256(image.tobytes() + repr((image.shape, planner.profile.to_dict(), planner.snr_db,
                                                     planner.channel, planner.cpp, planner.budget_bytes,
                                                     __version__)).encode()).hexdigest()[:24]
        path = Path(cache) / f"{key}.npy"
        if path.is_file():
            try:
                mask = np.load(path, allow_pickle=False)
                if mask.shape == (height, width) and mask.dtype == bool:
                    return mask
            except (OSError, ValueError):
                pass
    from ..semantic.codec import SemanticCodec
    codec = _MASK_CODEC.setdefault("offline", SemanticCodec())
    mask = np.zeros((height, width), bool)
    for plan in planner.plans(width, height):
        try:
            mask = np.asarray(codec.encode(image, planner.budget(plan, width, height)).key_mask, bool)
            break
        except BudgetTooSmallError:
            continue
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(temp, mask, allow_pickle=False)
        os.replace(temp, path)
    return mask


class semantic_encoder(worker_block):
    """Encodes each image into a ``.gsc`` container and emits it piece by piece.

    Message input ``in``: image PDU (see ``pdus``).
    Message outputs
      sections  one PDU per framed piece: the container header (section_index 0), then each
                section. Meta: image_id, section_index, pieces (header + sections), code,
                importance (0 = most important), type, width, height; with a planner also
                the protection rate control costed: mtu_bytes, mcs, copies, repair (the
                fragmenter sends exactly that).
      mask      the sender's key mask: u8 H×W (255 = key); meta image_id, width, height,
                key_fraction
      report    empty payload; meta image_id and ``report`` (JSON text: sizes, split, costs)
    Parameters (``PARAMETERS``)
      scheme         "semantic" or a whole-image baseline (``constants.BASELINE_SCHEMES``)
      budget_bytes   bytes per image (0 = no byte limit: then a planner)
      mtu_bytes      packet size the costs are counted in, as the fragmenter's (0 = whole sections)
      planner        ``link.senders.SenderPlanner`` (semantic_tx sets it): per image the
                     protection plan and the channel-sample budget; the semantic scheme tries
                     its fallback plans until something fits, a baseline takes its plan of best
                     expected quality. None: ``budget_bytes`` and ``mtu_bytes`` alone
      band_bytes     key-stream bytes per band (0 = the planner's or the encoder's choice)
      key_fraction   target key-area share (0 = automatic); codec: key-stream codec
      models, quant  semantic model stack (``gensemcom models list``)
      queue_size     images waiting at most; more are dropped (counted) so the PHY never blocks
      executor       "thread" or "process" (``worker.worker_block``: the models in a child process)
    An image whose budget cannot hold even a minimal container under any plan sends nothing:
    its report says ``fits: false`` with the reason, and ``stats["too_small"]`` counts it.
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
        EXECUTOR,
        Param("planner", "raw", None, "Planner", "link.senders.SenderPlanner: protection and sample budget",
              grc=False),
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
queue (Queue Size): when it is full, the oldest image is dropped and counted. Model
Executor "Child Process" runs the models in a process of their own at low CPU priority,
so that a radio's sample stream keeps real time while images are coded.
Key Band Size: bytes per independently decodable key band the link prefers (0 = the
encoder's default, one band per 8 KB of budget). Over fading channels use about one
packet's payload (packet size - {FRAGMENT_HEADER_BYTES}), so that a faded packet loses one band, not all.
""")

    def __init__(self, scheme=DEFAULT.scheme, budget_bytes=DEFAULT.budget_bytes, mtu_bytes=DEFAULT.mtu_bytes,
                 key_fraction=DEFAULT.key_fraction, codec=DEFAULT.codec, models=DEFAULT.models, quant=DEFAULT.quant,
                 queue_size=DEFAULT.queue_size, planner=DEFAULT.planner, band_bytes=DEFAULT.band_bytes,
                 executor=DEFAULT.executor):
        worker_block.__init__(self, "gensemcom_semantic_encoder", queue_size=queue_size, executor=executor)
        checked = self.PARAMETERS.check("semantic_encoder", budget_bytes=budget_bytes, mtu_bytes=mtu_bytes,
                                        key_fraction=key_fraction, band_bytes=band_bytes)
        budget_bytes, mtu_bytes = checked.budget_bytes, checked.mtu_bytes
        if 0 < mtu_bytes <= FRAGMENT_HEADER_BYTES:
            raise BadInputError(f"semantic_encoder: mtu_bytes must exceed the {FRAGMENT_HEADER_BYTES}-byte fragment "
                                f"header (or be 0), got {mtu_bytes}")
        if budget_bytes <= 0 and planner is None:
            raise BadInputError("semantic_encoder: give a budget: budget_bytes > 0, or a planner (use semantic_tx)")
        self.scheme, self.models, self.quant = scheme, models, quant
        self.codec_name, self.key_fraction = codec, checked.key_fraction
        self.budget_bytes, self.mtu_bytes = int(budget_bytes), int(mtu_bytes)
        self.planner = planner
        self.band_bytes = checked.band_bytes
        self.codec = None
        self.last_report = None
        self.stats["pieces_out"] = 0
        self.stats["too_small"] = 0
        for port in ("sections", "mask", "report"):
            self.message_port_register_out(pmt.intern(port))
        make_codec(scheme, models, quant, codec=codec)   # validate names now, load at start

    CHILD_STATE = ("last_report",)

    def child_arguments(self):
        return {"scheme": self.scheme, "budget_bytes": self.budget_bytes, "mtu_bytes": self.mtu_bytes,
                "key_fraction": self.key_fraction, "codec": self.codec_name, "models": self.models,
                "quant": self.quant, "queue_size": self.queue_size, "planner": self.planner,
                "band_bytes": self.band_bytes}

    def set_planner(self, planner):
        """Use ``planner`` from the next image on (in the child process too)."""
        self.set_child_attributes(planner=planner)

    def load(self):
        self.codec = make_codec(self.scheme, self.models, self.quant, codec=self.codec_name,
                                key_fraction=self.key_fraction or None)

    def budget_for(self, width, height, plan=None):
        """The ``Budget`` of one width×height image (sent with ``plan`` when there is a planner)."""
        if plan is not None:
            budget = self.planner.budget(plan, width, height)
            if self.band_bytes:
                budget.band_bytes = self.band_bytes
            return budget
        return Budget(budget_bytes=self.budget_bytes or None, mtu_bytes=self.mtu_bytes or None,
                      band_bytes=self.band_bytes or None)

    def sender_key_mask(self, image):
        """The key mask the semantic sender would choose for ``image`` under this link and budget
        (what ``roi-av1`` codes finer, and what key-region metrics of every scheme use)."""
        return semantic_key_mask(self.planner.like("semantic"), image)

    def encode(self, image, image_id):
        """(plan or None, ``EncodeResult``) of one image; raises ``BudgetTooSmallError`` (or the
        planner's ``NothingFitsError``) when nothing fits under any plan."""
        height, width = image.shape[:2]
        if self.planner is None:
            return None, self.codec.encode(image, self.budget_for(width, height), image_id=image_id)
        kwargs = {"key_mask": self.sender_key_mask(image)} if self.scheme == "roi-av1" else {}
        self._roi_mask = kwargs.get("key_mask")
        if self.scheme in BASELINE_SCHEMES and not self.planner.fixed_mcs and self.planner.cpp > 0:
            quality = None
            if self.scheme == "roi-av1":
                from ..classical.roi import roi_quality
                quality = roi_quality(kwargs["key_mask"])
            plan, result = self.planner.baseline_plan(image, self.codec, quality, image_id=image_id, **kwargs)
            return plan, result
        error = None
        for plan in self.planner.plans(width, height):
            try:
                result = self.codec.encode(image, self.budget_for(width, height, plan), image_id=image_id, **kwargs)
            except BudgetTooSmallError as exc:
                error = exc
                continue
            if self.scheme in BASELINE_SCHEMES and not result.report.get("fits"):
                error = BudgetTooSmallError("no stream fits the budget")
                continue
            return plan, result
        raise error or BudgetTooSmallError("nothing fits the budget")

    def process(self, msg):
        from ..link.senders import NothingFitsError
        meta, image = pdu_to_image(msg)
        height, width = image.shape[:2]
        image_id = int(meta.get("image_id", 0)) % 65536
        try:
            plan, result = self.encode(image, image_id)
        except (BudgetTooSmallError, NothingFitsError) as exc:   # nothing fits: send nothing, say so
            reason = str(exc) if isinstance(exc, NothingFitsError) else (
                self.planner.nothing_fits_message(width, height) if self.planner else f"nothing fits: {exc}")
            self.last_report = {"image_id": image_id, "fits": False, "error": reason, "sections": []}
            self.stats["too_small"] += 1
            yield "mask", make_pdu(np.zeros(height * width, np.uint8), {
                "image_id": image_id, "width": width, "height": height, "key_fraction": 0.0})
            yield "report", make_pdu(b"", {"image_id": image_id, "report": json.dumps(self.last_report)})
            return
        pieces = framed_pieces(result.container)
        report = dict(result.report, image_id=image_id, name=meta.get("name", ""))
        if plan is not None:
            report["plan"] = plan.describe()
            report["plan_expected"] = plan.expected
        self.last_report = report
        for index, code, framed in pieces:
            piece = {"image_id": image_id, "section_index": index, "pieces": len(pieces), "code": code,
                     "importance": code >> 5, "width": width, "height": height,
                     "type": "header" if index == 0 else result.container.sections[index - 1].type_name}
            if plan is not None:
                protection = plan.protection_of(code >> 5)
                piece.update(mtu_bytes=plan.mtu_bytes, mcs=protection.mcs, copies=protection.copies,
                             repair=protection.repair)
                samples = self.planner.samples_for(width, height)
                if samples is not None:
                    piece["samples_budget"] = float(samples)      # the whole image's, repeats included
            yield "sections", make_pdu(framed, piece)
            self.stats["pieces_out"] += 1
        mask = np.asarray(result.key_mask, dtype=bool)
        if self.scheme == "roi-av1" and self.planner is not None:
            mask = self._roi_mask
        yield "mask", make_pdu(mask.astype(np.uint8) * 255, {
            "image_id": image_id, "width": width, "height": height, "key_fraction": float(mask.mean())})
        yield "report", make_pdu(b"", {"image_id": image_id, "report": json.dumps(report, default=str)})
