# SPDX-License-Identifier: GPL-3.0-or-later
"""The honest benchmark's plumbing: every sample charged, the same tools and channel for every
scheme, erasure coding across packets, the planners' choices, paired statistics."""
import math
import random

import numpy as np
import pytest

from gnuradio.gensemcom.bench.paired import paired, verdict
from gnuradio.gensemcom.bench.tasks import Task
from gnuradio.gensemcom.constants import BASELINE_SCHEMES
from gnuradio.gensemcom.link.mcsplan import TransmitPlan, repair_of_group
from gnuradio.gensemcom.link.per import packet_error_rate, per_curves
from gnuradio.gensemcom.link.protection import (ClassProtection, cheapest_protection, length_per, plan_cost,
                                                residual_loss, samples_budget, samples_per_data_symbol)
from gnuradio.gensemcom.link.senders import SenderPlanner
from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
from gnuradio.gensemcom.phy.mcs import MCS_TABLE
from gnuradio.gensemcom.transport import erasure
from gnuradio.gensemcom.transport.budget import Budget
from gnuradio.gensemcom.transport.container import Container, Section, SectionType, framed_pieces
from gnuradio.gensemcom.transport.packets import packetize_pieces, protect_packets
from gnuradio.gensemcom.transport.reassembly import reassemble


@pytest.fixture(scope="module")
def small_coffee(coffee):
    """coffee at 1/3 size (200 x 133 → cropped to 192 x 128): small flowgraph runs."""
    return np.ascontiguousarray(coffee[::3, ::3][:128, :192])


# ---- erasure coding across packets -----------------------------------------------------------------
@pytest.mark.parametrize("trial", range(20))
def test_any_k_of_k_plus_r_shares_rebuild_every_packet(trial):
    rng = random.Random(trial)
    packets = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(rng.randrange(1, 30))]
    ratio = rng.choice([0.25, 0.5, 1.0])
    shares = erasure.encode_packets(9, packets, ratio, max_k=rng.randrange(2, 12))
    assert len(shares) >= len(packets)
    by_block = {}
    for share in shares:
        by_block.setdefault(erasure.parse_share(share)[1], []).append(share)
    keep = []
    for block in by_block.values():               # lose all but k shares of each block, at random
        k = erasure.parse_share(block[0])[2]
        keep += rng.sample(block, k)
    rng.shuffle(keep)
    store, got = erasure.ErasureStore(), []
    for share in keep:
        got += store.add(share)
    assert sorted(got) == sorted(packets)          # each packet exactly once
    assert store.add(keep[0]) == []                # duplicates recover nothing new


def test_corrupt_shares_are_rejected():
    shares = erasure.encode_packets(1, [b"abc", b"defg"], 0.5)
    store = erasure.ErasureStore()
    with pytest.raises(Exception, match="erasure"):
        erasure.parse_share(b"\xf3\x00\x01\x00\x05\x02\x07" + b"x" * 5)     # k > m
    bad = bytearray(shares[0])
    bad[0] = 0xF1
    with pytest.raises(Exception, match="not an erasure share"):
        store.add(bytes(bad))


def test_rate_control_counts_exactly_the_packets_and_shares_sent():
    """Budget.cost with a repair ratio = the bytes protect_packets puts out (what the fragmenter sends)."""
    plan = TransmitPlan(200, {0: ClassProtection("bpsk-1/2", 2), 2: ClassProtection("qpsk-1/2", 1, 0.5)})
    container = Container(3, 64, 64, [Section(SectionType.META, b"m" * 12), Section(SectionType.PROMPT, b"p" * 70),
                                      Section(SectionType.KEY, bytes(range(256)) * 5)])
    pieces = framed_pieces(container)
    sent = protect_packets(3, packetize_pieces(3, pieces, plan.mtu_bytes, plan.group_of), repair_of_group)
    budget = Budget(budget_bytes=1 << 20, mtu_bytes=plan.mtu_bytes, group_of=plan.group_of, repair_of=repair_of_group)
    counted = budget.packets([(s.importance, len(s.to_bytes())) for s in container.sections])
    assert sorted(n for _, n in counted) == sorted(len(p) for _, _, p in sent)
    assert any(p[0] == erasure.ERASURE_MAGIC for _, _, p in sent)      # the key class is coded
    # what arrives rebuilds the container even with a share of the key class lost
    coded = [p for _, g, p in sent if g[2] > 0]
    received = reassemble([p for _, _, p in sent if p is not coded[0]])
    assert received.sections[3].payload == container.sections[2].payload


# ---- loss and cost model -----------------------------------------------------------------------------
def test_residual_loss_matches_a_simulation_of_the_real_decoder():
    rng = np.random.default_rng(4)
    k, ratio, per = 8, 0.5, 0.2
    packets = [bytes([i]) * 50 for i in range(k)]
    shares = erasure.encode_packets(0, packets, ratio)
    lost = 0
    trials = 3000
    for _ in range(trials):
        store, got = erasure.ErasureStore(), set()
        for share in shares:
            if rng.random() > per:
                got.update(store.add(share))
        lost += packets[0] not in got
    assert lost / trials == pytest.approx(residual_loss(per, 1, ratio, k), abs=0.01)
    assert residual_loss(per, 2) == pytest.approx(per ** 2)


@pytest.mark.parametrize("snr_db, channel, target",
                         [(0.0, "awgn", 0.01), (5.0, "rayleigh", 0.03), (12.0, "rayleigh", 0.2), (-4.0, "awgn", 0.05)])
def test_the_plan_is_the_cheapest_protection_that_meets_the_target(snr_db, channel, target):
    nm = DEFAULT_NUMEROLOGY
    chosen = cheapest_protection(snr_db, channel, target, 400, nm, max_copies=3, k=8)
    loss = residual_loss(length_per(packet_error_rate(chosen.mcs, snr_db, channel), 400), chosen.copies,
                         chosen.repair, 8)
    cost = plan_cost(chosen, 400, 8, nm)
    if loss <= target:
        for name in (m for m in per_curves() if MCS_TABLE[m].coded):
            per = length_per(packet_error_rate(name, snr_db, channel), 400)
            for copies in (1, 2, 3):
                for ratio in (0.0, 0.25, 0.5, 1.0):
                    if residual_loss(per, copies, ratio, 8) <= target:
                        assert plan_cost(ClassProtection(name, copies, ratio), 400, 8, nm) >= cost - 1e-6


def test_sample_budget_derives_from_cpp_with_the_phys_nominal_overhead():
    sigma = samples_per_data_symbol(DEFAULT_NUMEROLOGY)
    assert 1.6 < sigma < 2.1                           # 80 samples per 48 data symbols, plus per-packet overhead
    assert samples_budget(1 / 48, 512, 768, DEFAULT_NUMEROLOGY) == math.floor(24576 * sigma)


def test_the_channel_seed_does_not_depend_on_the_scheme_or_the_budget():
    tasks = [Task("x.png", "x.png", scheme, 5.0, "rayleigh", cpp, 1)
             for scheme in ("semantic", "av1", "jpeg@qpsk-1/2") for cpp in ("1/48", "1/16")]
    assert len({t.channel_seed for t in tasks}) == 1
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert Task("x.png", "x.png", "av1", 5.0, "rayleigh", "1/48", 2).channel_seed != tasks[0].channel_seed
    assert Task("y.png", "y.png", "av1", 5.0, "rayleigh", "1/48", 1).channel_seed != tasks[0].channel_seed


# ---- the baseline planner: the plan of best expected quality ------------------------------------------
class _FakeCodec:
    """Quality grows with bytes (a stand-in for the real codec's rate-distortion curve)."""

    def __init__(self):
        from gnuradio.gensemcom.classical.wholeimage import WholeImageCodec
        self.inner = WholeImageCodec("jpeg")

    def encode(self, image, budget, **kwargs):
        return self.inner.encode(image, budget, **{k: v for k, v in kwargs.items() if k != "speed"})

    def decode(self, data):
        return self.inner.decode(data)


@pytest.mark.parametrize("snr_db, channel", [(2.0, "awgn"), (6.0, "rayleigh")])
def test_the_baseline_planner_picks_the_plan_of_best_expected_quality(snr_db, channel, small_coffee):
    from gnuradio.gensemcom.classical.baselines import mean_grey
    from gnuradio.gensemcom.metrics import psnr
    planner = SenderPlanner("default", "jpeg", snr_db, channel, cpp=1 / 12)
    codec = _FakeCodec()
    plan, result = planner.baseline_plan(small_coffee, codec)
    assert result.report["fits"]
    height, width = small_coffee.shape[:2]
    fail = psnr(small_coffee, mean_grey(small_coffee.shape))
    best = -1e9
    for success, payload, candidate in planner.baseline_candidates(width, height):      # brute force
        sent = codec.encode(small_coffee, Budget(budget_bytes=14 + 6 + payload), speed=9)
        score = psnr(small_coffee, codec.decode(sent.data).image) if sent.report["fits"] else fail
        best = max(best, success * score + (1 - success) * fail)
    assert plan.expected["quality_db"] >= best - 0.35      # within the search's payload rounding


# ---- every scheme within its samples; nothing fits → said the same way -------------------------------
@pytest.mark.flowgraph
@pytest.mark.parametrize("scheme", ["semantic", "av1", "webp", "jpeg", "roi-av1", "semantic-no-key"])
def test_every_scheme_fits_its_sample_budget(scheme, small_coffee):
    from gnuradio.gensemcom.flowgraphs.transmit import run_transmission
    rng = random.Random(scheme)
    channel = rng.choice(["awgn", "rayleigh"])
    snr = rng.choice([-2.5, 3.0, 9.0, 16.0])
    result = run_transmission(small_coffee, scheme, snr, channel, cpp=rng.choice([1 / 12, 1 / 6]), seed=5)
    assert result.samples_used <= result.samples_budget
    assert result.sent or result.note.startswith("nothing fits")
    assert result.image.shape == small_coffee.shape
    assert result.complete <= result.delivered


@pytest.mark.flowgraph
@pytest.mark.parametrize("scheme", ["semantic", "av1", "jpeg"])
def test_when_nothing_fits_every_scheme_says_so_the_same_way(scheme, small_coffee, tmp_path, capsys):
    from gnuradio.gensemcom.cli import main
    from gnuradio.gensemcom.flowgraphs.transmit import run_transmission
    result = run_transmission(small_coffee, scheme, -10.0, "awgn", cpp=1 / 2000, seed=1)
    assert not result.sent and result.packets_sent == 0 and not result.delivered
    assert result.note.startswith("nothing fits")
    from PIL import Image
    Image.fromarray(small_coffee).save(tmp_path / "in.png")
    code = main(["transmit", str(tmp_path / "in.png"), "--scheme", scheme, "--snr", "-10", "--cpp", "1/2000",
                 "--out", str(tmp_path / "out.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("gensemcom transmit: error: nothing fits")
    assert "Traceback" not in "".join(err)


def test_baselines_are_the_registered_schemes():
    assert set(BASELINE_SCHEMES) == {"av1", "webp", "jpeg", "roi-av1", "avif"}


# ---- paired statistics -----------------------------------------------------------------------------------
def test_a_win_needs_an_interval_that_excludes_zero():
    assert verdict(0.5, 0.2, 12) == "win" and verdict(-0.5, 0.2, 12) == "loss"
    assert verdict(0.002, 0.016, 12) == "tie"          # a mean difference alone is not a win
    assert verdict(-0.05, 0.01, 12, higher_is_better=False) == "win"   # LPIPS: lower is better
    assert verdict(1.0, float("nan"), 1) == "n/a"


def test_paired_differences_are_per_image_with_seeds_averaged():
    rows = []
    for image, (a, b) in {"1": (20.0, 19.0), "2": (22.0, 21.5), "3": (18.0, 17.2)}.items():
        for seed, noise in ((0, 0.1), (1, -0.1)):
            rows.append({"scheme": "semantic", "image": image, "channel": "awgn", "cpp": "1/48", "snr_db": 0.0,
                         "seed": seed, "psnr": a + noise})
            rows.append({"scheme": "av1", "image": image, "channel": "awgn", "cpp": "1/48", "snr_db": 0.0,
                         "seed": seed, "psnr": b})
    (entry,) = paired(rows, "semantic", "av1", metrics=("psnr",))
    assert entry["n"] == 3 and entry["mean_diff"] == pytest.approx(0.7667, abs=1e-3)
    assert entry["verdict"] in ("win", "tie")
