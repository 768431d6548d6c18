# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a generated UHD or SoapySDR example with the radio replaced by a file: what the tests can do here.

  python tests/radio_standins.py uhd|soapy GENERATED_SCRIPT.py [its arguments]

installs a stand-in ``gnuradio.uhd`` or ``gnuradio.soapy`` module and runs the script as
``__main__``. The stand-in's sink (``uhd.usrp_sink`` / ``soapy.sink``) records complex64 samples
to $STANDIN_IQ; its source (``uhd.usrp_source`` / ``soapy.source``) plays $STANDIN_IQ and then
zeros for ever, paced, as a radio that hears nothing would. Every call made on a stand-in
(set_center_freq, set_gain, ...) is appended to $STANDIN_CALLS as JSON, so a test can check the
tuning the flowgraph asked for. Everything but the radio driver is the example as shipped.
"""
import json
import os
import runpy
import sys
import time
import types

import numpy as np
from gnuradio import blocks, gr


def _record(name, args):
    path = os.environ.get("STANDIN_CALLS")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"call": name, "args": [a if isinstance(a, (int, float, str)) else repr(a)
                                                         for a in args]}) + "\n")


class _Radio(gr.hier_block2):
    """A hier block whose unknown ``set_*`` / ``get_*`` methods (the driver's) are recorded."""

    def __getattr__(self, name):
        try:
            return gr.hier_block2.__getattr__(self, name)
        except AttributeError:
            if not name.startswith(("set_", "get_")):
                raise

        def call(*args, **kwargs):
            _record(name, args)
        return call


class _PlayThenZeros(gr.sync_block):
    """The recording, then zeros at about 200k samples/s (a radio hearing nothing), never ending."""

    def __init__(self, path):
        gr.sync_block.__init__(self, name="standin_radio_source", in_sig=None, out_sig=[np.complex64])
        self._data = np.fromfile(path, np.complex64) if path and os.path.exists(path) else np.zeros(0, np.complex64)
        self._at = 0

    def work(self, input_items, output_items):
        out = output_items[0]
        if self._at < self._data.size:
            n = min(out.size, self._data.size - self._at)
            out[:n] = self._data[self._at:self._at + n]
            self._at += n
            return n
        n = min(out.size, 2000)
        time.sleep(n / 200e3)
        out[:n] = 0
        return n


class _Sink(_Radio):
    def __init__(self, *args, **kwargs):
        gr.hier_block2.__init__(self, "standin_radio_sink", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        _record("make_sink", args)
        self.file = blocks.file_sink(gr.sizeof_gr_complex, os.environ["STANDIN_IQ"], False)
        self.connect(self, self.file)


class _Source(_Radio):
    def __init__(self, *args, **kwargs):
        gr.hier_block2.__init__(self, "standin_radio_source", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        _record("make_source", args)
        self.player = _PlayThenZeros(os.environ.get("STANDIN_IQ"))
        self.connect(self.player, self)


def _module(kind):
    module = types.ModuleType(f"gnuradio.{kind}")
    if kind == "uhd":
        module.usrp_sink, module.usrp_source = _Sink, _Source
        module.stream_args = lambda *args, **kwargs: ("stream_args", args, kwargs)
        module.time_spec = lambda *args: ("time_spec", args)
    else:
        module.sink, module.source = _Sink, _Source
    return module


def main():
    kind, script = sys.argv[1], sys.argv[2]
    import gnuradio
    module = _module(kind)
    sys.modules[f"gnuradio.{kind}"] = module
    setattr(gnuradio, kind, module)
    sys.argv = [script] + sys.argv[3:]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
