# SPDX-License-Identifier: GPL-3.0-or-later
"""Where baseband samples come from and go to: ZeroMQ, SigMF recordings, UHD and SoapySDR devices.

One spec string names an endpoint, for ``gensemcom tx``/``rx``/``channel``:
  zmq:tcp://127.0.0.1:5555     ZeroMQ PUSH (as a sink) / PULL (as a source), complex64 stream
  sigmf:PATH                   SigMF recording (PATH = base name; cf32_le)
  uhd:ARGS                     USRP via UHD, ARGS e.g. "type=b200" (needs --freq, --rate, --gain)
  soapy:ARGS                   SoapySDR device, ARGS e.g. "driver=hackrf"
"""
from ..errors import BadInputError

KINDS = ("zmq", "sigmf", "uhd", "soapy")


def parse_endpoint(spec):
    """(kind, argument) of an endpoint spec; BadInputError naming the valid forms."""
    kind, sep, argument = str(spec).partition(":")
    if not sep or kind not in KINDS or (kind != "uhd" and kind != "soapy" and not argument):
        raise BadInputError(f"endpoint {spec!r} not understood; use zmq:tcp://HOST:PORT, sigmf:PATH, "
                            "uhd:ARGS or soapy:ARGS")
    return kind, argument


def make_sink(spec, samp_rate=20e6, freq_hz=2.45e9, gain_db=0.0, description=""):
    """A GNU Radio complex64 sink block for an endpoint spec."""
    from gnuradio import gr
    kind, argument = parse_endpoint(spec)
    if kind == "zmq":
        from gnuradio import zeromq
        return zeromq.push_sink(gr.sizeof_gr_complex, 1, argument, 100, False, -1)
    if kind == "sigmf":
        from .sigmf_io import sigmf_sink
        return sigmf_sink(argument, samp_rate, freq_hz, description)
    from ..phy.ofdm_qam_tx import TX_LEN_TAG
    return _open_device(kind, argument, "sink", samp_rate, freq_hz, gain_db, TX_LEN_TAG)


def make_source(spec, samp_rate=20e6, freq_hz=2.45e9, gain_db=0.0):
    """A GNU Radio complex64 source block for an endpoint spec."""
    from gnuradio import gr
    kind, argument = parse_endpoint(spec)
    if kind == "zmq":
        from gnuradio import zeromq
        return zeromq.pull_source(gr.sizeof_gr_complex, 1, argument, 100, False, -1)
    if kind == "sigmf":
        from .sigmf_io import sigmf_source
        return sigmf_source(argument)
    return _open_device(kind, argument, "source", samp_rate, freq_hz, gain_db)


def _open_device(kind, argument, direction, samp_rate, freq_hz, gain_db, length_tag=None):
    """A tuned UHD or SoapySDR ``direction`` ("sink" / "source") block; a sink's bursts are
    delimited by ``length_tag``. BadInputError saying how to find devices when none opens."""
    try:
        if kind == "uhd":
            from gnuradio import uhd
            stream_args = uhd.stream_args(cpu_format="fc32", channels=[0])
            block = (uhd.usrp_sink(argument, stream_args, length_tag) if direction == "sink"
                     else uhd.usrp_source(argument, stream_args))
            block.set_samp_rate(samp_rate)
            block.set_center_freq(freq_hz, 0)
            block.set_gain(gain_db, 0)
            return block
        from gnuradio import soapy
        block = getattr(soapy, direction)(argument, "fc32", 1, "", "", [""], [""])
        block.set_sample_rate(0, samp_rate)
        block.set_frequency(0, freq_hz)
        block.set_gain(0, gain_db)
        if length_tag:
            block.set_length_tag_name(length_tag)
        return block
    except RuntimeError as exc:
        raise BadInputError(f"cannot open {kind} device {argument!r}: {exc} (is it connected? check "
                            f"`{'uhd_find_devices' if kind == 'uhd' else 'SoapySDRUtil --find'}`)") from None
