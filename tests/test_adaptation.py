# SPDX-License-Identifier: GPL-3.0-or-later
"""Closed-loop link adaptation: the outer loop, SNR fluctuations, and a short loop on the real PHY."""
import numpy as np
import pytest

from gnuradio.gensemcom.errors import BadInputError
from gnuradio.gensemcom.link.adaptation import AdaptiveLink, OuterLoop
from gnuradio.gensemcom.link.senders import SenderPlanner
from gnuradio.gensemcom.phy.shadowing import Shadowing, SnrTrace


@pytest.mark.parametrize("target", [0.01, 0.1, 0.3])
def test_the_outer_loop_steers_the_error_rate_to_its_target(target):
    """A link whose true PER falls with the offset: the loop settles where PER = target."""
    rng = np.random.default_rng(3)
    loop = OuterLoop(target, step_db=0.5)
    outcomes = []
    for _ in range(20000):
        per = 1.0 / (1.0 + np.exp(loop.offset_db - 3.0))       # more backoff, fewer errors
        ok = rng.random() >= per
        loop.update(ok)
        outcomes.append(ok)
    measured = 1.0 - np.mean(outcomes[5000:])
    assert measured == pytest.approx(target, rel=0.3)


def test_reports_move_the_estimate_and_the_offsets_the_planner():
    link = AdaptiveLink(10.0, {0: 0.01, 2: 0.1}, smoothing=0.5)
    link.report(4.0)
    assert link.estimate_db == pytest.approx(7.0)
    for _ in range(5):
        link.report(None, nacks=[2])
    assert link.planning_snr_db(2) < link.planning_snr_db(0) == pytest.approx(7.0)
    base = SenderPlanner("default", "semantic", 10.0, "awgn", cpp=1 / 48)
    adapted = link.planner(base)
    assert adapted.snr_db == pytest.approx(7.0) and adapted.profile.margins_db[2] == pytest.approx(2.5)
    with pytest.raises(BadInputError):
        OuterLoop(1.5)


def test_shadowing_has_its_spread_and_correlation_and_is_chunking_invariant():
    profile = Shadowing(6.0, 4000, seed=5)
    values = profile.db(0, 400_000)
    assert np.std(values) == pytest.approx(6.0, rel=0.25)
    lag = 4000
    rho = np.corrcoef(values[:-lag], values[lag:])[0, 1]
    assert 0.2 < rho < 0.55                                      # about 1/e after one correlation time
    again = Shadowing(6.0, 4000, seed=5)
    pieces = np.concatenate([again.db(start, 977) for start in range(0, 9770, 977)])
    assert np.array_equal(pieces, values[:9770])
    assert not np.allclose(Shadowing(6.0, 4000, seed=6).db(0, 1000), values[:1000])


def test_an_snr_trace_from_csv(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("time_s,snr_db\n0,10\n1,4\n2,10\n")
    trace = SnrTrace.from_csv(path, sample_rate=100)
    values = trace.db(0, 300)
    assert values[0] == pytest.approx(2.0) and values[100] == pytest.approx(-4.0)   # around the mean, 8 dB
    assert np.allclose(values[200:300], values[0:100])                          # repeated after 2 s
    (tmp_path / "bad.csv").write_text("t,snr\n0,1\n")
    with pytest.raises(BadInputError, match="time_s, snr_db"):
        SnrTrace.from_csv(tmp_path / "bad.csv", 100)


@pytest.mark.flowgraph
def test_a_short_closed_loop_on_the_real_phy():
    from gnuradio.gensemcom.flowgraphs.closed_loop import run_closed_loop
    result = run_closed_loop(packets=120, snr_db=12.0, channel="rayleigh", shadowing_db=6.0, target=0.1,
                             adapt=True, feedback_delay=1, seed=1)
    assert result.packets == 120 and 0 <= result.lost <= 120
    assert len(result.mcs_used) > 1                      # it adapts
    assert result.samples > 0 and result.goodput_bits_per_sample > 0
