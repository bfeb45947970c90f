"""SPADE (Park et al. 2019) on labels2photo, with pix2pix on the same label maps to compare: the
game, the training configs, the batches and the records.

The task's input is a label map of K colour/texture classes derived from the photograph
(`commgan.vision.labels`). G (`commgan.vision.nets.spade.SPADEGenerator`) draws a photo from the
map and a style z; its VAE encoder E gives a photo's style, so that at training time G
reconstructs the photo of the map from E's style, and at test time any z ~ N(0, I) gives
another photo of the same map (z = 0: the mean style, the one measured by PSNR/SSIM). With
(mu, logvar) = E(y), z = mu + exp(logvar / 2) eps, y^ = G(m, z):

    L_D = sum_s hinge_D(D_s(y, m), D_s(y^, m))
    L_G = sum_s -D_s(y^, m) + lambda_fm FM(y^, y) + lambda_l1 |y^ - y|_1 + lambda_kl KL(mu, logvar)

over the scales s of the multi-scale conditional PatchGAN
(`commgan.vision.nets.spade.MultiScaleDiscriminator`); FM is the L1 distance of D's intermediate
features of y^ and y, averaged over the layers and scales (pix2pixHD's feature matching);
KL = mean over the batch of -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)). SPADE's VGG
term is replaced by the L1 term (the backbone file is optional in this project).

pix2pix on labels2photo is pix2pix's U-Net and loss (`commgan.vision.models.pix2pix`) on the
same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.gan.losses import hinge_discriminator_loss, hinge_generator_loss
from commgan.gan.problem import GANProblem, Metrics
from commgan.vision.data import TRAIN_IMAGES, PatchSampler
from commgan.vision.labels import label_image
from commgan.vision.models.pix2pix import Pix2PixTraining, pix2pix_discriminator, pix2pix_losses
from commgan.vision.models.record import BatchSource, VisionModel, VisionTraining
from commgan.vision.nets.spade import MultiScaleDiscriminator, SPADEConfig, SPADEGenerator
from commgan.vision.nets.unet import UNetGenerator

__all__ = ["PIX2PIX_LABELS", "SPADE_LABELS", "SPADEGame", "SPADETraining", "kl_divergence",
           "labels_source", "style_diversity"]


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) of [B, z_dim] each: the batch mean of the sum over
    the dimensions."""
    return (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()


def labels_source(training: Any, images: list[Tensor]) -> PatchSampler:
    """labels2photo batches: ``() -> (photo [B, 3, P, P], label map [B, 3, P, P])``, each whole
    image labelled once (`commgan.vision.labels.label_image`), patches aligned, random flips and
    rotations."""
    pairs = [(label_image(image), image) for image in images]
    return PatchSampler(pairs, training.patch, training.batch_size, seed=training.seed)


class SPADEGame:
    """The SPADE game (module docstring) as a `GANProblem`.

    generator: `SPADEGenerator`; discriminator: `MultiScaleDiscriminator`. sampler: ``() ->
    (photo, labels)``. seed: of the styles' noise eps. Metrics: d_real, d_fake (mean logits),
    g_adv, g_fm, g_l1, g_kl (unweighted).
    """

    def __init__(self, generator: SPADEGenerator, discriminator: MultiScaleDiscriminator,
                 fm_weight: float = 10.0, l1_weight: float = 10.0, kl_weight: float = 0.05,
                 adv_weight: float = 1.0, sampler: Callable[[], Any] | None = None,
                 seed: int = 0) -> None:
        self.generator, self.discriminator = generator, discriminator
        self.fm_weight, self.l1_weight = float(fm_weight), float(l1_weight)
        self.kl_weight, self.adv_weight = float(kl_weight), float(adv_weight)
        self.sampler = sampler
        self.noise = torch.Generator().manual_seed(int(seed))

    def next_batch(self) -> Any:
        """One batch (photo, labels) from ``sampler``."""
        if self.sampler is None:
            raise TypeError("SPADEGame has no sampler: pass data to GANTrainer.fit")
        return self.sampler()

    def reconstruct(self, photo: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """(G(labels, z) with z drawn from E(photo) [B, 3, H, W], KL of E(photo))."""
        mu, logvar = self.generator.encode(photo)
        eps = torch.randn(mu.shape, generator=self.noise).to(mu.device, mu.dtype)
        z = mu + (0.5 * logvar).exp() * eps
        return self.generator(labels, z), kl_divergence(mu, logvar)

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """Hinge L_D summed over the scales (the reconstruction a constant)."""
        photo, labels = batch
        with torch.no_grad():
            fake = self.reconstruct(photo, labels)[0]
        real_out = self.discriminator(photo, labels)
        fake_out = self.discriminator(fake, labels)
        loss = sum(hinge_discriminator_loss(r, f) for r, f in zip(real_out, fake_out,
                                                                  strict=True))
        return loss, {"d_real": float(torch.stack([r.detach().mean() for r in real_out]).mean()),
                      "d_fake": float(torch.stack([f.detach().mean() for f in fake_out]).mean())}

    def warmup_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """l1_weight L1 + kl_weight KL alone (no D)."""
        photo, labels = batch
        fake, kl = self.reconstruct(photo, labels)
        l1 = F.l1_loss(fake, photo)
        return self.l1_weight * l1 + self.kl_weight * kl, {"g_l1": float(l1.detach()),
                                                           "g_kl": float(kl.detach())}

    def generator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """adv_weight hinge L_G + fm_weight FM + l1_weight L1 + kl_weight KL."""
        photo, labels = batch
        fake, kl = self.reconstruct(photo, labels)
        fake_taps = self.discriminator.features(fake, labels)
        with torch.no_grad():
            real_taps = self.discriminator.features(photo, labels)
        adv = sum(hinge_generator_loss(taps[-1]) for taps in fake_taps)
        fm = torch.stack([F.l1_loss(f, r) for fakes, reals in zip(fake_taps, real_taps,
                                                                  strict=True)
                          for f, r in zip(fakes[:-1], reals[:-1], strict=True)]).mean()
        l1 = F.l1_loss(fake, photo)
        loss = (self.adv_weight * adv + self.fm_weight * fm + self.l1_weight * l1
                + self.kl_weight * kl)
        return loss, {"g_adv": float(adv.detach()), "g_fm": float(fm.detach()),
                      "g_l1": float(l1.detach()), "g_kl": float(kl.detach())}


@dataclass
class SPADETraining(VisionTraining):
    """SPADE training on labels2photo: `SPADEGenerator` with its style encoder, two-scale
    conditional PatchGAN, hinge + feature matching + L1 + KL."""

    generator: SPADEConfig = field(default_factory=SPADEConfig)
    """Architecture of G and its encoder."""
    d_channels: int = 32
    """Width of each PatchGAN."""
    d_layers: int = 3
    """PatchGAN strided layers."""
    d_scales: int = 2
    """Scales of the multi-scale discriminator."""
    fm_weight: float = 10.0
    """lambda of feature matching (SPADE: 10)."""
    l1_weight: float = 10.0
    """lambda of the L1 reconstruction (in place of SPADE's VGG term, 10)."""
    kl_weight: float = 0.05
    """lambda of the KL term (SPADE: 0.05)."""
    patch: int = 64
    """Patch side in pixels (a multiple of 2**(levels - 1))."""
    batch_size: int = 8
    """Patches per batch."""
    iterations: int = 1200
    """GANTrainer iterations (about 0.3 s each on 2 CPU cores)."""
    warmup: int = 0
    """First iterations on the L1 and KL terms alone (SPADE has none)."""
    adv_weight: float = 1.0
    """Weight of the hinge term."""
    lr_g: float = 1e-4
    """Adam learning rate of G and E (SPADE's TTUR: 1e-4; cosine decay to 1%)."""
    lr_d: float = 4e-4
    """Adam learning rate of D (SPADE's TTUR: 4e-4)."""
    seed: int = 0
    """Seed of weights, patches and style noise."""
    images: tuple[str, ...] = TRAIN_IMAGES
    """Training images (never the held-out ones)."""
    validation: tuple[str, ...] = ()
    """Validation images (see `SRTraining.validation`)."""

    def __post_init__(self) -> None:
        multiple = 2**(self.generator.levels - 1)
        if self.patch % multiple:
            raise ValueError(f"patch {self.patch} must be a multiple of 2**(levels - 1) = "
                             f"{multiple}")


def _spade_problem(training: Any, generator: nn.Module, discriminator: nn.Module,
                   sampler: BatchSource) -> GANProblem:
    return SPADEGame(generator, discriminator, training.fm_weight, training.l1_weight,
                     training.kl_weight, training.adv_weight, sampler=sampler,
                     seed=training.seed)


def style_diversity(generator: SPADEGenerator, labels: Tensor,
                    distance: Callable[[Tensor, Tensor], Tensor], styles: int = 4,
                    seed: int = 0) -> float:
    """Mean pairwise ``distance`` (e.g. `commgan.vision.perceptual.LPIPS`, ([B, 3, H, W],
    [B, 3, H, W]) -> [B]) between the photos G draws from one label map [3, H, W] with
    ``styles`` styles z ~ N(0, I) (seeded): 0 when every style gives the same photo."""
    if styles < 2:
        raise ValueError(f"diversity needs at least 2 styles, got {styles}")
    device = next(generator.parameters()).device
    z = torch.randn(styles, generator.config.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        photos = generator(labels.unsqueeze(0).expand(styles, -1, -1, -1).to(device),
                           z.to(device)).clamp(0, 1)
        pairs = list(combinations(range(styles), 2))
        first = photos[[i for i, _ in pairs]]
        second = photos[[j for _, j in pairs]]
        return float(distance(first, second).mean())


SPADE_LABELS = VisionModel(
    "spade-labels2photo", "SPADE", "spade-labels2photo", SPADETraining,
    compare_with="pix2pix-labels2photo",
    make_generator=lambda t: SPADEGenerator(t.generator),
    make_discriminator=lambda t: MultiScaleDiscriminator(t.d_channels, t.d_layers, t.d_scales),
    extra_losses=lambda t, perceptual: {}, batch_source=labels_source,
    loss="hinge", condition_discriminator=True, make_problem=_spade_problem)
"""The record of SPADE on labels2photo."""
PIX2PIX_LABELS = VisionModel(
    "pix2pix-labels2photo", "pix2pix", "pix2pix-labels2photo", Pix2PixTraining,
    make_generator=lambda t: UNetGenerator(t.generator),
    make_discriminator=pix2pix_discriminator, extra_losses=pix2pix_losses,
    batch_source=labels_source, condition_discriminator=True)
"""The record of pix2pix on labels2photo (pix2pix's edges2photo config, label-map batches)."""
