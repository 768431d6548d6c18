# SPDX-License-Identifier: GPL-3.0-or-later
"""results.csv: one row per finished task, appended as tasks finish, safe against kills.

The header is fixed (``COLUMNS``), so a resumed sweep appends rows of the same shape; a
scheme's fields that have no column go into the ``extra`` JSON column. Each row is written
with one ``write`` call, then flushed and fsync'ed, so a kill loses at most the row being
written. A torn last line (no final newline, or the wrong number of fields) is detected
when the file is opened again and cut off; any earlier damage is an error, never guessed at.

Floats are written with ``repr`` (shortest text that reads back to the same double), so
results read back bit-identical. Empty field = no value (``None``).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from ..errors import CorruptDataError

IDENTITY = ("task_id", "image", "scheme", "channel", "snr_db", "cpp", "seed")
METRICS = ("psnr", "ssim", "ms_ssim", "vsi", "lpips", "key_psnr", "key_ssim",
           "top5_overlap", "caption_similarity", "prompt_similarity")
SCHEME_FIELDS = ("bytes", "budget_bytes", "codec", "quality", "scale", "mcs", "plan", "key_fraction",
                 "prompt_bytes", "symbols_used", "samples_budget", "samples_used", "packets_sent", "packets_ok",
                 "sections_received", "sent", "complete", "channel_seed")
COLUMNS = (IDENTITY + ("delivered", "height", "width", "symbols") + METRICS + SCHEME_FIELDS
           + ("key_mask_source", "lpips_status", "semantic_status", "reconstruction",
              "wall_s", "metrics_s", "extra"))
# Columns whose values may differ between two runs of the same task (timing only).
TIMING_COLUMNS = ("wall_s", "metrics_s")
_INT_COLUMNS = {"seed", "delivered", "height", "width", "symbols", "bytes", "budget_bytes",
                "quality", "prompt_bytes", "symbols_used", "samples_budget", "samples_used", "packets_sent",
                "packets_ok", "sections_received", "sent", "complete", "channel_seed"}
_FLOAT_COLUMNS = set(METRICS) | {"snr_db", "scale", "key_fraction", "wall_s",
                                 "metrics_s"}
RESULTS_NAME = "results.csv"


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if hasattr(value, "item"):  # numpy scalar
        return _format(value.item())
    # One record = one physical line: no line breaks inside fields.
    return str(value).replace("\r", " ").replace("\n", " ")


def _parse(column: str, text: str):
    if text == "":
        return None
    if column in _INT_COLUMNS:
        return int(text)
    if column in _FLOAT_COLUMNS:
        return float(text)
    if column == "extra":
        return json.loads(text)
    return text


def _csv_line(values) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def encode_row(row: dict) -> str:
    """One CSV line (with its newline) of ``row`` in ``COLUMNS`` order."""
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not results.csv columns: {sorted(unknown)}")
    return _csv_line(_format(_coerce(c, row.get(c))) for c in COLUMNS)


def _coerce(column: str, value):
    """Check and convert ``value`` to the column's type (so that it reads back the same)."""
    if value is None:
        return None
    if column in _INT_COLUMNS:
        if isinstance(value, bool):
            return int(value)
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"column {column!r} holds whole numbers, got {value!r}")
        return int(number)
    if column in _FLOAT_COLUMNS:
        return float(value)
    if column == "extra" and not isinstance(value, str):
        from ..fileio import dumps_json
        return dumps_json(value) if value else None
    return value


def decode_line(line: str) -> dict:
    """The typed row of one results.csv line (without or with its newline)."""
    record = next(csv.reader([line.rstrip("\n")]))
    if len(record) != len(COLUMNS):
        raise ValueError(f"{len(record)} fields, expected {len(COLUMNS)}")
    return {column: _parse(column, text) for column, text in zip(COLUMNS, record)}


def header_line() -> str:
    """The header line of results.csv (with its newline)."""
    return _csv_line(COLUMNS)


class ResultsStore:
    """Append-only results.csv in a sweep folder.

    ``ResultsStore(folder)`` opens the file (cutting off a torn last line) or creates it;
    ``rows`` are the finished rows, ``done_ids`` their task ids; ``append(row)`` writes one
    durable row. Only one process writes (the sweep's driver), under the sweep's lock.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / RESULTS_NAME
        self.dropped_torn_line = None  # the text cut off, if any
        self.rows = []
        self._open()

    def _open(self):
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._write(header_line(), mode="w")
            return
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        if lines and lines[0].decode("utf-8", errors="replace") + "\n" != header_line():
            raise CorruptDataError(
                f"{self.path} does not start with the results header of this version "
                f"({len(COLUMNS)} columns); write the sweep to a new --out folder")
        good_end = len(lines[0]) + 1 if lines else 0
        for number, line in enumerate(lines[1:], start=2):
            try:
                self.rows.append(decode_line(line.decode("utf-8")))
            except (ValueError, UnicodeDecodeError) as exc:
                if number == len(lines) and not tail:  # last line, torn but ended by chance
                    tail = line
                    break
                raise CorruptDataError(f"{self.path}: line {number} is damaged ({exc}); "
                                       "the file was edited or corrupted") from None
            good_end += len(line) + 1
        if tail:
            self.dropped_torn_line = tail.decode("utf-8", errors="replace")
            with open(self.path, "r+b") as handle:
                handle.truncate(good_end)
                handle.flush()
                os.fsync(handle.fileno())
            if good_end == 0:
                self._write(header_line(), mode="w")

    def _write(self, text: str, mode="a"):
        with open(self.path, mode, encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    @property
    def done_ids(self) -> set:
        return {row["task_id"] for row in self.rows}

    def append(self, row: dict):
        """Write ``row`` as one line, flushed and fsync'ed before returning."""
        line = encode_row(row)
        decoded = decode_line(line)
        self._write(line)
        self.rows.append(decoded)


def read_results(folder) -> list:
    """The rows of ``folder``/results.csv as dicts of typed values (repairs a torn line)."""
    return ResultsStore(folder).rows
