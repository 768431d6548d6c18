# SPDX-License-Identifier: GPL-3.0-or-later
"""Example flowgraphs: every .grc compiles with grcc; the headless ones run and deliver images."""
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.grc"))
pytestmark = [pytest.mark.flowgraph, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """grcc every example into one folder; returns that folder."""
    if shutil.which("grcc") is None:
        pytest.skip("grcc (GNU Radio Companion) is not installed")
    out = tmp_path_factory.mktemp("grc")
    env = dict(os.environ, GRC_BLOCKS_PATH=str(ROOT / "grc"))
    proc = subprocess.run(["grcc", "-o", str(out), *map(str, EXAMPLES)], capture_output=True, text=True,
                          env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from PIL import Image
    from skimage import data
    folder = tmp_path_factory.mktemp("images")
    Image.fromarray(data.astronaut()[::3, ::3]).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()[::3, ::3]).save(folder / "coffee.png")
    return folder


def load(generated, name):
    spec = importlib.util.spec_from_file_location(name, generated / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_compiles(generated):
    for grc in EXAMPLES:
        assert (generated / f"{grc.stem}.py").is_file(), f"{grc.name} did not generate"


def wait_for(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def results(folder):
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]


@pytest.mark.parametrize("channel", ["awgn", "rayleigh", "multipath"])
def test_loopback_delivers_images_with_metrics(generated, images, tmp_path, channel):
    loopback = load(generated, "loopback").loopback
    tb = loopback(images=str(images), out_dir=str(tmp_path), scheme="semantic", channel=channel,
                  snr_db=20, cpp=1 / 8, seed=3)
    tb.start()
    try:
        assert wait_for(lambda: len(tb.gensemcom_image_sink_0.written) >= 2, 200), "images did not come out"
    finally:
        tb.stop()
        tb.wait()
    rows = results(tmp_path)
    assert {r["name"] for r in rows} == {"astronaut.png", "coffee.png"}
    for row in rows:
        assert 5 < row["psnr"] < 100 and 0 < row["vsi"] <= 1 and 0 < row["ssim"] <= 1
        assert row["width"] in (171, 200) and "lpips_status" in row
    if channel == "awgn":
        assert all(r["delivered"] and r["sections_missing"] == 0 and "key_psnr" in r for r in rows)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, log, timeout_s=30):
    """SIGTERM, as Ctrl-C would; SIGKILL if it has not exited after ``timeout_s``.
    Returns None, or a description of the hang with the end of the process's log."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
        return None
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
        return f"{log.stem} did not exit {timeout_s} s after SIGTERM; log tail: {log.read_text()[-1500:]}"


def test_zeromq_three_processes(generated, images, tmp_path):
    """TX, channel emulator and RX as separate processes over ZeroMQ on 127.0.0.1."""
    port_a, port_b = free_port(), free_port()
    out = tmp_path / "rx"
    out.mkdir()
    python = [sys.executable, "-u"]
    # logs go to files: a pipe nobody reads would block a chatty process once it is full
    rx_log, channel_log = tmp_path / "rx.log", tmp_path / "channel.log"
    with open(rx_log, "wb") as rx_out, open(channel_log, "wb") as channel_out:
        rx = subprocess.Popen(python + [str(generated / "zmq_rx.py"), "-i", str(images), "-o", str(out),
                                        "-a", f"tcp://127.0.0.1:{port_b}"], stdout=rx_out, stderr=subprocess.STDOUT)
        channel = subprocess.Popen(python + [str(generated / "zmq_channel.py"), "-c", "awgn", "-n", "15",
                                             "-I", f"tcp://127.0.0.1:{port_a}", "-O", f"tcp://127.0.0.1:{port_b}"],
                                   stdout=channel_out, stderr=subprocess.STDOUT)
    hangs = []
    try:
        time.sleep(2)
        tx = subprocess.run(python + [str(generated / "zmq_tx.py"), "-i", str(images), "-n", "15", "-b", "0.125",
                                      "-a", f"tcp://127.0.0.1:{port_a}"], capture_output=True, text=True, timeout=200)
        assert tx.returncode == 0, tx.stdout[-2000:] + tx.stderr[-2000:]     # the TX ends by itself
        assert wait_for(lambda: len(list(out.glob("*.json"))) >= 2, 120), \
            "RX wrote no images; RX log: " + rx_log.read_text()[-1500:]
    finally:
        hangs = [h for h in (stop_process(channel, channel_log), stop_process(rx, rx_log)) if h]
    rows = results(out)
    assert len(rows) == 2
    for row in rows:
        assert row["delivered"] and row["psnr"] > 10 and "key_psnr" in row and "vsi" in row
    # the teardown after SIGTERM (GRC's handler: top_block stop/wait, then exit) hung once on a
    # loaded CI machine, after delivery, and not in 40 runs here; cause not found, so reported
    for hang in hangs:
        warnings.warn(hang)


def test_sigmf_record_then_decode(generated, images, tmp_path):
    recording = tmp_path / "capture"
    out = tmp_path / "rx"
    out.mkdir()
    python = [sys.executable, "-u"]
    rec = subprocess.run(python + [str(generated / "record_sigmf.py"), "-i", str(images), "-n", "10", "-b", "0.125",
                                   "-o", str(recording)], capture_output=True, text=True, timeout=200)
    assert rec.returncode == 0, rec.stdout[-2000:] + rec.stderr[-2000:]
    meta = json.loads(recording.with_suffix(".sigmf-meta").read_text())
    assert meta["global"]["core:datatype"] == "cf32_le" and "core:sha512" in meta["global"]
    samples = np.fromfile(recording.with_suffix(".sigmf-data"), np.complex64)
    assert samples.size > 1000 and np.abs(samples).max() < 1.0      # SDR-safe peaks
    dec = subprocess.run(python + [str(generated / "decode_sigmf.py"), "-i", str(recording), "-o", str(out),
                                   "-n", "10"], capture_output=True, text=True, timeout=200)
    assert dec.returncode == 0, dec.stdout[-2000:] + dec.stderr[-2000:]     # ends at the end of the file
    rows = results(out)
    assert len(rows) == 2 and all(r["delivered"] for r in rows)


def test_qt_gui_loopback_runs_offscreen(generated, tmp_path):
    """The Qt GUI flowgraph shows a reconstruction (offscreen platform, as on a headless CI)."""
    shot = tmp_path / "gui.png"
    script = ROOT / "scripts" / "screenshot_gui.py"
    proc = subprocess.run([sys.executable, str(script), str(generated), str(shot), "12"], capture_output=True,
                          text=True, timeout=200, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    from PIL import Image
    with Image.open(shot) as picture:
        assert picture.size[0] >= 800 and picture.size[1] >= 600
