# SPDX-License-Identifier: GPL-3.0-or-later
"""Headline verdicts of a sweep, on synthetic rows whose answers are known."""
from gnuradio.gensemcom.bench.headline import ablations, headline, markdown, mean_table, verdict_markdown


def row(scheme, snr, image, vsi, key_psnr, psnr, seed=0, channel="awgn"):
    return {"scheme": scheme, "channel": channel, "cpp": "1/48", "snr_db": snr, "image": image, "seed": seed,
            "vsi": vsi, "key_psnr": key_psnr, "psnr": psnr, "ssim": 0.5, "delivered": 1, "lpips": None,
            "ms_ssim": None}


def sweep():
    """semantic beats av1 clearly on key PSNR, ties on VSI (noisy ±), loses on PSNR; 4 images."""
    rows = []
    for i, image in enumerate(("a", "b", "c", "d")):
        wobble = (-1) ** i * 0.01
        for snr in (0, 10):
            rows.append(row("semantic", snr, image, 0.90 + wobble, 25 + i * 0.1, 20 + i))
            rows.append(row("av1", snr, image, 0.90 - wobble, 21 + i * 0.1, 22 + i))
            rows.append(row("semantic-no-key", snr, image, 0.89, 18, 20 + i))
    return rows


def test_verdicts_come_from_paired_intervals_not_raw_means():
    result = headline(sweep(), baselines=("av1", "jpeg"))
    assert set(result) == {"av1"}                          # a baseline without rows is left out
    by = {(e["metric"], e["snr_db"]): e for e in result["av1"]["entries"]}
    assert by[("key_psnr", 0.0)]["verdict"] == "win" and by[("key_psnr", 0.0)]["mean_diff"] == 4.0
    assert by[("psnr", 10.0)]["verdict"] == "loss"
    assert by[("vsi", 0.0)]["verdict"] == "tie"             # equal means, wobbling per image
    assert result["av1"]["tally"] == {"win": 2, "loss": 2, "tie": 4}     # key PSNR; PSNR; SSIM and VSI
    text = verdict_markdown(result)
    assert "**win**" in text and "loss" in text and "tie" in text


def test_ablation_wins_are_what_the_part_adds():
    result = ablations(sweep())
    assert set(result) == {"semantic-no-key"}
    by = {(e["metric"], e["snr_db"]): e for e in result["semantic-no-key"]["entries"]}
    assert by[("key_psnr", 0.0)]["verdict"] == "win"


def test_means_for_reading():
    rows = sweep()
    assert mean_table(rows)[("av1", "awgn", 10.0)]["psnr"] == 23.5
    text = markdown(rows, ["semantic", "av1"])
    assert "| 0 |" in text and "0.900" in text
