# SPDX-License-Identifier: GPL-3.0-or-later
"""Packets: fragments of one protection group packed together, as the fragmenter sends them.

Small fragments that share a protection group (the same MCS and copies) travel together in
one aggregate packet, so that a prompt or a mask does not pay a PHY packet of its own::

    0xF2 | count u8 | count x (length u16 | fragment)

A single fragment travels as it is. Packing is first-fit decreasing per group, so its cost
depends only on the sizes, not on the order of the sections (rate control counts the same
packets the fragmenter sends).
"""
from __future__ import annotations

import struct

from ..errors import CorruptDataError
from .container import Container, framed_pieces
from .erasure import block_plan, encode_packets
from .fragments import fragment_framed, fragment_lengths

AGGREGATE_MAGIC = 0xF2
AGGREGATE_HEADER_BYTES = 2       # magic, count
AGGREGATE_ITEM_BYTES = 2         # u16 length before each fragment
MAX_AGGREGATE_ITEMS = 255


def packet_size(lengths) -> int:
    """Bytes of a packet holding fragments of these lengths (one: as is; more: aggregate)."""
    lengths = list(lengths)
    if len(lengths) == 1:
        return lengths[0]
    return AGGREGATE_HEADER_BYTES + sum(AGGREGATE_ITEM_BYTES + n for n in lengths)


def plan_packets(items, mtu_bytes: int) -> list:
    """Pack fragments into packets of at most ``mtu_bytes``.

    items: [(group key, fragment length, reference)]; only fragments of one group share a
    packet. Returns [(group key, [references])], first-fit decreasing per group, so the packet
    sizes depend only on each group's lengths; packets come out in the order of their first
    item in ``items`` (the most important sections first, as the container lists them).
    """
    groups, position = {}, {}
    for order, (key, length, ref) in enumerate(items):
        groups.setdefault(key, []).append((int(length), ref, order))
    packets = []
    for key, members in groups.items():
        bins = []          # [lengths, refs]
        smallest = min(length for length, _, _ in members)
        for length, ref, order in sorted(members, key=lambda m: (-m[0], m[2])):
            if len(members) == 1 or packet_size([length, smallest]) > mtu_bytes:
                packets.append((key, [ref]))        # cannot share a packet with anything
                position[id(packets[-1])] = order
                continue
            for lengths, refs, first in bins:
                if len(lengths) < MAX_AGGREGATE_ITEMS and packet_size(lengths + [length]) <= mtu_bytes:
                    lengths.append(length)
                    refs.append(ref)
                    first[0] = min(first[0], order)
                    break
            else:
                bins.append(([length], [ref], [order]))
        for _, refs, first in bins:
            packets.append((key, refs))
            position[id(packets[-1])] = first[0]
    return sorted(packets, key=lambda packet: position[id(packet)])


def packet_costs(pieces, mtu_bytes: int, group_of=None) -> list:
    """[(importance, group, packet bytes)] of the packets that carry pieces [(importance, framed bytes)].

    ``group_of(importance)`` names the protection group (MCS, copies, repair); None = the
    importance. A packet's importance is its most important fragment's.
    """
    items = []
    for importance, framed in pieces:
        key = group_of(int(importance)) if group_of else int(importance)
        items += [(key, n, (int(importance), n)) for n in fragment_lengths(int(framed), mtu_bytes)]
    return [(min(imp for imp, _ in refs), key, packet_size([n for _, n in refs]))
            for key, refs in plan_packets(items, mtu_bytes)]


def packetize_pieces(image_id: int, pieces, mtu_bytes: int, group_of=None) -> list:
    """Packets of pieces [(section index, code, framed bytes)]: [(importance, group, bytes)]."""
    items = []
    for index, code, framed in pieces:
        importance = code >> 5
        key = group_of(importance) if group_of else importance
        for fragment_bytes in fragment_framed(image_id, index, code, framed, mtu_bytes):
            items.append((key, len(fragment_bytes), (importance, fragment_bytes)))
    packets = []
    for key, refs in plan_packets(items, mtu_bytes):
        importance = min(imp for imp, _ in refs)
        if len(refs) == 1:
            data = refs[0][1]
        else:
            data = bytes([AGGREGATE_MAGIC, len(refs)]) + b"".join(
                struct.pack(">H", len(f)) + f for _, f in refs)
        packets.append((importance, key, data))
    return packets


def packetize(container, mtu_bytes: int, group_of=None) -> list:
    """Packets of a whole container (see ``packetize_pieces``)."""
    if isinstance(container, (bytes, bytearray, memoryview)):
        container = Container.from_bytes(container)
    return packetize_pieces(container.image_id, framed_pieces(container), mtu_bytes, group_of)


def split_packet(packet: bytes) -> list:
    """The fragments in a received packet (an aggregate or one fragment); validates lengths."""
    packet = bytes(packet)
    if not packet or packet[0] != AGGREGATE_MAGIC:
        return [packet]
    if len(packet) < AGGREGATE_HEADER_BYTES:
        raise CorruptDataError("aggregate packet truncated")
    count, pos, fragments = packet[1], AGGREGATE_HEADER_BYTES, []
    for _ in range(count):
        if pos + AGGREGATE_ITEM_BYTES > len(packet):
            raise CorruptDataError("aggregate packet truncated")
        (length,) = struct.unpack_from(">H", packet, pos)
        pos += AGGREGATE_ITEM_BYTES
        if pos + length > len(packet):
            raise CorruptDataError("aggregate fragment runs past the end of the packet")
        fragments.append(packet[pos:pos + length])
        pos += length
    if pos != len(packet) or not fragments:
        raise CorruptDataError("aggregate packet has trailing bytes or no fragments")
    return fragments


def _walk(packets, repair_of):
    """Yield (None, packet) for each packet sent as is and (group, [its packets]) once per
    erasure-coded group, at the place of its first packet."""
    groups, done = {}, set()
    for position, (_, group, _) in enumerate(packets):
        groups.setdefault(group, []).append(position)
    for importance, group, item in packets:
        if not (repair_of and repair_of(group)):
            yield None, (importance, group, item)
        elif group not in done:
            done.add(group)
            yield group, [packets[p] for p in groups[group]]


def protect_packets(image_id: int, packets: list, repair_of=None) -> list:
    """Packets [(importance, group, bytes)] after erasure coding across packets.

    ``repair_of(group)`` is the repair ratio R/K of a protection group (0 or None: sent as is).
    A coded group's packets are replaced, at the place of its first packet, by the shares of
    its blocks (``erasure.encode_packets``; a share's importance is its block's most important
    packet's). Block numbers are unique within the image.
    """
    out, next_block = [], 0
    for group, item in _walk(packets, repair_of):
        if group is None:
            out.append(item)
            continue
        ratio = repair_of(group)
        shares = iter(encode_packets(image_id, [d for _, _, d in item], ratio, next_block))
        for start, k, r, _ in block_plan([len(d) for _, _, d in item], ratio):
            importance = min(imp for imp, _, _ in item[start:start + k])
            out += [(importance, group, next(shares)) for _ in range(k + r)]
            next_block += 1
    return out


def protected_costs(packets: list, repair_of=None) -> list:
    """[(importance, group, bytes)] of what ``protect_packets`` sends for packets
    [(importance, group, bytes)]: sizes only, no coding (rate control's count)."""
    out = []
    for group, item in _walk(packets, repair_of):
        if group is None:
            out.append(item)
            continue
        for start, k, r, share in block_plan([n for _, _, n in item], repair_of(group)):
            out += [(min(imp for imp, _, _ in item[start:start + k]), group, share)] * (k + r)
    return out
