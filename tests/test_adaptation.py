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
    assert result.probes == 0 and result.report_timeouts == 0      # every outcome known from the receiver


def test_a_sender_that_may_wait_gets_no_mcs_below_the_robust_modes_reach():
    from gnuradio.gensemcom.link.per import best_mcs, packet_error_rate
    from gnuradio.gensemcom.phy.mcs import ROBUST_MCS
    assert best_mcs(-20.0, "awgn", 0.1) == ROBUST_MCS
    assert best_mcs(-20.0, "awgn", 0.1, fallback=None) is None
    assert best_mcs(30.0, "awgn", 0.1, fallback=None) == best_mcs(30.0, "awgn", 0.1) != ROBUST_MCS
    edge = next(snr for snr in np.arange(-12.0, 0.0, 0.25) if packet_error_rate(ROBUST_MCS, snr, "awgn") <= 0.1)
    assert best_mcs(edge - 0.25, "awgn", 0.1, fallback=None) is None and best_mcs(edge, "awgn", 0.1, fallback=None)
    # the warm start of an outer loop that plans with AWGN curves on a fading channel
    from gnuradio.gensemcom.link.per import fading_margin_db
    margins = [fading_margin_db(ROBUST_MCS, "rayleigh", target) for target in (0.3, 0.1, 0.01)]
    assert fading_margin_db(ROBUST_MCS, "awgn", 0.1) == pytest.approx(0.0, abs=0.02)
    assert 0.0 < margins[0] < margins[1] < margins[2]
    # Rayleigh: PER ≈ 1 − exp(−threshold/SNR), so 0.1 → 0.01 costs about 10 dB more
    assert margins[2] - margins[1] == pytest.approx(10.0, abs=1.0)


def test_a_probe_on_a_channel_faster_than_the_image_informs_only_its_slow_part():
    """The spread a fade puts on an SNR estimate (Rayleigh: 10·log10 of an exponential, mean
    −γ·10/ln 10 = −2.51 dB and spread 10/ln 10·π/√6 = 5.57 dB; less with frequency diversity), the
    coherence time, the combination of prior and probe, and which statistics the loop plans with."""
    from gnuradio.gensemcom.flowgraphs.transmit import closed_loop_statistics
    from gnuradio.gensemcom.link.adaptation import snr_from_probe
    from gnuradio.gensemcom.phy.channel import ChannelConfig, wideband_gain_db
    from gnuradio.gensemcom.phy.impairments import preset_channel
    flat = wideband_gain_db(ChannelConfig(name="rayleigh"), draws=8000)
    assert flat.mean() == pytest.approx(-2.51, abs=0.2) and flat.std() == pytest.approx(5.57, abs=0.2)
    selective = wideband_gain_db(ChannelConfig(name="multipath", taps=8, rms_delay_samples=3.0), draws=8000)
    assert selective.std() < flat.std() / 2 and np.all(wideband_gain_db(ChannelConfig(), draws=5) == 0)
    assert ChannelConfig(name="rayleigh", doppler_hz=70.0, sample_rate_hz=2e6).coherence_time_samples \
        == pytest.approx(0.423 * 2e6 / 70.0)
    assert ChannelConfig(name="rayleigh", coherence_samples=4096).coherence_time_samples == 4096
    assert ChannelConfig().coherence_time_samples == float("inf")
    # no shadowing: the probe says nothing about the image's channel; no fading: it says all
    assert snr_from_probe(5.0, -8.0, 0.0, flat) == (5.0, 0.0)
    assert snr_from_probe(5.0, -8.0, 6.0, [1.0, 1.0]) == (-9.0, 0.0)
    estimate, spread = snr_from_probe(5.0, -3.0, 6.0, selective)
    weight = 36.0 / (36.0 + selective.var())
    assert estimate == pytest.approx(5.0 + weight * (-3.0 - selective.mean() - 5.0)) and -3.0 < estimate < 5.0
    assert 0.0 < spread < min(6.0, selective.std())
    with pytest.raises(BadInputError):
        snr_from_probe(5.0, 0.0, 6.0, [])
    planner = SenderPlanner("default", "av1", 5.0, "multipath", cpp=1 / 24)
    fast = ChannelConfig(name="multipath", **preset_channel("vehicular")[1])
    slow = ChannelConfig(name="multipath", **preset_channel("walking-nlos")[1])
    assert fast.coherence_time_samples < planner.samples_for(768, 512) < slow.coherence_time_samples
    assert closed_loop_statistics(fast, planner, 768, 512) == "multipath"
    assert closed_loop_statistics(slow, planner, 768, 512) == "awgn"
    assert closed_loop_statistics(fast, planner, 32, 32) == "awgn"      # a small image outlasts no fade


@pytest.mark.flowgraph
def test_a_waiting_sender_probes_and_every_sample_is_charged():
    """Deep shadowing: the deferring sender sends probes while the robust mode would fail, the
    receiver reports every burst (no timeouts), and the channel samples are exactly those of the
    data packets, the probes and their fillers."""
    from gnuradio.gensemcom.flowgraphs.closed_loop import run_closed_loop
    from gnuradio.gensemcom.phy.mcs import frame_size
    result = run_closed_loop(packets=30, payload_bytes=100, snr_db=-3.0, channel="awgn", shadowing_db=6.0,
                             target=0.1, defer=True, probe_samples=16384, seed=3)
    assert result.probes > 0 and 0.0 < result.probe_share < 1.0 and result.report_timeouts == 0
    flush = frame_size(1, "bpsk").samples
    data = sum(count * (frame_size(100, mcs).samples + flush) for mcs, count in result.mcs_used.items())
    assert 16384 - 80 <= result.probe_samples <= 16384 + 80
    # the channel's filters keep back a few samples of the end-of-stream filler
    assert 0 <= data + result.probes * result.probe_samples + flush - result.samples < 80
    assert result.lost < 30 * 0.5
    with pytest.raises(BadInputError, match="defer needs adapt"):
        run_closed_loop(packets=1, adapt=False, defer=True)


# ---- image-level closed loop: feedback, selective repeat, incremental redundancy ---------------
def test_feedback_round_trip_and_untrusted_input():
    from gnuradio.gensemcom.errors import CorruptDataError
    from gnuradio.gensemcom.transport.feedback import ALL_FRAGMENTS, Feedback
    report = Feedback(7, 2, -3.25, 11, [(0, ALL_FRAGMENTS), (3, 1)], [(0, 2, 5)])
    back = Feedback.from_bytes(report.to_bytes())
    assert back == report and not back.complete
    assert Feedback(7).complete and Feedback.from_bytes(Feedback(7).to_bytes()).snr_db is None
    for bad in (b"", b"\xf4\x00", report.to_bytes()[:-1], report.to_bytes() + b"x", b"\xf1" + report.to_bytes()[1:]):
        with pytest.raises(CorruptDataError):
            Feedback.from_bytes(bad)


def test_selective_repeat_and_incremental_redundancy_complete_an_image():
    """Lose packets; the receiver's report brings exactly what completes it (repeats + new shares)."""
    from gnuradio.gensemcom.link.mcsplan import TransmitPlan, repair_of_group
    from gnuradio.gensemcom.link.protection import ClassProtection
    from gnuradio.gensemcom.transport.arq import SentImage
    from gnuradio.gensemcom.transport.container import Container, Section, SectionType, framed_pieces
    from gnuradio.gensemcom.transport.erasure import ErasureStore
    from gnuradio.gensemcom.transport.feedback import feedback_from
    from gnuradio.gensemcom.transport.packets import packetize_pieces, protect_packets, split_packet
    from gnuradio.gensemcom.transport.reassembly import Reassembler
    plan = TransmitPlan(120, {0: ClassProtection("bpsk-1/2"), 2: ClassProtection("qpsk-1/2", 1, 0.25)})
    container = Container(4, 32, 32, [Section(SectionType.PROMPT, b"p" * 150),
                                      Section(SectionType.KEY, bytes(range(200)) * 4)])
    data = packetize_pieces(4, framed_pieces(container), plan.mtu_bytes, plan.group_of)
    sent = protect_packets(4, data, repair_of_group)
    image = SentImage(4, data, sent, repair_of_group)
    store, shares = Reassembler(4), ErasureStore()

    def deliver(packets):
        for _, _, packet in packets:
            for inner in (shares.add(packet) if packet[0] == 0xF3 else [packet]):
                for fragment in split_packet(inner):
                    store.add(fragment)

    deliver(sent[::2])                                       # every other packet lost
    for _ in range(3):
        report = feedback_from(store, shares, snr_db=5.0)
        if report.complete:
            break
        repeats = image.repeats(report)
        assert repeats and len(repeats) <= len(sent)
        deliver(repeats)
    assert feedback_from(store, shares).complete
    result = store.result()
    assert result.sections[2].payload == container.sections[1].payload
    assert shares.recovered > 0                              # new repair shares, not just repeats, filled gaps


@pytest.mark.flowgraph
@pytest.mark.parametrize("feedback", ["ack", "csi", "full"])
def test_a_closed_loop_transmission_stays_within_its_samples(feedback, coffee):
    from gnuradio.gensemcom.flowgraphs.transmit import run_transmission
    image = np.ascontiguousarray(coffee[::3, ::3][:128, :192])
    result = run_transmission(image, "semantic", 2.0, "rayleigh", cpp=1 / 4, seed=4, feedback=feedback)
    assert result.sent and result.samples_used <= result.samples_budget     # probe and reports charged
    assert result.image.shape == image.shape
