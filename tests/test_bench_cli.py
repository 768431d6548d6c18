# SPDX-License-Identifier: GPL-3.0-or-later
"""`gensemcom bench`: bad input is one line on stderr and exit 2; a small real run; the
semantic-agreement measures it records."""
import json

import pytest
from PIL import Image

from gnuradio.gensemcom import cli
from gnuradio.gensemcom.bench import capacity, store


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from skimage import data
    folder = tmp_path_factory.mktemp("cli_images")
    Image.fromarray(data.chelsea()[:176, :176]).save(folder / "chelsea.png")
    return folder


def bench(capsys, *args):
    try:
        code = cli.main(["bench", *map(str, args)])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args,message", [
    (["--schemes", "nonesuch+capacity", "--snr", "0"], "unknown scheme 'nonesuch+capacity'"),
    (["--schemes", "jpeg+capacity", "--snr", "0", "--channel", "multipath"],
     "does not support channel 'multipath'"),
    (["--schemes", "jpeg+capacity@x", "--snr", "0"], "takes no parameter"),
    (["--schemes", "jpeg+capacity", "--snr", "zero"], "SNR must be a number"),
    (["--schemes", "jpeg+capacity", "--snr", "0", "--cpp", "1/0"], "expected a ratio"),
    (["--schemes", "jpeg+capacity", "--snr", "0", "--seeds", "0"], "expected a number >= 1"),
    (["--schemes", "jpeg+capacity"], "--snr required"),
    (["--schemes", "jpeg+capacity", "--snr", "0", "--executor", "spark"], "invalid choice"),
    (["--schemes", "jpeg+capacity", "--snr", "0", "--ray-address", "auto"], "needs --executor ray"),
    (["--schemes", "jpeg+capacity", "--snr", "0", "--key-mask", "psychic"], "unknown key mask"),
    (["--schemes", "jpeg+capacity", "--snr", "0", "--plugin", "no.such.module"], "cannot import"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, images, args, message):
    code, out, err = bench(capsys, "--images", images, "--out", tmp_path / "o", *args)
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "o" / "results.csv").exists()


def test_bad_folders_are_one_line_and_exit_2(capsys, tmp_path, images):
    common = ["--schemes", "jpeg+capacity", "--snr", "0"]
    code, _, err = bench(capsys, "--images", tmp_path / "missing", "--out", tmp_path / "o", *common)
    assert code == 2 and err.count("\n") == 1 and "not a folder" in err
    (tmp_path / "empty").mkdir()
    code, _, err = bench(capsys, "--images", tmp_path / "empty", "--out", tmp_path / "o", *common)
    assert code == 2 and "no image files" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / store.RESULTS_NAME).write_text("not,our,header\n")
    code, _, err = bench(capsys, "--images", images, "--out", bad, *common)
    assert code == 2 and err.count("\n") == 1 and "new --out folder" in err
    code, _, err = bench(capsys, "--out", tmp_path / "nothing", "--report-only")
    assert code == 2 and "no results.csv" in err


def test_list_schemes(capsys):
    code, out, _ = bench(capsys, "--list-schemes", "--json")
    names = {s["name"]: s for s in json.loads(out)}
    assert code == 0
    for codec in ("av1", "webp", "jpeg"):
        assert names[f"{codec}+capacity"]["bound"] is True
        assert names[f"{codec}+capacity"]["channels"] == ["awgn", "rayleigh"]


def test_small_real_run_and_report_only(capsys, tmp_path, images):
    out = tmp_path / "run"
    code, stdout, _ = bench(capsys, "--images", images, "--schemes", "webp+capacity", "--snr", "-15:5:20",
                            "--channel", "awgn", "--cpp", "1/16", "--workers", "1", "--out", out,
                            "--no-progress", "--json")
    counts = json.loads(stdout)
    assert code == 0 and (counts["tasks"], counts["ran"], counts["errors"]) == (2, 2, 0)
    rows = sorted(store.read_results(out), key=lambda r: r["snr_db"])
    assert [r["snr_db"] for r in rows] == [-15.0, 5.0]
    assert rows[0]["delivered"] == 0 and rows[0]["sent"] == 0           # a few bytes fit no WebP stream
    assert rows[1]["delivered"] == 1
    from gnuradio.gensemcom.link.protection import samples_budget
    from gnuradio.gensemcom.phy.config import DEFAULT_NUMEROLOGY
    budget = capacity.budget_bytes(samples_budget(1 / 16, 176, 176, DEFAULT_NUMEROLOGY), "awgn", 5)
    assert rows[1]["bytes"] <= rows[1]["budget_bytes"] == budget
    assert rows[1]["top5_overlap"] is not None and rows[1]["semantic_status"] == "ok"
    assert rows[1]["lpips"] is not None or rows[1]["lpips_status"] != "ok"
    (out / "summary.md").unlink()
    code, stdout, _ = bench(capsys, "--out", out, "--report-only", "--json")
    assert code == 0 and json.loads(stdout)["rows"] == 2 and (out / "summary.md").exists()
