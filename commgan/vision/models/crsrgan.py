"""CR-SRGAN (seed 003 section 3.1): its training config, batches and record.

The SRGAN game at x2 on faded/darkened inputs; the generator
(`commgan.vision.nets.sr.ColourSRGenerator`) estimates a global colour transform from the
colour statistics of a large region (`ColourSource`). `ColourSource` also feeds pix2pix on
colour (`commgan.vision.models.pix2pix`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from commgan.vision.degradations import (
    crop_to_multiple,
    degrade_colour,
    fade,
    pil_resize,
    random_fade,
)
from commgan.vision.models.record import VisionModel
from commgan.vision.models.srgan import SRTraining, content_losses
from commgan.vision.nets.discriminators import ConvDiscriminator
from commgan.vision.nets.sr import ColourConfig, ColourSRGenerator

__all__ = ["CR_SRGAN", "ColourSource", "ColourTraining", "colour_fade_ranges"]


@dataclass
class ColourTraining(SRTraining):
    """CR-SRGAN training: x2 super-resolution of faded/darkened inputs, global colour context.

    Each sample is a patch of a region of a training image (a random square of
    ``context_min``-pixel side up to the whole image) with the region's colour statistics
    estimated from ``context_pixels`` random pixels of the region, both under the same random
    fading (`ColourSource`).
    """

    generator: ColourConfig = field(default_factory=ColourConfig)
    iterations: int = 1700
    warmup: int = 300
    context_pixels: int = 1024
    """Pixels sampled from the region for its colour statistics (a square number)."""
    context_min: int = 256
    """Smallest side of the region in (high-resolution) pixels."""
    fade_ranges: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "desaturation": (0.0, 0.8), "sepia": (0.0, 0.8), "gamma": (0.9, 2.0),
        "brightness": (0.55, 1.0), "lift": (0.0, 0.2)})
    """Range of each `Fade` parameter (uniform), reaching down to no fading at all."""


def colour_fade_ranges() -> dict[str, tuple[float, float]]:
    """The fadings CR-SRGAN trains on (`ColourTraining.fade_ranges`)."""
    return ColourTraining().fade_ranges


class ColourSource:
    """Batches of CR-SRGAN (s = 2) and of pix2pix on colour (s = 1, the generator has no
    ``scale``): ``() -> (target [B, 3, P, P], condition [B, 6, P/s, P/s])``.

    For each sample: an image (probability proportional to its area), a square region of it
    (side uniform between ``context_min`` and the image's smaller side), a random `Fade`, a
    patch inside the region (faded, then down-sampled by the scale as `degrade_colour`; random
    flips and rotations) and ``context_pixels`` pixels drawn at random from the region of the
    down-sampled clean image, faded in the same way. The condition is the faded patch
    (channels 0-2) and the context pixels arranged as a square image (channels 3-5; only their
    colour statistics are used, see `ColourSRGenerator`). ``training``: a `ColourTraining` or
    pix2pix's colour config (patch, batch_size, seed, context_pixels, context_min,
    fade_ranges).
    """

    def __init__(self, training: Any, images: list[Tensor]) -> None:
        self.training = training
        self.scale = s = getattr(training.generator, "scale", 1)
        self.images = [crop_to_multiple(image, s) for image in images]
        self.lows = self.images if s == 1 else [
            pil_resize(im, (im.shape[1] // s, im.shape[2] // s)) for im in self.images]
        areas = torch.tensor([float(im.shape[1] * im.shape[2]) for im in self.images])
        self.weights = areas / areas.sum()
        self.generator = torch.Generator().manual_seed(training.seed)
        side = math.isqrt(training.context_pixels)
        if side * side != training.context_pixels:
            raise ValueError("context_pixels must be a square number")
        self.side = side

    def _randint(self, low: int, high: int) -> int:
        """Uniform in [low, high]."""
        return int(torch.randint(low, high + 1, (), generator=self.generator))

    def sample(self) -> tuple[Tensor, Tensor]:
        """One (target [3, P, P], condition [6, P/s, P/s])."""
        t, s = self.training, self.scale
        i = int(torch.multinomial(self.weights, 1, generator=self.generator))
        image, low = self.images[i], self.lows[i]
        h, w = image.shape[1:]
        region = max(self._randint(min(t.context_min, h, w), min(h, w)) // s * s, t.patch)
        ry, rx = self._randint(0, h - region) // s * s, self._randint(0, w - region) // s * s
        py = ry + self._randint(0, region - t.patch) // s * s
        px = rx + self._randint(0, region - t.patch) // s * s
        target = image[:, py:py + t.patch, px:px + t.patch]
        k = self._randint(0, 3)
        target = torch.rot90(target, k, (1, 2))
        if self._randint(0, 1):
            target = target.flip(2)
        params = random_fade(self.generator, t.fade_ranges)
        patch = degrade_colour(target, params, s)
        lr = region // s
        n = self.side * self.side
        ys = ry // s + torch.randint(lr, (n,), generator=self.generator)
        xs = rx // s + torch.randint(lr, (n,), generator=self.generator)
        context = fade(low[:, ys, xs].view(3, self.side, self.side), params)
        if context.shape[-1] != patch.shape[-1] or context.shape[-2] != patch.shape[-2]:
            context = F.interpolate(context[None], size=patch.shape[-2:], mode="nearest")[0]
        return target, torch.cat([patch, context])

    def __call__(self) -> tuple[Tensor, Tensor]:
        """One batch of ``training.batch_size`` samples."""
        pairs = [self.sample() for _ in range(self.training.batch_size)]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


CR_SRGAN = VisionModel(
    "colour", "CR-SRGAN x2", "cr-srgan-x2", ColourTraining,
    make_generator=lambda t: ColourSRGenerator(t.generator),
    make_discriminator=lambda t: ConvDiscriminator(t.d_channels, layers=3, patch=False),
    extra_losses=content_losses, batch_source=ColourSource)
"""The record of CR-SRGAN x2 (serves the colour task)."""
