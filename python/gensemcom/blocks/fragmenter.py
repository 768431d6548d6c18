"""Fragmenter (packetizer): container pieces → packets of at most ``mtu_bytes`` with an MCS each."""
import pmt
from gnuradio import gr

from ..semantic.container import fragment_framed
from ..link_profile import mcs_for_class, parse_mcs_plan
from .pdus import make_pdu, split_pdu
from .worker import message_block


class fragmenter(message_block):
    """Cuts each container piece into packets of at most ``mtu_bytes`` (9-byte fragment header
    included) and picks each packet's MCS from its importance class (unequal error protection).

    Input ``in``: section PDUs from ``semantic_encoder`` (meta image_id, section_index, code).
    Output ``out``: packet PDUs; meta image_id, section_index, importance, fragment (index),
    and ``mcs`` when the plan names one (the PHY reads it).
    Parameters: mtu_bytes (> 9); mcs_plan ("0:bpsk-1/2x4,1:qpsk-1/2,2:16qam-1/2" or a dict).
    """

    def __init__(self, mtu_bytes=256, mcs_plan=""):
        message_block.__init__(self, "gensemcom_fragmenter")
        if int(mtu_bytes) <= 9:
            raise ValueError(f"fragmenter: mtu_bytes must exceed the 9-byte fragment header, got {mtu_bytes}")
        self.mtu_bytes = int(mtu_bytes)
        self.mcs_plan = parse_mcs_plan(mcs_plan)
        self.stats = {"pieces": 0, "packets": 0, "dropped": 0}
        self.message_port_register_out(pmt.intern("out"))
        self.register_input("in", self.handle)

    def set_mcs_plan(self, mcs_plan):
        self.mcs_plan = parse_mcs_plan(mcs_plan)

    def handle(self, msg):
        try:
            meta, framed = split_pdu(msg)
            image_id, index, code = int(meta["image_id"]), int(meta["section_index"]), int(meta["code"])
            packets = fragment_framed(image_id, index, code, framed.tobytes(), self.mtu_bytes)
        except (KeyError, TypeError, ValueError) as exc:
            self.stats["dropped"] += 1
            gr.log.warn(f"fragmenter: dropping a piece: {exc}")
            return
        importance = code >> 5
        mcs = mcs_for_class(self.mcs_plan, importance)
        for k, packet in enumerate(packets):
            out = {"image_id": image_id, "section_index": index, "importance": importance, "fragment": k}
            if mcs:
                out["mcs"] = mcs
            self.message_port_pub(pmt.intern("out"), make_pdu(packet, out))
            self.stats["packets"] += 1
        self.stats["pieces"] += 1      # counted last: all its packets are out
