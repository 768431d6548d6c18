# SPDX-License-Identifier: GPL-3.0-or-later
"""Visual hints: a tiny AV1 thumbnail of the whole image, and the base image both ends build.

``render_base`` is what sender and receiver compute alike from the hints (or, without them,
from the prompt's layout colours). ``HintSearch`` is rate control's search over thumbnail
sizes and qualities for a byte target.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..classical import stillcodec
from ..imageops import resize, smooth_upsample
from .config import STREAM_TUNE
from .prompt import StructuredPrompt
from .search import highest_true

# Visual hints: a thumbnail of the whole image, bare AV1. Rate control tries byte targets that
# are HINT_SHARES of the bytes left for hints and key streams; for each target the thumbnail
# sizes (image / HINT_FACTORS, sides <= MAX_THUMB_SIDE: the metadata stores them as u8) whose
# bit rate is nearest HINT_BPP are coded and the better base kept.
HINT_FACTORS = (2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0)
HINT_SHARES = (0.25, 0.4, 0.55, 0.7, 0.85)
HINT_REF_SHARE = 0.55           # the reference base of the key-stream scale search
HINT_BPP = 0.25                 # thumbnail bit rate (bit/thumbnail pixel) that is usually best
MAX_THUMB_SIDE = 255
MIN_THUMB_SIDE = 8
MIN_HINT_BYTES = 40
CUBIC_UPSAMPLE_MAX = 8.0        # thumbnails upsampled by at most this much: bicubic; coarser: smooth


@dataclass
class Hint:
    """A hint option of rate control: level 0 = none (payload None, base from the prompt)."""

    level: int
    payload: bytes
    thumb: np.ndarray
    base: np.ndarray
    size: tuple = None
    q: int = None
    target: int = None


def render_base(prompt: StructuredPrompt, thumbnail, width: int, height: int) -> np.ndarray:
    """The base image (float32 HxWx3) both ends compute from hints or the prompt.

    A hint thumbnail upsampled by at most ``CUBIC_UPSAMPLE_MAX`` is a low-resolution picture
    of the whole image: bicubic interpolation keeps its edges. Coarser thumbnails and the
    prompt layout are smooth colour fields (``smooth_upsample``).
    """
    if thumbnail is not None:
        th, tw = thumbnail.shape[:2]
        if max(width / tw, height / th) <= CUBIC_UPSAMPLE_MAX:
            return resize(thumbnail.astype(np.float32), width, height)
        return smooth_upsample(thumbnail.astype(np.float32), width, height)
    grid = prompt.layout_rgb() if prompt is not None else None
    if grid is not None:
        return smooth_upsample(grid, width, height, cells=True)
    mean = np.array(prompt.mean_rgb() if prompt is not None else (128, 128, 128), np.float32)
    return np.broadcast_to(mean, (height, width, 3)).astype(np.float32)


class HintSearch:
    """Rate control's search for hint thumbnails (a mixin of ``planner.Planner``).

    Uses the planner's ``image``, ``width``, ``height``, ``image_f``, ``cfg``, ``prompt`` and its
    caches ``_thumb_cache``, ``_thumb_small``, ``_hint_by_target``.
    """

    # -- hints
    def thumbnail_sizes(self):
        """Candidate hint thumbnail sizes (w, h), largest first: the image / ``HINT_FACTORS``,
        each side at most ``MAX_THUMB_SIDE`` (the metadata's u8: a 768x512 image at 1/2 has a
        255x255 thumbnail) and at least ``MIN_THUMB_SIDE``."""
        sizes = []
        for factor in HINT_FACTORS:
            size = (min(MAX_THUMB_SIDE, int(round(self.width / factor))),
                    min(MAX_THUMB_SIDE, int(round(self.height / factor))))
            if min(size) >= MIN_THUMB_SIDE and max(size) <= MAX_THUMB_SIDE and size not in sizes:
                sizes.append(size)
        return sizes

    def _thumb_stream(self, size, q, speed):
        key = (size, q, speed)
        if key not in self._thumb_cache:
            if size not in self._thumb_small:
                self._thumb_small[size] = resize(self.image, *size)
            self._thumb_cache[key] = stillcodec.encode_still(self._thumb_small[size], "avif", q, speed,
                                                             tune=STREAM_TUNE)
        return self._thumb_cache[key]

    def _hint(self, level, size, q, speed, target):
        payload = self._thumb_stream(size, q, speed)
        thumb = stillcodec.decode_still(payload, "avif", *size)
        return Hint(level, payload, thumb, render_base(self.prompt, thumb, self.width, self.height),
                    size, q, target)

    def hint_for_bytes(self, target, level=1):
        """The best hint thumbnail within ``target`` bytes (AV1 speed ``search_speed``), or None.

        The two thumbnail sizes whose bit rate would be nearest ``HINT_BPP`` are coded at the
        highest quality that fits; the one whose base is closer to the image (MSE) is kept.
        """
        if target not in self._hint_by_target:
            sizes = sorted(self.thumbnail_sizes(),
                           key=lambda s: abs(math.log(8.0 * target / (s[0] * s[1]) / HINT_BPP)))[:2]
            best = None
            for size in sizes:
                q = highest_true(lambda qq: len(self._thumb_stream(size, qq, self.cfg.search_speed)) <= target,
                                 0, 100, 30)
                if q is None:
                    continue
                hint = self._hint(level, size, q, self.cfg.search_speed, target)
                mse = float(np.mean((hint.base - self.image_f) ** 2))
                if best is None or mse < best[0]:
                    best = (mse, hint)
            self._hint_by_target[target] = best[1] if best else None
        hint = self._hint_by_target[target]
        return None if hint is None else replace(hint, level=level)

    def final_hint(self, hint):
        """The hint sent: ``hint``'s thumbnail at AV1 speed ``speed``, best quality within its target."""
        if hint.payload is None or self.cfg.speed == self.cfg.search_speed:
            return hint
        q = highest_true(lambda qq: len(self._thumb_stream(hint.size, qq, self.cfg.speed)) <= hint.target,
                         0, 100, hint.q)
        return hint if q is None else self._hint(hint.level, hint.size, q, self.cfg.speed, hint.target)

    def no_hint(self):
        return Hint(0, None, None, render_base(self.prompt, None, self.width, self.height))

    def hint_candidates(self, available):
        """Level 0 (no hints: the prompt layout is the base), then hint thumbnails whose byte
        targets are shares (``HINT_SHARES``, or the config's ``hint_share``) of ``available``."""
        out = [self.no_hint()]
        if self.cfg.hints == "off" or "avif" not in stillcodec.available_codecs():
            return out
        # a fixed share falls back to smaller hints when the key stream does not fit beside it
        shares = tuple(self.cfg.hint_share * f for f in (1.0, 0.6, 0.35)) if self.cfg.hint_share else HINT_SHARES
        if self.cfg.hints == "on":
            shares = (max(shares),)
        seen = set()
        for share in shares:
            target = int(available * share)
            if target < MIN_HINT_BYTES:
                continue
            hint = self.hint_for_bytes(target, len(out))
            if hint is not None and hint.payload not in seen:
                seen.add(hint.payload)
                out.append(hint)
        return out
