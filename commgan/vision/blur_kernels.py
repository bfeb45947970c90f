"""Blur kernels and their filtering: the kernel families of Real-ESRGAN's degradations (Wang et
al. 2021; BasicSR's ``random_mixed_kernels`` and ``circular_lowpass_kernel``) and two families
it never draws (a disk and a straight motion streak), for degradations unseen in training.

- `anisotropic_kernel`: the bivariate Gaussian of covariance R diag(sx², sy²) Rᵀ, and its
  generalised (``exp(-Q^beta / 2)``) and plateau (``1 / (Q^beta + 1)``) shapes, Q the squared
  Mahalanobis distance;
- `sinc_kernel`: the circular low-pass (2-D sinc) filter, ``wc J1(wc r) / (2 pi r)``, whose
  ringing and overshoot mimic over-sharpened and compressed images;
- `random_mixed_kernel`: one kernel drawn as Real-ESRGAN draws it (`KernelRanges`);
- `disk_kernel`, `motion_kernel`: defocus and linear motion blur;
- `filter2d`: an image [B, C, H, W] convolved with one kernel [k, k], reflection-padded.

Kernels are float32 tensors [k, k] (k odd) summing to 1. Random draws take a
``torch.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["KERNEL_SHAPES", "KernelRanges", "anisotropic_kernel", "disk_kernel", "filter2d",
           "motion_kernel", "random_mixed_kernel", "sinc_kernel"]

KERNEL_SHAPES = ("gaussian", "generalized", "plateau")
"""The profiles of `anisotropic_kernel`."""


def _grid(size: int) -> tuple[Tensor, Tensor]:
    """(x, y) offsets from the centre of a size x size grid, float64 [size, size] each."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"a kernel size must be odd and positive, got {size}")
    axis = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return x, y


def _normalised(kernel: Tensor) -> Tensor:
    return (kernel / kernel.sum()).float()


def anisotropic_kernel(size: int, sigma_x: float, sigma_y: float, theta: float = 0.0,
                       shape: str = "gaussian", beta: float = 1.0) -> Tensor:
    """A rotated bivariate kernel [size, size] summing to 1.

    sigma_x, sigma_y: standard deviations (pixels) along the axes before the rotation by
    ``theta`` (radians). shape: "gaussian" exp(-Q/2), "generalized" exp(-Q^beta/2) (beta < 1:
    heavier tails, > 1: flatter top) or "plateau" 1/(Q^beta + 1), with Q = [x y] S^-1 [x y]ᵀ
    and S = R diag(sigma_x², sigma_y²) Rᵀ.
    """
    if shape not in KERNEL_SHAPES:
        raise ValueError(f"unknown kernel shape {shape!r}; valid: {', '.join(KERNEL_SHAPES)}")
    if sigma_x <= 0 or sigma_y <= 0 or beta <= 0:
        raise ValueError("sigma_x, sigma_y and beta must be positive")
    x, y = _grid(size)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * x + s * y, -s * x + c * y  # coordinates along the rotated axes
    q = (u / sigma_x) ** 2 + (v / sigma_y) ** 2
    if shape == "gaussian":
        kernel = torch.exp(-0.5 * q)
    elif shape == "generalized":
        kernel = torch.exp(-0.5 * q**beta)
    else:
        kernel = 1.0 / (q**beta + 1.0)
    return _normalised(kernel)


def sinc_kernel(size: int, cutoff: float) -> Tensor:
    """The circular low-pass filter [size, size] of cut-off ``cutoff`` (radians per pixel, at
    most pi): ``cutoff J1(cutoff r) / (2 pi r)``, its limit cutoff² / (4 pi) at r = 0,
    normalised to sum 1."""
    if not 0 < cutoff <= math.pi + 1e-9:
        raise ValueError(f"cutoff must be in (0, pi], got {cutoff}")
    x, y = _grid(size)
    r = torch.sqrt(x**2 + y**2)
    safe = torch.where(r > 0, r, torch.ones_like(r))
    kernel = cutoff * torch.special.bessel_j1(cutoff * safe) / (2 * math.pi * safe)
    kernel = torch.where(r > 0, kernel, torch.full_like(r, cutoff**2 / (4 * math.pi)))
    return _normalised(kernel)


def disk_kernel(radius: float) -> Tensor:
    """Defocus: a uniform disk of ``radius`` pixels (edge pixels weighted by their covered
    area, estimated on a 9x9 sub-pixel grid); size 2 ceil(radius) + 1."""
    if radius <= 0:
        raise ValueError(f"radius must be positive, got {radius}")
    size = 2 * math.ceil(radius) + 1
    sub = (torch.arange(9, dtype=torch.float64) + 0.5) / 9 - 0.5
    x, y = _grid(size)
    xs = x[..., None, None] + sub[None, None, :, None]
    ys = y[..., None, None] + sub[None, None, None, :]
    return _normalised(((xs**2 + ys**2) <= radius**2).double().mean(dim=(-1, -2)))


def motion_kernel(length: float, angle: float) -> Tensor:
    """Linear motion blur: a streak of ``length`` pixels at ``angle`` degrees (counter-clockwise
    from the x axis), drawn as 64 points per pixel of length, bilinearly splatted."""
    if length < 1:
        raise ValueError(f"length must be at least 1 pixel, got {length}")
    size = 2 * math.ceil(length / 2) + 1
    kernel = torch.zeros(size, size, dtype=torch.float64)
    t = torch.linspace(-length / 2, length / 2, max(int(64 * length), 2), dtype=torch.float64)
    x = t * math.cos(math.radians(angle)) + size // 2
    y = -t * math.sin(math.radians(angle)) + size // 2
    x0, y0 = x.floor(), y.floor()
    for dx in (0, 1):
        for dy in (0, 1):
            w = (1 - (x - x0 - dx).abs()) * (1 - (y - y0 - dy).abs())
            xi, yi = (x0 + dx).long(), (y0 + dy).long()
            inside = (xi >= 0) & (xi < size) & (yi >= 0) & (yi < size)
            kernel.index_put_((yi[inside], xi[inside]), w[inside], accumulate=True)
    return _normalised(kernel)


def filter2d(image: Tensor, kernel: Tensor) -> Tensor:
    """``image`` [B, C, H, W] (or [C, H, W]) convolved with ``kernel`` [k, k] (k odd), every
    channel alike; the borders reflected (replicated where the image is smaller than half the
    kernel). Same shape as ``image``. Kernels of 9 or more taps are applied through the FFT of
    the padded image (the same linear convolution, float rounding aside)."""
    single = image.dim() == 3
    x = image.unsqueeze(0) if single else image
    k = kernel.shape[-1]
    if kernel.shape != (k, k) or k % 2 == 0:
        raise ValueError(f"kernel must be [k, k] with k odd, got {tuple(kernel.shape)}")
    b, c, h, w = x.shape
    pad = k // 2
    mode = "reflect" if pad < min(h, w) else "replicate"
    padded = F.pad(x, (pad, pad, pad, pad), mode=mode)
    weights = kernel.to(x)
    if k < 9:
        out = F.conv2d(padded.reshape(b * c, 1, h + 2 * pad, w + 2 * pad), weights[None, None])
        out = out.reshape(b, c, h, w)
    else:
        size = padded.shape[-2:]
        spectrum = torch.fft.rfft2(padded, s=size) * torch.fft.rfft2(weights.flip(0, 1), s=size)
        out = torch.fft.irfft2(spectrum, s=size)[..., k - 1:, k - 1:]
    return out[0] if single else out


@dataclass(frozen=True)
class KernelRanges:
    """How `random_mixed_kernel` draws a kernel (one stage of Real-ESRGAN's degradations)."""

    sizes: tuple[int, ...] = (7, 9, 11, 13, 15, 17, 19, 21)
    """Kernel sizes, drawn uniformly."""
    sinc_prob: float = 0.1
    """Probability of a sinc kernel instead of a Gaussian-family one."""
    families: tuple[str, ...] = ("iso", "aniso", "generalized_iso", "generalized_aniso",
                                 "plateau_iso", "plateau_aniso")
    """Gaussian-family kernels: isotropic (sigma_x = sigma_y, no rotation) or anisotropic."""
    family_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    """Probability of each family."""
    sigma: tuple[float, float] = (0.2, 3.0)
    """Range of sigma_x and sigma_y in pixels."""
    beta_generalized: tuple[float, float] = (0.5, 4.0)
    """Range of beta of the generalised kernels (half of the draws below 1, half above)."""
    beta_plateau: tuple[float, float] = (1.0, 2.0)
    """Range of beta of the plateau kernels (half of the draws below 1, half above)."""

    def __post_init__(self) -> None:
        if len(self.families) != len(self.family_probs):
            raise ValueError("families and family_probs differ in length")
        if any(size % 2 == 0 or size < 1 for size in self.sizes):
            raise ValueError(f"kernel sizes must be odd and positive, got {self.sizes}")

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def _beta(generator: torch.Generator, low: float, high: float) -> float:
    """BasicSR's beta draw: uniform below 1 or above 1, each half of the time."""
    if _uniform(generator, 0, 1) < 0.5:
        return _uniform(generator, low, 1.0) if low < 1.0 else 1.0
    return _uniform(generator, 1.0, high)


def random_mixed_kernel(generator: torch.Generator, ranges: KernelRanges,
                        pad_to: int = 21) -> Tensor:
    """One blur kernel drawn as Real-ESRGAN draws it, zero-padded to [pad_to, pad_to].

    With probability ``ranges.sinc_prob`` a sinc kernel (cut-off uniform in [pi/3, pi] for
    sizes below 13, [pi/5, pi] otherwise); else a Gaussian-family kernel of a family drawn
    with ``family_probs``, sigmas uniform in ``ranges.sigma``, rotation uniform in [-pi, pi]
    (anisotropic families)."""
    size = ranges.sizes[int(torch.randint(len(ranges.sizes), (), generator=generator))]
    if _uniform(generator, 0, 1) < ranges.sinc_prob:
        low = math.pi / 3 if size < 13 else math.pi / 5
        kernel = sinc_kernel(size, _uniform(generator, low, math.pi))
    else:
        probs = torch.tensor(ranges.family_probs, dtype=torch.float64)
        family = ranges.families[int(torch.multinomial(probs, 1, generator=generator))]
        sigma_x = _uniform(generator, *ranges.sigma)
        if family.endswith("_iso") or family == "iso":
            sigma_y, theta = sigma_x, 0.0
        else:
            sigma_y = _uniform(generator, *ranges.sigma)
            theta = _uniform(generator, -math.pi, math.pi)
        if family.startswith("generalized"):
            shape, beta = "generalized", _beta(generator, *ranges.beta_generalized)
        elif family.startswith("plateau"):
            shape, beta = "plateau", _beta(generator, *ranges.beta_plateau)
        else:
            shape, beta = "gaussian", 1.0
        kernel = anisotropic_kernel(size, sigma_x, sigma_y, theta, shape, beta)
    pad = (pad_to - size) // 2
    return F.pad(kernel, (pad, pad, pad, pad)) if pad > 0 else kernel
