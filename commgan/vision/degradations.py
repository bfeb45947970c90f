"""Degradations: down-sampling, occlusion (block / free-form masks), noise, block removal, fading,
edge maps, and the settings a task degrades an image with (`TaskSettings`).

Images are float tensors [3, H, W] (or batches [B, 3, H, W]) in [0, 1]. Masks are float tensors
[1, H, W] (or [B, 1, H, W]) with 1 = missing pixel. Random degradations take a
``torch.Generator`` so that every degraded image is reproducible from a seed.

Down-sampling is Pillow's bicubic resize (antialiased, a = -0.5, like MATLAB's ``imresize``) on
8-bit images.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from commgan.vision.data import from_numpy, quantize, to_numpy, to_uint8

__all__ = [
    "EDGE_SIGMA",
    "FADE_RANGES",
    "MASK_KINDS",
    "MASK_MAKERS",
    "Fade",
    "TaskSettings",
    "block_mask",
    "block_removal_mask",
    "crop_to_multiple",
    "degrade_colour",
    "edge_map",
    "fade",
    "free_form_mask",
    "gaussian_noise",
    "make_mask",
    "occlude",
    "pil_resize",
    "random_fade",
]

def crop_to_multiple(image: Tensor, multiple: int) -> Tensor:
    """Crop [..., H, W] at the bottom/right to H, W multiples of ``multiple``."""
    h, w = image.shape[-2] // multiple * multiple, image.shape[-1] // multiple * multiple
    return image[..., :h, :w]


def pil_resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Pillow bicubic resize of [3, H, W] to ``size`` = (height, width), through 8 bits."""
    pil = Image.fromarray(to_uint8(image)).resize((size[1], size[0]), Image.Resampling.BICUBIC)
    return from_numpy(np.asarray(pil))


def _rand(generator: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _randint(generator: torch.Generator, low: int, high: int) -> int:
    """Uniform integer in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=generator))


def block_mask(height: int, width: int, ratio: float, generator: torch.Generator,
               min_side: int = 8, max_side: int = 32) -> Tensor:
    """Random axis-aligned rectangles covering ``ratio`` of the image: [1, H, W], 1 = missing.

    Rectangle sides are uniform in [min_side, max_side] pixels (absolute sizes, so that a
    model trained on patches sees the holes it meets on full images); rectangles are added
    until the covered fraction reaches ``ratio``, the last one filled row by row, so the result
    overshoots by less than one row of a rectangle.
    """
    _check_ratio(ratio)
    mask = torch.zeros(height, width)
    target = ratio * height * width
    covered = 0.0
    while covered < target:
        h = min(_randint(generator, min_side, max_side), height)
        w = min(_randint(generator, min_side, max_side), width)
        y, x = _randint(generator, 0, height - h), _randint(generator, 0, width - w)
        new = 1.0 - mask[y:y + h, x:x + w]
        if covered + float(new.sum()) <= target:
            mask[y:y + h, x:x + w] = 1.0
            covered += float(new.sum())
            continue
        for row in range(y, y + h):
            covered += float(new[row - y].sum())
            mask[row, x:x + w] = 1.0
            if covered >= target:
                break
    return mask.unsqueeze(0)


def free_form_mask(height: int, width: int, ratio: float, generator: torch.Generator,
                   min_radius: float = 2.0, max_radius: float = 6.0) -> Tensor:
    """Random brush strokes (DeepFill v2-style free-form masks) covering about ``ratio``.

    Each stroke is a random walk of 4-10 segments of 10-40 pixels with a brush radius uniform
    in [min_radius, max_radius] pixels (absolute sizes, as `block_mask`). Strokes are added
    until the covered fraction reaches ``ratio`` (checked after every segment, so the result
    overshoots by at most one segment). Returns [1, H, W].
    """
    _check_ratio(ratio)
    mask = np.zeros((height, width), dtype=bool)
    target = ratio * height * width
    covered = 0
    while covered < target:
        radius = _rand(generator, min_radius, max_radius)
        y, x = _rand(generator, 0, height - 1), _rand(generator, 0, width - 1)
        for _ in range(_randint(generator, 4, 10)):
            angle = _rand(generator, 0, 2 * math.pi)
            length = _rand(generator, 10, 40)
            y2 = float(np.clip(y + length * math.sin(angle), 0, height - 1))
            x2 = float(np.clip(x + length * math.cos(angle), 0, width - 1))
            y0, y1 = int(max(min(y, y2) - radius, 0)), int(min(max(y, y2) + radius + 1, height))
            x0, x1 = int(max(min(x, x2) - radius, 0)), int(min(max(x, x2) + radius + 1, width))
            yy, xx = np.mgrid[y0:y1, x0:x1]
            # distance of each pixel of the bounding box to the segment (y, x)-(y2, x2)
            dy, dx = y2 - y, x2 - x
            t = np.clip(((yy - y) * dy + (xx - x) * dx) / max(dy * dy + dx * dx, 1e-9), 0, 1)
            inside = (yy - y - t * dy) ** 2 + (xx - x - t * dx) ** 2 <= radius**2
            region = mask[y0:y1, x0:x1]
            covered += int((inside & ~region).sum())
            region |= inside
            y, x = y2, x2
            if covered >= target:
                break
    return torch.from_numpy(mask.astype(np.float32)).unsqueeze(0)


def block_removal_mask(height: int, width: int, ratio: float, generator: torch.Generator,
                       block: int = 8) -> Tensor:
    """Lost ``block`` x ``block`` blocks on the block grid (like lost JPEG/video blocks).

    round(ratio * number of blocks) grid blocks are removed, chosen uniformly. Returns [1, H, W].
    """
    _check_ratio(ratio)
    rows, cols = math.ceil(height / block), math.ceil(width / block)
    count = round(ratio * rows * cols)
    chosen = torch.randperm(rows * cols, generator=generator)[:count]
    grid = torch.zeros(rows * cols)
    grid[chosen] = 1.0
    grid = grid.reshape(1, 1, rows, cols)
    mask = F.interpolate(grid, scale_factor=block, mode="nearest")[0, :, :height, :width]
    return mask


MASK_MAKERS: dict[str, Callable[[int, int, float, torch.Generator], Tensor]] = {
    "block": block_mask,
    "free-form": free_form_mask,
    "block-removal": block_removal_mask,
}
"""Mask kind -> ``maker(height, width, ratio, generator) -> mask [1, H, W]``."""
MASK_KINDS: tuple[str, ...] = tuple(MASK_MAKERS)
"""Valid ``kind`` arguments of `make_mask`."""


def make_mask(kind: str, height: int, width: int, ratio: float,
              generator: torch.Generator) -> Tensor:
    """A mask of one of `MASK_KINDS` covering about ``ratio`` of [H, W]; [1, H, W]."""
    if kind not in MASK_MAKERS:
        raise ValueError(f"unknown mask kind {kind!r}; valid: {', '.join(MASK_KINDS)}")
    return MASK_MAKERS[kind](height, width, ratio, generator)


def _check_ratio(ratio: float) -> None:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"occlusion ratio must be in [0, 1), got {ratio}")


def occlude(image: Tensor, mask: Tensor, fill: float = 0.0) -> Tensor:
    """The image [..., 3, H, W] with missing pixels (mask [..., 1, H, W] = 1) set to ``fill``."""
    return image * (1 - mask) + fill * mask


def gaussian_noise(image: Tensor, sigma: float, generator: torch.Generator) -> Tensor:
    """Additive white Gaussian noise of standard deviation ``sigma`` (in [0, 1] units, e.g.
    25/255), then clipped to [0, 1] and rounded to 8 bits."""
    noise = torch.randn(image.shape, generator=generator) * sigma
    return quantize(image + noise.to(image.device))


@dataclass
class Fade:
    """A fading/darkening of old photographs (CR-SRGAN's degradation), applied in this order.

    desaturation: 0 = colours kept, 1 = grey. sepia: 0 = none, 1 = full sepia toning.
    gamma: exponent on intensities (> 1 darkens the mid-tones). brightness: gain (< 1 darkens).
    lift: fraction of the range the blacks are lifted to (washed-out contrast).
    """

    desaturation: float = 0.5
    sepia: float = 0.5
    gamma: float = 1.5
    brightness: float = 0.7
    lift: float = 0.1

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


_SEPIA = torch.tensor([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])
_LUMA = torch.tensor([0.299, 0.587, 0.114])


def fade(image: Tensor, params: Fade) -> Tensor:
    """Apply `Fade` to [..., 3, H, W] in [0, 1]; returns the same shape, 8-bit rounded."""
    x = image
    grey = torch.einsum("c,...chw->...hw", _LUMA.to(x), x).unsqueeze(-3)
    x = (1 - params.desaturation) * x + params.desaturation * grey
    sepia = torch.einsum("dc,...chw->...dhw", _SEPIA.to(x), x).clamp(0, 1)
    x = (1 - params.sepia) * x + params.sepia * sepia
    x = x.clamp(0, 1) ** params.gamma
    x = params.lift + (params.brightness - params.lift) * x
    return quantize(x)


FADE_RANGES: dict[str, tuple[float, float]] = {
    "desaturation": (0.2, 0.8), "sepia": (0.0, 0.8), "gamma": (1.2, 2.2),
    "brightness": (0.5, 0.85), "lift": (0.0, 0.2)}
"""Default ranges of `random_fade` (each parameter of `Fade` uniform in its range)."""


def random_fade(generator: torch.Generator,
                ranges: dict[str, tuple[float, float]] | None = None) -> Fade:
    """A random `Fade`, each parameter uniform in its range (default `FADE_RANGES`:
    desaturation 0.2-0.8, sepia 0-0.8, gamma 1.2-2.2, brightness 0.5-0.85, lift 0-0.2)."""
    ranges = {**FADE_RANGES, **(ranges or {})}
    return Fade(**{name: _rand(generator, *ranges[name]) for name in FADE_RANGES})


def degrade_colour(image: Tensor, params: Fade, scale: int) -> Tensor:
    """CR-SRGAN's input: faded, then down-sampled by ``scale`` (Pillow bicubic); [3, H/s, W/s]."""
    faded = fade(image, params)
    if scale == 1:
        return faded
    return pil_resize(faded, (image.shape[-2] // scale, image.shape[-1] // scale))


EDGE_SIGMA = 2.0
"""Gaussian sigma (pixels) of the Canny edge detector of edges2photo."""


def edge_map(image: Tensor, sigma: float = EDGE_SIGMA) -> Tensor:
    """Canny edges of the luma of [3, H, W] (scikit-image, Gaussian ``sigma`` pixels, default
    hysteresis thresholds) as RGB [3, H, W]: 0 (black) on edges, 1 (white) elsewhere."""
    from skimage.color import rgb2gray
    from skimage.feature import canny

    edges = canny(rgb2gray(to_numpy(image)), sigma=sigma)
    return torch.from_numpy(~edges).float().expand(3, -1, -1).contiguous()


@dataclass
class TaskSettings:
    """Degradation settings of a task's evaluation (and of ``commgan restore`` and
    ``commgan translate``)."""

    ratio: float = 0.2
    """inpaint: occluded area ratio."""
    mask: str = "block"
    """inpaint: mask kind (one of `MASK_KINDS`)."""
    sigma: float = 25 / 255
    """denoise: noise standard deviation ([0, 1] units)."""
    fade: Fade = field(default_factory=Fade)
    """colour: the fading applied."""
    seed: int = 0
    """Seed of masks and noise."""
