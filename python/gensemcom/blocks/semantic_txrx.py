# SPDX-License-Identifier: GPL-3.0-or-later
"""``semantic_tx`` / ``semantic_rx``: image PDUs ↔ complex baseband, with unequal error protection.

TX:  image PDU ─▶ semantic_encoder ─▶ fragmenter (protection per importance class) ─▶ ofdm_qam_tx ─▶ samples
RX:  samples ─▶ ofdm_qam_rx ─▶ reassembler ─▶ semantic_decoder ─▶ image PDU

The transmitter's ``link.senders.SenderPlanner`` plans each image: the MCS, copies, erasure
code and packet size of each importance class and the channel-sample budget; the encoder's
rate control costs exactly that plan and hands it to the fragmenter with the pieces. The
semantic scheme protects its header, metadata and prompt most; a whole-image baseline takes
the single-class plan of best expected quality for its image (or ``fixed_mcs``).
"""
from gnuradio import gr

from ..errors import BadInputError
from ..grc_yaml import GrcBlock, message, stream
from ..link.profile import LinkProfile
from ..link.senders import SenderPlanner
from ..params import (CPP, DECODING_EFFORT, EXECUTOR, MODELS, PLANNING_CHANNEL, PLANNING_SNR_DB, PROFILE, QUANT,
                      QUEUE_SIZE, SCHEME, Param, Params)
from ..phy.mcs import MCS_PARAMETER
from ..phy.ofdm_qam_rx import ofdm_qam_rx
from ..phy.ofdm_qam_tx import ofdm_qam_tx, release
from .fragmenter import fragmenter
from .reassembler import reassembler
from .semantic_decoder import semantic_decoder
from .semantic_encoder import semantic_encoder


class _releases_phy:
    """``release()`` of a hier block that holds a PHY hier block (``self.phy``)."""

    def release(self):
        """Drop the internal connections, the PHY's too, once the flowgraph has ended
        (``phy.ofdm_qam_tx.release``)."""
        release(self.phy)
        self.disconnect_all()


class semantic_tx(_releases_phy, gr.hier_block2):
    """Semantic transmitter: image PDUs in (message port ``in``), complex64 bursts out.

    Message outputs: ``mask`` (sender's key mask per image), ``report`` (encoder report),
    ``packets`` (each packet handed to the PHY, with its MCS).
    Parameters (``PARAMETERS``)
      scheme        "semantic", or a whole-image baseline (``constants.BASELINE_SCHEMES``)
      profile       link profile name or .yaml path (``gensemcom transmit --help`` lists them)
      snr_db        planning SNR (Es/N0 per data carrier, dB) for ``mcs: auto``; ``set_snr_db``
                    re-plans while running
      channel       planning channel statistics for the MCS thresholds (awgn, rayleigh, ...)
      cpp           channel uses per pixel: cpp·H·W·3 data-carrier symbols per image, as channel
                    samples (``link.protection.samples_budget``; 0 = off)
      budget_bytes  byte budget per image (0 = off); at least one of cpp/budget_bytes
      key_fraction  target key-area share (0 = automatic); codec: key-stream codec
      models, quant semantic model stack; fixed_mcs: one MCS for every packet (overrides)
    Copies and erasure-code repair packets are counted in the budget like every sample.
    """

    PARAMETERS = Params(
        SCHEME,
        PROFILE,
        PLANNING_SNR_DB.with_(runtime_setter="set_snr_db"),
        PLANNING_CHANNEL,
        CPP,
        semantic_encoder.PARAMETERS["budget_bytes"].with_(default=0, unit="bytes, 0 = off", hide="part"),
        semantic_encoder.PARAMETERS["key_fraction"].with_(hide="part"),
        semantic_encoder.PARAMETERS["codec"].with_(hide="part"),
        MODELS,
        QUANT,
        Param("fixed_mcs", "str", "", "Fixed MCS", "send every packet at this MCS (empty = plan per class)",
              choices=("",) + MCS_PARAMETER.choices, choice_labels=("(plan per class)",) + MCS_PARAMETER.choices,
              free_text=True, hide="part"),
        QUEUE_SIZE,
        EXECUTOR,
        Param("repeat_reserve", "float", 0.0, "Repeat Reserve",
              "closed loop: share of each image's samples kept for repeats after feedback (0 = open loop)",
              lo=0, hi=0.9, hide="part"),
        fragmenter.PARAMETERS["linger_s"],
        fragmenter.PARAMETERS["report_timeout_s"],
        fragmenter.PARAMETERS["repeat_channel"],
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Semantic TX", category="[GenSemCom]", inputs=(message("in"), message("feedback", optional=True)),
        outputs=(stream(), message("mask", optional=True), message("report", optional=True),
                 message("packets", optional=True)),
        asserts=("${ cpp > 0 or budget_bytes > 0 }",),
        documentation="""
Semantic transmitter: image PDUs in, complex baseband bursts out.
Chain: Semantic Encoder -> Fragmenter (MCS per importance class) -> OFDM/QAM TX.

Input (message "in"): image PDU (e.g. from the Image Source).
Output (stream): complex64 bursts at the PHY's stated power (-15 dBFS during OFDM
symbols, peaks below 1.0), separated by zero gaps. Message outputs: mask (sender's key
mask), report (encoder report), packets (each packet with its MCS).

Budget: "Channel Uses per Pixel" = complex data-carrier symbols per image / (H*W*3); the
image may put cpp*H*W*3 times the PHY's nominal samples per data symbol on the air (every
sample counts: preambles, headers, pilots, cyclic prefixes, gaps, copies, repair packets).
The encoder's rate control fits the image into it with each class's protection counted.
Link profile: numerology, packet size, targets per class (name or .yaml; profiles live in
the package's link/profiles/ folder). With "mcs: auto" each class gets the cheapest MCS x
copies x erasure code x packet size that meets its target at the planning SNR (Es/N0 per
data carrier); a baseline takes the plan of best expected quality for its image. The
planning SNR can change while the flowgraph runs (from the next image on).
Closed loop ("feedback" connected, Repeat Reserve > 0): what a report says is missing is
sent again within the image's samples; Repeat Statistics picks the PER curves its MCS is
chosen with at the reported SNR (AWGN: the channel holds still for an image; a fading
channel's name: it changes within one, e.g. a vehicle).
""")

    def __init__(self, scheme=DEFAULT.scheme, profile=DEFAULT.profile, snr_db=DEFAULT.snr_db,
                 channel=DEFAULT.channel, cpp=DEFAULT.cpp, budget_bytes=DEFAULT.budget_bytes,
                 key_fraction=DEFAULT.key_fraction, codec=DEFAULT.codec, models=DEFAULT.models, quant=DEFAULT.quant,
                 fixed_mcs=DEFAULT.fixed_mcs, queue_size=DEFAULT.queue_size, repeat_reserve=DEFAULT.repeat_reserve,
                 linger_s=DEFAULT.linger_s, report_timeout_s=DEFAULT.report_timeout_s, executor=DEFAULT.executor,
                 repeat_channel=DEFAULT.repeat_channel):
        gr.hier_block2.__init__(self, "gensemcom_semantic_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.profile = LinkProfile.load(profile)
        checked = self.PARAMETERS.check("semantic_tx", snr_db=snr_db, channel=channel, cpp=cpp,
                                        budget_bytes=budget_bytes)
        snr_db, cpp = checked.snr_db, checked.cpp
        if cpp <= 0 and checked.budget_bytes <= 0:
            raise BadInputError("semantic_tx: give a budget: cpp > 0 (channel uses per pixel) or budget_bytes > 0")
        self.scheme, self.channel, self.fixed_mcs = scheme, channel, fixed_mcs
        reserve = self.PARAMETERS["repeat_reserve"].check("semantic_tx", repeat_reserve)
        self.planner = SenderPlanner(self.profile, scheme, snr_db, channel, cpp, checked.budget_bytes, fixed_mcs,
                                     reserve)
        first = self.planner.plans()[0]
        self.fragmenter = fragmenter(first.mtu_bytes, first.mcs_plan, first.copies, first.repair,
                                     numerology=self.profile.numerology_object(), linger_s=linger_s,
                                     report_timeout_s=report_timeout_s, repeat_channel=repeat_channel)
        self.encoder = semantic_encoder(scheme, budget_bytes=0, mtu_bytes=first.mtu_bytes, key_fraction=key_fraction,
                                        codec=codec, models=models, quant=quant, queue_size=queue_size,
                                        planner=self.planner, executor=executor)
        self.phy = ofdm_qam_tx(first.mcs_plan[min(first.mcs_plan)], self.profile.numerology_object())
        for port in ("in", "feedback"):
            self.message_port_register_hier_in(port)
        for port in ("mask", "report", "packets"):
            self.message_port_register_hier_out(port)
        self.msg_connect(self, "in", self.encoder, "in")
        self.msg_connect(self, "feedback", self.fragmenter, "feedback")
        self.msg_connect(self.encoder, "sections", self.fragmenter, "in")
        self.msg_connect(self.fragmenter, "out", self.phy, "in")
        self.msg_connect(self.encoder, "mask", self, "mask")
        self.msg_connect(self.encoder, "report", self, "report")
        self.msg_connect(self.fragmenter, "out", self, "packets")
        self.connect(self.phy, self)

    def set_snr_db(self, snr_db):
        """Re-plan the protection for a new planning SNR (takes effect for the next image)."""
        snr_db = self.PARAMETERS["snr_db"].check("semantic_tx", snr_db)
        self.planner = self.planner.at_snr(snr_db)
        self.encoder.set_planner(self.planner)

    def set_repeat_channel(self, repeat_channel):
        """The PER curves the next repeat rounds are planned with (awgn or a fading channel)."""
        self.fragmenter.set_repeat_channel(repeat_channel)


class semantic_rx(_releases_phy, gr.hier_block2):
    """Semantic receiver: complex64 samples in, decoded image PDUs out (message port ``out``).

    Message outputs: ``out`` (image PDU per image, meta: image_id, delivered,
    sections_received, sections_missing, fragments, regenerated), ``report`` (decoder report),
    ``mask`` (the key mask as received, before ``out``), ``packets`` (every PHY packet with its
    meta: mcs, crc_ok, snr_db, evm_db, cfo), ``symbols`` (equalised payload symbols per packet,
    for a constellation display).
    Parameters (``PARAMETERS``)
      scheme, profile, models, quant   as the transmitter's
      default_width, default_height    image size to assume when the container header is lost
      timeout_s                        an image is decoded this long after its last packet
      executor                         "process": the decoder's models run in a child process
      effort                           the PHY receiver's decoding effort (``ofdm_qam_rx``): "full"
                                       or "fast" (bounded, for a radio's real-time stream)
    """

    PARAMETERS = Params(
        SCHEME.with_(doc="the scheme the sender used"),
        PROFILE.with_(doc="the sender's link profile (name or .yaml path)"),
        MODELS,
        QUANT,
        semantic_decoder.PARAMETERS["default_width"],
        semantic_decoder.PARAMETERS["default_height"],
        reassembler.PARAMETERS["timeout_s"].with_(label="Image Timeout", hide="none"),
        QUEUE_SIZE,
        EXECUTOR,
        reassembler.PARAMETERS["feedback_after_s"],
        reassembler.PARAMETERS["max_pending"].with_(hide="part"),
        DECODING_EFFORT,
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Semantic RX", category="[GenSemCom]", inputs=(stream(), message("poll", optional=True)),
        outputs=(message("out"), message("report", optional=True), message("packets", optional=True),
                 message("mask", optional=True), message("symbols", optional=True),
                 message("feedback", optional=True)),
        documentation="""
Semantic receiver: complex baseband in, decoded images out.
Chain: OFDM/QAM RX -> Reassembler -> Semantic Decoder.

Input (stream): complex64 samples (from a channel, an SDR source, ZeroMQ or a SigMF file).
Outputs (message): out = image PDU per image (meta image_id, delivered, sections_received,
sections_missing, fragments, regenerated); report = decoder report; mask = the key mask as
received (for key-region metrics at the receiver); symbols = equalised payload symbols per
packet (for a QT GUI Constellation Sink of type Complex Message); packets = every PHY
packet with its meta (mcs, seq, crc_ok, snr_db, evm_db, cfo).

Scheme, profile and models must match the transmitter's. An image is decoded when it is
complete, when the next image starts, or "Image Timeout" seconds after its last packet.
Closed loop: feedback = what a pending image lacks (missing fragments, erasure blocks short
of shares, the SNR estimate), published when polled (poll: meta image_id) or "Feedback
After" seconds after the image's last packet; connect it to Semantic TX's feedback input
(through a return link) and the sender repeats what is missing. In a stream, where the next
image starts at once, set "Images Pending" above 1 so that an image waits for its repeats.
Decoding Effort: Fast decodes a packet's first two passes with at most 12 min-sum LDPC
iterations instead of 50 sum-product ones (the tracking passes use min-sum at either
effort): up to 3.5 times less CPU on fading channels, so that decoding keeps closer pace
with a radio; Full is what the PER curves measure (simulations).
""")

    def __init__(self, scheme=DEFAULT.scheme, profile=DEFAULT.profile, models=DEFAULT.models, quant=DEFAULT.quant,
                 default_width=DEFAULT.default_width, default_height=DEFAULT.default_height,
                 timeout_s=DEFAULT.timeout_s, queue_size=DEFAULT.queue_size,
                 feedback_after_s=DEFAULT.feedback_after_s, max_pending=DEFAULT.max_pending,
                 executor=DEFAULT.executor, effort=DEFAULT.effort):
        gr.hier_block2.__init__(self, "gensemcom_semantic_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.profile = LinkProfile.load(profile)
        self.PARAMETERS["timeout_s"].check("semantic_rx", timeout_s)
        self.phy = ofdm_qam_rx(self.profile.numerology_object(), effort=effort)
        self.reassembler = reassembler(timeout_s, max_pending=max_pending, feedback_after_s=feedback_after_s)
        self.decoder = semantic_decoder(scheme, models, quant, default_width, default_height, queue_size=queue_size,
                                        executor=executor)
        for port in ("out", "report", "packets", "mask", "symbols", "feedback"):
            self.message_port_register_hier_out(port)
        self.message_port_register_hier_in("poll")
        self.msg_connect(self, "poll", self.reassembler, "poll")
        self.msg_connect(self.reassembler, "feedback", self, "feedback")
        self.connect(self, self.phy)
        self.msg_connect(self.phy, "out", self.reassembler, "in")
        self.msg_connect(self.reassembler, "out", self.decoder, "in")
        self.msg_connect(self.decoder, "out", self, "out")
        self.msg_connect(self.decoder, "report", self, "report")
        self.msg_connect(self.decoder, "mask", self, "mask")
        self.msg_connect(self.phy, "out", self, "packets")
        self.msg_connect(self.phy, "symbols", self, "symbols")

    def set_effort(self, effort):
        """Change the PHY receiver's decoding effort while running (``ofdm_qam_rx.set_effort``)."""
        self.phy.set_effort(effort)
