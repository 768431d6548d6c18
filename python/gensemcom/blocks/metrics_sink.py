# SPDX-License-Identifier: GPL-3.0-or-later
"""Metrics sink: compares each reconstruction with its original (and the sender's key mask)."""
import collections
import threading
import time

import pmt

from .. import metrics
from ..grc_yaml import GrcBlock, message
from ..params import Param, Params
from ..phy.pdus import split_pdu
from .pdus import image_to_pdu, pdu_to_image
from .worker import DONE, worker_block

END = pmt.intern("gensemcom_end")      # posted to the block's own system port: finish now


class metrics_sink(worker_block):
    """Computes PSNR, SSIM, MS-SSIM, VSI, LPIPS (when available) and key-region PSNR/SSIM.

    Message inputs
      original  image PDUs as sent (keyed by image_id; the newest ``max_images`` are kept)
      mask      key-mask PDUs from the encoder (u8 H×W, 255 = key), optional
      in        reconstructed image PDUs (from the decoder)
    Message output ``out``: the reconstruction with the metrics added to its meta (psnr, ssim,
    ms_ssim, vsi, lpips, key_psnr, key_ssim, key_fraction; NaN → absent) and the original's name.
    ``results`` holds one dict per image (metrics + decoder meta) for scripts; ``wait_for(n)``
    blocks until n results exist. A reconstruction whose original is unknown is passed on
    without metrics and counted in ``stats["unmatched"]``.

    End: GNU Radio's ``done`` does not say which input ended, and the originals usually end
    first. After the first ``done`` the sink finishes once every original it holds has been
    scored, or ``end_timeout_s`` after the later of that ``done`` and the last reconstruction
    (an image lost on the air never comes; ``stats["given_up"]`` counts them; 0 = wait for
    every original). Its ``done`` then ends the image sink downstream.
    """

    finish_on_done = False     # several inputs: one upstream's end is not the end

    PARAMETERS = Params(
        Param("max_images", "int", 64, "Originals Kept", "originals (and masks) kept for matching, the newest",
              lo=1, hide="part"),
        Param("lpips", "bool", True, "LPIPS", "compute LPIPS when its AlexNet weights are on this machine",
              unit="if weights present", hide="part"),
        Param("queue_size", "int", 16, "Queue Size", "reconstructions waiting to be scored at most; more are "
              "dropped", unit="images", lo=1, hide="part"),
        Param("end_timeout_s", "float", 30.0, "End Timeout",
              "after an input ended, images not scored within this long are given up", unit="s, 0 = wait for all",
              lo=0, hide="part"),
    )
    DEFAULT = PARAMETERS.defaults()
    GRC = GrcBlock(
        label="Metrics Sink", category="[GenSemCom]/Images",
        inputs=(message("original"), message("mask", optional=True), message("in")),
        outputs=(message("out", optional=True),),
        documentation="""
Scores each reconstruction against its original (matched by image_id).

Inputs: "original" (image PDUs as sent, e.g. from the Image Source), "mask" (the
encoder's key mask, optional), "in" (decoded image PDUs).
Output "out": the reconstruction with metrics in its meta: psnr (dB), ssim, ms_ssim, vsi,
lpips (only when AlexNet weights are on the machine; lpips_status says why not),
key_psnr, key_ssim, key_fraction. Feed it to the Image Sink (JSON next to each PNG) or
the Image Display.

Conventions: RGB, data range 255, SSIM 11x11 Gaussian (sigma 1.5) without downsampling,
key-region metrics on the sender's key mask (see gensemcom.metrics).

End: after an input ended, the sink finishes once every original it received has been
scored, or "End Timeout" seconds after the last reconstruction (an image lost on the air
never comes; 0 = wait for every original). Its end ends the Image Sink behind it, so a
finite flowgraph (a list of images) runs to completion.
""")

    def __init__(self, max_images=DEFAULT.max_images, lpips=DEFAULT.lpips, queue_size=DEFAULT.queue_size,
                 end_timeout_s=DEFAULT.end_timeout_s):
        worker_block.__init__(self, "gensemcom_metrics_sink", queue_size=queue_size, drop_policy="drop_newest")
        self.max_images = self.PARAMETERS["max_images"].check("metrics_sink", max_images)
        self.end_timeout_s = self.PARAMETERS["end_timeout_s"].check("metrics_sink", end_timeout_s)
        self.compute_lpips = bool(lpips)
        self._originals = collections.OrderedDict()
        self._masks = collections.OrderedDict()
        self._scored = set()                # image ids of the originals held that have a result
        self._store_lock = threading.Lock()
        self.results = []
        self._results_changed = threading.Condition()
        self.stats["unmatched"] = 0
        self.stats["given_up"] = 0
        self._last_activity = time.monotonic()
        self._watch = None
        self._finished = False
        self.register_input("original", self._on_original)
        self.register_input("mask", self._on_mask)
        self.message_port_register_out(pmt.intern("out"))

    def _remember(self, table, key, value):
        with self._store_lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > self.max_images:
                old, _ = table.popitem(last=False)
                if table is self._originals:
                    self._scored.discard(old)

    def _on_original(self, msg):
        meta, image = pdu_to_image(msg)
        self._remember(self._originals, int(meta.get("image_id", 0)), (meta, image))

    def _on_mask(self, msg):
        meta, payload = split_pdu(msg)
        width, height = int(meta.get("width", 0)), int(meta.get("height", 0))
        if width * height == payload.size:
            self._remember(self._masks, int(meta.get("image_id", 0)), payload.reshape(height, width) > 0)

    def process(self, msg):
        meta, image = pdu_to_image(msg)
        image_id = int(meta.get("image_id", 0))
        self._last_activity = time.monotonic()
        with self._store_lock:
            original = self._originals.get(image_id)
            mask = self._masks.get(image_id)
            if original is not None:
                self._scored.add(image_id)
        result = dict(meta)
        if original is None or original[1].shape != image.shape:
            self.stats["unmatched"] += 1
        else:
            result["name"] = original[0].get("name", meta.get("name", ""))
            if mask is not None and mask.shape != image.shape[:2]:
                mask = None
            key_mask = mask if mask is not None and mask.any() else None
            values = metrics.image_metrics(original[1], image, key_mask=key_mask)
            if not self.compute_lpips:
                values["lpips"], values["lpips_status"] = None, "disabled"
            result.update(values)
        self._add_result(result)
        clean = {k: v for k, v in result.items()
                 if k not in ("width", "height", "channels", "format")
                 and v is not None and not (isinstance(v, float) and v != v)}
        yield "out", image_to_pdu(image, **clean)

    def _add_result(self, result):
        with self._results_changed:
            self.results.append(result)
            self._results_changed.notify_all()

    # -- end of the run ----------------------------------------------------------------
    def unscored(self):
        """Image ids of the originals held that have no result yet."""
        with self._store_lock:
            return [image_id for image_id in self._originals if image_id not in self._scored]

    def _on_system(self, msg):
        if pmt.is_pair(msg) and pmt.eqv(pmt.car(msg), END):
            if not self._finished:
                self._finished = True
                self.system_handler(pmt.cons(DONE, pmt.from_long(1)))
            return
        worker_block._on_system(self, msg)      # handles what was queued, waits for the worker
        if not self.upstream_done.is_set():
            return
        self._last_activity = time.monotonic()
        if self._watch is None:
            self._watch = threading.Thread(target=self._watch_end, name="gensemcom-metrics-end", daemon=True)
            self._watch.start()

    def _watch_end(self):
        while self._running.is_set():
            unscored = self.unscored()
            if not unscored and not self.pending():
                break
            if self.end_timeout_s and time.monotonic() - self._last_activity > self.end_timeout_s:
                self.stats["given_up"] += len(unscored)
                break
            time.sleep(0.05)
        else:
            return
        self.to_basic_block()._post(pmt.intern("system"), pmt.cons(END, pmt.from_long(1)))

    def stop(self):
        worker_block.stop(self)
        if self._watch is not None:
            self._watch.join(timeout=5)
        return True

    def wait_for(self, count, timeout_s=60.0):
        """Block until at least ``count`` results exist; returns whether they do."""
        with self._results_changed:
            return self._results_changed.wait_for(lambda: len(self.results) >= count, timeout=timeout_s)
