"""PSNR and SSIM in RGB and on the Y channel (ITU-R BT.601), and LPIPS when weights are given.

PSNR comes from torchmetrics, SSIM from pytorch-msssim (Gaussian window 11, sigma 1.5,
K = (0.01, 0.03), the definition of Wang et al. and of scikit-image's ``structural_similarity``
with ``gaussian_weights=True, use_sample_covariance=False``); tests hold both to scikit-image.
Images are float tensors [3, H, W] or [B, 3, H, W] in [0, 1]; data range 1. The Y channel is
``(16 + 65.481 R + 128.553 G + 24.966 B) / 255`` (the MATLAB ``rgb2ycbcr`` convention used by
SR papers). ``crop`` removes that many border pixels before measuring (the scale, for SR).
"""

from __future__ import annotations

import torch
from pytorch_msssim import ssim as _ssim
from torch import Tensor
from torchmetrics.functional.image import peak_signal_noise_ratio

__all__ = ["image_metrics", "psnr", "rgb_to_y", "ssim"]

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(image: Tensor) -> Tensor:
    """BT.601 luma of RGB in [0, 1]: [..., 3, H, W] -> [..., 1, H, W], values in [16, 235]/255."""
    r, g, b = image.unbind(-3)
    y = (16.0 + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b) / 255.0
    return y.unsqueeze(-3)


def _prepare(x: Tensor, ref: Tensor, crop: int, y_channel: bool) -> tuple[Tensor, Tensor]:
    if x.shape != ref.shape:
        raise ValueError(f"images differ in shape: {tuple(x.shape)} vs {tuple(ref.shape)}")
    if x.dim() == 3:
        x, ref = x.unsqueeze(0), ref.unsqueeze(0)
    x, ref = x.double(), ref.double()
    if y_channel:
        x, ref = rgb_to_y(x), rgb_to_y(ref)
    if crop:
        x, ref = x[..., crop:-crop, crop:-crop], ref[..., crop:-crop, crop:-crop]
    return x, ref


def psnr(x: Tensor, ref: Tensor, crop: int = 0, y_channel: bool = False) -> Tensor:
    """PSNR in dB per image: [B] (or a scalar for [3, H, W] inputs); data range 1."""
    single = x.dim() == 3
    a, b = _prepare(x, ref, crop, y_channel)
    value = peak_signal_noise_ratio(a, b, data_range=1.0, reduction="none", dim=(1, 2, 3))
    return value[0] if single else value


def ssim(x: Tensor, ref: Tensor, crop: int = 0, y_channel: bool = False) -> Tensor:
    """SSIM per image (mean over channels): [B] (or a scalar for [3, H, W]); data range 1."""
    single = x.dim() == 3
    a, b = _prepare(x, ref, crop, y_channel)
    value = _ssim(a, b, data_range=1.0, size_average=False, win_size=11, win_sigma=1.5)
    return value[0] if single else value


def image_metrics(x: Tensor, ref: Tensor, crop: int = 0, lpips=None) -> dict[str, float]:
    """psnr, ssim (RGB), psnr_y, ssim_y and lpips of one image [3, H, W] against ``ref``.

    lpips: an `commgan.vision.perceptual.LPIPS` or None; without it the value is NaN
    ("unavailable": LPIPS is never computed with an untrained backbone).
    """
    out = {
        "psnr": float(psnr(x, ref, crop)),
        "ssim": float(ssim(x, ref, crop)),
        "psnr_y": float(psnr(x, ref, crop, y_channel=True)),
        "ssim_y": float(ssim(x, ref, crop, y_channel=True)),
        "lpips": float("nan"),
    }
    if lpips is not None:
        with torch.no_grad():
            out["lpips"] = float(lpips(x.unsqueeze(0).float(), ref.unsqueeze(0).float()))
    return out
