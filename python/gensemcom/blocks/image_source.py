# SPDX-License-Identifier: GPL-3.0-or-later
"""Image source: files, a folder or a glob → one image PDU per image."""
import glob
import threading
import time
from pathlib import Path

import pmt
from gnuradio import gr

from ..errors import BadInputError
from ..grc_yaml import GrcBlock, message
from ..imageio import FORMATS, IMAGE_SUFFIXES, load_image
from ..params import REQUIRED, Param, Params
from .pdus import image_to_pdu
from .worker import message_block


def expand_images(spec):
    """Paths of the images named by ``spec``: a file, a folder, a glob, or a list of those.

    Folders contribute their image files (by suffix), sorted by name. Raises BadInputError
    when nothing matches.
    """
    specs = [spec] if isinstance(spec, (str, Path)) else list(spec)
    paths = []
    for item in specs:
        item = str(item)
        path = Path(item)
        if path.is_dir():
            paths += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            paths.append(path)
        elif any(ch in item for ch in "*?["):
            paths += sorted(Path(p) for p in glob.glob(item) if Path(p).is_file())
        else:
            raise BadInputError(f"no such image, folder or glob: {item}")
    if not paths:
        raise BadInputError(f"no images found in {', '.join(map(str, specs))} "
                            f"(looked for {', '.join(IMAGE_SUFFIXES)}; "
                            f"formats {', '.join(sorted(set(FORMATS.values())))})")
    return paths


class image_source(message_block):
    """Emits each image as a PDU on message port ``out``.

    Parameters (``PARAMETERS``)
      images        file, folder or glob (or a list of them)
      interval_s    pause between images, seconds (0 = as fast as flow control allows)
      repeat        times to go through the list (1 = once)
      max_in_flight images sent but not yet acknowledged on port ``ack`` (0 = no flow control)
      start_id      image_id of the first image; ids count up modulo 65536
      ack_timeout_s an unacknowledged image stops holding its slot after this long (an image
                    lost entirely on the air is never acknowledged); 0 = wait for ever
    Message ports
      out   image PDU: raw RGB bytes; meta image_id, name, width, height, channels, format, path
      ack   (input, optional) any message acknowledges one image in flight, e.g. the
            decoder's or sink's output, so a slow receiver paces the source
    Images load on the source's own thread, one at a time; unreadable files are skipped
    with a warning and counted in ``stats["skipped"]``. After the last image (and, with flow
    control, its acknowledgement) the source ends, and its ``done`` lets a finite chain end.
    """

    PARAMETERS = Params(
        Param("images", "str", REQUIRED, "Images", "image file, folder or glob", unit="file, folder or glob",
              grc_default=""),
        Param("interval_s", "float", 0.0, "Interval", "pause between images", unit="s", lo=0),
        Param("repeat", "int", 1, "Repeat", "passes over the list of images", lo=1),
        Param("max_in_flight", "int", 0, "Max Images in Flight",
              "images sent but not yet acknowledged on port ack (0 = no flow control)", lo=0),
        Param("start_id", "int", 0, "First Image ID", "image_id of the first image", lo=0, hi=65535, hide="part"),
        Param("ack_timeout_s", "float", 30.0, "Ack Timeout",
              "an image never acknowledged frees its slot after this long (0 = never)", unit="s", lo=0,
              hide="part"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Image Source", category="[GenSemCom]/Images", inputs=(message("ack", optional=True),),
        outputs=(message("out", optional=True),),
        documentation="""
Emits each image of a file, a folder or a glob as one image PDU.

Output (message "out"): image PDU = raw RGB bytes (H x W x 3, row-major); meta
image_id, name, width, height, channels, format ("rgb8"), path.
Input (message "ack", optional): any message acknowledges one image. With "Max Images in
Flight" > 0 the source waits for acknowledgements - connect the decoder's or the sink's
output here so a slow receiver paces the source. 0 = no flow control. An image never
acknowledged (lost on the air) frees its slot after "Ack Timeout" seconds.

Parameters
  Images: PNG, JPEG, WebP, TIFF or BMP; a folder contributes its image files by name.
  Interval: pause between images in seconds.
  Repeat: passes over the list; image ids count up (mod 65536).
Unreadable files are skipped with a warning.
""")

    def __init__(self, images, interval_s=DEFAULT.interval_s, repeat=DEFAULT.repeat,
                 max_in_flight=DEFAULT.max_in_flight, start_id=DEFAULT.start_id, ack_timeout_s=DEFAULT.ack_timeout_s):
        message_block.__init__(self, "gensemcom_image_source")
        if images is None or images == "":
            raise BadInputError("image_source: images must name a file, folder or glob")
        checked = self.PARAMETERS.check("image_source", interval_s=interval_s, repeat=repeat,
                                        max_in_flight=max_in_flight, start_id=start_id, ack_timeout_s=ack_timeout_s)
        self.interval_s, self.repeat, self.max_in_flight = checked.interval_s, checked.repeat, checked.max_in_flight
        self.start_id, self.ack_timeout_s = checked.start_id, checked.ack_timeout_s
        self.paths = expand_images(images)
        self.stats = {"sent": 0, "acked": 0, "skipped": 0, "ack_timeouts": 0}
        self._credit = threading.Semaphore(self.max_in_flight) if self.max_in_flight else None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = None
        self.message_port_register_out(pmt.intern("out"))
        self.register_input("ack", self._on_ack)

    @property
    def total(self):
        """Images this source will emit (files × repeat)."""
        return len(self.paths) * self.repeat

    def _on_ack(self, msg):
        self.stats["acked"] += 1
        if self._credit is not None:
            self._credit.release()

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gensemcom-image-source", daemon=True)
        self._thread.start()
        return True

    def stop(self):
        self._stop.set()
        if self._credit is not None:
            self._credit.release()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return True

    def finished(self):
        """True once every image was emitted (or the source was stopped)."""
        return self._done.is_set()

    def _acquire(self):
        """Take a flow-control slot; False when stopped. A slot whose image was never
        acknowledged frees itself after ``ack_timeout_s``."""
        deadline = time.monotonic() + self.ack_timeout_s if self.ack_timeout_s > 0 else None
        while not self._credit.acquire(timeout=0.1):
            if self._stop.is_set():
                return False
            if deadline is not None and time.monotonic() > deadline:
                self.stats["ack_timeouts"] += 1
                return True
        return True

    def _run(self):
        image_id = self.start_id
        try:
            for _ in range(self.repeat):
                for path in self.paths:
                    if self._stop.is_set():
                        return
                    if self._credit is not None and not self._acquire():
                        return
                    try:
                        image = load_image(path)
                    except BadInputError as exc:
                        self.stats["skipped"] += 1
                        gr.log.warn(f"image_source: skipping {path}: {exc}")
                        if self._credit is not None:
                            self._credit.release()
                        continue
                    self.message_port_pub(pmt.intern("out"), image_to_pdu(
                        image, image_id=image_id, name=path.name, path=str(path)))
                    self.stats["sent"] += 1
                    image_id = (image_id + 1) % 65536
                    if self.interval_s:
                        self._stop.wait(self.interval_s)
            if self._credit is not None:
                for _ in range(self.max_in_flight):      # wait for the last acknowledgements
                    if not self._acquire():
                        return
            self.to_basic_block()._post(pmt.intern("system"), pmt.cons(pmt.intern("done"), pmt.from_long(1)))
        finally:
            self._done.set()
