"""Where baseband samples come from and go to: ZeroMQ, SigMF recordings, UHD and SoapySDR devices.

One spec string names an endpoint, for ``gensemcom tx``/``rx``/``channel``:
  zmq:tcp://127.0.0.1:5555     ZeroMQ PUSH (as a sink) / PULL (as a source), complex64 stream
  sigmf:PATH                   SigMF recording (PATH = base name; cf32_le)
  uhd:ARGS                     USRP via UHD, ARGS e.g. "type=b200" (needs --freq, --rate, --gain)
  soapy:ARGS                   SoapySDR device, ARGS e.g. "driver=hackrf"
"""
from .errors import BadInputError

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
        from .blocks.sigmf_io import sigmf_sink
        return sigmf_sink(argument, samp_rate, freq_hz, description)
    from .phy.ofdm_qam_tx import TX_LEN_TAG
    try:
        if kind == "uhd":
            from gnuradio import uhd
            sink = uhd.usrp_sink(argument, uhd.stream_args(cpu_format="fc32", channels=[0]), TX_LEN_TAG)
            sink.set_samp_rate(samp_rate)
            sink.set_center_freq(freq_hz, 0)
            sink.set_gain(gain_db, 0)
            return sink
        from gnuradio import soapy
        sink = soapy.sink(argument, "fc32", 1, "", "", [""], [""])
        sink.set_sample_rate(0, samp_rate)
        sink.set_frequency(0, freq_hz)
        sink.set_gain(0, gain_db)
        sink.set_length_tag_name(TX_LEN_TAG)
        return sink
    except RuntimeError as exc:
        raise BadInputError(f"cannot open {kind} device {argument!r}: {exc} (is it connected? check "
                            f"`{'uhd_find_devices' if kind == 'uhd' else 'SoapySDRUtil --find'}`)") from None


def make_source(spec, samp_rate=20e6, freq_hz=2.45e9, gain_db=0.0):
    """A GNU Radio complex64 source block for an endpoint spec."""
    from gnuradio import gr
    kind, argument = parse_endpoint(spec)
    if kind == "zmq":
        from gnuradio import zeromq
        return zeromq.pull_source(gr.sizeof_gr_complex, 1, argument, 100, False, -1)
    if kind == "sigmf":
        from .blocks.sigmf_io import sigmf_source
        return sigmf_source(argument)
    try:
        if kind == "uhd":
            from gnuradio import uhd
            source = uhd.usrp_source(argument, uhd.stream_args(cpu_format="fc32", channels=[0]))
            source.set_samp_rate(samp_rate)
            source.set_center_freq(freq_hz, 0)
            source.set_gain(gain_db, 0)
            return source
        from gnuradio import soapy
        source = soapy.source(argument, "fc32", 1, "", "", [""], [""])
        source.set_sample_rate(0, samp_rate)
        source.set_frequency(0, freq_hz)
        source.set_gain(0, gain_db)
        return source
    except RuntimeError as exc:
        raise BadInputError(f"cannot open {kind} device {argument!r}: {exc} (is it connected? check "
                            f"`{'uhd_find_devices' if kind == 'uhd' else 'SoapySDRUtil --find'}`)") from None
