# SPDX-License-Identifier: GPL-3.0-or-later
"""Key-mask coding: a coarse block grid, compressed with a context-adaptive binary range coder.

The key mask is a grid of square cells of ``cell_px`` pixels (the last row/column may be
partial). Each cell's bit is coded with an adaptive probability chosen by its four causal
neighbours (left, up-left, up, up-right), so a compact mask of a few blobs costs a few bits
per boundary cell: typically 15–40 bytes for a 48×32 grid, where zlib needs 60–100.

Wire format of the MASK section: ``cell_px`` u8, then the range-coder bytes (leading zero
byte and trailing zero bytes dropped; the decoder reads zeros past the end).
"""
from __future__ import annotations

import numpy as np

from ..errors import CorruptDataError

_PROB_BITS = 11
_PROB_ONE = 1 << _PROB_BITS
_ADAPT_SHIFT = 4
_TOP = 1 << 24
MAX_GRID_CELLS = 1 << 16


def cell_size_for(width: int, height: int) -> int:
    """Default cell size: a multiple of 8 px giving about 48 cells on the long side."""
    return int(8 * max(1, round(max(width, height) / 48 / 8)))


def grid_shape(width: int, height: int, cell_px: int):
    """(rows, cols) of the grid covering a ``width`` x ``height`` image."""
    return -(-height // cell_px), -(-width // cell_px)


def grid_to_mask(grid: np.ndarray, width: int, height: int, cell_px: int) -> np.ndarray:
    """Expand a (rows, cols) bool grid to an (height, width) bool pixel mask."""
    full = np.repeat(np.repeat(np.asarray(grid, dtype=bool), cell_px, axis=0), cell_px, axis=1)
    return full[:height, :width]


def mask_to_grid(mask: np.ndarray, cell_px: int, min_cover: float = 0.5) -> np.ndarray:
    """Cells whose fraction of True pixels is at least ``min_cover`` (> 0)."""
    mask = np.asarray(mask, dtype=np.float32)
    height, width = mask.shape
    rows, cols = grid_shape(width, height, cell_px)
    padded = np.zeros((rows * cell_px, cols * cell_px), np.float32)
    padded[:height, :width] = mask
    weight = np.zeros_like(padded)
    weight[:height, :width] = 1.0
    cover = padded.reshape(rows, cell_px, cols, cell_px).sum(axis=(1, 3))
    area = weight.reshape(rows, cell_px, cols, cell_px).sum(axis=(1, 3))
    return cover >= min_cover * area - 1e-6


class _RangeEncoder:
    def __init__(self):
        self.low, self.range, self.cache, self.cache_size = 0, 0xFFFFFFFF, 0, 1
        self.out = bytearray()

    def encode(self, bit, probs, ctx):
        p = probs[ctx]
        bound = (self.range >> _PROB_BITS) * p
        if bit:
            self.low += bound
            self.range -= bound
            probs[ctx] = p - (p >> _ADAPT_SHIFT)
        else:
            self.range = bound
            probs[ctx] = p + ((_PROB_ONE - p) >> _ADAPT_SHIFT)
        while self.range < _TOP:
            self.range = (self.range << 8) & 0xFFFFFFFF
            self._shift_low()

    def _shift_low(self):
        if self.low < 0xFF000000 or self.low >= 1 << 32:
            carry = self.low >> 32
            temp = self.cache
            while True:
                self.out.append((temp + carry) & 0xFF)
                temp = 0xFF
                self.cache_size -= 1
                if not self.cache_size:
                    break
            self.cache = (self.low >> 24) & 0xFF
        self.cache_size += 1
        self.low = (self.low & 0x00FFFFFF) << 8

    def finish(self) -> bytes:
        for _ in range(5):
            self._shift_low()
        return bytes(self.out)


class _RangeDecoder:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0
        self.range, self.code = 0xFFFFFFFF, 0
        for _ in range(5):
            self.code = (self.code << 8) | self._byte()

    def _byte(self):
        byte = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return byte

    def decode(self, probs, ctx):
        p = probs[ctx]
        bound = (self.range >> _PROB_BITS) * p
        if self.code < bound:
            self.range = bound
            probs[ctx] = p + ((_PROB_ONE - p) >> _ADAPT_SHIFT)
            bit = 0
        else:
            self.code -= bound
            self.range -= bound
            probs[ctx] = p - (p >> _ADAPT_SHIFT)
            bit = 1
        while self.range < _TOP:
            self.range = (self.range << 8) & 0xFFFFFFFF
            self.code = ((self.code << 8) | self._byte()) & 0xFFFFFFFF
        return bit


def _context(grid, r, c, cols):
    left = grid[r][c - 1] if c else 0
    up = grid[r - 1][c] if r else 0
    up_left = grid[r - 1][c - 1] if r and c else 0
    up_right = grid[r - 1][c + 1] if r and c + 1 < cols else 0
    return left | (up << 1) | (up_left << 2) | (up_right << 3)


def _code_grid(grid_bits, rows, cols):
    enc = _RangeEncoder()
    probs = [_PROB_ONE // 2] * 16
    for r in range(rows):
        for c in range(cols):
            enc.encode(grid_bits[r][c], probs, _context(grid_bits, r, c, cols))
    return enc.finish()


def _decode_grid(data, rows, cols):
    dec = _RangeDecoder(data)
    probs = [_PROB_ONE // 2] * 16
    grid = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        row = grid[r]
        for c in range(cols):
            row[c] = dec.decode(probs, _context(grid, r, c, cols))
    return grid


def encode_mask(grid: np.ndarray, cell_px: int) -> bytes:
    """MASK payload for a (rows, cols) bool grid of ``cell_px``-pixel cells."""
    if not 1 <= cell_px <= 255:
        raise ValueError(f"cell_px must be 1..255, got {cell_px}")
    grid = np.asarray(grid, dtype=bool)
    rows, cols = grid.shape
    bits = grid.astype(np.uint8).tolist()
    coded = _code_grid(bits, rows, cols)
    assert coded[0] == 0          # the range coder's first byte is always zero: not sent
    coded = coded[1:]
    # Trailing zero bytes are implied (the decoder reads zeros past the end); other trailing
    # bytes may also be dropped when the decoded grid stays the same.
    while coded and coded[-1] == 0:
        coded = coded[:-1]
    while coded and _decode_grid(b"\0" + coded[:-1], rows, cols) == bits:
        coded = coded[:-1]
    return bytes([cell_px]) + coded


def decode_mask(payload: bytes, width: int, height: int):
    """Parse a MASK payload for a ``width`` x ``height`` image: returns (grid, cell_px)."""
    payload = bytes(payload)
    if not payload:
        raise CorruptDataError("mask section is empty")
    cell_px = payload[0]
    if cell_px < 4:
        raise CorruptDataError(f"mask cell size {cell_px} px is invalid (>= 4)")
    rows, cols = grid_shape(width, height, cell_px)
    if rows * cols > MAX_GRID_CELLS:
        raise CorruptDataError(f"mask grid {cols}x{rows} too large")
    if len(payload) > rows * cols + 16:
        raise CorruptDataError("mask section longer than any mask of this size")
    grid = np.array(_decode_grid(b"\0" + payload[1:], rows, cols), dtype=bool).reshape(rows, cols)
    return grid, cell_px
