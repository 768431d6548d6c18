# SPDX-License-Identifier: GPL-3.0-or-later
"""benchmarks/closed_vs_open.py: closed − open loop, paired on image and seed, from one sweep folder."""
import json
import subprocess
import sys
from pathlib import Path

from gnuradio.gensemcom.bench.store import RESULTS_NAME, encode_row, header_line

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "closed_vs_open.py"


def _row(image, scheme, psnr, vsi, used, seed=0):
    return {"task_id": f"{image}-{scheme}-{seed}", "image": image, "scheme": scheme, "channel": "rayleigh",
            "snr_db": 5.0, "cpp": "1/48", "seed": seed, "delivered": 1, "psnr": psnr, "vsi": vsi,
            "samples_budget": 1000, "samples_used": used}


def test_pairs_intervals_json_and_figure(tmp_path):
    rows = []
    for index, image in enumerate(("a", "b", "c", "d")):
        rows.append(_row(image, "semantic", 20.0 + index, 0.9, 900))
        rows.append(_row(image, "semantic~ack", 21.0 + index + 0.01 * index, 0.9, 800))   # +1 dB, tight
    rows.append(_row("e", "semantic~ack", 30.0, 0.9, 800))                                # no open partner
    (tmp_path / RESULTS_NAME).write_text(header_line() + "".join(encode_row(r) for r in rows))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--json", str(tmp_path / "out.json"),
                           "--figure", str(tmp_path / "fig.png")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = next(text for text in proc.stdout.splitlines() if text.startswith("| semantic | ack"))
    assert "| 4 |" in line and "**+1.02 ± " in line and "0.90 / 0.80" in line      # a win: bold
    assert "+0.0000 ± 0.0000" in line and "**+0.0000" not in line                    # a tie is not bold
    report = json.loads((tmp_path / "out.json").read_text())
    assert len(report) == 1 and report[0]["images"] == 4
    assert abs(report[0]["psnr"][0] - 1.015) < 1e-9 and report[0]["psnr"][2] == 4
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_folder_without_closed_runs_is_a_one_line_error(tmp_path):
    (tmp_path / RESULTS_NAME).write_text(header_line() + encode_row(_row("a", "semantic", 20.0, 0.9, 900)))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "SCHEME~MODE" in proc.stderr
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "missing")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "no results.csv" in proc.stderr
