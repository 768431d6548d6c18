# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad inputs to every CLI command (issue 7): one clear line, exit code 2, no traceback, and no
partial output file left behind.

Each case runs ``gensemcom COMMAND ...`` in-process (``cli.main``); a few run as real
subprocesses too. Placeholders in the arguments: {tmp} the case's folder, {png} a valid
64x64 image, {gsc} a valid container, {txt} a text file, {empty} an empty file, {dir} a
folder, {missing} a folder that does not exist.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gnuradio.gensemcom import cli

CASES = {
    "encode": [
        ("missing image", ["{tmp}/nope.png", "-o", "{tmp}/out.gsc"]),
        ("text file as image", ["{txt}", "-o", "{tmp}/out.gsc"]),
        ("empty image", ["{empty}", "-o", "{tmp}/out.gsc"]),
        ("folder as image", ["{dir}", "-o", "{tmp}/out.gsc"]),
        ("negative budget", ["{png}", "-o", "{tmp}/out.gsc", "--budget-bytes", "-5"]),
        ("budget not a number", ["{png}", "-o", "{tmp}/out.gsc", "--budget-bytes", "lots"]),
        ("budget too small", ["{png}", "-o", "{tmp}/out.gsc", "--budget-bytes", "20"]),
        ("key fraction > 1", ["{png}", "-o", "{tmp}/out.gsc", "--key-fraction", "2"]),
        ("key fraction nan", ["{png}", "-o", "{tmp}/out.gsc", "--key-fraction", "nan"]),
        ("bad boxes", ["{png}", "-o", "{tmp}/out.gsc", "--boxes", "1,2,3"]),
        ("box outside", ["{png}", "-o", "{tmp}/out.gsc", "--boxes", "100,100,200,200"]),
        ("missing mask", ["{png}", "-o", "{tmp}/out.gsc", "--mask", "{tmp}/nomask.png"]),
        ("unknown codec", ["{png}", "-o", "{tmp}/out.gsc", "--codec", "bpg"]),
        ("image id too large", ["{png}", "-o", "{tmp}/out.gsc", "--image-id", "70000"]),
        ("output folder missing", ["{png}", "-o", "{missing}/out.gsc"]),
        ("output is a folder", ["{png}", "-o", "{dir}"]),
        ("mask-out folder missing", ["{png}", "-o", "{tmp}/out.gsc", "--mask-out", "{missing}/m.png"]),
    ],
    "decode": [
        ("missing container", ["{tmp}/nope.gsc", "-o", "{tmp}/out.png"]),
        ("empty container", ["{empty}", "-o", "{tmp}/out.png"]),
        ("not a container", ["{txt}", "-o", "{tmp}/out.png"]),
        ("image as container", ["{png}", "-o", "{tmp}/out.png"]),
        ("truncated container", ["{gsc_truncated}", "-o", "{tmp}/out.png"]),
        ("flipped byte", ["{gsc_flipped}", "-o", "{tmp}/out.png"]),
        ("claims 16384x16384", ["{gsc_huge}", "-o", "{tmp}/out.png", "--salvage"]),
        ("seed not a number", ["{gsc}", "-o", "{tmp}/out.png", "--seed", "x"]),
        ("output folder missing", ["{gsc}", "-o", "{missing}/out.png"]),
        ("output is a folder", ["{gsc}", "-o", "{dir}"]),
    ],
    "inspect": [
        ("missing container", ["{tmp}/nope.gsc"]),
        ("empty container", ["{empty}"]),
        ("not a container", ["{txt}"]),
        ("folder", ["{dir}"]),
        ("truncated container", ["{gsc_truncated}"]),
    ],
    "link": [
        ("unknown MCS", ["--mcs", "qpsk-9/10", "--snr", "5", "--packets", "2"]),
        ("SNR not a number", ["--snr", "loud", "--packets", "2"]),
        ("SNR nan", ["--snr", "nan", "--packets", "2"]),
        ("zero packets", ["--snr", "5", "--packets", "0"]),
        ("payload too large", ["--snr", "5", "--packets", "2", "--payload-bytes", "99999"]),
        ("payload zero", ["--snr", "5", "--packets", "2", "--payload-bytes", "0"]),
        ("unknown channel", ["--snr", "5", "--packets", "2", "--channel", "ionosphere"]),
        ("backwards sweep", ["--sweep", "10:0:1", "--packets", "2"]),
        ("CSV folder missing", ["--snr", "5", "--packets", "2", "--csv", "{missing}/r.csv"]),
        ("plot folder missing", ["--sweep", "5,6", "--packets", "2", "--plot", "{missing}/p.png"]),
        ("negative timeout", ["--snr", "5", "--packets", "2", "--timeout", "-1"]),
    ],
    "bench": [
        ("images folder missing", ["--images", "{missing}", "--out", "{tmp}/b"]),
        ("images folder empty", ["--images", "{dir}", "--out", "{tmp}/b"]),
        ("unknown scheme", ["--images", "{imgdir}", "--schemes", "morse", "--out", "{tmp}/b"]),
        ("SNR not a number", ["--images", "{imgdir}", "--snr", "x", "--out", "{tmp}/b"]),
        ("zero cpp", ["--images", "{imgdir}", "--cpp", "0", "--out", "{tmp}/b"]),
        ("zero seeds", ["--images", "{imgdir}", "--seeds", "0", "--out", "{tmp}/b"]),
        ("out is a file", ["--images", "{imgdir}", "--out", "{txt}"]),
        ("unknown executor", ["--images", "{imgdir}", "--executor", "slurm", "--out", "{tmp}/b"]),
        ("plugin missing", ["--images", "{imgdir}", "--plugin", "no_such_plugin_mod", "--out", "{tmp}/b"]),
    ],
    "models": [
        ("unknown action", ["frobnicate"]),
        ("unknown card", ["bench", "no-such-card"]),
        ("zero runs", ["bench", "tiny", "--runs", "0"]),
        ("unknown dtype", ["bench", "tiny", "--dtype", "float8"]),
    ],
    "finetune": [
        ("unknown task", ["juggle", "--card", "tiny", "--data", "{imgdir}", "--out", "{tmp}/ft"]),
        ("data folder missing", ["caption", "--card", "tiny", "--data", "{missing}", "--out", "{tmp}/ft"]),
        ("unknown card", ["caption", "--card", "no-such-card", "--data", "{imgdir}", "--out", "{tmp}/ft"]),
        ("zero rank", ["caption", "--card", "tiny", "--data", "{imgdir}", "--out", "{tmp}/ft",
                       "--rank", "0"]),
        ("negative lr", ["caption", "--card", "tiny", "--data", "{imgdir}", "--out", "{tmp}/ft",
                         "--lr", "-1"]),
        ("out is a file", ["caption", "--card", "tiny", "--data", "{imgdir}", "--out", "{txt}"]),
    ],
    "transmit": [
        ("missing image", ["{tmp}/nope.png", "--snr", "5", "--cpp", "1/48", "--out", "{tmp}/o.png"]),
        ("SNR not a number", ["{png}", "--snr", "x", "--cpp", "1/48", "--out", "{tmp}/o.png"]),
        ("zero cpp", ["{png}", "--snr", "5", "--cpp", "0", "--out", "{tmp}/o.png"]),
        ("negative symbols", ["{png}", "--snr", "5", "--budget-symbols", "-3", "--out", "{tmp}/o.png"]),
        ("unknown channel", ["{png}", "--snr", "5", "--cpp", "1/48", "--channel", "moon",
                             "--out", "{tmp}/o.png"]),
        ("unknown profile", ["{png}", "--snr", "5", "--cpp", "1/48", "--profile", "nope",
                             "--out", "{tmp}/o.png"]),
        ("unknown MCS", ["{png}", "--snr", "5", "--cpp", "1/48", "--mcs", "qam9", "--out", "{tmp}/o.png"]),
        ("output folder missing", ["{png}", "--snr", "5", "--cpp", "1/48", "--out", "{missing}/o.png"]),
    ],
    "tx": [
        ("missing image", ["{tmp}/nope.png", "--to", "tcp://127.0.0.1:1", "--snr", "5"]),
        ("bad endpoint", ["{png}", "--to", "carrier-pigeon://x", "--snr", "5"]),
        ("SNR not a number", ["{png}", "--to", "tcp://127.0.0.1:1", "--snr", "x"]),
        ("zero cpp", ["{png}", "--to", "tcp://127.0.0.1:1", "--snr", "5", "--cpp", "0"]),
    ],
    "rx": [
        ("bad endpoint", ["--from", "carrier-pigeon://x", "--out", "{tmp}/rx"]),
        ("out is a file", ["--from", "tcp://127.0.0.1:1", "--out", "{txt}"]),
        ("negative width", ["--from", "tcp://127.0.0.1:1", "--out", "{tmp}/rx", "--width", "-4"]),
    ],
    "channel": [
        ("bad endpoint", ["--from", "carrier-pigeon://x", "--to", "tcp://127.0.0.1:1", "--snr", "3"]),
        ("SNR not a number", ["--from", "tcp://127.0.0.1:1", "--to", "tcp://127.0.0.1:2", "--snr", "x"]),
        ("CFO not a number", ["--from", "tcp://127.0.0.1:1", "--to", "tcp://127.0.0.1:2", "--snr", "3",
                              "--cfo", "x"]),
    ],
    "grc-check": [
        ("missing flowgraph", ["{tmp}/nope.grc"]),
        ("text file as flowgraph", ["{txt}"]),
        ("folder without flowgraphs", ["{dir}"]),
        ("blocks path missing", ["{dir}", "--blocks-path", "{missing}"]),
        ("out folder missing", ["{dir}", "--out", "{missing}"]),
    ],
}


def _available(command):
    module = cli.COMMANDS[command][0]
    return importlib.util.find_spec(f"gnuradio.gensemcom.cli.{module}") is not None


def _params():
    for command, cases in CASES.items():
        for case in cases:
            marks = list(case.marks) if hasattr(case, "marks") else []
            label, argv = case.values if hasattr(case, "values") else case
            if command not in cli.COMMANDS or not _available(command):
                marks.append(pytest.mark.skip(reason=f"`gensemcom {command}` is not there yet"))
            yield pytest.param(command, label, argv, id=f"{command}-{label.replace(' ', '_')}", marks=marks)


PARAMS = list(_params())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from PIL import Image

    from gnuradio.gensemcom.semantic.codec import SemanticCodec
    from gnuradio.gensemcom.transport.container import Container
    folder = tmp_path_factory.mktemp("cli-inputs")
    rng = np.random.default_rng(0)
    image = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(folder / "in.png")
    (folder / "images").mkdir()
    Image.fromarray(image).save(folder / "images" / "a.png")
    data = SemanticCodec().encode(image, 600).data
    (folder / "in.gsc").write_bytes(data)
    (folder / "truncated.gsc").write_bytes(data[:len(data) // 2])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    (folder / "flipped.gsc").write_bytes(bytes(flipped))
    (folder / "huge.gsc").write_bytes(Container(1, 16384, 16384, []).to_bytes())
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "empty.bin").write_bytes(b"")
    return folder


def _fill(argv, inputs, tmp):
    places = {"tmp": tmp, "png": inputs / "in.png", "gsc": inputs / "in.gsc", "txt": inputs / "notes.txt",
              "empty": inputs / "empty.bin", "dir": tmp / "a_folder", "missing": tmp / "no" / "such",
              "imgdir": inputs / "images", "gsc_truncated": inputs / "truncated.gsc",
              "gsc_flipped": inputs / "flipped.gsc", "gsc_huge": inputs / "huge.gsc"}
    return [a.format(**places) for a in argv]


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command, label, argv", PARAMS)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(command, label, argv, inputs, tmp_path, capsys):
    (tmp_path / "a_folder").mkdir()
    before_tmp, before_inputs = _listing(tmp_path), _listing(inputs)
    try:
        code = cli.main([command, *_fill(argv, inputs, tmp_path)])
    except SystemExit as exc:       # argparse errors exit through ArgumentParser.error
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}: {err}"
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"gensemcom {command}: error: "), err
    assert "internal error" not in err
    assert not lines[0].endswith(": None"), err
    assert _listing(tmp_path) == before_tmp, "a partial output was left behind"
    assert _listing(inputs) == before_inputs


@pytest.mark.parametrize("argv", [
    ["encode", "{txt}", "-o", "{tmp}/o.gsc"],
    ["decode", "{gsc_truncated}", "-o", "{tmp}/o.png"],
    ["link", "--mcs", "nonsense", "--snr", "1"],
])
def test_bad_input_in_a_real_process(argv, inputs, tmp_path):
    (tmp_path / "a_folder").mkdir()
    proc = subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", *_fill(argv, inputs, tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert _listing(tmp_path) == ["a_folder"]


def test_every_command_has_bad_input_cases():
    missing = [c for c in cli.COMMANDS if c not in CASES and c != "demo"]
    assert not missing, f"add bad-input cases for {missing}"


def test_a_failing_write_leaves_no_partial_file(tmp_path):
    """atomic_path: an exception inside the block removes the temporary file and keeps the target."""
    from gnuradio.gensemcom.fileio import atomic_path, write_bytes_atomic
    target = tmp_path / "out.png"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            Path(tmp).write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert _listing(tmp_path) == ["out.png"]
