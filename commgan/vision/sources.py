"""Generator inputs and batch sources of the restoration GANs.

A batch source is ``() -> (target [B, 3, P, P], condition [B, C, P/s, P/s])``: the target patch
and the generator's input (its condition). Each source is seeded from its training config.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from commgan.vision.baselines import biharmonic_inpaint
from commgan.vision.data import PatchSampler
from commgan.vision.degradations import (
    crop_to_multiple,
    degrade_colour,
    fade,
    gaussian_noise,
    make_mask,
    pil_resize,
    random_fade,
)

if TYPE_CHECKING:
    from commgan.vision.configs import (
        ColourTraining,
        Pix2PixColourTraining,
        RestorationTraining,
        SRTraining,
    )

__all__ = ["ColourSource", "RestorationSource", "noise_condition", "occlusion_condition",
           "sr_source"]


def occlusion_condition(degraded: Tensor, mask: Tensor) -> Tensor:
    """Generator input of an occluded image [3, H, W] with mask [1, H, W] (1 = missing):
    [5, H, W] = biharmonic pre-fill, mask, keep = 1 - mask."""
    return torch.cat([biharmonic_inpaint(degraded, mask), mask, 1 - mask])


def noise_condition(noisy: Tensor) -> Tensor:
    """Generator input of a noisy image [3, H, W]: [5, H, W] = image, no mask, keep nothing."""
    zeros = torch.zeros_like(noisy[:1])
    return torch.cat([noisy, zeros, zeros])


def sr_source(training: SRTraining, images: list[Tensor]) -> PatchSampler:
    """SRGAN batches: (target [B, 3, P, P], its bicubic (Pillow) down-sampling by the scale)."""
    scale = training.generator.scale
    pairs = []
    for image in images:
        high = crop_to_multiple(image, scale)
        pairs.append((pil_resize(high, (high.shape[1] // scale, high.shape[2] // scale)), high))
    return PatchSampler(pairs, training.patch, training.batch_size, scale=scale,
                        seed=training.seed)


class RestorationSource:
    """Batches of the multi-loss GAN: ``() -> (target [B, 3, P, P], condition [B, 5, P, P])``.

    Occluded samples (block, free-form, block removal) come from a bank of ``training.bank``
    patches drawn once with their masks and biharmonic pre-fills (the pre-fill costs tens of
    milliseconds a patch), each used under a random flip/rotation (biharmonic inpainting commutes
    with them); noisy samples are drawn fresh from the training images every time.
    """

    def __init__(self, training: RestorationTraining, images: list[Tensor]) -> None:
        self.training = training
        self.patches = PatchSampler(images, training.patch, 1, seed=training.seed)
        self.generator = torch.Generator().manual_seed(training.seed + 1)
        occluded = training.p_occlusion + training.p_block_removal
        self.bank_targets, self.bank_conditions = [], []
        for _ in range(training.bank if occluded > 0 else 0):
            target = self.patches.sample()[0][0]
            u = self._rand() * occluded
            kind = ("block-removal" if u >= training.p_occlusion
                    else "block" if self._rand() < 0.5 else "free-form")
            ratio = 0.05 + (training.max_ratio - 0.05) * self._rand()
            p = training.patch
            mask = make_mask(kind, p, p, ratio, self.generator)
            self.bank_targets.append(target)
            self.bank_conditions.append(occlusion_condition(target * (1 - mask), mask))

    def _rand(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def __call__(self) -> tuple[Tensor, Tensor]:
        """One batch of ``training.batch_size`` samples."""
        t = self.training
        targets, conditions = [], []
        for _ in range(t.batch_size):
            if self.bank_targets and self._rand() < t.p_occlusion + t.p_block_removal:
                i = int(torch.randint(len(self.bank_targets), (), generator=self.generator))
                k = int(torch.randint(4, (), generator=self.generator))
                flip = self._rand() < 0.5
                pair = [torch.rot90(x, k, (1, 2)) for x in
                        (self.bank_targets[i], self.bank_conditions[i])]
                if flip:
                    pair = [x.flip(2) for x in pair]
                targets.append(pair[0])
                conditions.append(pair[1])
            else:
                target = self.patches.sample()[0][0]
                lo, hi = t.noise_sigma
                sigma = lo + (hi - lo) * self._rand()
                targets.append(target)
                conditions.append(noise_condition(gaussian_noise(target, sigma, self.generator)))
        return torch.stack(targets), torch.stack(conditions)


class ColourSource:
    """Batches of CR-SRGAN (s = 2) and of pix2pix on colour (s = 1, the generator has no
    ``scale``): ``() -> (target [B, 3, P, P], condition [B, 6, P/s, P/s])``.

    For each sample: an image (probability proportional to its area), a square region of it
    (side uniform between ``context_min`` and the image's smaller side), a random `Fade`, a
    patch inside the region (faded, then down-sampled by the scale as `degrade_colour`; random
    flips and rotations) and ``context_pixels`` pixels drawn at random from the region of the
    down-sampled clean image, faded in the same way. The condition is the faded patch
    (channels 0-2) and the context pixels arranged as a square image (channels 3-5; only their
    colour statistics are used, see `ColourSRGenerator`).
    """

    def __init__(self, training: ColourTraining | Pix2PixColourTraining,
                 images: list[Tensor]) -> None:
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

