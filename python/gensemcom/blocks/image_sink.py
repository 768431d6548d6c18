# SPDX-License-Identifier: GPL-3.0-or-later
"""Image sink: writes each received image as PNG, with its metrics as JSON beside it."""
import json
import re
from pathlib import Path

from ..fileio import atomic_path, to_jsonable, write_text_atomic
from ..grc_yaml import GrcBlock, message
from ..params import REQUIRED, Param, Params
from .pdus import pdu_to_image
from .worker import worker_block


def safe_stem(text):
    """A file-name-safe stem (letters, digits, '.', '_', '-')."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(text)).stem)[:80].strip("._")
    return stem or "image"


class image_sink(worker_block):
    """Writes ``<out_dir>/<image_id>_<name>.png`` and, with ``write_json``, a ``.json`` of the
    PDU's meta (metrics, delivery report) for every image PDU on port ``in``. Files are written
    atomically (temporary file + rename). ``written`` lists the PNG paths.
    """

    PARAMETERS = Params(
        Param("out_dir", "str", REQUIRED, "Output Folder", "folder for the PNG (and JSON) files; it must exist",
              grc_default="."),
        Param("write_json", "bool", True, "Write Metrics JSON", "also write each image's meta as .json"),
        Param("queue_size", "int", 16, "Queue Size", "images waiting to be written at most; more are dropped",
              unit="images", lo=1, hide="part"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Image Sink", category="[GenSemCom]/Images", inputs=(message("in"),),
        documentation="""
Writes each image PDU as <out_dir>/<image_id>_<name>.png and, with "Write Metrics JSON",
its meta (metrics, delivery report) as a .json beside it. Files are written to a
temporary name and renamed, so a reader never sees half a file. The folder must exist.
""")

    def __init__(self, out_dir, write_json=DEFAULT.write_json, queue_size=DEFAULT.queue_size):
        worker_block.__init__(self, "gensemcom_image_sink", queue_size=queue_size, drop_policy="drop_newest")
        self.out_dir = Path(out_dir)
        if not self.out_dir.is_dir():
            raise ValueError(f"image_sink: output folder does not exist: {self.out_dir}")
        self.write_json = bool(write_json)
        self.written = []

    def process(self, msg):
        from PIL import Image
        meta, image = pdu_to_image(msg)
        stem = f"{int(meta.get('image_id', 0)):05d}_{safe_stem(meta.get('name') or 'rx')}"
        png = self.out_dir / f"{stem}.png"
        with atomic_path(png) as tmp:
            Image.fromarray(image).save(tmp, "PNG")
        if self.write_json:
            write_text_atomic(png.with_suffix(".json"), json.dumps(to_jsonable(meta), indent=1, sort_keys=True))
        self.written.append(png)
        return ()
