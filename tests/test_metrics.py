# SPDX-License-Identifier: GPL-3.0-or-later
"""Metric conventions: bounds, identities, masks, and honest LPIPS availability."""
import numpy as np
import pytest

from gnuradio.gensemcom import metrics


def test_identical_images_score_perfect(astronaut):
    result = metrics.image_metrics(astronaut, astronaut)
    assert result["psnr"] == metrics.PSNR_CAP_DB
    assert result["ssim"] == pytest.approx(1.0, abs=1e-4)
    assert result["vsi"] == pytest.approx(1.0, abs=1e-4)


def test_psnr_matches_definition(astronaut, rng):
    noisy = np.clip(astronaut.astype(int) + rng.integers(-10, 11, astronaut.shape), 0, 255).astype(np.uint8)
    err = ((astronaut.astype(float) - noisy) ** 2).mean()
    assert metrics.psnr(astronaut, noisy) == pytest.approx(10 * np.log10(255 ** 2 / err), rel=1e-9)


def test_masked_psnr_sees_only_the_mask(astronaut):
    damaged = astronaut.copy()
    damaged[:100] = 0
    mask = np.zeros(astronaut.shape[:2], bool)
    mask[200:] = True
    assert metrics.psnr(astronaut, damaged, mask) == metrics.PSNR_CAP_DB
    assert metrics.psnr(astronaut, damaged) < 20
    assert metrics.masked_ssim(astronaut, damaged, mask) == pytest.approx(1.0, abs=1e-6)


def test_ssim_and_vsi_fall_with_noise(astronaut, rng):
    light = np.clip(astronaut + rng.normal(0, 5, astronaut.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(astronaut + rng.normal(0, 40, astronaut.shape), 0, 255).astype(np.uint8)
    assert metrics.ssim(astronaut, heavy) < metrics.ssim(astronaut, light) < 1.0
    assert metrics.vsi(astronaut, heavy) < metrics.vsi(astronaut, light) <= 1.0


def test_shape_mismatch_is_rejected(astronaut):
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.psnr(astronaut, astronaut[:10])


def test_lpips_is_reported_unavailable_not_invented(astronaut, monkeypatch, tmp_path):
    monkeypatch.setattr(metrics, "alexnet_weights_path", lambda: tmp_path / "missing.pth")
    available, reason = metrics.lpips_status()
    assert not available and "not found" in reason
    assert metrics.lpips_distance(astronaut, astronaut) is None
