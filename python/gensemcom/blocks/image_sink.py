"""Image sink: writes each received image as PNG, with its metrics as JSON beside it."""
import json
import re
from pathlib import Path

from ..fileio import atomic_path, to_jsonable, write_text_atomic
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

    def __init__(self, out_dir, write_json=True, queue_size=16):
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
