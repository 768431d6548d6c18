# SPDX-License-Identifier: GPL-3.0-or-later
"""Short soak runs of scripts/soak.py: one running flowgraph, many images (the long runs are in docs)."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.flowgraph, pytest.mark.timeout(600)]


def soak(tmp_path, *args):
    spec = importlib.util.spec_from_file_location("soak", ROOT / "scripts" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "soak.json"
    status = module.main([*args, "--json", str(out), "--size", "128"])
    return status, json.loads(out.read_text())


def test_every_image_comes_out_of_one_running_flowgraph(tmp_path):
    status, summary = soak(tmp_path, "--images", "12", "--warmup", "4", "--snr", "20")
    assert status == 0, summary["checks"]
    assert summary["images_decoded"] == 12 and summary["bad_size"] == 0
    assert summary["rss_growth"] < 0.10


def test_a_slow_decoder_drops_with_a_count_and_never_blocks_the_phy(tmp_path):
    # images every 1.5 s (faster than the link's encoder needs), decodes take 8 s: the decoder is
    # the bottleneck, its queue of 4 overflows
    status, summary = soak(tmp_path, "--images", "8", "--warmup", "2", "--snr", "20", "--slow-decoder-s", "8",
                           "--no-flow-control", "--interval-s", "1.5")
    assert status == 0, summary["checks"]
    assert summary["decoder"]["dropped"] > 0
    assert summary["decoder"]["queue_high_water"] <= 4
    assert summary["packets_received"] >= summary["packets_sent"] - 2


def test_real_time_stream_reports_pace_lag_and_latency(tmp_path):
    """--sample-rate: a continuous stream paced at 1 Msample/s, the models in child processes;
    every image decoded, the throttle's pace kept over the run, a latency for every decoded image."""
    status, summary = soak(tmp_path, "--sample-rate", "1e6", "--duration-s", "8", "--warmup", "1", "--snr", "20",
                           "--executor", "process")
    stream = summary["stream"]
    assert summary["executor"] == "process"
    assert summary["encoder"]["processed"] == summary["images_sent"] and summary["encoder"]["pieces_out"] > 0
    assert summary["images_decoded"] >= 2 and summary["images_decoded"] == summary["images_sent"]
    assert 0.9 <= stream["real_time_factor"] <= 1.05
    assert stream["samples"] >= 0.9 * 1e6 * stream["wall_s"]
    assert stream["latency_s"]["n"] == summary["images_decoded"] and stream["latency_s"]["median"] > 0
    assert stream["bursts"] >= summary["packets_sent"] and 0 < stream["air_busy_fraction"] < 0.5
    assert stream["max_lag_ms"] >= 0 and len(stream["lag_ms_every_0.5s"]) >= 10
    assert summary["checks"]["real_time"] is (stream["real_time_factor"] >= 0.99)
