# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark tasks: one (image, scheme, snr, channel, cpp, seed) combination each.

A ``Task`` is a small, picklable value. Everything random in a task derives from its
``task_id`` (a hash of the six fields), never from the order in which tasks run, so a task
gives the same result in any process, on any executor, in a first or a resumed sweep. The
channel's noise and fades derive from ``channel_seed``, a hash of (image, SNR, channel, seed)
without the scheme: every scheme of one comparison meets the same channel realisation, sample
by sample (common random numbers; ``phy.channel``).

A task's channel is a channel preset (``awgn``, ``rayleigh`` ...) or a preset with radio
impairments, ``CHANNEL+IMPAIRMENTS`` (``awgn+b200-indoor``, ``multipath+vehicular``:
``phy.impairments.IMPAIRMENT_PRESETS``); ``channel_parts`` splits it.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..imageio import IMAGE_SUFFIXES


def format_snr(snr_db) -> str:
    """Canonical text of an SNR in dB: ``-5``, ``0``, ``2.5`` (rounded to 1e-6 dB)."""
    value = round(float(snr_db), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{value:g}"


def format_cpp(cpp) -> str:
    """Canonical text of a channel-uses-per-pixel ratio: ``1/48``, ``1/8``, ``3/100``."""
    value = Fraction(cpp).limit_denominator(100000) if not isinstance(cpp, str) else Fraction(cpp)
    if value <= 0:
        raise BadInputError(f"cpp must be > 0, got {cpp}")
    return f"{value.numerator}/{value.denominator}"


def channel_parts(channel: str) -> tuple:
    """(channel preset, impairment preset) of a task's channel: ``awgn`` -> (awgn, none),
    ``multipath+vehicular`` -> (multipath, vehicular)."""
    name, _, impairments = channel.partition("+")
    return name, impairments or "none"


@dataclass(frozen=True)
class Task:
    """One benchmark task.

    image       path of the image file (where a worker reads it)
    image_name  the image's identity in results: its file name, e.g. ``kodim01.png``
    scheme      registered scheme name, e.g. ``av1+capacity`` or ``jpeg@qpsk-1/2``
    snr_db      average SNR Es/N0 in dB (symbol power 1, noise variance 10^(-snr_db/10))
    channel     channel model name, e.g. ``awgn`` or ``rayleigh``
    cpp         channel uses per pixel as a canonical fraction text, e.g. ``1/48``:
                complex channel symbols / (H·W·3)
    seed        repetition index 0 … N-1 (not a random seed: see ``rng_seed``)
    """

    image: str
    image_name: str
    scheme: str
    snr_db: float
    channel: str
    cpp: str
    seed: int = 0

    @property
    def key(self) -> str:
        """The canonical text that identifies the task (what ``task_id`` hashes)."""
        return (f"image={self.image_name}|scheme={self.scheme}|channel={self.channel}"
                f"|snr_db={format_snr(self.snr_db)}|cpp={self.cpp}|seed={self.seed}")

    @property
    def task_id(self) -> str:
        """16 hex digits, stable across processes, machines and versions of Python."""
        return hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:16]

    @property
    def rng_seed(self) -> int:
        """A 63-bit seed derived from the task id: the only source of randomness a scheme uses."""
        digest = hashlib.sha256(("rng|" + self.key).encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") >> 1

    @property
    def channel_seed(self) -> int:
        """A 31-bit seed of the channel realisation: (image, SNR, channel, seed), never the scheme
        (nor the budget), so that schemes compared on this channel meet the same noise and fades."""
        key = (f"channel|image={self.image_name}|channel={self.channel}|snr_db={format_snr(self.snr_db)}"
               f"|seed={self.seed}")
        return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") >> 1 or 1

    def rng(self) -> np.random.Generator:
        """A fresh numpy generator seeded with ``rng_seed``."""
        return np.random.default_rng(self.rng_seed)

    @property
    def snr_linear(self) -> float:
        return float(10.0 ** (self.snr_db / 10.0))

    @property
    def cpp_fraction(self) -> Fraction:
        return Fraction(self.cpp)

    @property
    def scheme_family(self) -> str:
        """``jpeg`` for ``jpeg@qpsk-1/2``; the name itself for an unparametrised scheme."""
        return self.scheme.split("@", 1)[0]

    @property
    def scheme_param(self):
        """``qpsk-1/2`` for ``jpeg@qpsk-1/2``; ``None`` for an unparametrised scheme."""
        parts = self.scheme.split("@", 1)
        return parts[1] if len(parts) == 2 else None

    def channel_uses(self, height: int, width: int) -> int:
        """Complex channel symbols this task may use for an H×W RGB image: floor(cpp·H·W·3)."""
        return int(self.cpp_fraction * height * width * 3)

    def load_image(self) -> np.ndarray:
        """The original image as (H, W, 3) uint8 RGB."""
        return load_image(self.image)


# Image bytes shipped to a worker that cannot see the image's path (Ray): path -> bytes.
_IMAGE_BYTES: dict = {}


def provide_image_bytes(path: str, data: bytes):
    """Make ``load_image(path)`` decode ``data`` instead of reading the file (remote workers)."""
    _IMAGE_BYTES[str(path)] = data


def load_image(path) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB (alpha dropped, grayscale expanded)."""
    from PIL import Image
    data = _IMAGE_BYTES.get(str(path))
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as pil:
            return np.array(pil.convert("RGB"))
    except (OSError, SyntaxError) as exc:  # PIL.UnidentifiedImageError is an OSError
        raise BadInputError(f"cannot read image {path}: {exc}") from None


def find_images(folder) -> list:
    """Image files directly in ``folder`` (sorted by name); an error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"--images: not a folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BadInputError(f"--images: no image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def make_tasks(images, schemes, snrs_db, channels, cpps, seeds: int) -> list:
    """All combinations, in a fixed order: image, scheme, channel, cpp, snr, seed."""
    tasks = []
    for path in images:
        path = Path(path)
        for scheme in schemes:
            for channel in channels:
                for cpp in cpps:
                    for snr in snrs_db:
                        for seed in range(seeds):
                            tasks.append(Task(image=str(path), image_name=path.name, scheme=scheme,
                                              snr_db=float(round(float(snr), 6)), channel=channel,
                                              cpp=format_cpp(cpp), seed=seed))
    return tasks
