"""Real-world degradations for super-resolution: Real-ESRGAN's second-order pipeline for
training (`second_order`) and fixed degradations for testing (`FixedDegradation`,
`UNSEEN_DEGRADATIONS`).

Real-ESRGAN (Wang et al. 2021) synthesises a low-resolution training input from a clean photo
by running one degradation stage twice, with its own ranges each time:
blur (`commgan.vision.blur_kernels.random_mixed_kernel`, sinc kernels included) -> random
resize (up, down or kept, area/bilinear/bicubic) -> Gaussian or Poisson noise (colour or grey)
-> JPEG. The second stage resizes to the target's size / scale, and ends with the final sinc
filter and JPEG in a random order; the result is rounded to 8 bits. Every parameter is drawn
per image from a ``torch.Generator``; JPEG is Pillow's encoder.

Images are float tensors [3, H, W] in [0, 1].
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from commgan.vision.blur_kernels import (
    KernelRanges,
    anisotropic_kernel,
    disk_kernel,
    filter2d,
    motion_kernel,
    random_mixed_kernel,
    sinc_kernel,
)
from commgan.vision.data import from_numpy, quantize, to_uint8
from commgan.vision.degradations import pil_resize

__all__ = ["RESIZE_MODES", "UNSEEN_DEGRADATIONS", "DegradationStage", "FixedDegradation",
           "SecondOrder", "add_gaussian_noise", "add_poisson_noise", "jpeg", "resize",
           "second_order"]

RESIZE_MODES = ("area", "bilinear", "bicubic")
"""torch interpolation modes a resize is drawn from."""


def resize(image: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """``image`` [3, H, W] resized to ``size`` = (height, width) by ``F.interpolate`` with one of
    `RESIZE_MODES` (no anti-aliasing but "area"'s; bicubic may overshoot [0, 1])."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r}; valid: {', '.join(RESIZE_MODES)}")
    size = (max(int(size[0]), 1), max(int(size[1]), 1))
    options = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(image.unsqueeze(0), size=size, mode=mode, **options)[0]


def add_gaussian_noise(image: Tensor, sigma: float, gray: bool,
                       generator: torch.Generator) -> Tensor:
    """``image`` + N(0, sigma²) noise, clipped to [0, 1]; sigma in [0, 1] units. gray: one
    noise field shared by the three channels."""
    shape = (1, *image.shape[1:]) if gray else image.shape
    noise = torch.randn(shape, generator=generator) * sigma
    return (image + noise).clamp(0, 1)


def add_poisson_noise(image: Tensor, scale: float, gray: bool,
                      generator: torch.Generator) -> Tensor:
    """Shot noise as BasicSR draws it: the image rounded to 8 bits is taken as photon counts
    over v = 2^ceil(log2(number of distinct levels)) levels, noise = (Poisson(v x) / v - x)
    times ``scale``, clipped to [0, 1]. gray: the noise of the BT.601 luma, added to every
    channel."""
    levels = image.clamp(0, 1).mul(255).round().div(255)
    if gray:
        levels = (0.299 * levels[0] + 0.587 * levels[1] + 0.114 * levels[2]).unsqueeze(0)
        levels = levels.mul(255).round().div(255)
    distinct = max(len(torch.unique(levels)), 2)
    v = 2.0 ** math.ceil(math.log2(distinct))
    noise = torch.poisson(levels * v, generator=generator) / v - levels
    return (image + scale * noise).clamp(0, 1)


def jpeg(image: Tensor, quality: int) -> Tensor:
    """``image`` [3, H, W] through Pillow's JPEG encoder at ``quality`` (1-95, 4:2:0 chroma)."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return from_numpy(np.asarray(decoded.convert("RGB")))


@dataclass(frozen=True)
class DegradationStage:
    """One stage of `second_order`: its blur kernels and the ranges of its random draws."""

    kernel: KernelRanges = field(default_factory=KernelRanges)
    """How the blur kernel is drawn."""
    blur_prob: float = 1.0
    """Probability that the stage blurs at all."""
    resize_probs: tuple[float, float, float] = (0.2, 0.7, 0.1)
    """Probabilities of up-sizing, down-sizing and keeping the size."""
    resize_range: tuple[float, float] = (0.15, 1.5)
    """Scale factor range: down in [low, 1], up in [1, high]."""
    gaussian_noise_prob: float = 0.5
    """Probability of Gaussian noise (else Poisson noise)."""
    noise_sigma: tuple[float, float] = (1.0, 30.0)
    """Gaussian noise sigma range in 8-bit levels."""
    poisson_scale: tuple[float, float] = (0.05, 3.0)
    """Poisson noise scale range."""
    gray_noise_prob: float = 0.4
    """Probability that the noise is grey (the same in every channel)."""
    jpeg_quality: tuple[float, float] = (30.0, 95.0)
    """JPEG quality range."""


def _second_stage() -> DegradationStage:
    return DegradationStage(kernel=KernelRanges(sigma=(0.2, 1.5)), blur_prob=0.8,
                            resize_probs=(0.3, 0.4, 0.3), resize_range=(0.3, 1.2),
                            noise_sigma=(1.0, 25.0), poisson_scale=(0.05, 2.5))


@dataclass(frozen=True)
class SecondOrder:
    """Real-ESRGAN's second-order degradation (its x4 training settings by default)."""

    first: DegradationStage = field(default_factory=DegradationStage)
    """The first stage."""
    second: DegradationStage = field(default_factory=_second_stage)
    """The second stage (its resize is relative to the target's size / scale)."""
    final_sinc_prob: float = 0.8
    """Probability of the final sinc filter (cut-off uniform in [pi/3, pi])."""
    final_sinc_sizes: tuple[int, ...] = (7, 9, 11, 13, 15, 17, 19, 21)
    """Sizes of the final sinc kernel."""

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def _choice(generator: torch.Generator, options: tuple, probs: tuple[float, ...] | None = None):
    if probs is None:
        return options[int(torch.randint(len(options), (), generator=generator))]
    weights = torch.tensor(probs, dtype=torch.float64)
    return options[int(torch.multinomial(weights, 1, generator=generator))]


def _noise(image: Tensor, stage: DegradationStage, generator: torch.Generator) -> Tensor:
    gaussian = _uniform(generator, 0, 1) < stage.gaussian_noise_prob
    gray = _uniform(generator, 0, 1) < stage.gray_noise_prob
    if gaussian:
        return add_gaussian_noise(image, _uniform(generator, *stage.noise_sigma) / 255, gray,
                                  generator)
    return add_poisson_noise(image, _uniform(generator, *stage.poisson_scale), gray, generator)


def _jpeg(image: Tensor, stage: DegradationStage, generator: torch.Generator) -> Tensor:
    return jpeg(image.clamp(0, 1), round(_uniform(generator, *stage.jpeg_quality)))


def _scale(generator: torch.Generator, stage: DegradationStage) -> float:
    direction = _choice(generator, ("up", "down", "keep"), stage.resize_probs)
    low, high = stage.resize_range
    return {"up": lambda: _uniform(generator, 1.0, high),
            "down": lambda: _uniform(generator, low, 1.0), "keep": lambda: 1.0}[direction]()


def second_order(image: Tensor, scale: int, settings: SecondOrder,
                 generator: torch.Generator) -> Tensor:
    """The low-resolution input [3, H/scale, W/scale] (8-bit levels) that Real-ESRGAN's
    second-order degradation makes of a clean image [3, H, W] (sides multiples of ``scale``)."""
    h, w = image.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"image sides {h}x{w} must be multiples of the scale {scale}")
    first, second = settings.first, settings.second
    out = filter2d(image, random_mixed_kernel(generator, first.kernel))
    factor = _scale(generator, first)
    out = resize(out, (int(h * factor), int(w * factor)), _choice(generator, RESIZE_MODES))
    out = _jpeg(_noise(out, first, generator), first, generator)
    kernel = random_mixed_kernel(generator, second.kernel)
    if _uniform(generator, 0, 1) < second.blur_prob:
        out = filter2d(out, kernel)
    factor = _scale(generator, second)
    out = resize(out, (int(h / scale * factor), int(w / scale * factor)),
                 _choice(generator, RESIZE_MODES))
    out = _noise(out, second, generator)
    if _uniform(generator, 0, 1) < settings.final_sinc_prob:
        sinc = sinc_kernel(_choice(generator, settings.final_sinc_sizes),
                           _uniform(generator, math.pi / 3, math.pi))
    else:
        sinc = None
    mode = _choice(generator, RESIZE_MODES)

    def back(x: Tensor) -> Tensor:
        x = resize(x, (h // scale, w // scale), mode)
        return filter2d(x, sinc) if sinc is not None else x

    if _uniform(generator, 0, 1) < 0.5:
        out = _jpeg(back(out), second, generator)
    else:
        out = back(_jpeg(out, second, generator))
    return quantize(out)


@dataclass(frozen=True)
class FixedDegradation:
    """A deterministic x``scale`` degradation for testing: optional blur of the clean image
    (a "disk" of radius ``blur`` px, a "motion" streak of ``blur`` px at ``angle`` degrees, or a
    "gaussian" of sigma ``blur`` px), Pillow bicubic down-sampling, Gaussian noise of
    ``noise`` 8-bit levels (seeded), JPEG at ``quality`` (0 = none), 8-bit levels."""

    label: str
    """Name in tables."""
    kernel: str = "none"
    """"none", "disk", "motion" or "gaussian"."""
    blur: float = 0.0
    """Disk radius, motion length or Gaussian sigma, in pixels of the clean image."""
    angle: float = 0.0
    """Motion direction in degrees."""
    noise: float = 0.0
    """Gaussian noise sigma in 8-bit levels, added after down-sampling."""
    quality: int = 0
    """JPEG quality after the noise; 0 = no JPEG."""

    def __post_init__(self) -> None:
        if self.kernel not in ("none", "disk", "motion", "gaussian"):
            raise ValueError(f"unknown kernel {self.kernel!r}")

    def blur_kernel(self) -> Tensor | None:
        """The kernel [k, k] of the blur, or None."""
        if self.kernel == "disk":
            return disk_kernel(self.blur)
        if self.kernel == "motion":
            return motion_kernel(self.blur, self.angle)
        if self.kernel == "gaussian":
            size = 2 * math.ceil(3 * self.blur) + 1
            return anisotropic_kernel(size, self.blur, self.blur)
        return None

    def __call__(self, image: Tensor, scale: int, seed: int = 0) -> Tensor:
        """The degraded input [3, H/scale, W/scale] of a clean image [3, H, W] (sides multiples
        of ``scale``)."""
        h, w = image.shape[-2:]
        kernel = self.blur_kernel()
        out = filter2d(image, kernel) if kernel is not None else image
        out = pil_resize(out.clamp(0, 1), (h // scale, w // scale))
        if self.noise > 0:
            generator = torch.Generator().manual_seed(int(seed))
            out = add_gaussian_noise(out, self.noise / 255, False, generator)
        if self.quality:
            out = jpeg(out, self.quality)
        return quantize(out)


UNSEEN_DEGRADATIONS: tuple[FixedDegradation, ...] = (
    FixedDegradation("bicubic"),
    FixedDegradation("defocus r3 + JPEG 40", kernel="disk", blur=3.0, quality=40),
    FixedDegradation("motion 9 px + noise 10 + JPEG 70", kernel="motion", blur=9.0, angle=30.0,
                     noise=10.0, quality=70),
    FixedDegradation("JPEG 15", quality=15),
    FixedDegradation("noise 40", noise=40.0),
)
"""Test degradations no `second_order` draw produces: SRGAN's own bicubic input (Pillow's
anti-aliased bicubic, which the pipeline's resizes are not), a defocus disk and a motion streak
(kernel families the pipeline never draws), JPEG quality 15 (below its range 30-95) and noise
of 40 levels (above its 30), fixed before any model was measured on them."""
