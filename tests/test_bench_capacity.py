# SPDX-License-Identifier: GPL-3.0-or-later
"""The ideal "codec + capacity" bound: capacity formulas, byte budgets, budget never exceeded."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnuradio.gensemcom.bench import capacity
from gnuradio.gensemcom.bench.tasks import Task


@pytest.fixture(scope="module")
def small_image():
    from skimage import data
    return np.ascontiguousarray(data.astronaut()[::4, ::4])  # 128×128


def test_awgn_capacity():
    assert capacity.awgn_capacity(0.0) == pytest.approx(1.0)
    assert capacity.awgn_capacity(10.0) == pytest.approx(math.log2(11.0))


@pytest.mark.parametrize("snr_db", [-10.0, -5.0, 0.0, 5.0, 10.0, 20.0])
def test_rayleigh_ergodic_capacity_matches_closed_form_and_monte_carlo(snr_db):
    from scipy.special import exp1
    snr = 10 ** (snr_db / 10)
    closed = math.exp(1 / snr) * exp1(1 / snr) / math.log(2)
    assert capacity.rayleigh_capacity(snr_db) == pytest.approx(closed, rel=1e-8)
    gain = np.random.default_rng(7).exponential(size=400_000)  # |h|², h unit-power Rayleigh
    assert capacity.rayleigh_capacity(snr_db) == pytest.approx(np.log2(1 + snr * gain).mean(), rel=5e-3)
    assert capacity.rayleigh_capacity(snr_db) < capacity.awgn_capacity(snr_db)


@pytest.mark.parametrize("snr_db,expected", [(-5, 1217), (0, 3072), (5, 6320), (10, 10627), (20, 20454)])
def test_budget_bytes_match_field_notes_for_kodak_at_1_48(snr_db, expected):
    task = Task(image="x.png", image_name="x.png", scheme="avif+capacity", snr_db=snr_db,
                channel="awgn", cpp="1/48")
    uses = task.channel_uses(512, 768)
    assert uses == 24576
    assert capacity.budget_bytes(uses, "awgn", snr_db) == expected


def test_unknown_channel_has_no_capacity():
    with pytest.raises(ValueError, match="no capacity formula"):
        capacity.capacity("multipath", 0.0)


@pytest.fixture(scope="module")
def small_image_file(tmp_path_factory, small_image):
    from PIL import Image
    path = tmp_path_factory.mktemp("capacity") / "a.png"
    Image.fromarray(small_image).save(path)
    return path


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(codec=st.sampled_from(capacity.CODECS), channel=st.sampled_from(capacity.CHANNELS),
       snr_db=st.floats(min_value=-20.0, max_value=25.0).map(lambda x: round(x, 1)))
def test_capacity_scheme_never_exceeds_its_budget(small_image, small_image_file, codec, channel, snr_db):
    from gnuradio.gensemcom.classical.wholeimage import WholeImageCodec
    from gnuradio.gensemcom.link.protection import samples_budget
    from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
    task = Task(image=str(small_image_file), image_name="a.png", scheme=f"{codec}+capacity",
                snr_db=snr_db, channel=channel, cpp="1/8")
    result = capacity.run_capacity(task)
    uses = samples_budget(1 / 8, 128, 128, DEFAULT_NUMEROLOGY)     # the real schemes' sample budget
    assert result["samples_budget"] == uses > 128 * 128 * 3 // 8
    assert result["budget_bytes"] == math.floor(uses * capacity.capacity(channel, snr_db)) // 8
    assert 0 <= result["bytes"] <= result["budget_bytes"]
    if result["image"] is None:
        # Nothing fits: the same whole-image codec as the flowgraph baseline finds nothing.
        assert result["bytes"] == 0 and not result["sent"]
        fits = result["budget_bytes"] > 0 and WholeImageCodec(codec).encode(small_image, result["budget_bytes"])
        assert not fits or not fits.report["fits"]
    else:
        assert result["image"].shape == small_image.shape and result["image"].dtype == np.uint8
        assert 0 < result["scale"] <= 1.0
