# SPDX-License-Identifier: GPL-3.0-or-later
"""Example flowgraphs: every .grc compiles, answers --help, and runs headless to completion.

What each test covers is in its docstring; docs/flowgraphs.md has the table. The UHD and
SoapySDR examples run with their radio driver replaced by a file (tests/radio_standins.py):
everything but the driver is the example as shipped.
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.grc"))
STANDINS = ROOT / "tests" / "radio_standins.py"
FATAL = ("double free", "corrupted", "terminate called", "Fatal Python error", "Segmentation fault", "Traceback")
pytestmark = [pytest.mark.flowgraph, pytest.mark.timeout(400)]


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
    Image.fromarray(data.astronaut()[::4, ::4]).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()[::4, ::4]).save(folder / "coffee.png")
    return folder


def load(generated, name):
    spec = importlib.util.spec_from_file_location(name, generated / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(generated, name, *args, timeout_s=300, standin=None, env=None):
    """Run a generated example as a user would: a subprocess, stdin not a terminal, under a
    time limit (a run that does not end by itself fails). Returns the CompletedProcess."""
    script = [str(generated / f"{name}.py")]
    command = [sys.executable, "-u"] + ([str(STANDINS), standin] if standin else []) + script + list(map(str, args))
    proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s,
                          env=dict(os.environ, PYTHONFAULTHANDLER="1", **(env or {})))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{name} exited {proc.returncode}: {output[-3000:]}"
    assert not any(marker in output for marker in FATAL), output[-3000:]
    return proc


def image_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("image ")]


def results(folder):
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]


def parameters(grc):
    """(short_id, name) of each GRC parameter block: the generated script's options."""
    data = yaml.safe_load(grc.read_text())
    return [(b["parameters"].get("short_id"), b["name"]) for b in data["blocks"] if b["id"] == "parameter"]


def test_every_example_compiles(generated):
    for grc in EXAMPLES:
        assert (generated / f"{grc.stem}.py").is_file(), f"{grc.name} did not generate"


@pytest.mark.parametrize("grc", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_answers_help(generated, grc):
    """--help lists every GRC parameter and exits at once (phy_loopback.py had no parameters:
    it ignored --help and ran for ever, printing a debug line per packet)."""
    proc = subprocess.run([sys.executable, str(generated / f"{grc.stem}.py"), "--help"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 0 and "usage:" in proc.stdout, proc.stdout[-1000:] + proc.stderr[-1000:]
    params = parameters(grc)
    assert params, f"{grc.name} has no parameters: nothing to give on the command line"
    for short_id, name in params:
        assert f"--{name.replace('_', '-')}" in proc.stdout and f"-{short_id}" in proc.stdout, (grc.name, name)


def test_example_labels_and_titles():
    """Titles "GenSemCom ..." in Title Case; parameter labels Title Case; a description each."""
    for grc in EXAMPLES:
        data = yaml.safe_load(grc.read_text())
        options = data["options"]["parameters"]
        assert options["title"].startswith("GenSemCom ") and options["description"], grc.name
        words = [w for w in options["title"].split() if w[0].isalpha() and w not in ("a", "by", "of")]
        assert all(w[0].isupper() for w in words), options["title"]
        for block in data["blocks"]:
            if block["id"] == "parameter":
                label = block["parameters"]["label"]
                assert label[0].isupper() and not label.startswith("gr-"), (grc.name, label)


def test_phy_loopback_ends_with_one_summary_line(generated):
    """A packet count: N random packets, then the end of the stream ends the run; one line."""
    proc = run_example(generated, "phy_loopback", "-N", 20, "-n", 12, timeout_s=120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("packets:")]
    assert len(lines) == 1 and lines[0].startswith("packets: 20 sent, 20 received with a good CRC"), proc.stdout


def test_loopback_runs_to_completion_without_a_terminal(generated, images, tmp_path):
    """loopback.py used to print "Press Enter to quit" and stop at once when stdin was not a
    terminal, print nothing per image, and write JSON without scheme, SNR or cpp. Now it runs
    to the end of its images and exits 0, with a line and a JSON per image."""
    proc = run_example(generated, "loopback", "-i", images, "-o", tmp_path, "-n", 20, "-b", 0.125, "-c", "awgn")
    assert "Press Enter" not in proc.stdout
    lines = image_lines(proc.stdout)
    assert len(lines) == 2, proc.stdout
    for line in lines:
        assert "PSNR" in line and "SSIM" in line and "VSI" in line and "key PSNR" in line
        assert "scheme semantic" in line and "snr_db 20" in line and "cpp 0.125" in line
    rows = results(tmp_path)
    assert {r["name"] for r in rows} == {"astronaut.png", "coffee.png"}
    for row in rows:
        assert row["scheme"] == "semantic" and row["snr_db"] == 20 and row["cpp"] == 0.125
        assert row["delivered"] and row["sections_missing"] == 0 and "key_psnr" in row
        assert 5 < row["psnr"] < 100 and 0 < row["vsi"] <= 1 and 0 < row["ssim"] <= 1 and "lpips_status" in row


@pytest.mark.parametrize("channel", ["rayleigh", "multipath"])
def test_loopback_in_process_on_fading_channels(generated, images, tmp_path, channel):
    """The generated top block used from Python: it ends by itself (tb.wait() returns) and
    scores both images on a fading channel."""
    tb = load(generated, "loopback").loopback(images=str(images), out_dir=str(tmp_path), scheme="semantic",
                                              channel=channel, snr_db=20, cpp=1 / 8, seed=3)
    ended = threading.Event()
    tb.start()
    threading.Thread(target=lambda: (tb.wait(), ended.set()), daemon=True).start()
    try:
        assert ended.wait(240), "the flowgraph did not end by itself"
    finally:
        tb.stop()
        tb.wait()
    rows = results(tmp_path)
    assert {r["name"] for r in rows} == {"astronaut.png", "coffee.png"}
    assert all(5 < r["psnr"] < 100 and r["channel"] == channel for r in rows)


def test_semantic_chain_wired_by_hand(generated, images, tmp_path):
    """The example that wires encoder -> fragmenter -> OFDM TX -> channel -> OFDM RX ->
    reassembler -> decoder by hand delivers both images and ends by itself."""
    proc = run_example(generated, "semantic_chain", "-i", images, "-o", tmp_path, "-n", 20)
    assert len(image_lines(proc.stdout)) == 2, proc.stdout
    rows = results(tmp_path)
    assert len(rows) == 2
    for row in rows:
        assert row["delivered"] and row["psnr"] > 10 and row["scheme"] == "semantic" and row["snr_db"] == 20
        assert row["budget_bytes"] == 3072


def test_closed_loop_example_repeats_what_the_receiver_reports_missing(generated, images, tmp_path):
    """closed_loop: Semantic RX reports what an image lacks, the Feedback Link carries it back and
    Semantic TX repeats it within the image's samples. Same channel seed twice: with every report
    lost nothing is repeated; with the loop closed packets are repeated and fewer sections are
    regenerated. Both runs end by themselves."""
    import re
    pattern = re.compile(r"closed loop: (\d+) feedback report\(s\) delivered, (\d+) lost, (\d+) repeat round\(s\) "
                         r"sent with (\d+) packet\(s\)")
    runs = {}
    for loss in (0, 1):
        out = tmp_path / f"loss{loss}"
        out.mkdir()
        proc = run_example(generated, "closed_loop", "-i", images, "-o", out, "-c", "rayleigh", "-n", 8, "-b", 1,
                           "-l", loss)
        closing = pattern.search(proc.stdout)
        assert closing and len(image_lines(proc.stdout)) == 2, proc.stdout
        delivered, lost, rounds, packets = map(int, closing.groups())
        regenerated = sum(int(m) for m in re.findall(r"(\d+) section\(s\) regenerated", proc.stdout))
        runs[loss] = (delivered, lost, rounds, packets, regenerated)
        assert len(results(out)) == 2
    assert runs[1][:4] == (0, runs[1][1], 0, 0) and runs[1][1] >= 1          # all reports lost: no repeats
    assert runs[0][0] >= 1 and runs[0][1] == 0 and runs[0][3] >= 1            # reports arrive, packets repeat
    assert runs[0][4] < runs[1][4], runs                                      # and repair sections


def test_zeromq_three_processes(generated, tmp_path):
    """TX, channel emulator and RX as three processes over ZeroMQ (scripts/zmq_runs.py), the return
    link closed (the RX publishes reports, the TX repeats): one run where all three end by
    themselves, one where each gets SIGTERM in the middle of the run.
    Fails on a hang (not exited 30 s after its end or the signal), an abort (a signal, or a
    glibc / C++ / Python fatal error in its log), any other exit status, or missing images."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "zmq_runs.py"), "--generated", str(generated),
                           "--runs", "2", "--idle-s", "10", "--work", str(tmp_path), "--repeat-reserve", "0.3"],
                          capture_output=True, text=True, timeout=900)
    runs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    logs = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(tmp_path.rglob("*.txt"))
                     + sorted(tmp_path.rglob("*.log")))
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-2000:]}\n{logs}"
    assert [r["mode"] for r in runs[:2]] == ["self", "sigterm"] and all(r["ok"] for r in runs[:2])
    assert "reports" in runs[0], runs[0]      # the transmitter ended through its return-link summary
    assert runs[-1]["hangs"] == 0 and runs[-1]["aborts"] == 0


def test_zeromq_continuous_stream_with_acknowledgements(generated, tmp_path):
    """zmq_tx -r: a radio's continuous stream (zeros between bursts, Idle Fill) throttled to
    1 Msample/s, the loop closed: the receiver acknowledges each complete image and the sender hears
    the acknowledgements; the transmitter ends once its bursts are over although zeros kept
    flowing, and all three processes end by themselves."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "zmq_runs.py"), "--generated", str(generated),
                           "--runs", "1", "--modes", "self", "--idle-s", "5", "--work", str(tmp_path),
                           "--repeat-reserve", "0.3", "--sample-rate", "1e6", "--stream-images", "3"],
                          capture_output=True, text=True, timeout=600)
    runs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    logs = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(tmp_path.rglob("*.log")))
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-2000:]}\n{logs}"
    run = runs[0]
    assert run["ok"] and run["images"] == 3, run
    assert run["rx_acknowledgements"] >= 3 and run["acknowledged"] >= 3, run


def test_zmq_receiver_records_scheme_snr_cpp(generated, images, tmp_path):
    """zmq_rx's JSON and lines record the scheme and the SNR and cpp given on its command line."""
    zmq_rx = load(generated, "zmq_rx").zmq_rx
    rx = zmq_rx(scheme="semantic", reference=str(images), out_dir=str(tmp_path), address="tcp://127.0.0.1:1",
                snr_db=7, cpp=0.25)
    assert rx.gensemcom_image_sink_0.run_info == {"scheme": "semantic", "snr_db": 7, "cpp": 0.25}
    assert rx.gensemcom_metrics_sink_0.end_timeout_s == 0        # waits for every reference image


def test_sigmf_record_then_decode(generated, images, tmp_path):
    """record_sigmf ends after its images; decode_sigmf ends at the end of the recording."""
    recording = tmp_path / "capture"
    out = tmp_path / "rx"
    out.mkdir()
    run_example(generated, "record_sigmf", "-i", images, "-n", 10, "-b", 0.125, "-o", recording)
    meta = json.loads(recording.with_suffix(".sigmf-meta").read_text())
    assert meta["global"]["core:datatype"] == "cf32_le" and "core:sha512" in meta["global"]
    samples = np.fromfile(recording.with_suffix(".sigmf-data"), np.complex64)
    assert samples.size > 1000 and np.abs(samples).max() < 1.0      # SDR-safe peaks
    proc = run_example(generated, "decode_sigmf", "-i", recording, "-o", out, "-n", 10, "-b", 0.125)
    assert len(image_lines(proc.stdout)) == 2
    rows = results(out)
    assert len(rows) == 2 and all(r["delivered"] and r["snr_db"] == 10 and r["cpp"] == 0.125 for r in rows)


def test_qt_gui_loopback_runs_offscreen(generated, images, tmp_path):
    """The Qt GUI flowgraph, offscreen: -N 1 closes its window after the first image."""
    proc = run_example(generated, "loopback_gui", "-i", images, "-o", tmp_path, "-N", 1, "-b", 0.125,
                       env={"QT_QPA_PLATFORM": "offscreen"})
    lines = image_lines(proc.stdout)
    assert len(lines) >= 1 and "PSNR" in lines[0] and "scheme semantic" in lines[0], proc.stdout
    assert results(tmp_path)[0]["cpp"] == 0.125


@pytest.mark.parametrize("radio", ["uhd", "soapy"])
def test_radio_examples_with_the_radio_replaced_by_a_file(generated, images, tmp_path, radio):
    """uhd_tx/soapy_tx and uhd_rx/soapy_rx as shipped, with only the driver module replaced
    (tests/radio_standins.py): the TX tunes the radio as asked and ends after its images; the
    RX hears the recording, then silence for ever, and ends after -N images. Not covered: the
    real UHD/SoapySDR drivers and over-the-air reception."""
    env = {"STANDIN_IQ": str(tmp_path / "air.cf32"), "STANDIN_CALLS": str(tmp_path / "calls.jsonl")}
    out = tmp_path / "rx"
    out.mkdir()
    run_example(generated, f"{radio}_tx", "-i", images, "-n", 15, "-b", 0.125, "-f", 915e6, "-g", 7,
                standin=radio, env=env)
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    names = {c["call"]: c["args"] for c in calls}
    tuned = names.get("set_center_freq") or names.get("set_frequency")
    assert 915e6 in tuned and 7.0 in names["set_gain"], calls
    assert (tmp_path / "air.cf32").stat().st_size > 8000
    proc = run_example(generated, f"{radio}_rx", "-o", out, "-N", 2, standin=radio, env=env)
    assert len(image_lines(proc.stdout)) == 2, proc.stdout
    rows = results(out)
    assert len(rows) == 2 and all(r["delivered"] and r["scheme"] == "semantic" for r in rows)


# ---- gensemcom grc-check -----------------------------------------------------------------------

def grc_knows_gensemcom_without_help():
    """Whether GRC finds gensemcom blocks with no GRC_BLOCKS_PATH (the module is installed)."""
    from gnuradio.gensemcom.cli.grc_check import make_platform
    saved = os.environ.pop("GRC_BLOCKS_PATH", None)
    try:
        return "gensemcom_image_sink" in make_platform().blocks
    finally:
        if saved is not None:
            os.environ["GRC_BLOCKS_PATH"] = saved


def gensemcom(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env)


def test_grcc_alone_misses_missing_blocks(tmp_path):
    """What grc-check guards against (GNU Radio's behaviour): without the block YAML, grcc
    compiles loopback.grc with exit status 0 into a top block without any gensemcom block."""
    if shutil.which("grcc") is None or grc_knows_gensemcom_without_help():
        pytest.skip("grcc missing, or the gensemcom blocks are installed where GRC always looks")
    env = {k: v for k, v in os.environ.items() if k != "GRC_BLOCKS_PATH"}
    proc = subprocess.run(["grcc", "-o", str(tmp_path), str(ROOT / "examples" / "loopback.grc")], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0
    assert "gensemcom" not in (tmp_path / "loopback.py").read_text().split("class loopback")[1]


def test_grc_check_fails_when_blocks_are_not_found():
    """Without the block YAML: exit 2, one line per missing block naming flowgraph, block id
    and instance, the zmq_tx.grc "Port is not connected" error named with its block, and a
    summary saying where GRC looked and how to fix it."""
    if grc_knows_gensemcom_without_help():
        pytest.skip("the gensemcom blocks are installed where GRC always looks")
    env = {k: v for k, v in os.environ.items() if k != "GRC_BLOCKS_PATH"}
    proc = gensemcom("grc-check", ROOT / "examples" / "loopback.grc", ROOT / "examples" / "zmq_tx.grc", env=env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert any(line.endswith("loopback.grc: block 'gensemcom_semantic_tx' (gensemcom_semantic_tx_0) not found in "
                             "GRC's block library") for line in lines), proc.stderr
    assert any("zmq_tx.grc: block 'gensemcom_image_source'" in line for line in lines)
    assert any("zmq_tx.grc: invalid: blocks_throttle_0: Sink - in(0): Port is not connected" in line
               for line in lines)
    assert lines[-1].startswith("gensemcom grc-check: ") and "GRC_BLOCKS_PATH" in lines[-1]
    assert "Traceback" not in proc.stderr


def test_grc_check_passes_with_the_blocks_path(tmp_path):
    """With --blocks-path grc every example compiles (into --out) with all its blocks: exit 0."""
    proc = gensemcom("grc-check", "--blocks-path", ROOT / "grc", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1].startswith(f"{len(EXAMPLES)} flowgraph(s) compiled")
    assert len(list(tmp_path.glob("*.py"))) == len(EXAMPLES)


def test_grc_check_names_a_block_the_generator_dropped(tmp_path):
    """A disabled-by-GRC block is caught in the generated code too: a flowgraph naming an
    unknown block id gets both lines, and a bad path is one line, exit 2."""
    grc = yaml.safe_load((ROOT / "examples" / "phy_loopback.grc").read_text())
    grc["blocks"].append({"name": "mystery_0", "id": "gensemcom_no_such_block", "parameters": {},
                          "states": {"coordinate": [0, 0], "rotation": 0, "state": "enabled"}})
    (tmp_path / "bad.grc").write_text(yaml.safe_dump(grc))
    proc = gensemcom("grc-check", "--blocks-path", ROOT / "grc", tmp_path / "bad.grc")
    assert proc.returncode == 2
    assert "bad.grc: block 'gensemcom_no_such_block' (mystery_0) not found" in proc.stderr
    proc = gensemcom("grc-check", tmp_path / "missing.grc")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not a .grc file" in proc.stderr


# ---- ending a run: run_control, metrics sink, image sink -----------------------------------------

@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_signal_handler_stops_without_a_second_wait(restore_signals):
    """GNU Radio 3.10's GRC handler calls tb.wait() while main() is in tb.wait(): two waiters
    race in boost::thread::join (scripts/wait_race.py: hangs, double frees). The handler of
    run_control.stop_on_signals only stops: main()'s wait returns, no second wait."""
    from gnuradio import blocks, gr

    from gnuradio.gensemcom.blocks.run_control import stop_on_signals
    tb = gr.top_block()
    tb.connect(blocks.null_source(8), blocks.throttle(8, 1e5), blocks.null_sink(8))
    waits = []
    real_wait = tb.wait
    tb.wait = lambda: (waits.append(threading.current_thread().name), real_wait())
    stop_on_signals(tb)
    tb.start()
    main_wait = threading.Thread(target=tb.wait, name="main-wait")
    main_wait.start()
    time.sleep(0.3)
    signal.raise_signal(signal.SIGTERM)
    main_wait.join(timeout=10)
    assert not main_wait.is_alive() and waits == ["main-wait"]


def test_watcher_ends_on_finished_blocks_and_on_idle_input():
    """stop_when: stops once every watched block has finished, or once the idle block wrote
    samples and then none for idle_s (never before its first samples)."""
    from gnuradio.gensemcom.blocks.run_control import stop_when

    class FlowGraph:
        def __init__(self):
            self.stopped = threading.Event()

        def stop(self):
            self.stopped.set()

    class Block:
        def __init__(self):
            self.upstream_done = threading.Event()
            self.items = 0

        def nitems_written(self, port):
            return self.items

    tb, sink = FlowGraph(), Block()
    watcher = stop_when(tb, finished=[sink], poll_s=0.01)
    assert not tb.stopped.wait(0.2)
    sink.upstream_done.set()
    assert tb.stopped.wait(2) and watcher.reason == "finished"
    tb, source = FlowGraph(), Block()
    watcher = stop_when(tb, idle_block=source, idle_s=0.2, poll_s=0.01)
    assert not tb.stopped.wait(0.5)              # nothing written yet: not idle, waiting
    source.items = 100
    assert tb.stopped.wait(2) and watcher.reason.startswith("input idle")
    tb, sender, sink = FlowGraph(), Block(), Block()          # linger: finished, then quiet for linger_s
    watcher = stop_when(tb, finished=[sender], idle_block=sink, poll_s=0.01, linger_s=0.3)
    sender.upstream_done.set()
    for count in range(1, 6):                                 # still sending repeats: keeps running
        sink.items = 100 * count
        assert not tb.stopped.wait(0.1)
    assert tb.stopped.wait(2) and watcher.reason == "finished, then idle for 0.3 s"


def _message_flowgraph(block, out_port="out"):
    from gnuradio import blocks, gr
    tb = gr.top_block()
    debug = blocks.message_debug()
    tb.msg_connect(block, out_port, debug, "store")
    return tb, debug


def _post(block, port, msg):
    import pmt
    block.to_basic_block()._post(pmt.intern(port), msg)


def _done():
    import pmt
    return pmt.cons(pmt.intern("done"), pmt.from_long(1))


def test_metrics_sink_ends_when_every_original_is_scored_or_given_up():
    """After an input ended, the metrics sink finishes once every original has been scored,
    or end_timeout_s after the last reconstruction (the lost image is counted in given_up)."""
    from gnuradio.gensemcom.blocks.metrics_sink import metrics_sink
    from gnuradio.gensemcom.blocks.pdus import image_to_pdu
    image = np.full((16, 16, 3), 100, np.uint8)
    sink = metrics_sink(lpips=False, end_timeout_s=0.5)
    tb, debug = _message_flowgraph(sink)
    tb.start()
    for image_id in (0, 1):
        _post(sink, "original", image_to_pdu(image, image_id=image_id, name=f"{image_id}.png"))
    _post(sink, "in", image_to_pdu(image, image_id=0))
    _post(sink, "system", _done())
    ended = threading.Event()
    threading.Thread(target=lambda: (tb.wait(), ended.set()), daemon=True).start()
    assert ended.wait(120), "metrics sink did not finish"
    assert sink.stats["given_up"] == 1 and len(sink.results) == 1 and debug.num_messages() == 1


def test_image_sink_stops_after_max_images_and_prints_lines(tmp_path, capsys):
    """image_sink(max_images=2): two files, two lines, then it finishes by itself (a third image
    is ignored); run labels go into the JSON and the line."""
    from gnuradio import gr, pdu

    from gnuradio.gensemcom.blocks.image_sink import image_sink
    from gnuradio.gensemcom.blocks.pdus import image_to_pdu
    sink = image_sink(str(tmp_path), run_info={"scheme": "jpeg", "snr_db": 3.0, "cpp": 0.5}, max_images=2)
    tb = gr.top_block()
    idle = pdu.random_pdu(10, 20)           # sends only when asked: a connection, so the sink runs
    tb.msg_connect(idle, "pdus", sink, "in")
    image = np.zeros((8, 8, 3), np.uint8)
    tb.start()
    for image_id in range(3):
        _post(sink, "in", image_to_pdu(image, image_id=image_id, name=f"{image_id}.png", psnr=31.5))
    assert sink.upstream_done.wait(120)
    tb.stop()
    tb.wait()
    assert len(sink.written) == 2 and len(sink.lines) == 2
    row = json.loads(sink.written[0].with_suffix(".json").read_text())
    assert row["scheme"] == "jpeg" and row["snr_db"] == 3.0 and row["cpp"] == 0.5 and row["psnr"] == 31.5
    printed = capsys.readouterr().out
    assert "image 00000 0.png: PSNR 31.50 dB | scheme jpeg, snr_db 3, cpp 0.5 ->" in printed
