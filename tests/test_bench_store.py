# SPDX-License-Identifier: GPL-3.0-or-later
"""results.csv: exact round trip, torn last lines cut off, damage refused; summary CI math."""
import math

import pytest

from gnuradio.gensemcom.bench import store, summary
from gnuradio.gensemcom.errors import CorruptDataError


def make_row(i, **fields):
    row = {"task_id": f"{i:016x}", "image": f"img{i % 3}.png", "scheme": "jpeg+capacity",
           "channel": "awgn", "snr_db": -5.0 + i, "cpp": "1/48", "seed": i % 2, "delivered": True,
           "height": 64, "width": 96, "symbols": 384, "psnr": 0.1 + 1 / 3 + i, "ssim": None,
           "bytes": 1000 + i, "codec": "jpeg, \"quoted\"\nline", "wall_s": 0.5,
           "extra": {"capacity_bits_per_use": 1 / 7}}
    row.update(fields)
    return row


def test_rows_round_trip_exactly(tmp_path):
    results = store.ResultsStore(tmp_path)
    for i in range(3):
        results.append(make_row(i))
    rows = store.read_results(tmp_path)
    assert [r["task_id"] for r in rows] == [f"{i:016x}" for i in range(3)]
    assert rows[1]["psnr"] == 0.1 + 1 / 3 + 1  # repr of floats: bit-exact
    assert rows[1]["ssim"] is None and rows[1]["delivered"] == 1 and rows[1]["bytes"] == 1001
    assert rows[0]["codec"] == 'jpeg, "quoted" line'  # one record = one physical line
    assert rows[0]["extra"] == {"capacity_bits_per_use": 1 / 7}
    assert rows == results.rows
    assert results.done_ids == {f"{i:016x}" for i in range(3)}


def test_types_are_checked_before_writing(tmp_path):
    results = store.ResultsStore(tmp_path)
    with pytest.raises(ValueError, match="whole numbers"):
        results.append(make_row(0, bytes=12.5))
    with pytest.raises(ValueError, match="not results.csv columns"):
        results.append(make_row(0, colour="red"))
    assert store.read_results(tmp_path) == []


@pytest.mark.parametrize("torn", ["5c0ffee,img0.png,jpeg+cap", "x,y\n"])
def test_torn_last_line_is_dropped_on_open(tmp_path, torn):
    results = store.ResultsStore(tmp_path)
    results.append(make_row(0))
    results.append(make_row(1))
    intact = results.path.read_bytes()
    with open(results.path, "a") as handle:
        handle.write(torn)  # what a kill -9 in the middle of a write leaves
    reopened = store.ResultsStore(tmp_path)
    assert reopened.dropped_torn_line is not None
    assert results.path.read_bytes() == intact
    assert [r["task_id"] for r in reopened.rows] == [f"{i:016x}" for i in range(2)]
    reopened.append(make_row(2))
    assert len(store.read_results(tmp_path)) == 3


def test_torn_header_is_rewritten(tmp_path):
    (tmp_path / store.RESULTS_NAME).write_text("task_id,image,sch")
    assert store.ResultsStore(tmp_path).rows == []
    assert (tmp_path / store.RESULTS_NAME).read_text() == store.header_line()


def test_damage_before_the_last_line_is_an_error(tmp_path):
    results = store.ResultsStore(tmp_path)
    for i in range(3):
        results.append(make_row(i))
    lines = results.path.read_text().splitlines(keepends=True)
    lines[2] = "garbage,line\n"
    results.path.write_text("".join(lines))
    with pytest.raises(CorruptDataError, match="line 3 is damaged"):
        store.ResultsStore(tmp_path)


def test_other_header_is_refused(tmp_path):
    (tmp_path / store.RESULTS_NAME).write_text("a,b,c\n1,2,3\n")
    with pytest.raises(CorruptDataError, match="new --out folder"):
        store.ResultsStore(tmp_path)


def test_t_interval_on_known_numbers():
    mean, half, n = summary.t_interval([1, 2, 3, 4, 5])
    # s = sqrt(2.5), t(0.975, 4) = 2.7764451051977987
    assert (mean, n) == (3.0, 5)
    assert half == pytest.approx(2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5), rel=1e-12)
    mean, half, n = summary.t_interval([2.0, None, float("nan")])
    assert mean == 2.0 and n == 1 and math.isnan(half)
    assert summary.t_interval([])[2] == 0


def test_summary_averages_seeds_per_image_first():
    rows = []
    # image a: seeds give 10 and 20 -> 15; image b: one seed, 30; image c: 35 and no psnr once
    for image, seed, psnr in [("a", 0, 10.0), ("a", 1, 20.0), ("b", 0, 30.0), ("c", 0, 35.0),
                              ("c", 1, None)]:
        rows.append({"scheme": "s", "channel": "awgn", "cpp": "1/48", "snr_db": 0.0, "image": image,
                     "seed": seed, "psnr": psnr, "delivered": psnr is not None})
    rows.append({"scheme": "s", "channel": "awgn", "cpp": "1/48", "snr_db": 5.0, "image": "a",
                 "seed": 0, "psnr": 40.0, "delivered": 1})
    table = summary.summarize(rows)
    assert [(e["snr_db"], e["images"], e["tasks"]) for e in table] == [(0.0, 3, 5), (5.0, 1, 1)]
    first = table[0]
    mean, half, _ = summary.t_interval([15.0, 30.0, 35.0])
    assert first["psnr"] == pytest.approx(mean) and first["psnr_ci95"] == pytest.approx(half)
    assert first["psnr_n"] == 3
    assert first["delivered"] == pytest.approx((1.0 + 1.0 + 0.5) / 3)
    assert math.isnan(table[1]["psnr_ci95"])
    assert first["vsi_n"] == 0
    text = summary.to_markdown(table)
    assert "| s | awgn | 1/48 | 0 | 3 |" in text and "vsi" not in text.lower()
    csv_text = summary.to_csv(table)
    assert csv_text.splitlines()[0].startswith("scheme,channel,cpp,snr_db,images,tasks,delivered,")
