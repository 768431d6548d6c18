# SPDX-License-Identifier: GPL-3.0-or-later
"""What a radio puts on the air between bursts: a continuous stream from a bursty transmitter.

``ofdm_qam_tx`` emits bursts only when it has packets; a radio's DAC runs on regardless and
sends zeros in between. ``idle_fill`` makes that continuous stream so a flowgraph can run at a
radio's pace (a throttle or the radio sink downstream sets the rate): real-time streaming
tests, where the receiver must also keep up with the noise between packets.
"""
import time

import numpy as np
import pmt
from gnuradio import gr

from ..grc_yaml import GrcBlock, stream
from ..params import Param, Params
from .ofdm_qam_tx import TX_LEN_TAG

IDLE_CHUNK_SAMPLES = 8192   # zeros per call between bursts: a new burst waits at most this many


class idle_fill(gr.basic_block):
    """Bursts in, a continuous stream out.

    Input: complex64 bursts, each starting with a ``TX_LEN_TAG`` tag of its length (the
    output of ``ofdm_qam_tx``). Output: the bursts whole and in order, their tags kept, and
    zeros whenever no burst is waiting (at most ``idle_chunk`` per call). A burst is never
    cut: when part of one has arrived and the rest has not, the block waits, and the time it
    waits is counted (``stats["starved_s"]``: what a radio would report as an underflow).
    Untagged input is passed through as it comes.

    ``idle_chunk`` 0: no zeros at all (the bursts pass as they come: a flowgraph that streams
    only when it has something to send, as a simulation does).

    stats: bursts, burst_samples, idle_samples, starved_events, starved_s. ``busy_items()``:
    burst samples passed on (what ``run_control.stop_when`` watches: zeros are not activity).
    """

    PARAMETERS = Params(
        Param("idle_chunk", "int", IDLE_CHUNK_SAMPLES, "Zeros per Call",
              "zeros per call between bursts; a new burst waits at most this many (0 = no zeros: bursts only)",
              unit="samples", lo=0),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Idle Fill", category="[GenSemCom]/PHY", inputs=(stream(),), outputs=(stream(),),
        documentation="""
A radio's continuous stream from a bursty transmitter: OFDM QAM TX's bursts whole and in
order, zeros whenever no burst is waiting (as a radio's DAC sends between bursts).

Put it after OFDM QAM TX (or Semantic TX) and pace it with a Throttle or a radio sink:
the channel and the receiver then see time pass while the transmitter is quiet (fading
and shadowing move on, the receiver decodes noise between packets), as over the air.

Zeros per Call: at most that many zeros per call (a burst that arrives waits at most that
long); 0 passes the bursts only, with no zeros (simulation pace).
""")

    def __init__(self, idle_chunk=DEFAULT.idle_chunk):
        gr.basic_block.__init__(self, name="gensemcom_idle_fill", in_sig=[np.complex64], out_sig=[np.complex64])
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self.idle_chunk = self.PARAMETERS["idle_chunk"].check("idle_fill", idle_chunk)
        self._key = pmt.intern(TX_LEN_TAG)
        self._remaining = 0          # samples of the current burst still to pass on
        self._starved_since = None
        self.stats = {"bursts": 0, "burst_samples": 0, "idle_samples": 0, "starved_events": 0, "starved_s": 0.0}

    def forecast(self, noutput_items, ninputs):
        # called without input too: that is when zeros go out (bursts only: wait for input)
        return [0 if self.idle_chunk else 1] * ninputs

    def busy_items(self):
        """Burst samples passed on so far."""
        return self.stats["burst_samples"]

    def general_work(self, input_items, output_items):
        inp, out = input_items[0], output_items[0]
        if self._remaining == 0 and len(inp):
            self._start_burst()
        if self._remaining:
            if not len(inp):
                if self._starved_since is None:
                    self._starved_since = time.monotonic()
                    self.stats["starved_events"] += 1
                return 0
            self._end_starvation()
            count = min(len(inp), len(out), self._remaining)
            out[:count] = inp[:count]
            self.consume(0, count)
            self._remaining -= count
            self.stats["burst_samples"] += count
            return count
        if not self.idle_chunk:
            return 0
        count = min(len(out), self.idle_chunk)
        out[:count] = 0
        self.stats["idle_samples"] += count
        return count

    def _start_burst(self):
        """At a burst's first sample: its length from the tag (1 sample when untagged)."""
        tags = [t for t in self.get_tags_in_window(0, 0, 1) if pmt.eq(t.key, self._key)]
        self._remaining = 1
        if tags:
            self._remaining = max(1, pmt.to_long(tags[0].value))
            self.stats["bursts"] += 1
            self.add_item_tag(0, self.nitems_written(0), self._key, tags[0].value)

    def _end_starvation(self):
        if self._starved_since is not None:
            self.stats["starved_s"] += time.monotonic() - self._starved_since
            self._starved_since = None
