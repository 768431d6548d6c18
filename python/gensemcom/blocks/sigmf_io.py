# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recordings of baseband IQ: record what the transmitter sends, decode it offline.

A recording is ``BASE.sigmf-data`` (complex64 little-endian samples, ``cf32_le``) and
``BASE.sigmf-meta`` (JSON: sample rate, centre frequency, description, recorder), the
community's format for sharing IQ captures (sigmf.org). The data file is written by GNU Radio's
``file_sink`` and read by ``file_source``; the metadata by the ``sigmf`` package.
"""
from pathlib import Path

import numpy as np
from gnuradio import blocks, gr

from ..errors import BadInputError
from ..fileio import write_text_atomic
from ..grc_yaml import GrcBlock, stream
from ..params import REQUIRED, Param, Params
from ..version import __version__

DATATYPE = "cf32_le"


def recording_paths(base):
    """(data path, meta path) of a recording named by its base path or either file."""
    base = Path(str(base))
    for suffix in (".sigmf-data", ".sigmf-meta", ".sigmf"):
        if base.name.endswith(suffix):
            base = base.with_name(base.name[: -len(suffix)])
    return base.with_name(base.name + ".sigmf-data"), base.with_name(base.name + ".sigmf-meta")


def write_meta(base, samp_rate, center_freq_hz=0.0, description="", skip_checksum=False):
    """Write the .sigmf-meta of recording ``base`` (the checksum covers the data file)."""
    from sigmf import SigMFFile
    data_path, meta_path = recording_paths(base)
    has_data = data_path.is_file() and data_path.stat().st_size > 0
    meta = SigMFFile(data_file=str(data_path) if has_data else None, skip_checksum=skip_checksum, global_info={
        "core:datatype": DATATYPE, "core:sample_rate": float(samp_rate),
        "core:description": description or "gr-gensemcom baseband recording",
        "core:recorder": f"gr-gensemcom {__version__} (GNU Radio {gr.version()})"})
    meta.add_capture(0, metadata={"core:frequency": float(center_freq_hz)})
    write_text_atomic(meta_path, meta.dumps(pretty=True))
    return meta_path


def read_meta(base):
    """(data path, global metadata dict) of a recording; BadInputError if unusable."""
    import json
    data_path, meta_path = recording_paths(base)
    if not meta_path.is_file():
        raise BadInputError(f"SigMF metadata not found: {meta_path}")
    if not data_path.is_file():
        raise BadInputError(f"SigMF data file not found: {data_path}")
    try:
        meta = json.loads(meta_path.read_text())
        info = meta["global"]
    except (ValueError, KeyError, TypeError):
        raise BadInputError(f"{meta_path} is not SigMF metadata (no 'global' object)") from None
    if info.get("core:datatype") != DATATYPE:
        raise BadInputError(f"{meta_path}: datatype {info.get('core:datatype')!r} not supported "
                            f"(this reads {DATATYPE}: complex64 little-endian)")
    if data_path.stat().st_size % 8:
        raise BadInputError(f"{data_path}: size is not a whole number of complex64 samples")
    return data_path, info


class _meta_finalizer(gr.sync_block):
    """Counts samples; rewrites the metadata with the checksum when the flowgraph stops."""

    def __init__(self, sink):
        gr.sync_block.__init__(self, name="gensemcom_sigmf_finalizer", in_sig=[np.complex64], out_sig=None)
        self._sink = sink

    def work(self, input_items, output_items):
        return len(input_items[0])

    def stop(self):
        self._sink.finalize()
        return True


class sigmf_sink(gr.hier_block2):
    """Records complex64 samples as a SigMF recording ``base`` (.sigmf-data + .sigmf-meta).

    Parameters: base path, samp_rate (Hz), center_freq_hz, description. The metadata is
    written at once (so a killed recording stays readable) and again with the data's SHA-512
    when the flowgraph stops.
    """

    PARAMETERS = Params(
        Param("base", "str", REQUIRED, "Recording", "recording: BASE.sigmf-data and BASE.sigmf-meta",
              unit="base path", grc_default="recording"),
        Param("samp_rate", "float", 20e6, "Sample Rate", "sample rate written to the metadata", unit="Hz", lo=0,
              lo_open=True, grc_default="samp_rate"),
        Param("center_freq_hz", "float", 0.0, "Centre Frequency", "centre frequency written to the metadata",
              unit="Hz", lo=0),
        Param("description", "str", "", "Description", "description written to the metadata"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="SigMF Sink", category="[GenSemCom]/IO", inputs=(stream(),),
        documentation="""
Records complex baseband as a SigMF recording: <base>.sigmf-data (cf32_le samples,
written by GNU Radio's File Sink) and <base>.sigmf-meta (sample rate, centre frequency,
description, recorder; rewritten with the data's SHA-512 when the flowgraph stops).
Decode a recording offline with the SigMF Source -> Semantic RX, or
`gensemcom rx --sigmf <base>`.
""")

    def __init__(self, base, samp_rate=DEFAULT.samp_rate, center_freq_hz=DEFAULT.center_freq_hz,
                 description=DEFAULT.description):
        gr.hier_block2.__init__(self, "gensemcom_sigmf_sink", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.base = str(base)
        checked = self.PARAMETERS.check("sigmf_sink", samp_rate=samp_rate, center_freq_hz=center_freq_hz)
        self.samp_rate, self.center_freq_hz = checked.samp_rate, checked.center_freq_hz
        self.description = description
        data_path, _ = recording_paths(base)
        if not data_path.parent.is_dir():
            raise BadInputError(f"sigmf_sink: folder does not exist: {data_path.parent}")
        self.file = blocks.file_sink(gr.sizeof_gr_complex, str(data_path), False)
        self.file.set_unbuffered(False)
        self.finalizer = _meta_finalizer(self)
        write_meta(base, samp_rate, center_freq_hz, description, skip_checksum=True)
        self.connect(self, self.file)
        self.connect(self, self.finalizer)

    def finalize(self):
        self.file.do_update()
        write_meta(self.base, self.samp_rate, self.center_freq_hz, self.description)


class sigmf_source(gr.hier_block2):
    """Plays a SigMF recording (``cf32_le``) as a complex64 stream; ``repeat`` loops it.

    Attributes after construction: ``samp_rate`` (Hz, from the metadata), ``samples``.
    """

    PARAMETERS = Params(
        Param("base", "str", REQUIRED, "Recording", "recording: its base path or its .sigmf-meta",
              unit="base path or .sigmf-meta", grc_default="recording"),
        Param("repeat", "bool", False, "Repeat", "play the recording in a loop"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="SigMF Source", category="[GenSemCom]/IO", outputs=(stream(),),
        documentation="""
Plays a SigMF recording (datatype cf32_le: complex64 little-endian) as a complex stream.
The metadata is checked when the flowgraph is built: a missing file or another datatype
is refused with a message naming the problem.
""")

    def __init__(self, base, repeat=DEFAULT.repeat):
        gr.hier_block2.__init__(self, "gensemcom_sigmf_source", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        data_path, info = read_meta(base)
        self.samp_rate = float(info.get("core:sample_rate", 0.0))
        self.samples = data_path.stat().st_size // 8
        self.file = blocks.file_source(gr.sizeof_gr_complex, str(data_path), bool(repeat))
        self.connect(self.file, self)
