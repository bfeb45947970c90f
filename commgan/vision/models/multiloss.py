"""Seed 001's multi-loss GAN: its training config, generator inputs, batches and record.

L = L_GAN + alpha L_perceptual + beta L1 + gamma L_edge, on inputs with occlusion (block and
free-form masks), noise and block removal. Generator
`commgan.vision.nets.restoration.RestorationGenerator`, a patch map from a
`commgan.vision.nets.discriminators.ConvDiscriminator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Self

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.vision.baselines import biharmonic_inpaint
from commgan.vision.data import TRAIN_IMAGES, PatchSampler
from commgan.vision.degradations import gaussian_noise, make_mask
from commgan.vision.models.record import (
    VALIDATION_BATCHES,
    ExtraLosses,
    VisionModel,
    VisionTraining,
)
from commgan.vision.nets.discriminators import ConvDiscriminator
from commgan.vision.nets.restoration import RestorationConfig, RestorationGenerator
from commgan.vision.perceptual import FilterBankFeatures, edge_loss, perceptual_loss

__all__ = ["MULTILOSS", "RestorationSource", "RestorationTraining", "multi_losses",
           "noise_condition", "occlusion_condition"]


@dataclass
class RestorationTraining(VisionTraining):
    """Training of seed 001's multi-loss GAN (occlusion, noise, block removal)."""

    generator: RestorationConfig = field(default_factory=RestorationConfig)
    """Generator architecture."""
    d_channels: int = 16
    """Patch discriminator width (3 strided layers)."""
    patch: int = 64
    """Patch side in pixels."""
    batch_size: int = 8
    """Patches per batch."""
    iterations: int = 2000
    """GANTrainer iterations (including the warm-up)."""
    warmup: int = 300
    """First iterations on the reconstruction losses alone."""
    alpha: float = 10.0
    """Weight of the perceptual term (VGG16 with backbone weights, else the filter-bank
    substitute)."""
    beta: float = 100.0
    """Weight of the L1 reconstruction term."""
    gamma: float = 50.0
    """Weight of the edge (image-gradient L1) term."""
    adv_weight: float = 0.1
    """Weight of L_GAN (relative to it: alpha 100, beta 1000, gamma 500)."""
    lr_g: float = 1e-3
    """Generator Adam learning rate (cosine decay to 1%)."""
    lr_d: float = 2e-4
    """Discriminator Adam learning rate."""
    p_occlusion: float = 0.6
    """Share of training patches with an occlusion mask (half block, half free-form)."""
    p_block_removal: float = 0.2
    """Share with lost 8x8 blocks; the rest are noisy."""
    max_ratio: float = 0.6
    """Occluded/removed area ratios are uniform in [0.05, max_ratio]."""
    noise_sigma: tuple[float, float] = (5 / 255, 50 / 255)
    """Noise standard deviations are uniform in this range ([0, 1] units)."""
    bank: int = 1000
    """Occluded patches drawn (with their biharmonic pre-fills) before training."""
    seed: int = 0
    """Seed of weights, patches and degradations."""
    images: tuple[str, ...] = TRAIN_IMAGES
    """Training images (never the held-out ones)."""
    validation: tuple[str, ...] = ()
    """Validation images (see `SRTraining.validation`)."""

    def with_steps(self, steps: int) -> Self:
        """As `VisionTraining.with_steps`, with a bank of at most 8 patches per iteration."""
        return replace(super().with_steps(steps), bank=min(self.bank, max(8 * steps, 8)))

    def smoke(self) -> Self:
        """As `VisionTraining.smoke`, with a bank of 4 patches."""
        return replace(super().smoke(), bank=4)

    def validation_source(self) -> Self:
        """As `VisionTraining.validation_source`, with a bank of the validation batches' size."""
        return replace(super().validation_source(),
                       bank=VALIDATION_BATCHES * self.batch_size)


def occlusion_condition(degraded: Tensor, mask: Tensor) -> Tensor:
    """Generator input of an occluded image [3, H, W] with mask [1, H, W] (1 = missing):
    [5, H, W] = biharmonic pre-fill, mask, keep = 1 - mask."""
    return torch.cat([biharmonic_inpaint(degraded, mask), mask, 1 - mask])


def noise_condition(noisy: Tensor) -> Tensor:
    """Generator input of a noisy image [3, H, W]: [5, H, W] = image, no mask, keep nothing."""
    zeros = torch.zeros_like(noisy[:1])
    return torch.cat([noisy, zeros, zeros])


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


def multi_losses(training: Any, perceptual: nn.Module | None) -> ExtraLosses:
    """The multi-loss GAN's alpha L_perceptual + beta L1 + gamma L_edge."""
    features = perceptual if perceptual is not None else FilterBankFeatures()

    def perceptual_term(fake: Tensor, batch: Any) -> Tensor:
        return perceptual_loss(features, fake, batch[0])

    return {
        "perceptual": (training.alpha, perceptual_term),
        "l1": (training.beta, lambda fake, batch: F.l1_loss(fake, batch[0])),
        "edge": (training.gamma, lambda fake, batch: edge_loss(fake, batch[0])),
    }


MULTILOSS = VisionModel(
    "restore", "multi-loss GAN", "multiloss-restore", RestorationTraining,
    make_generator=lambda t: RestorationGenerator(t.generator),
    make_discriminator=lambda t: ConvDiscriminator(t.d_channels, layers=3, patch=True),
    extra_losses=multi_losses, batch_source=RestorationSource, perceptual=True)
"""The record of the multi-loss GAN (serves the inpaint and denoise tasks)."""
