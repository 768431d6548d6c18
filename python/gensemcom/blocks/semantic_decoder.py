# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic decoder block: bundle of received packets → image PDU + report."""
import json

import numpy as np
import pmt

from ..grc_yaml import GrcBlock, message
from ..params import DEFAULT_HEIGHT, DEFAULT_WIDTH, EXECUTOR, MODELS, QUANT, QUEUE_SIZE, SCHEME, Param, Params
from ..phy.pdus import make_pdu, split_pdu
from ..transport.reassembly import reassemble
from .image_codecs import make_codec
from .pdus import image_to_pdu
from .reassembler import unpack_bundle
from .worker import worker_block


class semantic_decoder(worker_block):
    """Decodes what arrived of each image; regenerates what is missing.

    Message input ``in``: bundle PDU from ``reassembler``.
    Message outputs
      out     image PDU (always the sender's size when the header arrived, else
              ``default_width``×``default_height``); meta image_id, name (image_id), delivered,
              sections_received, sections_missing, fragments, regenerated (text)
      report  empty payload; meta image_id and ``report`` (JSON text of the decoder's report)
      mask    the key mask as received (u8 H×W, 255 = key; what the sender's MASK section says),
              so a receiver can score key regions without the sender (metrics sink ``mask``)
    Parameters (``PARAMETERS``)
      scheme          "semantic" or the baseline the sender used ("jpeg", "webp", "avif")
      models, quant   semantic model stack (the generator is what loads here)
      default_width, default_height   size to use when the container header was lost (0: the
                      size of the last image decoded; with neither, the image is reported lost)
      seed            generator seed (-1: the image id)
      queue_size      bundles waiting at most; more are dropped (counted)
      executor        "thread" or "process" (``worker.worker_block``: the generator in a child process)
    """

    PARAMETERS = Params(
        SCHEME.with_(doc="the scheme the sender used"),
        MODELS,
        QUANT,
        DEFAULT_WIDTH,
        DEFAULT_HEIGHT,
        Param("seed", "int", -1, "Generator Seed", "seed of the generator", unit="-1 = image id", lo=-1, hide="part"),
        QUEUE_SIZE,
        EXECUTOR,
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Semantic Decoder", category="[GenSemCom]/Semantic", inputs=(message("in"),),
        outputs=(message("out"), message("report", optional=True), message("mask", optional=True)),
        documentation="""
Decodes what arrived of each image and regenerates the rest: missing key streams from the
prompt, a missing prompt from a neutral one; the output always has the sender's size.

Input (message "in"): bundle PDU from the Reassembler.
Outputs
  out: image PDU; meta image_id, delivered, sections_received, sections_missing,
       fragments, regenerated (what was rebuilt).
  report: meta "report" = JSON text of the decoder's report (received/lost/regenerated).
  mask: the key mask as received (for key-region metrics at the receiver).

Models: the generator of this card loads once at start and runs in a worker thread with
a bounded queue; Model Executor "Child Process" runs it in a process of its own at low
CPU priority, so that a radio's sample stream keeps real time while images decode.
For a baseline scheme a missing or damaged file gives a mid-grey image with
delivered = false.
""")

    def __init__(self, scheme=DEFAULT.scheme, models=DEFAULT.models, quant=DEFAULT.quant,
                 default_width=DEFAULT.default_width, default_height=DEFAULT.default_height, seed=DEFAULT.seed,
                 queue_size=DEFAULT.queue_size, executor=DEFAULT.executor):
        worker_block.__init__(self, "gensemcom_semantic_decoder", queue_size=queue_size, executor=executor)
        self.scheme, self.models, self.quant = scheme, models, quant
        checked = self.PARAMETERS.check("semantic_decoder", default_width=default_width,
                                        default_height=default_height, seed=seed)
        width, height = checked.default_width, checked.default_height
        self.default_size = (width, height) if width and height else None
        self.seed = checked.seed
        self.codec = None
        self._last_size = None
        self.message_port_register_out(pmt.intern("out"))
        self.message_port_register_out(pmt.intern("report"))
        self.message_port_register_out(pmt.intern("mask"))
        make_codec(scheme, models, quant)   # validate names now; load at start

    def child_arguments(self):
        width, height = self.default_size or (0, 0)
        return {"scheme": self.scheme, "models": self.models, "quant": self.quant, "default_width": width,
                "default_height": height, "seed": self.seed, "queue_size": self.queue_size}

    def load(self):
        self.codec = make_codec(self.scheme, self.models, self.quant)

    def process(self, msg):
        meta, payload = split_pdu(msg)
        packets = unpack_bundle(payload)
        received = reassemble(packets, image_id=meta.get("image_id"))
        size = self.default_size or self._last_size
        if received.header is None and size is None:
            report = {"delivered": False, "error": "container header lost and no image size known: nothing to show",
                      "fragments": len(packets)}
            yield "report", make_pdu(b"", {"image_id": int(received.image_id), "report": json.dumps(report)})
            return
        kwargs = {"size": size}
        if self.scheme == "semantic":
            kwargs["seed"] = None if self.seed < 0 else self.seed
        result = self.codec.decode(received, **kwargs)
        report = dict(result.report)
        if getattr(result, "prompt", None) is not None:
            report["prompt_text"] = result.prompt.to_text()
        image_id = int(received.image_id)
        self._last_size = (result.image.shape[1], result.image.shape[0])
        out_meta = {
            "image_id": image_id,
            "delivered": bool(report.get("delivered", received.header is not None)),
            "sections_received": len(received.sections),
            "sections_missing": len(received.missing),
            "fragments": int(meta.get("fragments", len(packets))),
            "regenerated": "; ".join(map(str, report.get("regenerated", []))),
        }
        mask = np.asarray(result.key_mask, dtype=bool)
        height, width = mask.shape
        yield "mask", make_pdu(mask.astype(np.uint8) * 255, {"image_id": image_id, "width": width, "height": height,
                                                             "key_fraction": float(mask.mean())})
        yield "out", image_to_pdu(result.image, **out_meta)
        yield "report", make_pdu(b"", {"image_id": image_id, "report": json.dumps(report, default=str)})
