# SPDX-License-Identifier: GPL-3.0-or-later
"""Image quality metrics, with the conventions stated once.

Conventions (all functions):
  * Inputs are (H, W, 3) uint8 RGB arrays of the same shape; data range 255.
  * PSNR = 10·log10(255² / MSE), MSE over all pixels and the three channels; identical
    images give ``PSNR_CAP_DB`` (100 dB) instead of infinity, so means stay finite.
  * SSIM: Wang et al. 2004, 11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03,
    population covariance, computed per RGB channel and averaged, no downsampling
    (piq / scikit-image agree to 1e-4 on this definition). Border pixels that the window
    does not cover are excluded.
  * MS-SSIM: piq, 5 scales, standard weights; images need min(H, W) >= 161.
  * VSI: Zhang, Shen & Li (IEEE TIP 2014), piq's implementation on RGB.
  * HaarPSI: Reisenhofer et al. (2018), piq's implementation on RGB (``haarpsi``; benchmarks).
  * Key-region PSNR/SSIM: the same definitions restricted to the sender's key mask (SSIM:
    the mean of the SSIM map over masked pixels).
  * LPIPS: AlexNet variant (``lpips`` package, inputs scaled to [−1, 1]); computed only when
    the AlexNet backbone weights are on this machine, otherwise reported as unavailable
    with the reason (``lpips_status``). Never estimated.
Scores are per image; sweeps average per image, then across images.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

PSNR_CAP_DB = 100.0
ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"


def _check_pair(reference, test):
    reference = np.asarray(reference)
    test = np.asarray(test)
    if reference.shape != test.shape:
        raise ValueError(f"image shapes differ: {reference.shape} vs {test.shape}")
    if reference.ndim != 3 or reference.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB images, got shape {reference.shape}")
    return reference, test


def _check_mask(mask, shape):
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image {shape[:2]}")
    return mask


def mse(reference, test, mask=None) -> float:
    """Mean squared error over all channels, optionally only where ``mask`` is True."""
    reference, test = _check_pair(reference, test)
    diff = (reference.astype(np.float64) - test.astype(np.float64)) ** 2
    if mask is not None:
        mask = _check_mask(mask, reference.shape)
        if not mask.any():
            return float("nan")
        diff = diff[mask]
    return float(diff.mean())


def psnr(reference, test, mask=None) -> float:
    """PSNR in dB (capped at ``PSNR_CAP_DB``); with ``mask``, over the masked pixels only."""
    err = mse(reference, test, mask)
    if err != err:
        return float("nan")
    if err <= 255.0 ** 2 / 10 ** (PSNR_CAP_DB / 10):
        return PSNR_CAP_DB
    return float(10.0 * np.log10(255.0 ** 2 / err))


def _to_tensor(image):
    import torch
    return torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)[None]


def ssim(reference, test) -> float:
    """Whole-image SSIM (see module conventions)."""
    import piq
    import torch
    reference, test = _check_pair(reference, test)
    with torch.no_grad():
        return float(piq.ssim(_to_tensor(reference), _to_tensor(test), data_range=255.0,
                              kernel_size=11, kernel_sigma=1.5, downsample=False))


def ssim_map(reference, test) -> np.ndarray:
    """(H, W) SSIM map averaged over channels; NaN on the border the window does not cover."""
    from skimage.metrics import structural_similarity
    reference, test = _check_pair(reference, test)
    _, full = structural_similarity(reference, test, channel_axis=2, gaussian_weights=True,
                                    sigma=1.5, use_sample_covariance=False, data_range=255,
                                    full=True)
    smap = full.mean(axis=2)
    pad = 5
    smap[:pad, :] = np.nan
    smap[-pad:, :] = np.nan
    smap[:, :pad] = np.nan
    smap[:, -pad:] = np.nan
    return smap


def masked_ssim(reference, test, mask) -> float:
    """Mean SSIM over the pixels where ``mask`` is True (key-region SSIM)."""
    reference, test = _check_pair(reference, test)
    mask = _check_mask(mask, reference.shape)
    values = ssim_map(reference, test)[mask]
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def ms_ssim(reference, test) -> float:
    """MS-SSIM (piq, 5 scales); NaN when the image is smaller than 161 px on a side."""
    import piq
    import torch
    reference, test = _check_pair(reference, test)
    if min(reference.shape[:2]) < 161:
        return float("nan")
    with torch.no_grad():
        return float(piq.multi_scale_ssim(_to_tensor(reference), _to_tensor(test), data_range=255.0))


def vsi(reference, test) -> float:
    """Visual saliency-induced index (piq), in [0, 1], higher is better."""
    import piq
    import torch
    reference, test = _check_pair(reference, test)
    with torch.no_grad():
        return float(piq.vsi(_to_tensor(reference), _to_tensor(test), data_range=255.0))


def haarpsi(reference, test) -> float:
    """HaarPSI (Reisenhofer et al. 2018, piq), in [0, 1], higher is better."""
    import piq
    import torch
    reference, test = _check_pair(reference, test)
    with torch.no_grad():
        return float(piq.haarpsi(_to_tensor(reference), _to_tensor(test), data_range=255.0))


def alexnet_weights_path() -> Path:
    """Where torchvision (and so ``lpips``) looks for the AlexNet backbone weights."""
    import torch
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_WEIGHTS


def lpips_status():
    """(available, reason): whether LPIPS can be computed here, and why not if not."""
    try:
        import lpips  # noqa: F401
    except ImportError as exc:
        return False, f"the lpips package is not installed ({exc})"
    path = alexnet_weights_path()
    if not path.is_file():
        return False, (f"AlexNet weights not found at {path} (no model hub here); copy "
                       f"{ALEXNET_WEIGHTS} there to enable LPIPS")
    return True, "ok"


@functools.lru_cache(maxsize=1)
def _lpips_model():
    import lpips
    import torch
    os.environ.setdefault("TORCH_HOME", str(Path(torch.hub.get_dir()).parent))
    model = lpips.LPIPS(net="alex", verbose=False)
    model.eval()
    return model


def lpips_distance(reference, test):
    """LPIPS (AlexNet) distance, lower is better; ``None`` when unavailable (see ``lpips_status``)."""
    available, _ = lpips_status()
    if not available:
        return None
    import torch
    reference, test = _check_pair(reference, test)
    with torch.no_grad():
        a = _to_tensor(reference) / 127.5 - 1.0
        b = _to_tensor(test) / 127.5 - 1.0
        return float(_lpips_model()(a, b).item())


def image_metrics(reference, test, key_mask=None) -> dict:
    """All full-reference metrics of one image as a dict.

    Keys: psnr, ssim, ms_ssim, vsi, lpips (None if unavailable), lpips_status, and with a
    key mask key_psnr, key_ssim, key_fraction.
    """
    reference, test = _check_pair(reference, test)
    result = {
        "psnr": psnr(reference, test),
        "ssim": ssim(reference, test),
        "ms_ssim": ms_ssim(reference, test),
        "vsi": vsi(reference, test),
    }
    available, reason = lpips_status()
    result["lpips"] = lpips_distance(reference, test) if available else None
    result["lpips_status"] = reason
    if key_mask is not None:
        key_mask = _check_mask(key_mask, reference.shape)
        result["key_psnr"] = psnr(reference, test, key_mask)
        result["key_ssim"] = masked_ssim(reference, test, key_mask)
        result["key_fraction"] = float(key_mask.mean())
    return result
