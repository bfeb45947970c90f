"""Real-ESRGAN x4 (Wang et al. 2021), small: its training on second-order degradations, its
losses, batches and record.

The training inputs are synthesised from clean patches by Real-ESRGAN's second-order
degradation (`commgan.vision.real_degradations.second_order`: blur with Gaussian-family and
sinc kernels, random resize, Gaussian/Poisson noise, JPEG, twice, then the final sinc filter),
each patch with its own draw. The losses are Real-ESRGAN's:

    L_G = l1 |G(x) - y|_1 + w_p L_percep(G(x), y) + 0.1 L_GAN,  L_GAN non-saturating BCE

with L_percep the mean L1 distance of feature maps (VGG16 relu taps with backbone weights,
else the filter-bank substitute, `commgan.vision.perceptual`), D a PatchGAN with spectral
norm (Real-ESRGAN's D also scores local regions: a U-Net with spectral norm). The first
``warmup`` iterations train G on the pixel and perceptual terms alone (Real-ESRNet's start).
The generator is SRGAN's (`commgan.vision.nets.sr.SRGenerator`, same size), so a comparison
with SRGAN x4 changes the data and the losses, not the network. ``degradation="bicubic"``
trains the same model on SRGAN's bicubic pairs (an ablation of the data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.vision.data import TRAIN_IMAGES, PatchSampler
from commgan.vision.models.record import BatchSource, ExtraLosses, VisionModel, VisionTraining
from commgan.vision.models.srgan import sr_source
from commgan.vision.nets.discriminators import PatchDiscriminator
from commgan.vision.nets.sr import SRConfig, SRGenerator
from commgan.vision.perceptual import FilterBankFeatures
from commgan.vision.real_degradations import SecondOrder, second_order

__all__ = ["DEGRADATIONS", "REAL_ESRGAN", "RealESRGANTraining", "SecondOrderSource",
           "feature_l1", "real_esrgan_losses", "real_esrgan_source"]

DEGRADATIONS = ("second-order", "bicubic")
"""Training inputs: Real-ESRGAN's synthesis, or SRGAN's bicubic down-sampling (ablation)."""


@dataclass
class RealESRGANTraining(VisionTraining):
    """Real-ESRGAN x4 training: SRGAN's generator and budget, Real-ESRGAN's data and losses."""

    generator: SRConfig = field(default_factory=SRConfig)
    """Generator architecture (SRGAN x4's)."""
    d_channels: int = 32
    """Width of the PatchGAN (spectral norm)."""
    d_layers: int = 3
    """PatchGAN strided layers."""
    patch: int = 64
    """High-resolution patch side in pixels (a multiple of the scale)."""
    margin: int = 8
    """Pixels of the clean image degraded around each patch and cut off afterwards (a multiple
    of the scale), so that the blur's border handling stays out of the patch."""
    batch_size: int = 16
    """Patches per batch."""
    iterations: int = 2000
    """GANTrainer iterations (including the warm-up): SRGAN x4's budget."""
    warmup: int = 500
    """First iterations on the pixel and perceptual terms alone (Real-ESRNet's start)."""
    pixel_weight: float = 1.0
    """Weight of the L1 pixel term (Real-ESRGAN: 1)."""
    perceptual_weight: float = 1.0
    """Weight of the perceptual term (Real-ESRGAN: 1)."""
    adv_weight: float = 0.1
    """Weight of L_GAN (Real-ESRGAN: 0.1)."""
    lr_g: float = 5e-4
    """Generator Adam learning rate (cosine decay to 1%; SRGAN x4's)."""
    lr_d: float = 2e-4
    """Discriminator Adam learning rate (SRGAN x4's)."""
    seed: int = 0
    """Seed of weights, patches and degradations."""
    images: tuple[str, ...] = TRAIN_IMAGES
    """Training images (never the held-out ones)."""
    validation: tuple[str, ...] = ()
    """Validation images (see `SRTraining.validation`): scored on their own second-order
    degradations."""
    degradation: str = "second-order"
    """Training inputs: "second-order" (Real-ESRGAN) or "bicubic" (SRGAN's; an ablation)."""
    settings: SecondOrder = field(default_factory=SecondOrder)
    """Ranges of the second-order degradation (Real-ESRGAN's x4 settings)."""

    def __post_init__(self) -> None:
        scale = self.generator.scale
        if self.degradation not in DEGRADATIONS:
            raise ValueError(f"unknown degradation {self.degradation!r}; valid: "
                             f"{', '.join(DEGRADATIONS)}")
        if self.patch % scale or self.margin % scale or self.margin < 0:
            raise ValueError(f"patch {self.patch} and margin {self.margin} must be "
                             f"non-negative multiples of the scale {scale}")

    @property
    def min_image_size(self) -> int:
        """Smallest side in pixels of a training image: the patch and its margins."""
        margin = self.margin if self.degradation == "second-order" else 0
        return self.patch + 2 * margin


class SecondOrderSource:
    """Batches ``() -> (target [B, 3, P, P], input [B, 3, P/s, P/s])``: random clean crops of
    P + 2 margin pixels (flips, 90-degree rotations), each degraded by its own draw of
    `second_order`, then both cut to the central patch. The degradation runs on one torch
    thread (the caller's thread count is restored afterwards): its many small operations ran
    8x slower on two threads beside other jobs."""

    def __init__(self, training: RealESRGANTraining, images: list[Tensor]) -> None:
        self.training = training
        self.sampler = PatchSampler(images, training.patch + 2 * training.margin,
                                    training.batch_size, transform=self._degrade,
                                    seed=training.seed)

    def _degrade(self, clean: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        t = self.training
        s, m, p = t.generator.scale, t.margin, t.patch
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # hundreds of tiny ops: a second thread only waits
        try:
            low = torch.stack([second_order(image, s, t.settings, generator)
                               for image in clean])
        finally:
            torch.set_num_threads(threads)
        return (clean[:, :, m:m + p, m:m + p].contiguous(),
                low[:, :, m // s:(m + p) // s, m // s:(m + p) // s].contiguous())

    def __call__(self) -> tuple[Tensor, Tensor]:
        """One batch of ``training.batch_size`` pairs."""
        return self.sampler()


def real_esrgan_source(training: RealESRGANTraining, images: list[Tensor]) -> BatchSource:
    """The batch source of ``training.degradation``: `SecondOrderSource`, or SRGAN's bicubic
    pairs (`commgan.vision.models.srgan.sr_source`)."""
    if training.degradation == "bicubic":
        return sr_source(training, images)  # type: ignore[arg-type]
    return SecondOrderSource(training, images)


def feature_l1(features: nn.Module, x: Tensor, ref: Tensor) -> Tensor:
    """Mean over the taps of ``features.taps`` of the mean absolute difference of the feature
    maps of ``x`` and ``ref`` [B, 3, H, W] (Real-ESRGAN's perceptual criterion is L1)."""
    fx, fr = features.taps(x), features.taps(ref)
    return sum(F.l1_loss(a, b) for a, b in zip(fx, fr, strict=True)) / len(fx)


def real_esrgan_losses(training: Any, perceptual: nn.Module | None) -> ExtraLosses:
    """Real-ESRGAN's pixel (L1) and perceptual terms; batch[0] is the target."""
    features = perceptual if perceptual is not None else FilterBankFeatures()

    def pixel(fake: Tensor, batch: Any) -> Tensor:
        return F.l1_loss(fake, batch[0])

    def percep(fake: Tensor, batch: Any) -> Tensor:
        return feature_l1(features, fake, batch[0])

    return {"pixel": (training.pixel_weight, pixel),
            "perceptual": (training.perceptual_weight, percep)}


REAL_ESRGAN = VisionModel(
    "real-esrgan", "Real-ESRGAN x4", "real-esrgan-x4", RealESRGANTraining, compare_with="sr",
    make_generator=lambda t: SRGenerator(t.generator),
    make_discriminator=lambda t: PatchDiscriminator(t.d_channels, t.d_layers),
    extra_losses=real_esrgan_losses, batch_source=real_esrgan_source, perceptual=True)
"""The record of Real-ESRGAN x4 (serves the sr-real task)."""
