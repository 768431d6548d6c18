# SPDX-License-Identifier: GPL-3.0-or-later
"""`gensemcom encode / decode / inspect`: round trip, JSON, bad input -> one line and exit 2."""
import json
import subprocess
import sys

import numpy as np
import pytest

from gnuradio.gensemcom import cli


@pytest.fixture(scope="module")
def photo(tmp_path_factory, coffee):
    from PIL import Image
    path = tmp_path_factory.mktemp("cli") / "coffee.png"
    Image.fromarray(np.ascontiguousarray(coffee[::2, ::2])).save(path)      # 300 x 200
    return path


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_encode_inspect_decode_round_trip(capsys, photo, tmp_path):
    gsc, mask, out_png = tmp_path / "c.gsc", tmp_path / "mask.png", tmp_path / "out.png"
    code, out, err = run(capsys, "encode", photo, "-o", gsc, "--budget-bytes", 2000, "--mask-out", mask,
                         "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["container_bytes"] == gsc.stat().st_size <= 2000
    from PIL import Image
    key = np.asarray(Image.open(mask))
    assert key.shape == (200, 300) and set(np.unique(key)) <= {0, 255}
    assert abs((key == 255).mean() - report["key_fraction"]) < 1e-3

    code, out, err = run(capsys, "inspect", gsc)
    assert code == 0 and "prompt:" in out and "importance" in out and "key mask" in out
    code, out, _ = run(capsys, "inspect", gsc, "--json")
    assert json.loads(out)["prompt"]["layout"]

    code, out, err = run(capsys, "decode", gsc, "-o", out_png)
    assert code == 0, err
    assert Image.open(out_png).size == (300, 200)
    assert "lost none" in out


def test_encode_with_boxes_and_codec(capsys, photo, tmp_path):
    gsc = tmp_path / "b.gsc"
    code, out, err = run(capsys, "encode", photo, "-o", gsc, "--boxes", "50,20,200,150", "--codec", "webp",
                         "--budget-bytes", 4000, "--json")
    assert code == 0, err
    assert json.loads(out)["codec"] == "webp"


@pytest.mark.parametrize("setup, args, message", [
    ("text", ["encode", "{f}", "-o", "{o}"], "not a readable image"),
    ("empty", ["encode", "{f}", "-o", "{o}"], "is empty"),
    ("none", ["encode", "{f}", "-o", "{o}"], "no such file"),
    ("photo", ["encode", "{p}", "-o", "{o}", "--budget-bytes", "30"], "budget too small"),
    ("photo", ["encode", "{p}", "-o", "{o}", "--key-fraction", "1.5"], "fraction"),
    ("photo", ["encode", "{p}", "-o", "{o}", "--boxes", "1,2,3"], "x0,y0,x1,y1"),
    ("text", ["decode", "{f}", "-o", "{o}"], "not a gensemcom container"),
    ("empty", ["decode", "{f}", "-o", "{o}"], "is empty"),
    ("trunc", ["decode", "{f}", "-o", "{o}"], "truncated"),
    ("text", ["inspect", "{f}"], "not a gensemcom container"),
])
def test_bad_inputs_are_one_line_exit_2_and_leave_no_output(capsys, photo, tmp_path, setup, args, message):
    f, o = tmp_path / "input.bin", tmp_path / "out.gsc"
    if setup == "text":
        f.write_text("hello")
    elif setup == "empty":
        f.write_bytes(b"")
    elif setup == "trunc":
        run(capsys, "encode", photo, "-o", tmp_path / "ok.gsc", "--budget-bytes", 1500)
        f.write_bytes((tmp_path / "ok.gsc").read_bytes()[:300])
    try:
        code, out, err = run(capsys, *[a.format(f=f, o=o, p=photo) for a in args])
    except SystemExit as exc:                       # argparse errors exit directly
        code, (out, err) = exc.code, capsys.readouterr()
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not o.exists() and not list(tmp_path.glob(".out.gsc*"))


def test_help_teaches_the_budget():
    proc = subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", "encode", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "The budget is the whole container in bytes" in proc.stdout and "examples:" in proc.stdout


def test_subprocess_bad_image_has_no_traceback(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    proc = subprocess.run([sys.executable, "-m", "gnuradio.gensemcom.cli", "encode", str(bad), "-o",
                           str(tmp_path / "y.gsc")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "y.gsc").exists()
