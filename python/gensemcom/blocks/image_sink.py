# SPDX-License-Identifier: GPL-3.0-or-later
"""Image sink: writes each received image as PNG, with its metrics as JSON beside it, and prints a line."""
import json
import re
from pathlib import Path

import pmt

from ..errors import BadInputError
from ..fileio import atomic_path, to_jsonable, write_text_atomic
from ..grc_yaml import GrcBlock, message
from ..params import REQUIRED, Param, Params
from .pdus import pdu_to_image
from .worker import DONE, worker_block

# meta key -> how the printed line shows it (metrics where the metrics sink could compute them)
LINE_METRICS = (("psnr", "PSNR {:.2f} dB"), ("ssim", "SSIM {:.3f}"), ("vsi", "VSI {:.3f}"),
                ("key_psnr", "key PSNR {:.2f} dB"))


def image_line(meta, path=None):
    """One line about one image: id, name, delivery, the metrics present in ``meta``, the run labels."""
    name = meta.get("name") or "rx"
    parts = []
    if "delivered" in meta:
        missing = int(meta.get("sections_missing", 0) or 0)
        parts.append("delivered" if meta["delivered"] and not missing else
                     f"{'delivered' if meta['delivered'] else 'not delivered'}, {missing} section(s) regenerated")
    for key, fmt in LINE_METRICS:
        value = meta.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            parts.append(fmt.format(value))
    if not any(key in meta for key, _ in LINE_METRICS):
        parts.append("no metrics (no original to compare with)")
    labels = ", ".join(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
                       for key, value in meta.get("_run_labels", {}).items())
    return (f"image {int(meta.get('image_id', 0)):05d} {name}: {', '.join(parts)}"
            + (f" | {labels}" if labels else "") + (f" -> {path}" if path else ""))


def safe_stem(text):
    """A file-name-safe stem (letters, digits, '.', '_', '-')."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(text)).stem)[:80].strip("._")
    return stem or "image"


class image_sink(worker_block):
    """Writes ``<out_dir>/<image_id>_<name>.png`` and, with ``write_json``, a ``.json`` of the
    PDU's meta (metrics, delivery report) and the run labels for every image PDU on port ``in``;
    prints one line per image (``image_line``). Files are written atomically (temporary file +
    rename). ``written`` lists the PNG paths; ``lines`` the printed lines.

    Parameters (``PARAMETERS``)
      out_dir      folder for the files; it must exist ("" = write no files, only print)
      write_json   also write the meta as JSON
      run_info     dict of run labels (scheme, snr_db, cpp ...) recorded in every JSON and line
      max_images   finish after this many images (0 = when the input ends); ``run_control``
                   can end the whole flowgraph then
      print_each   print a line per image on stdout
    """

    PARAMETERS = Params(
        Param("out_dir", "str", REQUIRED, "Output Folder",
              "folder for the PNG (and JSON) files; it must exist (empty = write no files, only print)",
              grc_default="."),
        Param("write_json", "bool", True, "Write Metrics JSON", "also write each image's meta as .json"),
        Param("run_info", "raw", None, "Run Labels",
              "dict recorded in every JSON and printed line, e.g. {'scheme': scheme, 'snr_db': snr_db, 'cpp': cpp}",
              runtime_setter="set_run_info"),
        Param("max_images", "int", 0, "Stop After", "finish after this many images", unit="images, 0 = at end of input",
              lo=0),
        Param("print_each", "bool", True, "Print Each Image", "print one line per image (metrics, run labels, file)"),
        Param("queue_size", "int", 16, "Queue Size", "images waiting to be written at most; more are dropped",
              unit="images", lo=1, hide="part"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Image Sink", category="[GenSemCom]/Images", inputs=(message("in"),),
        documentation="""
Writes each image PDU as <out_dir>/<image_id>_<name>.png and, with "Write Metrics JSON",
its meta (metrics, delivery report) and the Run Labels as a .json beside it, and prints
one line per image: id, name, delivered or not, PSNR / SSIM / VSI / key PSNR where the
Metrics Sink computed them, the run labels and the file.

Output Folder: must exist; empty = write no files, only print.
Run Labels: a dict recorded in every JSON and line, e.g.
  {'scheme': scheme, 'snr_db': snr_db, 'cpp': cpp}   (None = none)
Stop After: the sink finishes after this many images (0 = when its input ends); a Python
Snippet calling gensemcom.blocks.run_control.supervise(tb, finished=[...]) then ends a
flowgraph whose source never ends (ZeroMQ, an SDR).
Files are written to a temporary name and renamed, so a reader never sees half a file.
""")

    def __init__(self, out_dir, write_json=DEFAULT.write_json, run_info=DEFAULT.run_info,
                 max_images=DEFAULT.max_images, print_each=DEFAULT.print_each, queue_size=DEFAULT.queue_size):
        worker_block.__init__(self, "gensemcom_image_sink", queue_size=queue_size, drop_policy="drop_newest")
        self.out_dir = Path(out_dir) if out_dir not in (None, "") else None
        if self.out_dir is not None and not self.out_dir.is_dir():
            raise BadInputError(f"image_sink: output folder does not exist: {self.out_dir}")
        self.set_run_info(run_info)
        self.max_images = self.PARAMETERS["max_images"].check("image_sink", max_images)
        self.write_json, self.print_each = bool(write_json), bool(print_each)
        self.written, self.lines = [], []
        self.stats["ignored"] = 0

    def set_run_info(self, run_info):
        """Change the run labels (a dict or None) for the next images (e.g. a GUI's SNR slider)."""
        if run_info is not None and not isinstance(run_info, dict):
            raise BadInputError(f"image_sink: run_info must be a dict (or None), got {run_info!r}")
        self.run_info = dict(run_info or {})

    def process(self, msg):
        from PIL import Image
        if self.max_images and len(self.lines) >= self.max_images:
            self.stats["ignored"] += 1          # arrived after the count, before the sink finished
            return ()
        meta, image = pdu_to_image(msg)
        record = {**self.run_info, **meta}
        png = None
        if self.out_dir is not None:
            stem = f"{int(meta.get('image_id', 0)):05d}_{safe_stem(meta.get('name') or 'rx')}"
            png = self.out_dir / f"{stem}.png"
            with atomic_path(png) as tmp:
                Image.fromarray(image).save(tmp, "PNG")
            if self.write_json:
                write_text_atomic(png.with_suffix(".json"), json.dumps(to_jsonable(record), indent=1, sort_keys=True))
            self.written.append(png)
        line = image_line({**meta, "_run_labels": self.run_info}, png)
        self.lines.append(line)
        if self.print_each:
            print(line, flush=True)
        if self.max_images and len(self.lines) == self.max_images:
            self.to_basic_block()._post(pmt.intern("system"), pmt.cons(DONE, pmt.from_long(1)))
        return ()
