"""CycleGAN (Zhu et al. 2017) on the shared core: the game, its unpaired batch source, its
training config and record.

Domain A: degraded (faded/sepia/dark) photos; domain B: clean photos. Two generators G_AB
(restores) and G_BA (degrades), two PatchGAN discriminators D_A and D_B, LSGAN losses
(`commgan.gan.losses`), the cycle-consistency L1 loss with weight lambda = 10 and the identity
L1 loss with weight 0.5 * lambda (the paper's setting):

    L_G = LS(D_B(G_AB(a))) + LS(D_A(G_BA(b)))
          + lambda (|G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1)
          + 0.5 lambda (|G_AB(b) - b|_1 + |G_BA(a) - a|_1)
    L_D = LS_D(D_B(b), D_B(G_AB(a))) + LS_D(D_A(a), D_A(G_BA(b)))

The problem follows `commgan.gan.GANProblem` and is trained by `commgan.gan.GANTrainer`; the
generator state is chosen on paired faded/clean batches (`FadedPairs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.errors import CommganError
from commgan.gan import GANProblem
from commgan.gan.losses import lsgan_discriminator_loss, lsgan_generator_loss
from commgan.gan.problem import Metrics
from commgan.vision.data import TRAIN_IMAGES, PatchSampler
from commgan.vision.degradations import fade, random_fade
from commgan.vision.models.crsrgan import colour_fade_ranges
from commgan.vision.models.record import BatchSource, VisionModel, VisionTraining
from commgan.vision.nets.discriminators import PatchDiscriminator
from commgan.vision.nets.unet import UNetConfig, UNetGenerator

__all__ = ["CYCLEGAN_COLOUR", "CycleGAN", "CycleGANTraining", "CycleGenerators", "FadedPairs",
           "UnpairedSource"]


class CycleGenerators(nn.ModuleDict):
    """The two generators, ``{"G_AB": degraded -> clean, "G_BA": clean -> degraded}``; calling
    the dict applies G_AB (the restoration), [B, 3, H, W] -> [B, 3, H, W]."""

    def __init__(self, restore: nn.Module, degrade: nn.Module) -> None:
        super().__init__({"G_AB": restore, "G_BA": degrade})

    def forward(self, degraded: Tensor) -> Tensor:
        """G_AB(degraded [B, 3, H, W]) -> restored [B, 3, H, W]."""
        return self["G_AB"](degraded)


class CycleGAN:
    """The CycleGAN game as a `GANProblem`.

    generators: `CycleGenerators` (G_AB, G_BA); discriminators: ``nn.ModuleDict`` with "D_A"
    (scores degraded images) and "D_B" (scores clean images), each D(x) -> scores of any shape.
    cycle_weight: lambda of the cycle loss (10); identity_weight: the identity loss's weight
    relative to lambda (0.5). sampler: ``() -> (clean [B, 3, P, P], degraded [B, 3, P, P])``,
    unpaired. Metrics: d_a_real, d_a_fake, d_b_real, d_b_fake (mean D scores), g_adv, g_cycle,
    g_identity (unweighted sums over both directions).
    """

    def __init__(self, generators: CycleGenerators, discriminators: nn.ModuleDict,
                 cycle_weight: float = 10.0, identity_weight: float = 0.5,
                 sampler: Callable[[], Any] | None = None) -> None:
        self.generator = generators
        self.discriminator = discriminators
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.sampler = sampler

    def next_batch(self) -> Any:
        """One unpaired batch (clean, degraded) from ``sampler``."""
        if self.sampler is None:
            raise TypeError("CycleGAN has no sampler: pass data to GANTrainer.fit")
        return self.sampler()

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """LSGAN L_D of D_A plus that of D_B (the generators' outputs are constants)."""
        clean, degraded = batch
        g, d = self.generator, self.discriminator
        with torch.no_grad():
            fake_clean, fake_degraded = g["G_AB"](degraded), g["G_BA"](clean)
        a_real, a_fake = d["D_A"](degraded), d["D_A"](fake_degraded)
        b_real, b_fake = d["D_B"](clean), d["D_B"](fake_clean)
        loss = lsgan_discriminator_loss(a_real, a_fake) + lsgan_discriminator_loss(b_real, b_fake)
        return loss, {name: float(out.detach().mean()) for name, out in (
            ("d_a_real", a_real), ("d_a_fake", a_fake), ("d_b_real", b_real),
            ("d_b_fake", b_fake))}

    def _reconstruction(self, batch: Any, fake_clean: Tensor, fake_degraded: Tensor
                        ) -> tuple[Tensor, Tensor]:
        """(cycle L1 summed over both directions, identity L1 summed over both)."""
        clean, degraded = batch
        g = self.generator
        cycle = (F.l1_loss(g["G_BA"](fake_clean), degraded)
                 + F.l1_loss(g["G_AB"](fake_degraded), clean))
        identity = F.l1_loss(g["G_AB"](clean), clean) + F.l1_loss(g["G_BA"](degraded), degraded)
        return cycle, identity

    def warmup_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """The cycle and identity terms alone (no D); metrics g_cycle, g_identity."""
        clean, degraded = batch
        fake_clean = self.generator["G_AB"](degraded)
        fake_degraded = self.generator["G_BA"](clean)
        cycle, identity = self._reconstruction(batch, fake_clean, fake_degraded)
        loss = self.cycle_weight * (cycle + self.identity_weight * identity)
        return loss, {"g_cycle": float(cycle.detach()), "g_identity": float(identity.detach())}

    def generator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """LSGAN L_G of both generators + lambda cycle + 0.5 lambda identity."""
        clean, degraded = batch
        g, d = self.generator, self.discriminator
        fake_clean, fake_degraded = g["G_AB"](degraded), g["G_BA"](clean)
        adv = (lsgan_generator_loss(d["D_B"](fake_clean))
               + lsgan_generator_loss(d["D_A"](fake_degraded)))
        cycle, identity = self._reconstruction(batch, fake_clean, fake_degraded)
        loss = adv + self.cycle_weight * (cycle + self.identity_weight * identity)
        return loss, {"g_adv": float(adv.detach()), "g_cycle": float(cycle.detach()),
                      "g_identity": float(identity.detach())}


class UnpairedSource:
    """Unpaired CycleGAN batches: ``() -> (clean [B, 3, P, P], degraded [B, 3, P, P])``.

    For every batch the training images are split at random into two disjoint halves: the
    degraded patches (each under its own random `Fade` from ``training.fade_ranges``) come from
    one half, the clean patches from the other, so no batch holds a degraded patch and a clean
    patch of the same image, let alone an aligned pair. Images are drawn in proportion to their
    area within a half; patches get random flips and 90-degree rotations. ``last_images`` holds
    the image indices (degraded, clean) of the last batch.
    """

    def __init__(self, training: CycleGANTraining, images: list[Tensor]) -> None:
        if len(images) < 2:
            raise CommganError("CycleGAN needs at least 2 training images (its degraded and "
                               f"clean patches come from different images); got {len(images)}")
        for image in images:
            if min(image.shape[-2:]) < training.patch:
                raise CommganError(f"a training image is {image.shape[-1]}x{image.shape[-2]} "
                                   f"pixels; CycleGAN trains on {training.patch}-pixel patches")
        self.images, self.training = images, training
        self.areas = torch.tensor([float(im.shape[-2] * im.shape[-1]) for im in images])
        self.generator = torch.Generator().manual_seed(training.seed)
        self.last_images: tuple[list[int], list[int]] = ([], [])

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (), generator=self.generator))

    def _patches(self, indices: Tensor, count: int) -> tuple[Tensor, list[int]]:
        """``count`` random patches [count, 3, P, P] from the images ``indices``."""
        p = self.training.patch
        chosen = indices[torch.multinomial(self.areas[indices], count, replacement=True,
                                           generator=self.generator)].tolist()
        patches = []
        for i in chosen:
            image = self.images[i]
            y, x = self._randint(image.shape[-2] - p + 1), self._randint(image.shape[-1] - p + 1)
            patch = torch.rot90(image[:, y:y + p, x:x + p], self._randint(4), (1, 2))
            patches.append(patch.flip(2) if self._randint(2) else patch)
        return torch.stack(patches), chosen

    def __call__(self) -> tuple[Tensor, Tensor]:
        """One batch of ``training.batch_size`` clean and as many degraded patches."""
        order = torch.randperm(len(self.images), generator=self.generator)
        half = len(self.images) // 2
        n = self.training.batch_size
        degraded, from_a = self._patches(order[:half], n)
        clean, from_b = self._patches(order[half:], n)
        degraded = torch.stack([fade(patch, random_fade(self.generator,
                                                        self.training.fade_ranges))
                                for patch in degraded])
        self.last_images = (from_a, from_b)
        return clean, degraded


@dataclass
class CycleGANTraining(VisionTraining):
    """CycleGAN training on unpaired faded (A) and clean (B) patches (`UnpairedSource`)."""

    generator: UNetConfig = field(default_factory=UNetConfig)
    """Architecture of both generators: the U-Net with CycleGAN's tanh output (an
    identity-initialised head, as pix2pix's `colour_unet`, stays at the identity: there the
    cycle and identity losses are zero)."""
    d_channels: int = 32
    """Width of both PatchGANs."""
    d_layers: int = 3
    """PatchGAN strided layers."""
    patch: int = 64
    """Patch side in pixels."""
    batch_size: int = 8
    """Degraded patches per batch (and as many clean ones)."""
    iterations: int = 1500
    """GANTrainer iterations."""
    warmup: int = 0
    """First iterations on the cycle and identity terms alone (CycleGAN has none)."""
    cycle_weight: float = 10.0
    """lambda of the cycle-consistency L1 (CycleGAN: 10)."""
    identity_weight: float = 0.5
    """Weight of the identity L1 relative to lambda (CycleGAN: 0.5)."""
    adv_weight: float = 1.0
    """Weight of the LSGAN terms."""
    lr_g: float = 2e-4
    """Adam learning rate of both generators (cosine decay to 1%)."""
    lr_d: float = 2e-4
    """Adam learning rate of both discriminators."""
    seed: int = 0
    """Seed of weights, patches and fadings."""
    images: tuple[str, ...] = TRAIN_IMAGES
    """Training images (never the held-out ones); at least two."""
    validation: tuple[str, ...] = ()
    """Validation images (see `SRTraining.validation`)."""
    fade_ranges: dict[str, tuple[float, float]] = field(default_factory=colour_fade_ranges)
    """Range of each `Fade` parameter of domain A (as pix2pix's)."""
    min_training_images: ClassVar[int] = 2


class FadedPairs:
    """Paired colour batches for CycleGAN's validation: ``() -> (clean [B, 3, P, P], faded
    [B, 3, P, P])``, each patch under its own random `Fade` (parameters uniform in
    ``training.fade_ranges``), with random flips and 90-degree rotations."""

    def __init__(self, training: CycleGANTraining, images: list[Tensor]) -> None:
        self.patches = PatchSampler(images, training.patch, training.batch_size,
                                    seed=training.seed)
        self.ranges = training.fade_ranges

    def __call__(self) -> tuple[Tensor, Tensor]:
        clean = self.patches.sample()[0]
        generator = self.patches.generator
        faded = torch.stack([fade(patch, random_fade(generator, self.ranges)) for patch in clean])
        return clean, faded


def _cyclegan_problem(training: Any, generator: nn.Module, discriminator: nn.Module,
                      sampler: BatchSource) -> GANProblem:
    return CycleGAN(generator, discriminator, training.cycle_weight, training.identity_weight,
                    sampler=sampler)


CYCLEGAN_COLOUR = VisionModel(
    "cyclegan-colour", "CycleGAN", "cyclegan-colour", CycleGANTraining,
    make_generator=lambda t: CycleGenerators(UNetGenerator(t.generator),
                                             UNetGenerator(t.generator)),
    make_discriminator=lambda t: nn.ModuleDict({
        "D_A": PatchDiscriminator(t.d_channels, t.d_layers),
        "D_B": PatchDiscriminator(t.d_channels, t.d_layers)}),
    extra_losses=lambda t, perceptual: {}, batch_source=UnpairedSource,
    make_problem=_cyclegan_problem, validation_source=FadedPairs)
"""The record of CycleGAN on colour."""
