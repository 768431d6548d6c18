"""Image source: files, a folder or a glob → one image PDU per image."""
import glob
import threading
import time
from pathlib import Path

import pmt
from gnuradio import gr

from ..errors import BadInputError
from ..imageio import FORMATS, IMAGE_SUFFIXES, load_image
from ..params import number
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

    Parameters
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

    def __init__(self, images, interval_s=0.0, repeat=1, max_in_flight=0, start_id=0, ack_timeout_s=30.0):
        message_block.__init__(self, "gensemcom_image_source")
        if images is None or images == "":
            raise BadInputError("image_source: images must name a file, folder or glob")
        self.interval_s = number("image_source", "interval_s", interval_s, 0)
        self.repeat = number("image_source", "repeat", repeat, 1, integer=True)
        self.max_in_flight = number("image_source", "max_in_flight", max_in_flight, 0, integer=True)
        self.start_id = number("image_source", "start_id", start_id, 0, 65535, integer=True)
        self.ack_timeout_s = number("image_source", "ack_timeout_s", ack_timeout_s, 0)
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
