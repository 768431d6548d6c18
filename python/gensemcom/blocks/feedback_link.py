# SPDX-License-Identifier: GPL-3.0-or-later
"""The return link of a closed loop inside one flowgraph: feedback messages, some of them lost."""
import numpy as np
import pmt

from ..grc_yaml import GrcBlock, message
from ..params import SEED, Param, Params
from .worker import message_block


class feedback_link(message_block):
    """Passes feedback PDUs from a receiver to a sender, losing each with probability ``loss``.

    Input ``in``: feedback PDUs (``semantic_rx``'s ``feedback``). Output ``out``: those that
    got through (to ``semantic_tx``'s ``feedback``). Seeded: the same seed loses the same
    messages. ``stats``: delivered, lost. Between processes or radios, a ZeroMQ or radio
    return link takes its place.
    """

    PARAMETERS = Params(
        Param("loss", "float", 0.0, "Loss", "probability that a feedback message is lost", lo=0, hi=1),
        SEED,
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Feedback Link", category="[GenSemCom]/Semantic", inputs=(message("in"),), outputs=(message("out"),),
        documentation="""
The return link of a closed loop in one flowgraph: feedback PDUs from Semantic RX to
Semantic TX, each lost with probability Loss (seeded).
""")

    def __init__(self, loss=DEFAULT.loss, seed=DEFAULT.seed):
        message_block.__init__(self, "gensemcom_feedback_link")
        checked = self.PARAMETERS.check("feedback_link", loss=loss, seed=seed)
        self.loss = checked.loss
        self._rng = np.random.default_rng([int(checked.seed), 0xBACC])
        self.stats = {"delivered": 0, "lost": 0}
        self.message_port_register_out(pmt.intern("out"))
        self.register_input("in", self.handle)

    def handle(self, msg):
        if self._rng.random() < self.loss:
            self.stats["lost"] += 1
            return
        self.stats["delivered"] += 1
        self.message_port_pub(pmt.intern("out"), msg)
