# SPDX-License-Identifier: GPL-3.0-or-later
"""`make results`: docs/results.md's generated block and figures from a (gzipped) results file."""
import importlib.util
from pathlib import Path

import pytest

from gnuradio.gensemcom.bench import store

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("results_report", ROOT / "benchmarks" / "results_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(scheme, image, snr, psnr, used=900, budget=1000, seed=0):
    return {"task_id": f"{scheme}{image}{snr}{seed}", "image": image, "scheme": scheme, "channel": "awgn",
            "snr_db": snr, "cpp": "1/48", "seed": seed, "delivered": 1, "psnr": psnr, "vsi": 0.9, "ssim": 0.6,
            "key_psnr": psnr + 1, "samples_used": used, "samples_budget": budget, "sent": 1}


def _sweep(folder, over_budget=False):
    folder.mkdir(parents=True)
    results = store.ResultsStore(folder)
    for i, image in enumerate(("a.png", "b.png", "c.png")):
        for snr in (0.0, 5.0):
            results.append(_row("semantic", image, snr, 20 + i + snr))
            results.append(_row("av1", image, snr, 18 + i + snr + 0.1 * i))
            results.append(_row("semantic-no-hints", image, snr, 19 + i + snr))
    if over_budget:
        results.append(_row("jpeg", "a.png", 0.0, 15.0, used=1200))


def test_publish_then_regenerate_the_block(tmp_path):
    module = _script()
    _sweep(tmp_path / "sweep")
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nprose before\n\n<!-- results:start -->\nold\n<!-- results:end -->\n\nprose after\n")
    published = tmp_path / "results.csv.gz"
    assert module.main(["--publish", str(tmp_path / "sweep"), "--results", str(published), "--doc", str(doc),
                        "--figures", str(tmp_path / "img")]) == 0
    text = doc.read_text()
    assert text.startswith("# Results\n\nprose before") and text.rstrip().endswith("prose after")
    assert "old" not in text and "18 rows" in text and "0 exceed their budget" in text
    assert "**semantic − av1**" in text and "**win**" in text
    assert "semantic − semantic-no-hints" in text
    assert list((tmp_path / "img" / "plots").glob("psnr_*.png"))
    first = published.read_bytes()
    module.main(["--publish", str(tmp_path / "sweep"), "--results", str(published), "--doc", str(doc),
                 "--figures", ""])
    assert published.read_bytes() == first                    # same rows, same bytes
    assert not (Path.cwd() / "plots").exists()


def test_rows_over_budget_are_counted(tmp_path):
    module = _script()
    _sweep(tmp_path / "sweep", over_budget=True)
    rows = module.read_rows([tmp_path / "sweep" / "results.csv"])
    assert "1 exceed their budget" in module.budget_check(rows)


def test_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert _script().main(["--results", str(tmp_path / "nope.csv.gz"), "--doc", str(tmp_path / "r.md")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.skipif(not (ROOT / "docs/results/results.csv.gz").is_file(), reason="no published sweep yet")
def test_the_published_sweep_is_within_budget():
    module = _script()
    rows = module.read_rows([ROOT / "docs/results/results.csv.gz"])
    assert rows and "; 0 exceed their budget" in module.budget_check(rows)
