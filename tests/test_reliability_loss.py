# SPDX-License-Identifier: GPL-3.0-or-later
"""Lossy delivery (issue 7): random packet loss 0-50 %, reordering and duplication on real images.

Every image still decodes to full size, the report lists what was regenerated whenever a
section was lost, and the mean quality does not rise with the loss rate. The doc plot over
more images and loss rates is ``scripts/reliability_loss.py`` (docs/reliability.md).
"""
import random

import numpy as np
import pytest

from gnuradio.gensemcom import metrics
from gnuradio.gensemcom.bench.lossy_delivery import deliver, loss_draws, lost_sections, regeneration_gaps
from gnuradio.gensemcom.transport.packets import packetize

LOSS_RATES = (0.0, 0.1, 0.3, 0.5)
SEEDS = 4
MTU_BYTES = 100
BITS_PER_PIXEL = 0.3
TOLERANCE = {"psnr": 0.3, "ssim": 0.01, "key_psnr": 0.5}    # allowed rise of the mean per step


@pytest.fixture(scope="module")
def sweep():
    from skimage import data

    from gnuradio.gensemcom.imageops import resize
    from gnuradio.gensemcom.semantic.codec import SemanticCodec
    codec = SemanticCodec()
    rows = []
    for image_id, name in enumerate(("astronaut", "coffee", "chelsea"), start=1):
        full = getattr(data, name)()
        height, width = full.shape[:2]
        scale = 192 / max(height, width)
        image = np.ascontiguousarray(resize(full, round(width * scale), round(height * scale)))
        height, width = image.shape[:2]
        sent = codec.encode(image, int(width * height * BITS_PER_PIXEL / 8), image_id=image_id)
        packets = [data for _, _, data in packetize(sent.container, MTU_BYTES)]   # as the fragmenter sends
        for seed in range(SEEDS):
            draws = loss_draws(packets, random.Random(f"draws-{name}-{seed}"))
            for loss in LOSS_RATES:
                arrived = deliver(packets, loss, random.Random(f"order-{name}-{seed}-{loss}"), draws)
                result = codec.decode(arrived, size=(width, height))
                quality = {"psnr": metrics.psnr(image, result.image),
                           "ssim": metrics.ssim(image, result.image),
                           "key_psnr": metrics.psnr(image, result.image, sent.key_mask)}
                rows.append({"image": name, "seed": seed, "loss": loss, "shape": result.image.shape,
                             "expected_shape": image.shape, "lost": lost_sections(packets, arrived),
                             "report": result.report, "sent": len(packets), "arrived": len(arrived),
                             **quality})
    return rows


def test_every_image_decodes_to_full_size(sweep):
    assert {r["loss"] for r in sweep} == set(LOSS_RATES)
    for row in sweep:
        assert row["shape"] == row["expected_shape"], row


def test_heavy_loss_was_really_tested(sweep):
    at_half = [r for r in sweep if r["loss"] == 0.5]
    assert sum(r["arrived"] for r in at_half) < 0.75 * sum(r["sent"] for r in at_half)
    assert sum(bool(r["lost"]) for r in at_half) >= len(at_half) // 2


def test_report_lists_what_was_regenerated(sweep):
    for row in sweep:
        lost_sections_only = {k: v for k, v in row["lost"].items() if k != 0}
        if row["loss"] == 0.0:
            assert row["report"]["regenerated"] == []
        if lost_sections_only:
            assert row["report"]["regenerated"], row
        gaps = regeneration_gaps(row["lost"], row["report"])
        assert gaps == [], (row["lost"], row["report"]["regenerated"])


@pytest.mark.parametrize("metric", sorted(TOLERANCE))
def test_mean_quality_does_not_rise_with_loss(sweep, metric):
    means = [np.mean([r[metric] for r in sweep if r["loss"] == loss]) for loss in LOSS_RATES]
    for lower, higher in zip(means, means[1:]):
        assert higher <= lower + TOLERANCE[metric], (metric, means)
    assert means[-1] < means[0]            # losing half the fragments costs something


def test_loss_is_nested_across_rates():
    """With shared draws a higher loss rate loses a superset of the fragments."""
    packets = [bytes([0xF1, 0, 1, 0, 0x20, 0, i, 0, 200]) + b"x" for i in range(200)]
    draws = loss_draws(packets, random.Random(3))
    light = set(deliver(packets, 0.1, random.Random(1), draws, duplicate_share=0))
    heavy = set(deliver(packets, 0.5, random.Random(2), draws, duplicate_share=0))
    assert heavy <= light
    assert 60 <= len(heavy) <= 140 and 160 <= len(light) <= 199
    with pytest.raises(ValueError):
        deliver(packets, 1.5, random.Random(0))
