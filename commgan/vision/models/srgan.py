"""SRGAN x4 (Ledig et al.; seed 003 eq. (1)): its training config, batches and record.

l_SR = l_X + 1e-3 l_Gen, with the content loss l_X = MSE on images scaled to [-1, 1] and
l_Gen = -log D(G(I_LR)) (non-saturating); the first ``warmup`` iterations train G on l_X alone
(an SRResNet start). Generator `commgan.vision.nets.sr.SRGenerator`, one logit per image from a
`commgan.vision.nets.discriminators.ConvDiscriminator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from commgan.vision.data import TRAIN_IMAGES, PatchSampler
from commgan.vision.degradations import crop_to_multiple, pil_resize
from commgan.vision.models.record import ExtraLosses, VisionModel, VisionTraining
from commgan.vision.nets.discriminators import ConvDiscriminator
from commgan.vision.nets.sr import SRConfig, SRGenerator

__all__ = ["SRGAN", "SRTraining", "content_losses", "sr_source"]


@dataclass
class SRTraining(VisionTraining):
    """SRGAN x4 training (defaults: ~5 min on one CPU core)."""

    generator: SRConfig = field(default_factory=SRConfig)
    """Generator architecture (scale 4)."""
    d_channels: int = 32
    """Discriminator width (3 strided layers)."""
    patch: int = 64
    """High-resolution patch side in pixels (low-resolution side patch / scale)."""
    batch_size: int = 16
    """Patches per batch."""
    iterations: int = 2000
    """GANTrainer iterations (including the warm-up)."""
    warmup: int = 500
    """First iterations on the content loss alone (SRResNet initialisation)."""
    adv_weight: float = 1e-3
    """Weight of the adversarial term l_Gen (seed 003: 1e-3)."""
    lr_g: float = 5e-4
    """Generator Adam learning rate (cosine decay to 1%)."""
    lr_d: float = 2e-4
    """Discriminator Adam learning rate."""
    seed: int = 0
    """Seed of weights and patches."""
    images: tuple[str, ...] = TRAIN_IMAGES
    """Training images (never the held-out ones)."""
    validation: tuple[str, ...] = ()
    """Validation images: when given, the generator state with the best validation PSNR is
    kept (checked every `VALIDATION_CHECKS`-th of the run); none for the shipped images."""


def sr_source(training: SRTraining, images: list[Tensor]) -> PatchSampler:
    """SRGAN batches: (target [B, 3, P, P], its bicubic (Pillow) down-sampling by the scale)."""
    scale = training.generator.scale
    pairs = []
    for image in images:
        high = crop_to_multiple(image, scale)
        pairs.append((pil_resize(high, (high.shape[1] // scale, high.shape[2] // scale)), high))
    return PatchSampler(pairs, training.patch, training.batch_size, scale=scale,
                        seed=training.seed)


def content_losses(training: Any, perceptual: nn.Module | None) -> ExtraLosses:
    """SRGAN's content loss l_X: MSE on images scaled to [-1, 1]."""
    def content(fake: Tensor, batch: Any) -> Tensor:
        return F.mse_loss(2 * fake - 1, 2 * batch[0] - 1)

    return {"content": (1.0, content)}


SRGAN = VisionModel(
    "sr", "SRGAN x4", "srgan-x4", SRTraining,
    make_generator=lambda t: SRGenerator(t.generator),
    make_discriminator=lambda t: ConvDiscriminator(t.d_channels, layers=3, patch=False),
    extra_losses=content_losses, batch_source=sr_source)
"""The record of SRGAN x4 (serves the sr task)."""
