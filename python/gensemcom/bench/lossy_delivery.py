# SPDX-License-Identifier: GPL-3.0-or-later
"""Lossy delivery of fragments, and what a decoder report must say about it (issue 7).

``deliver(packets, loss, rng)`` models a packet network after the PHY: each packet (one
fragment, or an aggregate of small fragments as ``container.packetize`` makes them) is lost
with probability ``loss`` (independently), the survivors are reordered and some duplicated.
Losses are drawn by comparing one uniform number per packet with ``loss``
(``loss_draws``), so with the same draws a higher loss rate loses a superset of the
packets: curves over loss rates are paired comparisons, not independent noise.

``lost_sections(sent, received)`` says which sections of a container did not arrive whole;
``regeneration_gaps(...)`` lists the lost parts that a semantic decoder report does not own
up to in its ``regenerated`` list (empty when the report is honest).
"""
from __future__ import annotations

import random

from ..transport.container import SectionType
from ..transport.fragments import parse_fragment
from ..transport.packets import split_packet

DUPLICATE_SHARE = 0.1     # share of the delivered fragments that arrive twice


def loss_draws(packets, rng: random.Random) -> list:
    """One uniform number in [0, 1) per packet: packet i is lost at loss rate p when draw i < p."""
    return [rng.random() for _ in packets]


def deliver(packets, loss: float, rng: random.Random, draws=None, reorder: bool = True,
            duplicate_share: float = DUPLICATE_SHARE) -> list:
    """The packets that arrive: each lost with probability ``loss``, then duplicates and reordering.

    packets          fragments as sent (bytes)
    loss             loss probability per packet, 0..1
    rng              random source for duplicates and order
    draws            ``loss_draws(packets, ...)`` to share losses across loss rates (else drawn here)
    duplicate_share  expected share of delivered packets that arrive a second time
    """
    if not 0.0 <= loss <= 1.0:
        raise ValueError(f"loss must be in [0, 1], got {loss}")
    draws = loss_draws(packets, rng) if draws is None else draws
    arrived = [p for p, u in zip(packets, draws) if u >= loss]
    arrived += [p for p in arrived if rng.random() < duplicate_share]
    if reorder:
        rng.shuffle(arrived)
    return arrived


def lost_sections(sent, received) -> dict:
    """{section index: section type or None (header)} of the pieces that did not arrive whole.

    ``sent`` are the packets of one container as the fragmenter made them (fragments or
    aggregate packets); ``received`` what arrived. The header is index 0.
    """
    need, have = {}, {}
    for packet in sent:
        for fragment in split_packet(packet):
            info = parse_fragment(fragment)
            need.setdefault(info.section_index, (info.code & 0x1F, set()))[1].add(info.index)
    for packet in received:
        for fragment in split_packet(packet):
            info = parse_fragment(fragment)
            have.setdefault(info.section_index, set()).add(info.index)
    return {index: (None if index == 0 else kind) for index, (kind, parts) in need.items()
            if not parts <= have.get(index, set())}


def regeneration_gaps(lost: dict, report: dict) -> list:
    """Lost sections that the semantic decoder's ``report["regenerated"]`` does not mention.

    What the report must say: a lost prompt ("prompt"), lost metadata ("metadata": then nothing
    else can be used), and with the metadata present a lost key band ("key"), lost hints
    ("hints") and a lost mask while the key stream arrived ("mask"). A lost header needs no
    regeneration (the sections carry on without it).
    """
    text = " | ".join(str(r) for r in report.get("regenerated", [])).lower()
    kinds = set(lost.values())
    expected = []
    if SectionType.PROMPT in kinds:
        expected.append("prompt")
    if SectionType.META in kinds:
        expected.append("metadata")
    else:
        if SectionType.KEY in kinds:
            expected.append("key")
        if SectionType.HINTS in kinds:
            expected.append("hints")
        if SectionType.MASK in kinds and SectionType.KEY not in kinds:
            expected.append("mask")
    return [word for word in expected if word not in text]
