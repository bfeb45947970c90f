"""pix2pix (Isola et al. 2017) on the paired translation tasks: training configs, batches and
records.

U-Net G (`commgan.vision.nets.unet.UNetGenerator`), conditional PatchGAN D(input, output)
(`commgan.vision.nets.discriminators.PatchDiscriminator`), L_cGAN + 100 L1; one model per task:
colour (each patch under its own random fading, CR-SRGAN's `ColourSource`) and edges2photo
(Canny edges of the training images -> the photos).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from commgan.vision.data import TRAIN_IMAGES, PatchSampler
from commgan.vision.degradations import edge_map
from commgan.vision.models.crsrgan import ColourSource, colour_fade_ranges
from commgan.vision.models.record import ExtraLosses, VisionModel, VisionTraining
from commgan.vision.nets.discriminators import PatchDiscriminator
from commgan.vision.nets.unet import UNetConfig, UNetGenerator

__all__ = ["PIX2PIX_COLOUR", "PIX2PIX_EDGES", "Pix2PixColourTraining", "Pix2PixTraining",
           "colour_unet", "edges_source", "pix2pix_discriminator", "pix2pix_losses"]


@dataclass
class Pix2PixTraining(VisionTraining):
    """pix2pix training: U-Net G, conditional PatchGAN D, L_cGAN + l1_weight * L1."""

    generator: UNetConfig = field(default_factory=UNetConfig)
    """Generator architecture."""
    d_channels: int = 32
    """PatchGAN width (first layer; doubled per strided layer)."""
    d_layers: int = 3
    """PatchGAN strided layers (3: 70x70 patches)."""
    patch: int = 64
    """Patch side in pixels."""
    batch_size: int = 16
    """Patches per batch."""
    iterations: int = 2000
    """GANTrainer iterations."""
    warmup: int = 0
    """First iterations on the L1 term alone (pix2pix has none)."""
    l1_weight: float = 100.0
    """lambda of the L1 term (pix2pix: 100)."""
    adv_weight: float = 1.0
    """Weight of L_cGAN."""
    lr_g: float = 2e-4
    """Generator Adam learning rate (cosine decay to 1%)."""
    lr_d: float = 2e-4
    """Discriminator Adam learning rate."""
    seed: int = 0
    """Seed of weights, patches and degradations."""
    images: tuple[str, ...] = TRAIN_IMAGES
    """Training images (never the held-out ones)."""
    validation: tuple[str, ...] = ()
    """Validation images (see `SRTraining.validation`)."""


def colour_unet() -> UNetConfig:
    """pix2pix's U-Net on colour: a per-pixel affine colour transform of the input, its
    coefficients smooth over 4-pixel cells, informed by the colour statistics of the whole photo
    (docs/decisions.md, "pix2pix and CycleGAN on colour")."""
    return UNetConfig(head="affine", affine_grid=4, colour_context=64)


@dataclass
class Pix2PixColourTraining(Pix2PixTraining):
    """pix2pix on the paired colour task: each patch under its own random fading."""

    generator: UNetConfig = field(default_factory=colour_unet)
    """Generator architecture (`colour_unet`)."""
    context_pixels: int = 1024
    """Pixels sampled from the patch's region for the generator's colour statistics (a square
    number; `ColourSource`, as CR-SRGAN's)."""
    context_min: int = 256
    """Smallest side of the region in pixels."""
    fade_ranges: dict[str, tuple[float, float]] = field(default_factory=colour_fade_ranges)
    """Range of each `Fade` parameter (uniform), as CR-SRGAN's."""


def edges_source(training: Pix2PixTraining, images: list[Tensor]) -> PatchSampler:
    """pix2pix edges2photo batches: ``() -> (photo [B, 3, P, P], edges [B, 3, P, P])``, the
    edges detected on each whole image once, patches aligned, random flips and rotations."""
    pairs = [(edge_map(image), image) for image in images]
    return PatchSampler(pairs, training.patch, training.batch_size, seed=training.seed)


def pix2pix_losses(training: Any, perceptual: nn.Module | None) -> ExtraLosses:
    """pix2pix's lambda L1 between G(x) and the target."""
    return {"l1": (training.l1_weight, lambda fake, batch: F.l1_loss(fake, batch[0]))}


def pix2pix_discriminator(training: Any) -> nn.Module:
    return PatchDiscriminator(training.d_channels, training.d_layers,
                              cond_channels=training.generator.in_channels)


PIX2PIX_COLOUR = VisionModel(
    "pix2pix-colour", "pix2pix", "pix2pix-colour", Pix2PixColourTraining,
    make_generator=lambda t: UNetGenerator(t.generator),
    make_discriminator=pix2pix_discriminator, extra_losses=pix2pix_losses,
    batch_source=ColourSource, condition_discriminator=True)
"""The record of pix2pix on colour."""
PIX2PIX_EDGES = VisionModel(
    "pix2pix-edges2photo", "pix2pix", "pix2pix-edges2photo", Pix2PixTraining,
    make_generator=lambda t: UNetGenerator(t.generator),
    make_discriminator=pix2pix_discriminator, extra_losses=pix2pix_losses,
    batch_source=edges_source, condition_discriminator=True)
"""The record of pix2pix on edges2photo."""
