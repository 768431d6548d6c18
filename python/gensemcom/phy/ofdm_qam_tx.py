# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM/QAM + LDPC transmitter: PDU in, complex baseband bursts out.

Chain (GNU Radio blocks except the per-packet encoder)::

    PDU --> packet_encoder --> pdu_to_tagged_stream --> ofdm_carrier_allocator_cvc
        (header + payload symbols)          (pilots, preamble = sync word x repeats)
        --> fft_vcc (IFFT) --> ofdm_cyclic_prefixer --> burst_shaper_cc (gap) --> multiply_const

The gap of zeros comes before each burst: the receiver then sees noise, not a stream start,
before the first preamble (its detection metric is normalised by the energy of the last
preamble-length window), and burst_shaper_cc drops post-padding when its input ends.
"""
import itertools
import time

import numpy as np
import pmt
from gnuradio import blocks, digital, fft, gr, pdu

from ..errors import BadInputError
from ..grc_yaml import GrcBlock, message, stream
from ..params import NUMEROLOGY, Params
from .config import DEFAULT_NUMEROLOGY, Numerology
from .framing import FLAG_FILLER, MAX_SEQ, Header, header_symbols, payload_symbols_batch
from .mcs import MCS_PARAMETER, get_mcs, largest_frame
from .pdus import c32vector, drain, is_done, make_pdu, pdu_meta, take_queued

TX_LEN_TAG = "gsc_tx_len"
ENCODE_BATCH = 32   # PDUs the encoder takes from its queue at once
DONE_WAIT_S = 10.0  # longest wait at the end of a stream for the next block to take the last PDUs


def as_numerology(numerology):
    """A ``Numerology`` from None (default), a ``Numerology`` or a dict (``from_dict``)."""
    if numerology is None:
        return DEFAULT_NUMEROLOGY
    if isinstance(numerology, Numerology):
        return numerology
    if not isinstance(numerology, dict):
        raise BadInputError(f"numerology must be None, a Numerology or a dict of its fields, got {numerology!r}")
    return Numerology.from_dict(numerology)


def release(*blocks):
    """After a flowgraph has ended for good: drop the internal connections of these hier blocks
    (``release()`` where they have one, else ``disconnect_all()``). A hier block whose message
    port is connected inside it is held by that connection, and with it every block inside and
    their stream buffers, after the flowgraph itself is gone: ``run_link`` left 72 System V
    shared memory segments per run (14 released), and a process has 4096. The blocks cannot run
    again afterwards; their counters and attributes stay readable."""
    for block in blocks:
        if hasattr(block, "release"):
            block.release()
        elif isinstance(block, gr.hier_block2):
            block.disconnect_all()


def reserve_buffer(block, items):
    """``set_min_output_buffer`` without GNU Radio's info line about it."""
    block.set_log_level("warn")
    block.set_min_output_buffer(int(items))


class packet_encoder(gr.basic_block):
    """Message block: PDU (meta, u8vector payload) -> PDU (meta, c32vector data-carrier symbols).

    Meta keys read: ``mcs`` (name; default: the block's), ``seq`` (0..65535; default: a
    running counter), ``flags`` (0..63). Invalid PDUs are dropped with a log message.

    End of stream: on ``done`` (from ``post_done`` or from an upstream message block that
    finished) it first encodes every PDU still queued, then a filler burst (1 byte, uncoded
    BPSK, header flag ``FLAG_FILLER``; receivers drop it) that carries the last real burst
    through the receiver, which needs a preamble's worth of samples after a burst (each
    burst's gap comes before it).
    """

    send_filler = True
    downstream_backlog = None   # callable: PDUs the next block has not taken yet (see handle_system)

    def __init__(self, mcs=MCS_PARAMETER.default, numerology=None):
        gr.basic_block.__init__(self, name="gensemcom_packet_encoder", in_sig=None, out_sig=None)
        self.numerology = as_numerology(numerology)
        self.mcs = get_mcs(mcs).name
        self._seq = 0
        self.message_port_register_in(pmt.intern("in"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("in"), self.handle)
        self.set_msg_handler(pmt.intern("system"), self.handle_system)

    def handle_system(self, msg):
        """``done``: drain queued PDUs, send the filler, then finish (GNU Radio handles the
        system port before other queued messages)."""
        if is_done(msg):
            drain(self, "in", self.handle)
            if self.send_filler:
                self.handle(make_pdu(b"\0", mcs="bpsk", flags=FLAG_FILLER))
            # a block that pulls PDUs in its work (pdu_to_tagged_stream) ends at ``done`` with PDUs
            # still queued: pass ``done`` on only once it has taken them all
            deadline = time.monotonic() + DONE_WAIT_S
            while self.downstream_backlog is not None and self.downstream_backlog() and time.monotonic() < deadline:
                time.sleep(0.001)
        self.system_handler(msg)

    def set_mcs(self, mcs):
        self.mcs = get_mcs(mcs).name

    def handle(self, msg):
        """Encode ``msg`` and the PDUs queued behind it (up to ``ENCODE_BATCH``): each header on its
        own, the payloads of one MCS and length in one vectorised call, in arrival order."""
        ready = []
        for pdu in [msg, *take_queued(self, "in", ENCODE_BATCH - 1)]:
            try:
                meta, payload = pdu_meta(pdu)
                mcs = get_mcs(meta.get("mcs", self.mcs)).name
                seq = int(meta.get("seq", self._seq)) & MAX_SEQ
                head = header_symbols(Header(mcs, len(payload), seq, int(meta.get("flags", 0))), self.numerology)
            except Exception as exc:  # an exception here would stop the flowgraph for good
                self.logger.error(f"dropping PDU: {exc!r}")
                continue
            self._seq = (seq + 1) & MAX_SEQ
            meta.update(mcs=mcs, seq=seq)
            ready.append((meta, payload, head))
        for _, group in itertools.groupby(ready, key=lambda item: (item[0]["mcs"], len(item[1]))):
            group = list(group)
            try:
                bodies = payload_symbols_batch([payload for _, payload, _ in group], group[0][0]["mcs"],
                                               self.numerology)
            except Exception as exc:
                self.logger.error(f"dropping {len(group)} PDUs: {exc!r}")
                continue
            for (meta, _, head), body in zip(group, bodies):
                symbols = np.concatenate([head, body])
                self.message_port_pub(pmt.intern("out"), pmt.cons(pmt.to_pmt(meta), c32vector(symbols)))


class ofdm_qam_tx(gr.hier_block2):
    """OFDM/QAM/LDPC transmitter (hier block).

    Input: message port ``in``, PDUs (meta dict, u8vector of 1..4096 bytes); meta may set
    ``mcs``, ``seq`` and ``flags``. Output: complex64 stream of bursts, each preceded by
    ``numerology.gap_len`` zeros; mean power over the OFDM symbols is
    ``numerology.tx_power_db`` dBFS (-15 dBFS by default, peaks below 1.0).

    Parameters (``PARAMETERS``): ``mcs`` (default MCS name, see ``mcs.MCS_TABLE``; ``set_mcs``
    changes it while running), ``numerology`` (``Numerology``, dict or None for the 802.11a-like
    default).

    A finite flowgraph ends after ``post_done()`` (see there); with a GRC message source,
    the flowgraph runs until stopped, as with an SDR.
    """

    PARAMETERS = Params(
        MCS_PARAMETER.with_(doc="default modulation and coding scheme (a PDU's meta mcs overrides it)",
                            runtime_setter="set_mcs"),
        NUMEROLOGY,
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="OFDM QAM TX", category="[GenSemCom]/PHY", inputs=(message("in"),), outputs=(stream(),),
        documentation="""
OFDM transmitter with QAM and IEEE 802.11n LDPC codes (gr-gensemcom PHY).

Input (message port "in"): PDUs, pmt.cons(meta dict, u8vector of 1..4096 bytes).
Meta keys read: "mcs" (overrides the MCS parameter for this packet), "seq" (0..65535,
default: a running counter), "flags" (0..63).

Output (stream): complex64 baseband bursts. Each burst = a gap of zeros (720 samples
by default), 8 preamble OFDM symbols, 11 BPSK header symbols (K=7 convolutional code,
CRC-16; carries MCS, length, seq, flags), then the payload (CRC-32, LDPC, interleaved,
QAM). Mean power over the OFDM symbols is -15 dBFS, peaks stay
below 1.0 (PAPR about 11-12 dB).

Parameters:
MCS: bpsk/qpsk/16qam/64qam are uncoded; <mod>-<rate> use 802.11n LDPC (rates 1/2,
2/3, 3/4, 5/6); bpsk-1/2x4 is the robust mode (decodes at -5 dB Es/N0).
Numerology: None for the 802.11a-like default (fft_len 64, cp_len 16, 48 data +
4 pilot carriers), or a gensemcom.phy.config.Numerology / dict (Numerology.to_dict()).
Must match the receiver's.

Samples per packet: gensemcom.phy.mcs.frame_size(payload_bytes, mcs).samples.
""")

    def __init__(self, mcs=DEFAULT.mcs, numerology=DEFAULT.numerology):
        gr.hier_block2.__init__(self, "gensemcom_ofdm_qam_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        nm = self.numerology = as_numerology(numerology)
        self.message_port_register_hier_in("in")
        self.encoder = packet_encoder(mcs, nm)
        to_stream = pdu.pdu_to_tagged_stream(gr.types.complex_t, TX_LEN_TAG)
        self.encoder.downstream_backlog = lambda: to_stream.to_basic_block().nmsgs(pmt.intern("pdus"))
        pilot_symbols = [list(row) for row in nm.pilots(0, 127)]
        sync = list(np.fft.fftshift(nm.sync_spectrum))
        allocator = digital.ofdm_carrier_allocator_cvc(
            nm.fft_len, [list(nm.data_carriers)], [list(nm.pilot_carriers)], pilot_symbols,
            [sync] * nm.preamble_repeats, TX_LEN_TAG, True)
        ifft = fft.fft_vcc(nm.fft_len, False, (), True)
        prefixer = digital.ofdm_cyclic_prefixer(nm.fft_len, nm.symbol_len, 0, TX_LEN_TAG)
        shaper = digital.burst_shaper_cc([], nm.gap_len, 0, False, TX_LEN_TAG)
        self.scale = blocks.multiply_const_cc(nm.tx_gain)
        # tagged-stream blocks need a whole packet in their output buffer
        longest = largest_frame(nm)
        reserve_buffer(to_stream, longest.ofdm_symbols * nm.n_data_carriers)
        for block in (allocator, ifft):
            reserve_buffer(block, longest.ofdm_symbols)
        reserve_buffer(prefixer, longest.burst_samples)
        reserve_buffer(shaper, longest.samples)
        self.msg_connect(self, "in", self.encoder, "in")
        self.msg_connect(self.encoder, "out", to_stream, "pdus")
        self.connect(to_stream, allocator, ifft, prefixer, shaper, self.scale, self)

    def set_mcs(self, mcs):
        """Change the default MCS (PDUs may still override it with meta ``mcs``)."""
        self.encoder.set_mcs(mcs)

    def post(self, payload, **meta):
        """Queue one payload (bytes) for transmission; meta as for the ``in`` port."""
        self.encoder.to_basic_block()._post(pmt.intern("in"), make_pdu(payload, **meta))

    def post_done(self, filler=True):
        """End a finite flowgraph: tell the encoder that no more PDUs will come. It encodes
        what is queued, then (``filler``) a filler burst that carries the last real burst
        through the receiver (see ``packet_encoder``), then ends the stream."""
        self.encoder.send_filler = bool(filler)
        self.encoder.to_basic_block()._post(pmt.intern("system"),
                                            pmt.cons(pmt.intern("done"), pmt.from_long(1)))
