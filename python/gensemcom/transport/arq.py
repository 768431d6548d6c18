# SPDX-License-Identifier: GPL-3.0-or-later
"""What a sender repeats when the receiver reports losses: selective repeat and incremental redundancy.

``SentImage`` keeps the packets of one image as they were sent (after erasure coding) and, for
each erasure-code block, its data packets. ``repeats(feedback)`` answers a
``feedback.Feedback``:

* selective repeat: each packet that carries a fragment the receiver lacks is sent again;
* incremental redundancy: for an erasure-coded block the receiver holds h < k shares of, the
  sender adds k − h + 1 new repair shares (indices after the ones sent; any k distinct shares
  decode), instead of repeating packets; a block the receiver never heard of (every share
  lost) gets k new shares.

Packets come out most important first. Bytes only: what the PHY costs is the caller's concern.
"""
from __future__ import annotations

from ..errors import CorruptDataError
from .erasure import ERASURE_MAGIC, block_plan, more_shares, parse_share, unpad
from .feedback import ALL_FRAGMENTS
from .fragments import parse_fragment
from .packets import _walk, split_packet

SHARE_MARGIN = 1                    # repair shares added beyond what the receiver lacks


def fragments_in(packet: bytes) -> set:
    """{(section index, fragment index)} a packet (fragment, aggregate or systematic share) holds."""
    packet = bytes(packet)
    try:
        if packet[:1] == bytes([ERASURE_MAGIC]):
            _, _, k, _, index, share = parse_share(packet)
            if index >= k:
                return set()
            packet = unpad(share)
        return {(info.section_index, info.index) for info in map(parse_fragment, split_packet(packet))}
    except CorruptDataError:
        return set()


class SentImage:
    """An image's packets as sent, for repeats (see module docstring).

    data_packets  [(importance, group, bytes)] before erasure coding (``packetize_pieces``)
    sent          the same after ``protect_packets`` (what went on the air, once)
    repair_of     the groups' repair ratio (``link.mcsplan.repair_of_group``)
    """

    def __init__(self, image_id: int, data_packets: list, sent: list, repair_of=None):
        self.image_id = image_id
        self.sent = list(sent)
        self.blocks = {}                  # block -> {"importance", "group", "packets", "next", "fragments"}
        block = 0
        for group, members in _walk(data_packets, repair_of):
            if group is None:
                continue
            ratio = repair_of(group)
            for start, k, r, _ in block_plan([len(d) for _, _, d in members], ratio):
                chunk = members[start:start + k]
                self.blocks[block] = {"importance": min(imp for imp, _, _ in chunk), "group": group,
                                      "packets": [d for _, _, d in chunk], "next": k + r,
                                      "fragments": set().union(*(fragments_in(d) for _, _, d in chunk))}
                block += 1
        self.contents = [fragments_in(p) if p[:1] != bytes([ERASURE_MAGIC]) else set() for _, _, p in self.sent]

    def _more(self, block, count):
        entry = self.blocks[block]
        shares = more_shares(self.image_id, block, entry["packets"], entry["next"], count)
        entry["next"] += len(shares)
        return [(entry["importance"], entry["group"], share) for share in shares]

    def repeats(self, feedback) -> list:
        """[(importance, group, bytes)] answering ``feedback`` (most important first)."""
        whole = {s for s, f in feedback.missing if f == ALL_FRAGMENTS}
        wanted = {(s, f) for s, f in feedback.missing if f != ALL_FRAGMENTS}

        def needed(fragments):
            return any(s in whole or (s, f) in wanted for s, f in fragments)

        out, seen = [], set()
        for (importance, group, packet), held in zip(self.sent, self.contents):
            if held and needed(held) and packet not in seen:
                seen.add(packet)
                out.append((importance, group, packet))
        reported = {block: (have, k) for block, have, k in feedback.blocks}
        for block, entry in self.blocks.items():
            if block in reported:
                have, k = reported[block]
                out += self._more(block, k - have + SHARE_MARGIN)
            elif needed(entry["fragments"]):          # every share of it lost: the receiver cannot know it
                out += self._more(block, len(entry["packets"]))
        return sorted(out, key=lambda item: item[0])
