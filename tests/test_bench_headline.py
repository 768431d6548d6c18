"""Headline checks of a sweep, on synthetic rows whose answers are known."""
from gnuradio.gensemcom.bench.headline import headline, markdown, mean_table


def row(scheme, snr, image, vsi, key_psnr, psnr, key_fraction=None, prompt_bytes=None, channel="awgn"):
    return {"scheme": scheme, "channel": channel, "cpp": "1/48", "snr_db": snr, "image": image, "vsi": vsi,
            "key_psnr": key_psnr, "psnr": psnr, "ssim": 0.5, "delivered": 1, "key_fraction": key_fraction,
            "prompt_bytes": prompt_bytes}


def sweep(semantic_vsi_at_10=0.95, semantic_psnr=(20, 22, 24), key_fraction=0.1):
    rows = []
    for image in ("a.png", "b.png"):
        for snr, psnr in zip((0, 5, 10), semantic_psnr):
            vsi = semantic_vsi_at_10 if snr == 10 else 0.9
            rows.append(row("semantic", snr, image, vsi, 25, psnr, key_fraction, 40))
            rows.append(row("jpeg", snr, image, 0.8 if snr < 10 else 0.97, 20, 18))
            rows.append(row("avif", snr, image, 0.85 if snr < 10 else 0.98, 21, 19))
            rows.append(row("jpeg@qpsk-1/2", snr, image, 0.7, 15, 14))
    return rows


def test_a_scheme_that_wins_at_low_snr_passes_and_the_means_are_over_images():
    rows = sweep()
    result = headline(rows)["awgn"]
    assert result["low_snr"] is True and result["fixed_mcs"] is True
    assert result["no_cliff"] is True and result["largest_psnr_drop_db"] == 2
    assert result["split_kept"] is True
    assert mean_table(rows)[("semantic", "awgn", 10.0)]["vsi"] == 0.95


def test_losing_to_a_baseline_a_cliff_and_a_lost_split_are_reported():
    rows = sweep(semantic_vsi_at_10=0.6, semantic_psnr=(20, 28, 24), key_fraction=0.0)
    # 10 dB is above the low-SNR range: low_snr still holds, the fixed-MCS check does not
    result = headline(rows)["awgn"]
    assert result["low_snr"] is True and result["fixed_mcs"] is False
    assert result["no_cliff"] is False and result["largest_psnr_drop_db"] == 8
    assert result["split_kept"] is False and len(result["rows_without_split"]) == 6


def test_a_missing_metric_is_not_computable_rather_than_a_win():
    rows = [r if r["scheme"] != "avif" else dict(r, key_psnr=None) for r in sweep()]
    result = headline(rows)["awgn"]
    assert result["low_snr"] is None
    assert result["low_snr_detail"]["0 dB vs avif, key_psnr"] is None
    text = markdown(rows, ["semantic", "avif"])
    assert "| 0 | 0.900 / 25.00" in text and "–" in text
