# SPDX-License-Identifier: GPL-3.0-or-later
"""Sweeps: resume after a kill -9, identical results local / process pool / Ray, scoring
rules, outputs (summary, plots with the bound, report with example images)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gnuradio.gensemcom.bench import schemes, store
from gnuradio.gensemcom.bench.sweep import SweepConfig, run_sweep

NO_LOG = {"log": lambda message: None}


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """Two 176×176 natural images (MS-SSIM needs 161 px or more on a side)."""
    from PIL import Image
    from skimage import data
    folder = tmp_path_factory.mktemp("images")
    Image.fromarray(data.astronaut()[40:392:2, 80:432:2]).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()[20:372:2, 100:452:2]).save(folder / "coffee.png")
    return folder


def comparable(rows):
    """Rows keyed by task id, without the timing columns (the only ones allowed to differ)."""
    return {r["task_id"]: {k: v for k, v in r.items() if k not in store.TIMING_COLUMNS} for r in rows}


SWEEP = dict(schemes=["jpeg+capacity", "webp+capacity"], snrs_db=[-5.0, 5.0, 15.0],
             channels=["awgn", "rayleigh"], cpps=["1/8"], seeds=1, agreement=False, examples=1)


def test_killed_sweep_resumes_to_the_same_results(tmp_path, image_dir):
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "gnuradio.gensemcom.cli", "bench", "--images", str(image_dir),
           "--schemes", "jpeg+capacity,webp+capacity", "--snr", "-5,5,15", "--channel", "awgn,rayleigh",
           "--cpp", "1/8", "--seeds", "1", "--workers", "1", "--no-agreement", "--out", str(killed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = killed / store.RESULTS_NAME
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and results.read_text().count("\n") >= 3:  # header + 2 rows
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished_before_kill = results.read_text().count("\n") - 1
    assert 2 <= finished_before_kill < 24, "the kill should land in the middle of the sweep"
    with open(results, "a") as handle:
        handle.write("0123456789abcdef,astronaut.png,jpeg+capacity,awgn,5.0,1/8,0,1,176")  # torn

    resumed = run_sweep(SweepConfig(images=image_dir, out=killed, workers=1, **SWEEP),
                        progress=False, **NO_LOG)
    assert resumed["dropped_torn_line"]
    assert resumed["skipped"] == finished_before_kill
    assert resumed["ran"] == 24 - finished_before_kill and resumed["errors"] == 0

    whole = run_sweep(SweepConfig(images=image_dir, out=tmp_path / "whole", workers=1, **SWEEP),
                      progress=False, **NO_LOG)
    assert whole["ran"] == 24
    assert comparable(store.read_results(killed)) == comparable(store.read_results(tmp_path / "whole"))

    again = run_sweep(SweepConfig(images=image_dir, out=killed, workers=1, **SWEEP), progress=False,
                      outputs=False, **NO_LOG)
    assert (again["skipped"], again["ran"]) == (24, 0)

    # Outputs: summary, plots (PNG + PDF) of each metric, report with example images.
    for name in ("summary.csv", "summary.md", "report.md", "sweep.json"):
        assert (killed / name).stat().st_size > 0
    for metric in ("psnr", "ssim", "ms_ssim", "vsi", "delivered"):
        for suffix in (".png", ".pdf"):
            assert (killed / "plots" / f"{metric}_cpp1-8{suffix}").stat().st_size > 1000
    report = (killed / "report.md").read_text()
    assert "plots/psnr_cpp1-8.png" in report
    assert "images/astronaut/original.png" in report
    saved = sorted((killed / "images" / "astronaut").glob("*.png"))
    assert len(saved) == 1 + 12  # the original and its 12 reconstructions (first image only)
    assert not (killed / "images" / "coffee").exists()


def descendants(pid):
    """PIDs of every living descendant of ``pid`` (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_die_with_a_terminated_sweep(tmp_path, image_dir):
    """SIGTERM to the sweep process alone (not its group), while its workers run flowgraph
    tasks, leaves no worker running."""
    cmd = [sys.executable, "-m", "gnuradio.gensemcom.cli", "bench", "--images", str(image_dir),
           "--schemes", "jpeg", "--snr", "-5,5,10,15,20", "--channel", "awgn", "--cpp", "1/8", "--seeds", "1",
           "--workers", "2", "--no-agreement", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = tmp_path / store.RESULTS_NAME
    try:
        deadline = time.monotonic() + 200
        workers = []
        while time.monotonic() < deadline and proc.poll() is None:
            workers = [k for k in descendants(proc.pid) if "spawn_main" in _cmdline(k)]
            if len(workers) >= 2 and results.exists() and results.read_text().count("\n") >= 2:
                break                                   # a task has finished: the workers are busy
            time.sleep(0.05)
        assert len(workers) >= 2 and proc.poll() is None, "the sweep ended before the workers were busy"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(k) for k in workers):
            time.sleep(0.05)
        assert not any(_alive(k) for k in workers), "workers outlived the sweep"
    finally:
        proc.kill()
        proc.wait()


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_local_pool_and_ray_give_identical_results(tmp_path, image_dir):
    pytest.importorskip("ray")
    common = dict(images=image_dir, schemes=["jpeg+capacity"], snrs_db=[0.0, 10.0],
                  channels=["awgn", "rayleigh"], cpps=["1/8"], seeds=1, key_mask="saliency",
                  agreement=True, examples=0)
    # (The in-process executor, workers=1, is compared with a subprocess run above.)
    pool = run_sweep(SweepConfig(out=tmp_path / "pool", workers=2, **common), progress=False,
                     outputs=False, **NO_LOG)
    ray = run_sweep(SweepConfig(out=tmp_path / "ray", executor="ray", workers=1, **common),
                    progress=False, outputs=False, **NO_LOG)
    assert pool["ran"] == ray["ran"] == 8
    rows = comparable(store.read_results(tmp_path / "pool"))
    assert all(r["top5_overlap"] is not None and r["key_psnr"] is not None for r in rows.values())
    assert comparable(store.read_results(tmp_path / "ray")) == rows


def test_local_pool_and_ray_give_identical_rows_for_phy_schemes(tmp_path, image_dir):
    """The real flowgraph (AWGN, seeded by the task's channel seed): identical rows either way."""
    pytest.importorskip("ray")
    common = dict(images=image_dir, schemes=["semantic", "av1"], snrs_db=[5.0], channels=["awgn"],
                  cpps=["1/12"], seeds=1, key_mask="semantic", agreement=False, examples=0, bound=None)
    pool = run_sweep(SweepConfig(out=tmp_path / "pool", workers=2, **common), progress=False,
                     outputs=False, **NO_LOG)
    ray = run_sweep(SweepConfig(out=tmp_path / "ray", executor="ray", workers=1, **common),
                    progress=False, outputs=False, **NO_LOG)
    assert pool["ran"] == ray["ran"] == 4 and pool["errors"] == ray["errors"] == 0
    rows = comparable(store.read_results(tmp_path / "pool"))
    assert all(r["samples_used"] <= r["samples_budget"] for r in rows.values())
    assert len({r["channel_seed"] for r in rows.values()}) == 2          # one channel per image, shared by schemes
    assert comparable(store.read_results(tmp_path / "ray")) == rows


# Scoring rules, checked with test-only schemes registered for one test.
def _identity(task):
    image = task.load_image()
    mask = np.zeros(image.shape[:2], bool)
    mask[:40, :40] = True
    return {"image": image, "key_mask": mask, "bytes": 123, "prompt_sent": "a cat",
            "prompt_received": "a cat", "colour": "blue"}


def _nothing(task):
    return {"image": None, "bytes": 0, "mcs": task.scheme_param}


_calls = {"flaky": 0}


def _flaky(task):
    _calls["flaky"] += 1
    if _calls["flaky"] == 1:
        raise RuntimeError("decoder exploded\non two lines")
    return {"image": task.load_image()}


@pytest.fixture
def test_schemes(monkeypatch):
    schemes.load_scheme_modules()
    monkeypatch.setattr(schemes, "_REGISTRY", dict(schemes._REGISTRY))
    schemes.register_scheme("identity", _identity)
    schemes.register_scheme("nothing", _nothing, param="MCS", validate=_check_mcs)
    schemes.register_scheme("identity", _nothing, param="MCS")  # a family beside a plain scheme
    schemes.register_scheme("flaky", _flaky, channels=("awgn",))
    _calls["flaky"] = 0


def _check_mcs(value):
    if value not in ("bpsk-1/2", "qpsk-1/2"):
        raise ValueError(f"unknown MCS {value!r}")


def test_plain_schemes_and_families(test_schemes):
    from gnuradio.gensemcom.errors import BadInputError
    assert schemes.get_scheme("identity").run is _identity
    assert schemes.get_scheme("identity@anything").run is _nothing
    assert schemes.get_scheme("nothing@bpsk-1/2").param == "MCS"
    for name, message in [("nothing", "needs a MCS: write nothing@MCS"), ("nothing@", "is empty"),
                          ("nothing@8psk-9/10", "bad MCS: unknown MCS '8psk-9/10'"),
                          ("flaky@x", "takes no parameter"), ("nope", "unknown scheme 'nope'")]:
        with pytest.raises(BadInputError, match=message):
            schemes.get_scheme(name)
    with pytest.raises(ValueError, match="already registered"):
        schemes.register_scheme("flaky", _identity)
    with pytest.raises(ValueError, match="without '@'"):
        schemes.register_scheme("a@b", _identity)


def test_scoring_rules_bound_and_errors(tmp_path, image_dir, test_schemes):
    config = SweepConfig(images=image_dir, schemes=["identity", "nothing@qpsk-1/2", "flaky"],
                         snrs_db=[0.0], channels=["awgn"], cpps=["1/48"], out=tmp_path, workers=1,
                         agreement=True, examples=0)
    counts = run_sweep(config, progress=False, **NO_LOG)
    # 2 images × 3 schemes + the bound added for the plots (av1+capacity, 2 images)
    assert counts["tasks"] == 8 and counts["errors"] == 1 and counts["ran"] == 7
    error = json.loads((tmp_path / "errors.jsonl").read_text().splitlines()[0])
    assert error["error"] == "RuntimeError: decoder exploded on two lines"
    rows = {(r["scheme"], r["image"]): r for r in store.read_results(tmp_path)}
    same = rows[("identity", "astronaut.png")]
    assert same["psnr"] == 100.0 and same["delivered"] == 1 and same["key_mask_source"] == "scheme"
    assert same["key_fraction"] == pytest.approx(1600 / 176 ** 2)
    assert same["top5_overlap"] == 1.0 and same["caption_similarity"] == pytest.approx(1.0)
    assert same["prompt_similarity"] == 1.0 and same["extra"] == {"colour": "blue"}
    lost = rows[("nothing@qpsk-1/2", "astronaut.png")]
    assert lost["delivered"] == 0 and lost["mcs"] == "qpsk-1/2" and lost["key_fraction"] is None
    from PIL import Image
    original = np.asarray(Image.open(image_dir / "astronaut.png"))
    gray = np.full_like(original, round(original.mean()))
    from gnuradio.gensemcom.metrics import psnr
    assert lost["psnr"] == pytest.approx(psnr(original, gray))
    assert ("av1+capacity", "coffee.png") in rows

    again = run_sweep(config, progress=False, outputs=False, **NO_LOG)
    assert (again["skipped"], again["ran"], again["errors"]) == (7, 1, 0)  # the failed task retried


def _corner_mask(image, task):
    mask = np.zeros(image.shape[:2], bool)
    mask[: 10 + int(task.snr_db), :10] = True  # a mask that follows the task
    return mask


def test_reference_key_mask_gets_the_task(image_dir):
    from gnuradio.gensemcom.bench.execute import RunOptions, score
    from gnuradio.gensemcom.bench.tasks import Task
    task = Task(image=str(image_dir / "coffee.png"), image_name="coffee.png", scheme="x",
                snr_db=6.0, channel="awgn", cpp="1/48")
    original = task.load_image()
    damaged = original.copy()
    damaged[100:, 100:] = 0  # outside the key mask
    options = RunOptions(agreement=False, key_mask=_corner_mask, key_mask_name="corner")
    row, _ = score(task, original, {"image": damaged, "bytes": 10}, options)
    assert row["key_mask_source"] == "corner" and row["key_psnr"] == 100.0 and row["psnr"] < 30
    assert row.get("key_fraction") is None  # the reference mask is not the scheme's key split
    assert row["semantic_status"].startswith("not computed")


def test_impaired_channel_is_its_own_realisation_and_bad_specs_fail(tmp_path, image_dir):
    """``awgn+b200-indoor``: the real flowgraph with the preset's radio impairments, a channel
    seed of its own, the same budget; unknown or contradictory impairments fail before running."""
    from gnuradio.gensemcom.bench.sweep import plan
    from gnuradio.gensemcom.bench.tasks import channel_parts
    from gnuradio.gensemcom.errors import BadInputError
    assert channel_parts("awgn") == ("awgn", "none")
    assert channel_parts("multipath+vehicular") == ("multipath", "vehicular")
    common = dict(images=image_dir, schemes=["av1"], snrs_db=[10.0], cpps=["1/12"], seeds=1,
                  agreement=False, examples=0, bound=None)
    for bad, words in (("awgn+bogus", "unknown impairments"), ("awgn+vehicular", r"write multipath\+vehicular")):
        with pytest.raises(BadInputError, match=words):
            plan(SweepConfig(out=tmp_path / "bad", channels=[bad], **common))
    result = run_sweep(SweepConfig(out=tmp_path / "radios", channels=["awgn", "awgn+b200-indoor"], workers=1,
                                   **common), progress=False, outputs=False, **NO_LOG)
    assert result["ran"] == 4 and result["errors"] == 0
    rows = store.read_results(tmp_path / "radios")
    by = {(r["image"], r["channel"]): r for r in rows}
    for image in ("astronaut.png", "coffee.png"):
        clean, radio = by[(image, "awgn")], by[(image, "awgn+b200-indoor")]
        assert clean["channel_seed"] != radio["channel_seed"]
        assert clean["samples_budget"] == radio["samples_budget"]
        assert radio["delivered"] in (True, "True", 1, "1")      # 10 dB: the receiver tracks the radios
        assert float(radio["psnr"]) > 20


def test_impaired_channel_reaches_the_flowgraph_with_the_preset_fields(monkeypatch, image_dir):
    """The task's impairment preset arrives as channel options, the channel name without it."""
    from gnuradio.gensemcom.bench import flowgraph
    from gnuradio.gensemcom.bench.tasks import Task
    from gnuradio.gensemcom.flowgraphs import transmit
    from gnuradio.gensemcom.phy.impairments import IMPAIRMENT_PRESETS
    seen = {}

    def fake(image, scheme, snr_db, channel, **kwargs):
        seen.update(channel=channel, options=kwargs["channel_options"])
        raise KeyboardInterrupt    # stop before any flowgraph
    monkeypatch.setattr(transmit, "run_transmission", fake)
    task = Task(str(image_dir / "coffee.png"), "coffee.png", "av1", 5.0, "multipath+vehicular", "1/12")
    with pytest.raises(KeyboardInterrupt):
        flowgraph.run_baseline(task)
    expected = {k: v for k, v in IMPAIRMENT_PRESETS["vehicular"][0].items() if k != "name"}
    assert seen == {"channel": "multipath", "options": expected}
    assert seen["options"]["doppler_hz"] == 70.0 and seen["options"]["sro_ppm"] == 4.0
