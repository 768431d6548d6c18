"""The ideal "codec + capacity" bound: capacity formulas, byte budgets, budget never exceeded."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnuradio.gensemcom.bench import capacity, codecs
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


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(codec=st.sampled_from(codecs.CODECS), budget=st.integers(min_value=0, max_value=6000))
def test_fit_never_exceeds_the_budget(small_image, codec, budget):
    fit = codecs.fit_budget(small_image, codec, budget)
    if fit is None:
        # Nothing fits: not even the smallest scale at the lowest quality.
        smallest = codecs.resize(small_image, 32, 32)
        assert len(codecs.encode(smallest, codec, codecs._QUALITY_RANGE[codec][0])) > budget
        return
    assert len(fit.data) <= budget
    assert fit.reconstruction.shape == small_image.shape
    assert fit.scale in codecs.SCALES
    if fit.quality < codecs._QUALITY_RANGE[codec][1]:  # the best quality: one step up does not fit
        h, w = small_image.shape[:2]
        scaled = codecs.resize(small_image, round(w * fit.scale), round(h * fit.scale))
        assert len(codecs.encode(scaled, codec, fit.quality + 1)) > budget


@pytest.mark.parametrize("snr_db", [-5.0, 5.0, 15.0])
@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_capacity_scheme_stays_within_its_budget(tmp_path, small_image, snr_db, channel):
    from PIL import Image
    path = tmp_path / "a.png"
    Image.fromarray(small_image).save(path)
    task = Task(image=str(path), image_name="a.png", scheme="webp+capacity", snr_db=snr_db,
                channel=channel, cpp="1/8")
    result = capacity.run_capacity(task)
    uses = task.channel_uses(*small_image.shape[:2])
    assert result["symbols_used"] == uses
    assert result["budget_bytes"] == math.floor(uses * capacity.capacity(channel, snr_db)) // 8
    assert result["bytes"] <= result["budget_bytes"]
    assert (result["image"] is None) == (result["bytes"] == 0)
    if result["image"] is not None:
        assert result["image"].shape == small_image.shape
