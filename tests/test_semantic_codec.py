# SPDX-License-Identifier: GPL-3.0-or-later
"""The semantic codec end to end: budgets, rate control, graceful degradation, damaged input."""
import subprocess
import sys

import numpy as np
import pytest

from gnuradio.gensemcom import metrics
from gnuradio.gensemcom.classical.baselines import fit_whole_image
from gnuradio.gensemcom.errors import BadInputError, CorruptDataError
from gnuradio.gensemcom.semantic import CodecConfig, SemanticCodec
from gnuradio.gensemcom.semantic.config import BudgetTooSmallError
from gnuradio.gensemcom.semantic.inspect import describe_container
from gnuradio.gensemcom.transport.budget import Budget, fixed_rate_samples, shannon_samples
from gnuradio.gensemcom.transport.container import Container, Importance, SectionType
from gnuradio.gensemcom.transport.fragments import fragment, parse_fragment
from gnuradio.gensemcom.transport.packets import packetize
from gnuradio.gensemcom.transport.reassembly import reassemble


def shrink(image, width, height):
    import cv2
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def codec():
    return SemanticCodec()


@pytest.fixture(scope="module")
def small_astronaut(astronaut):
    return shrink(astronaut, 256, 256)


@pytest.fixture(scope="module")
def small_coffee(coffee):
    return shrink(coffee, 300, 200)


@pytest.fixture(scope="module")
def encoded(codec, small_astronaut):
    return codec.encode(small_astronaut, 2048, image_id=42)


def test_round_trip_fits_the_budget_and_keeps_the_size(codec, encoded, small_astronaut):
    assert len(encoded.data) <= 2048
    assert encoded.report["mode"] == "semantic"
    out = codec.decode(encoded.data)
    assert out.image.shape == small_astronaut.shape and out.image.dtype == np.uint8
    assert not out.report["lost"] and not out.report["regenerated"]
    assert np.array_equal(out.key_mask, encoded.key_mask)
    key = encoded.key_mask
    assert metrics.psnr(small_astronaut, out.image, key) > metrics.psnr(small_astronaut, out.image, ~key) + 1


def test_key_regions_beat_whole_image_avif_at_the_same_budget(codec, encoded, small_astronaut):
    out = codec.decode(encoded.data)
    avif = fit_whole_image(small_astronaut, 2048, "avif")
    key = encoded.key_mask
    ours = metrics.psnr(small_astronaut, out.image, key)
    assert ours > metrics.psnr(small_astronaut, avif.image, key) + 1.0


def test_report_accounts_for_every_byte(encoded):
    report = encoded.report
    assert sum(report["split_bytes"].values()) == report["container_bytes"] == len(encoded.data)
    assert report["split_bytes"]["prompt"] < 300
    assert [s["type"] for s in report["sections"]][:3] == ["meta", "prompt", "mask"]
    assert 0.05 < report["key_fraction"] < 0.4


@pytest.mark.parametrize("budget", [60, 120, 400, 900, 1536, 3000, 7000])
def test_rate_control_never_exceeds_the_budget(codec, small_coffee, budget):
    result = codec.encode(small_coffee, budget)
    assert len(result.data) <= budget
    mode = result.report["mode"]
    assert mode == ("semantic" if budget >= 400 else mode)
    if mode == "prompt-only":
        assert not result.key_mask.any()
        assert not Container.from_bytes(result.data).find(SectionType.KEY)
    out = codec.decode(result.data)
    assert out.image.shape == small_coffee.shape


def test_budget_below_the_minimal_container_is_a_clear_error(codec, small_coffee):
    with pytest.raises(BudgetTooSmallError, match="needs 55 bytes"):
        codec.encode(small_coffee, 40)


def test_larger_budgets_buy_better_key_regions(codec, small_coffee):
    scores = []
    for budget in (800, 3000):
        result = codec.encode(small_coffee, budget, key_fraction=0.2)
        out = codec.decode(result.data)
        scores.append(metrics.psnr(small_coffee, out.image, result.key_mask))
    assert scores[1] > scores[0] + 2


def test_sample_budget_with_a_phy_cost_function(codec, small_coffee):
    rates = {Importance.CRITICAL: 0.5, Importance.HIGH: 1.0, Importance.NORMAL: 2.0}
    budget = Budget(budget_samples=6000, samples_for_bytes=fixed_rate_samples(rates), mtu_bytes=200)
    result = codec.encode(small_coffee, budget)
    packets = packetize(result.data, 200)      # what the fragmenter sends; rate control counts the same
    symbols = sum(fixed_rate_samples(rates)(len(p), importance) for importance, _, p in packets)
    assert symbols <= 6000
    assert result.report["cost_samples"] == pytest.approx(symbols)
    assert result.report["cost_bytes"] == sum(len(p) for _, _, p in packets)
    ideal = Budget(budget_samples=2000, samples_for_bytes=shannon_samples(0.0))
    assert codec.encode(small_coffee, ideal).report["cost_samples"] <= 2000


def test_user_mask_is_used_as_given(codec, small_coffee):
    mask = np.zeros(small_coffee.shape[:2], bool)
    mask[40:120, 100:220] = True
    result = codec.encode(small_coffee, 2500, key_mask=mask)
    assert result.key_mask[48:112, 104:216].all()
    assert abs(result.key_mask.mean() - mask.mean()) < 0.05


@pytest.mark.parametrize("name", ["webp", "jpeg"])
def test_other_key_codecs(small_coffee, name):
    codec = SemanticCodec(config=CodecConfig(codec=name))
    result = codec.encode(small_coffee, 4000)
    assert len(result.data) <= 4000 and result.report["codec"] == name
    assert codec.decode(result.data).image.shape == small_coffee.shape


# ---- graceful degradation ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def banded(codec, small_coffee):
    return codec.encode(small_coffee, 6000, key_fraction=0.3, image_id=5)


def _drop(data, *section_types, mtu=150):
    packets = fragment(data, mtu)
    container = Container.from_bytes(data)
    drop = {i + 1 for i, s in enumerate(container.sections) if s.type in section_types}
    return [p for p in packets if parse_fragment(p).section_index not in drop], drop


def test_fragments_in_any_order_with_duplicates_decode_like_the_container(codec, banded):
    packets = fragment(banded.data, 100)
    rng = np.random.default_rng(0)
    mixed = [packets[i] for i in rng.permutation(len(packets))] + packets[:5]
    a = codec.decode(mixed).image
    b = codec.decode(banded.data).image
    assert np.array_equal(a, b)


def test_a_lost_key_band_is_regenerated(codec, small_coffee):
    codec2 = SemanticCodec(config=CodecConfig(key_bands=2))
    result = codec2.encode(small_coffee, 6000, key_fraction=0.3)
    container = Container.from_bytes(result.data)
    keys = [i + 1 for i, s in enumerate(container.sections) if s.type == SectionType.KEY]
    assert len(keys) == 2
    packets = [p for p in fragment(result.data, 150) if parse_fragment(p).section_index != keys[0]]
    out = codec2.decode(packets)
    assert out.image.shape == small_coffee.shape
    assert any("key band 1/2 lost" in line for line in out.report["regenerated"])
    assert keys[0] in [x["index"] for x in out.report["lost"]]
    full = codec2.decode(result.data)
    bottom = slice(small_coffee.shape[0] * 3 // 4, None)
    assert np.array_equal(out.image[bottom], full.image[bottom])       # the other band is intact


def test_lost_hints_fall_back_to_the_prompt_layout(codec, banded):
    packets, _ = _drop(banded.data, SectionType.HINTS)
    out = codec.decode(packets)
    assert any("hints lost" in line for line in out.report["regenerated"]) or not Container.from_bytes(
        banded.data).find(SectionType.HINTS)


def test_lost_prompt_uses_a_neutral_prompt(codec, banded, small_coffee):
    packets, _ = _drop(banded.data, SectionType.PROMPT)
    out = codec.decode(packets)
    assert any("neutral prompt" in line for line in out.report["regenerated"])
    assert out.image.shape == small_coffee.shape


def test_lost_mask_is_inferred_from_the_key_stream(codec, banded, small_coffee):
    packets, _ = _drop(banded.data, SectionType.MASK)
    out = codec.decode(packets)
    assert any("mask lost" in line for line in out.report["regenerated"])
    overlap = (out.key_mask & banded.key_mask).sum() / banded.key_mask.sum()
    assert overlap > 0.6


def test_everything_but_the_header_lost_still_gives_an_image(codec, banded, small_coffee):
    packets = [p for p in fragment(banded.data, 150) if parse_fragment(p).section_index == 0]
    out = codec.decode(packets)
    assert out.image.shape == small_coffee.shape
    assert len(out.report["lost"]) == len(Container.from_bytes(banded.data).sections)


def test_lost_header_needs_the_size(codec, banded, small_coffee):
    packets = [p for p in fragment(banded.data, 150) if parse_fragment(p).section_index != 0]
    with pytest.raises(CorruptDataError, match="header lost"):
        codec.decode(packets)
    out = codec.decode(packets, size=(300, 200))
    assert out.image.shape == small_coffee.shape


def test_damaged_containers_raise_or_salvage(codec, banded):
    data = bytearray(banded.data)
    data[len(data) // 2] ^= 0x40
    with pytest.raises(CorruptDataError):
        codec.decode(bytes(data))
    salvaged = codec.decode(bytes(data), strict=False)
    assert salvaged.report["lost"]
    for cut in (3, 20, len(data) // 3, len(data) - 1):
        with pytest.raises(CorruptDataError):
            codec.decode(banded.data[:cut])


def test_inspect_describes_the_container(banded):
    info = describe_container(banded.data)
    assert info["image_size"] == [300, 200]
    assert info["prompt"]["layout"] and info["prompt_text"]
    assert info["key_mask"]["key_fraction"] == pytest.approx(banded.key_mask.mean(), abs=1e-3)
    assert sum(s["bytes"] for s in info["sections"]) + 14 == len(banded.data)


def test_bad_images_are_refused(codec):
    with pytest.raises(BadInputError):
        codec.encode(np.zeros((8, 8, 3), np.uint8), 1000)
    with pytest.raises(BadInputError):
        codec.encode(np.zeros((64, 64), np.uint8), 1000)


def test_config_as_data():
    codec = SemanticCodec.from_config({"codec": {"codec": "webp", "key_fraction": 0.3},
                                       "generator": {"name": "offline", "texture_strength": 0.2}})
    assert codec.config.codec == "webp" and codec.generator.texture_strength == 0.2
    with pytest.raises(BadInputError):
        SemanticCodec.from_config({"codec": {"bogus": 1}})
    with pytest.raises(BadInputError):
        SemanticCodec.from_config({"segmenter": "no-such-backend"})


def test_semantic_package_does_not_import_gnuradio_gr():
    code = ("import sys; from gnuradio.gensemcom import semantic; "
            "from gnuradio.gensemcom.semantic import codec; from gnuradio.gensemcom import transport, classical; "
            "from gnuradio.gensemcom.semantic.offline import segmenter, describer, generator; "
            "bad = [m for m in sys.modules if m == 'gnuradio.gr' or m.startswith('gnuradio.gr.')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _container_with(payloads, width=120, height=80):
    from gnuradio.gensemcom.transport.container import Section
    return Container(9, width, height, [Section(t, p) for t, p in payloads]).to_bytes()


def test_sections_with_valid_crcs_but_hostile_payloads_never_crash(codec):
    """A fuzzer can fix the CRCs: every section parser must still validate what it reads."""
    import struct as st_struct

    from hypothesis import given, settings
    from hypothesis import strategies as st
    good_meta = st_struct.pack(">BBBHHBBB", 1, 1, 3, 120, 80, 30, 4, 1) + b"\x0c\x08"

    @given(st.lists(st.tuples(st.sampled_from(list(SectionType)), st.binary(max_size=80)), max_size=6),
           st.booleans())
    @settings(max_examples=150, deadline=None)
    def check(sections, with_meta):
        if with_meta:
            sections = [(SectionType.META, good_meta)] + sections
        data = _container_with(sections)
        try:
            out = codec.decode(data)
            assert out.image.shape == (80, 120, 3)
        except CorruptDataError:
            pass
    check()


def test_a_claimed_huge_image_is_refused(codec):
    data = _container_with([], width=16000, height=16000)
    with pytest.raises(CorruptDataError, match="out of range"):
        codec.decode(data)


def test_random_budgets_and_images_never_exceed_the_budget(codec, astronaut, coffee):
    from hypothesis import given, settings
    from hypothesis import strategies as st
    images = [shrink(astronaut, 96, 96), shrink(coffee, 120, 80), shrink(astronaut[100:300], 160, 64)]

    @given(st.sampled_from(range(len(images))), st.integers(55, 5000), st.sampled_from([None, 0.05, 0.5]))
    @settings(max_examples=12, deadline=None)
    def check(which, budget, fraction):
        result = codec.encode(images[which], budget, key_fraction=fraction)
        assert len(result.data) <= budget
        assert codec.decode(result.data).image.shape == images[which].shape
    check()
