# SPDX-License-Identifier: GPL-3.0-or-later
"""Erasure coding across packets: K packets of a protection group become K + R, any K of them rebuild all.

The code is systematic Reed-Solomon over GF(2^8) from ``zfec`` (an MDS code: any K of the K + R
shares decode, no overhead beyond the repair shares). The K packets of a block are each
prefixed with their length (u16) and zero-padded to the longest; the shares travel as packets
with a 7-byte header (``ERASURE_HEADER_BYTES``)::

    0xF3 | image_id u16 | block u8 | k u8 | m u8 | index u8 | share (length-prefixed packet, padded)

Shares 0..K-1 are the packets themselves: a receiver reads each of those it gets at once,
whether or not the block ever decodes; shares K..M-1 are repair. A repair share depends only
on K, its index and the data, so a sender may add more of them later (incremental redundancy:
``more_shares``, indices M, M+1, ... up to 254): any K distinct shares decode. Everything read
is untrusted: header fields, lengths and share sizes are checked before use.
"""
from __future__ import annotations

import math
import struct

from ..errors import CorruptDataError

ERASURE_MAGIC = 0xF3
ERASURE_HEADER_BYTES = 7
LENGTH_PREFIX_BYTES = 2
MAX_BLOCK_SHARES = 255            # k + r per block (GF(2^8))
MAX_BLOCK_K = 64                  # packets per block: larger images are coded in several blocks
_HEADER = struct.Struct(">BHBBBB")
assert _HEADER.size == ERASURE_HEADER_BYTES


def repair_count(k: int, repair_ratio: float) -> int:
    """Repair shares for a block of ``k`` packets at ``repair_ratio`` R/K (rounded up; 0 stays 0)."""
    if repair_ratio <= 0 or k <= 0:
        return 0
    return min(MAX_BLOCK_SHARES - k, int(math.ceil(k * repair_ratio - 1e-9)))


def block_sizes(n_packets: int, repair_ratio: float, max_k: int = MAX_BLOCK_K) -> list:
    """[(k, r)] of the blocks ``n_packets`` packets are cut into (as even as possible, k <= max_k)."""
    if n_packets <= 0:
        return []
    n_blocks = -(-n_packets // max_k)
    base, extra = divmod(n_packets, n_blocks)
    sizes = [base + (1 if i < extra else 0) for i in range(n_blocks)]
    return [(k, repair_count(k, repair_ratio)) for k in sizes]


def share_bytes(packet_lengths) -> int:
    """Bytes of every share (header included) of a block holding packets of these lengths."""
    return ERASURE_HEADER_BYTES + LENGTH_PREFIX_BYTES + max(packet_lengths)


def block_plan(packet_lengths, repair_ratio: float, max_k: int = MAX_BLOCK_K) -> list:
    """[(first packet index, k, r, share bytes)] of the blocks packets of these lengths are
    coded in (consecutive packets per block): what ``encode_packets`` sends and costs count."""
    lengths = list(packet_lengths)
    out, pos = [], 0
    for k, r in block_sizes(len(lengths), repair_ratio, max_k):
        out.append((pos, k, r, share_bytes(lengths[pos:pos + k])))
        pos += k
    return out


def encode_block(image_id: int, block: int, packets: list, repair: int) -> list:
    """The ``len(packets) + repair`` shares of one block (a list of bytes, systematic first)."""
    import zfec
    k = len(packets)
    if not 1 <= k or k + repair > MAX_BLOCK_SHARES or not 0 <= block < 256:
        raise ValueError(f"erasure block of {k} + {repair} shares (block {block}) out of range")
    width = LENGTH_PREFIX_BYTES + max(len(p) for p in packets)
    data = [struct.pack(">H", len(p)) + bytes(p) + bytes(width - LENGTH_PREFIX_BYTES - len(p)) for p in packets]
    shares = zfec.Encoder(k, k + repair).encode(data) if repair else data
    return [_HEADER.pack(ERASURE_MAGIC, image_id, block, k, k + repair, i) + bytes(s) for i, s in enumerate(shares)]


def more_shares(image_id: int, block: int, packets: list, first_index: int, count: int) -> list:
    """``count`` further repair shares (indices ``first_index``...) of a block of ``packets``
    (incremental redundancy: what a sender adds when the receiver reports too few shares)."""
    import zfec
    k = len(packets)
    last = min(MAX_BLOCK_SHARES, first_index + count)
    if not 1 <= k <= first_index or first_index >= MAX_BLOCK_SHARES:
        return []
    width = LENGTH_PREFIX_BYTES + max(len(p) for p in packets)
    data = [struct.pack(">H", len(p)) + bytes(p) + bytes(width - LENGTH_PREFIX_BYTES - len(p)) for p in packets]
    ids = list(range(first_index, last))
    shares = zfec.Encoder(k, MAX_BLOCK_SHARES).encode(data, ids)
    return [_HEADER.pack(ERASURE_MAGIC, image_id, block, k, last, i) + bytes(s) for i, s in zip(ids, shares)]


def encode_packets(image_id: int, packets: list, repair_ratio: float, first_block: int = 0,
                   max_k: int = MAX_BLOCK_K) -> list:
    """Shares of ``packets`` cut into blocks (``block_plan``), block numbers from ``first_block``."""
    out = []
    for offset, (start, k, r, _) in enumerate(block_plan([len(p) for p in packets], repair_ratio, max_k)):
        out += encode_block(image_id, first_block + offset, packets[start:start + k], r)
    return out


def parse_share(packet: bytes):
    """(image_id, block, k, m, index, share) of an erasure-coded packet; ``CorruptDataError`` if not one."""
    packet = bytes(packet)
    if len(packet) <= ERASURE_HEADER_BYTES + LENGTH_PREFIX_BYTES:
        raise CorruptDataError("erasure share shorter than its header")
    magic, image_id, block, k, m, index = _HEADER.unpack_from(packet)
    if magic != ERASURE_MAGIC:
        raise CorruptDataError(f"not an erasure share (first byte 0x{magic:02x})")
    if not 1 <= k <= m <= MAX_BLOCK_SHARES or index >= m:     # m: the shares sent so far
        raise CorruptDataError(f"erasure share {index} of a {k}-of-{m} block is invalid")
    return image_id, block, k, m, index, packet[ERASURE_HEADER_BYTES:]


def unpad(share: bytes) -> bytes:
    """The packet inside a systematic (or decoded) share; checks its length prefix."""
    (length,) = struct.unpack_from(">H", share)
    if LENGTH_PREFIX_BYTES + length > len(share):
        raise CorruptDataError("erasure share length prefix runs past the share")
    return share[LENGTH_PREFIX_BYTES:LENGTH_PREFIX_BYTES + length]


class ErasureStore:
    """Collects shares per (image, block); yields each inner packet once, as soon as it is known.

    ``add(packet)`` returns the inner packets newly recovered by this share: a systematic share's
    own packet at once; all the block's missing ones when the K-th distinct share arrives.
    Shares that contradict their block (other k, m or size) are dropped.
    """

    def __init__(self, max_blocks: int = 1024):
        self.max_blocks = max_blocks
        self._blocks = {}        # (image_id, block) -> {"k", "m", "size", "shares": {i: bytes}, "done"}
        self.recovered = 0       # packets rebuilt from repair shares

    def add(self, packet: bytes) -> list:
        image_id, block, k, m, index, share = parse_share(packet)
        key = (image_id, block)
        entry = self._blocks.get(key)
        if entry is None:
            while len(self._blocks) >= self.max_blocks:          # forget the oldest block
                self._blocks.pop(next(iter(self._blocks)))
            entry = self._blocks[key] = {"k": k, "m": m, "size": len(share), "shares": {}, "done": False,
                                         "given": set()}
        if (entry["k"], entry["size"]) != (k, len(share)) or index in entry["shares"]:
            return []
        entry["shares"][index] = share
        out = []
        if index < k and index not in entry["given"]:
            out.append(unpad(share))
            entry["given"].add(index)
        if not entry["done"] and len(entry["shares"]) >= k:
            entry["done"] = True
            missing = [i for i in range(k) if i not in entry["given"]]
            if missing:
                import zfec
                indices = sorted(entry["shares"])[:k]
                decoded = zfec.Decoder(k, MAX_BLOCK_SHARES).decode([entry["shares"][i] for i in indices], indices)
                for i in missing:
                    try:
                        out.append(unpad(bytes(decoded[i])))
                        self.recovered += 1
                    except CorruptDataError:
                        pass
                entry["given"].update(missing)
        return out

    def incomplete(self, image_id) -> list:
        """[(block, shares held, k)] of ``image_id``'s blocks that cannot decode yet."""
        return [(block, len(entry["shares"]), entry["k"]) for (image, block), entry in sorted(self._blocks.items())
                if image == image_id and not entry["done"]]
