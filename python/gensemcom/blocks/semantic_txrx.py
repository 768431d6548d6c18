"""``semantic_tx`` / ``semantic_rx``: image PDUs ↔ complex baseband, with unequal error protection.

TX:  image PDU ─▶ semantic_encoder ─▶ fragmenter (MCS per importance class) ─▶ ofdm_qam_tx ─▶ samples
RX:  samples ─▶ ofdm_qam_rx ─▶ reassembler ─▶ semantic_decoder ─▶ image PDU

The link profile (``link.profile.LinkProfile``) names the numerology, packet size and the MCS
per importance class; with ``mcs: auto`` the plan follows the planning SNR: the container
header, metadata and prompt get the most robust protection, key-region streams the fastest MCS
that the SNR allows. Whole-image baselines ("jpeg", "webp", "avif") use one MCS for all
packets, the best for the SNR (or ``fixed_mcs``).
"""
from gnuradio import gr

from ..errors import BadInputError
from ..link.profile import LinkProfile
from ..link.senders import plan_for
from ..params import number
from ..phy.ofdm_qam_rx import ofdm_qam_rx
from ..phy.ofdm_qam_tx import ofdm_qam_tx
from .fragmenter import fragmenter
from .reassembler import reassembler
from .semantic_decoder import semantic_decoder
from .semantic_encoder import semantic_encoder


class semantic_tx(gr.hier_block2):
    """Semantic transmitter: image PDUs in (message port ``in``), complex64 bursts out.

    Message outputs: ``mask`` (sender's key mask per image), ``report`` (encoder report),
    ``packets`` (each packet handed to the PHY, with its MCS).
    Parameters
      scheme        "semantic", or a whole-image baseline "jpeg", "webp", "avif"
      profile       link profile name or .yaml path (``gensemcom transmit --help`` lists them)
      snr_db        planning SNR (Es/N0 per data carrier, dB) for ``mcs: auto``
      channel       planning channel statistics for the MCS thresholds (awgn, rayleigh, ...)
      cpp           channel uses per pixel: data-carrier symbols per image = cpp·H·W·3 (0 = off)
      budget_bytes  byte budget per image (0 = off); at least one of cpp/budget_bytes
      key_fraction  target key-area share (0 = automatic); codec: key-stream codec
      models, quant semantic model stack; fixed_mcs: one MCS for every packet (overrides)
    On a fading planning channel the profile's ``fading_repeats`` send the most important
    packets more than once (counted in the budget).
    """

    def __init__(self, scheme="semantic", profile="default", snr_db=10.0, channel="awgn", cpp=1 / 48,
                 budget_bytes=0, key_fraction=0.0, codec="avif", models="offline", quant="none",
                 fixed_mcs="", queue_size=4):
        gr.hier_block2.__init__(self, "gensemcom_semantic_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.profile = LinkProfile.load(profile)
        snr_db = number("semantic_tx", "snr_db", snr_db, -50, 80)
        cpp = number("semantic_tx", "cpp", cpp, 0)
        if cpp <= 0 and number("semantic_tx", "budget_bytes", budget_bytes, 0, integer=True) <= 0:
            raise BadInputError("semantic_tx: give a budget: cpp > 0 (channel uses per pixel) or budget_bytes > 0")
        self.scheme, self.channel, self.fixed_mcs = scheme, channel, fixed_mcs
        self.plan, self.repeats = plan_for(self.profile, scheme, snr_db, channel, fixed_mcs)
        self.fragmenter = fragmenter(self.profile.mtu_bytes, self.plan, self.repeats)
        cost = self.profile.symbols_for_bytes(self.plan, self.repeats)
        self.encoder = semantic_encoder(scheme, budget_bytes, cpp, cost, self.profile.mtu_bytes, key_fraction, codec,
                                        models, quant, queue_size, packet_group=self.fragmenter.group_of,
                                        band_bytes=self.profile.key_band_bytes(channel, scheme) or 0)
        self.phy = ofdm_qam_tx(self.plan[min(self.plan)], self.profile.numerology_object())
        for port in ("in",):
            self.message_port_register_hier_in(port)
        for port in ("mask", "report", "packets"):
            self.message_port_register_hier_out(port)
        self.msg_connect(self, "in", self.encoder, "in")
        self.msg_connect(self.encoder, "sections", self.fragmenter, "in")
        self.msg_connect(self.fragmenter, "out", self.phy, "in")
        self.msg_connect(self.encoder, "mask", self, "mask")
        self.msg_connect(self.encoder, "report", self, "report")
        self.msg_connect(self.fragmenter, "out", self, "packets")
        self.connect(self.phy, self)

    def set_snr_db(self, snr_db):
        """Re-plan the MCS per class for a new planning SNR (takes effect for the next image)."""
        snr_db = number("semantic_tx", "snr_db", snr_db, -50, 80)
        self.plan, self.repeats = plan_for(self.profile, self.scheme, snr_db, self.channel, self.fixed_mcs)
        self.encoder.symbols_for_bytes = self.profile.symbols_for_bytes(self.plan, self.repeats)
        self.fragmenter.set_mcs_plan(self.plan, self.repeats)


class semantic_rx(gr.hier_block2):
    """Semantic receiver: complex64 samples in, decoded image PDUs out (message port ``out``).

    Message outputs: ``out`` (image PDU per image, meta: image_id, delivered,
    sections_received, sections_missing, fragments, regenerated), ``report`` (decoder report),
    ``mask`` (the key mask as received, before ``out``), ``packets`` (every PHY packet with its
    meta: mcs, crc_ok, snr_db, evm_db, cfo), ``symbols`` (equalised payload symbols per packet,
    for a constellation display).
    Parameters
      scheme, profile, models, quant   as the transmitter's
      default_width, default_height    image size to assume when the container header is lost
      timeout_s                        an image is decoded this long after its last packet
    """

    def __init__(self, scheme="semantic", profile="default", models="offline", quant="none",
                 default_width=0, default_height=0, timeout_s=2.0, queue_size=4):
        gr.hier_block2.__init__(self, "gensemcom_semantic_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.profile = LinkProfile.load(profile)
        number("semantic_rx", "timeout_s", timeout_s, 0)
        self.phy = ofdm_qam_rx(self.profile.numerology_object())
        self.reassembler = reassembler(timeout_s)
        self.decoder = semantic_decoder(scheme, models, quant, default_width, default_height, queue_size=queue_size)
        for port in ("out", "report", "packets", "mask", "symbols"):
            self.message_port_register_hier_out(port)
        self.connect(self, self.phy)
        self.msg_connect(self.phy, "out", self.reassembler, "in")
        self.msg_connect(self.reassembler, "out", self.decoder, "in")
        self.msg_connect(self.decoder, "out", self, "out")
        self.msg_connect(self.decoder, "report", self, "report")
        self.msg_connect(self.decoder, "mask", self, "mask")
        self.msg_connect(self.phy, "out", self, "packets")
        self.msg_connect(self.phy, "symbols", self, "symbols")
