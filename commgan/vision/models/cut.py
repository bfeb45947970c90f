"""CUT (Park et al. 2020, contrastive unpaired translation) on the shared core: the PatchNCE
loss, the game, its training config and record.

One direction only: G maps domain A (faded/sepia/dark photos) to domain B (clean photos). No
second generator, no cycle: the content of the input is kept by a contrastive loss on G's
encoder features. For a patch of the output (the query q, at one position of encoder layer l)
the patch of the input at the same position is the positive k+, the patches of the input at
the other sampled positions of the same image are the negatives k-:

    l(q, k+, k-) = -log( exp(q.k+ / tau) / (exp(q.k+ / tau) + sum_n exp(q.k-_n / tau)) )
    L_PatchNCE(G, H, X) = mean over layers l and positions s of l(z^_l,s, z_l,s, z_l,S\\s)

with z = H_l(G_enc^l(x)) and z^ = H_l(G_enc^l(G(x))), tau = 0.07, 256 positions per layer.
CUT's full objective (its "identity" NCE term included, lambda_X = lambda_Y = 1):

    L_G = LS(D(G(a))) + lambda (L_PatchNCE(G, H, A) + L_PatchNCE(G, H, B)) / 2
    L_D = LS_D(D(b), D(G(a)))

LSGAN losses (`commgan.gan.losses`), the PatchGAN D of CycleGAN; G and the heads H
(`commgan.vision.nets.cut.CUTGenerator`) are the generator side. The batches are CycleGAN's
unpaired ones (`commgan.vision.models.cyclegan.UnpairedSource`), the generator state is chosen
on its paired validation batches (`FadedPairs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.gan.losses import lsgan_discriminator_loss, lsgan_generator_loss
from commgan.gan.problem import GANProblem, Metrics
from commgan.vision.data import TRAIN_IMAGES
from commgan.vision.models.crsrgan import colour_fade_ranges
from commgan.vision.models.cyclegan import FadedPairs, UnpairedSource
from commgan.vision.models.record import BatchSource, VisionModel, VisionTraining
from commgan.vision.nets.cut import CUTGenerator
from commgan.vision.nets.discriminators import PatchDiscriminator
from commgan.vision.nets.unet import UNetConfig

__all__ = ["CUT", "CUT_COLOUR", "CUTTraining", "patch_nce_loss"]


def patch_nce_loss(query: Tensor, key: Tensor, temperature: float = 0.07) -> Tensor:
    """PatchNCE per query: query, key [B, N, C] (L2-normalised embeddings at N positions of B
    images) -> losses [B, N].

    Row n of image b is a cross-entropy over the N keys of the same image with the key at
    position n as the right class: the positive pair (n, n), the other N - 1 positions the
    negatives (CUT's ``nce_includes_all_negatives_from_minibatch=False``). The keys are
    constants (no gradient), as in CUT.
    """
    if query.shape != key.shape or query.dim() != 3:
        raise ValueError(f"query and key must both be [B, N, C], got {tuple(query.shape)} and "
                         f"{tuple(key.shape)}")
    logits = torch.bmm(query, key.detach().transpose(1, 2)) / temperature  # [B, N, N]
    b, n, _ = logits.shape
    target = torch.arange(n, device=query.device).repeat(b)
    return F.cross_entropy(logits.reshape(b * n, n), target, reduction="none").view(b, n)


class CUT:
    """The CUT game as a `GANProblem`.

    generator: `CUTGenerator` (G and the heads H); discriminator: D(x) -> scores of any shape.
    nce_weight: lambda of the PatchNCE terms; identity: add the identity term
    L_PatchNCE(G, H, B) (CUT; FastCUT leaves it out); num_patches: positions per layer;
    temperature: tau; adv_weight: weight of the LSGAN term. sampler: ``() -> (clean [B, 3, P, P],
    degraded [B, 3, P, P])``, unpaired. seed: of the sampled positions. Metrics: d_real,
    d_fake (mean D scores), g_adv, g_nce (L_PatchNCE(G, H, A)), g_nce_identity.
    """

    def __init__(self, generator: CUTGenerator, discriminator: nn.Module,
                 nce_weight: float = 1.0, identity: bool = True, num_patches: int = 256,
                 temperature: float = 0.07, adv_weight: float = 1.0,
                 sampler: Callable[[], Any] | None = None, seed: int = 0) -> None:
        if num_patches < 2:
            raise ValueError(f"PatchNCE needs at least 2 positions per layer, got {num_patches}")
        self.generator = generator
        self.discriminator = discriminator
        self.nce_weight, self.identity = float(nce_weight), bool(identity)
        self.num_patches, self.temperature = int(num_patches), float(temperature)
        self.adv_weight = float(adv_weight)
        self.sampler = sampler
        self.positions = torch.Generator().manual_seed(int(seed))

    def next_batch(self) -> Any:
        """One unpaired batch (clean, degraded) from ``sampler``."""
        if self.sampler is None:
            raise TypeError("CUT has no sampler: pass data to GANTrainer.fit")
        return self.sampler()

    def patch_nce(self, source: Tensor, output: Tensor) -> Tensor:
        """L_PatchNCE between G's input ``source`` and its output ``output`` [B, 3, P, P]:
        the mean over the layers of the mean per-query loss."""
        g = self.generator
        with torch.no_grad():  # the keys are constants
            keys = g.encode(source)
        positions = g.sample_positions(keys, self.num_patches, self.positions)
        key_embeddings = [k.detach() for k in g.project(keys, positions)]
        queries = g.project(g.encode(output), positions)
        losses = [patch_nce_loss(q, k, self.temperature).mean()
                  for q, k in zip(queries, key_embeddings, strict=True)]
        return torch.stack(losses).mean()

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """LSGAN L_D of D on clean images and G(degraded) (a constant here)."""
        clean, degraded = batch
        with torch.no_grad():
            fake = self.generator(degraded)
        real_out, fake_out = self.discriminator(clean), self.discriminator(fake)
        loss = lsgan_discriminator_loss(real_out, fake_out)
        return loss, {"d_real": float(real_out.detach().mean()),
                      "d_fake": float(fake_out.detach().mean())}

    def _outputs(self, clean: Tensor, degraded: Tensor) -> tuple[Tensor, Tensor | None]:
        """(G(degraded), G(clean) or None): one pass over both batches, as CUT runs them."""
        if not self.identity:
            return self.generator(degraded), None
        both = self.generator(torch.cat([degraded, clean]))
        return both[:degraded.shape[0]], both[degraded.shape[0]:]

    def _nce_terms(self, batch: Any, fake: Tensor, same: Tensor | None
                   ) -> tuple[Tensor, Metrics]:
        clean, degraded = batch
        nce = self.patch_nce(degraded, fake)
        metrics = {"g_nce": float(nce.detach())}
        if same is None:
            return nce, metrics
        nce_identity = self.patch_nce(clean, same)
        metrics["g_nce_identity"] = float(nce_identity.detach())
        return 0.5 * (nce + nce_identity), metrics

    def warmup_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """The PatchNCE terms alone (no D)."""
        clean, degraded = batch
        fake, same = self._outputs(clean, degraded)
        nce, metrics = self._nce_terms(batch, fake, same)
        return self.nce_weight * nce, metrics

    def generator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """adv_weight LS(D(G(a))) + lambda (PatchNCE on A [+ identity PatchNCE on B]) / 2."""
        clean, degraded = batch
        fake, same = self._outputs(clean, degraded)
        adv = lsgan_generator_loss(self.discriminator(fake))
        nce, metrics = self._nce_terms(batch, fake, same)
        loss = self.adv_weight * adv + self.nce_weight * nce
        return loss, {"g_adv": float(adv.detach()), **metrics}


@dataclass
class CUTTraining(VisionTraining):
    """CUT training on unpaired faded (A) and clean (B) patches: CycleGAN's data, generator
    architecture, discriminator and budget (`CycleGANTraining`), CUT's losses."""

    generator: UNetConfig = field(default_factory=UNetConfig)
    """Architecture of G: CycleGAN's U-Net with the tanh output."""
    nce_layers: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Feature layers of PatchNCE: 0 = the input, 1..depth = the encoder levels."""
    num_patches: int = 256
    """Sampled positions per layer (CUT: 256; all of a layer when it has fewer)."""
    projection: int = 256
    """Width of the projection heads H_l (CUT: 256)."""
    temperature: float = 0.07
    """tau of PatchNCE (CUT: 0.07)."""
    nce_weight: float = 1.0
    """lambda of the PatchNCE terms (CUT: 1)."""
    nce_identity: bool = True
    """Add the identity term L_PatchNCE(G, H, B) (CUT: yes; FastCUT: no)."""
    d_channels: int = 32
    """Width of the PatchGAN."""
    d_layers: int = 3
    """PatchGAN strided layers."""
    patch: int = 64
    """Patch side in pixels (a multiple of 2**depth)."""
    batch_size: int = 8
    """Degraded patches per batch (and as many clean ones)."""
    iterations: int = 1500
    """GANTrainer iterations."""
    warmup: int = 0
    """First iterations on the PatchNCE terms alone (CUT has none)."""
    adv_weight: float = 1.0
    """Weight of the LSGAN term (CUT's lambda_GAN: 1)."""
    lr_g: float = 2e-4
    """Adam learning rate of G and the heads (cosine decay to 1%)."""
    lr_d: float = 2e-4
    """Adam learning rate of D."""
    seed: int = 0
    """Seed of weights, patches, fadings and sampled positions."""
    images: tuple[str, ...] = TRAIN_IMAGES
    """Training images (never the held-out ones); at least two."""
    validation: tuple[str, ...] = ()
    """Validation images (see `SRTraining.validation`)."""
    fade_ranges: dict[str, tuple[float, float]] = field(default_factory=colour_fade_ranges)
    """Range of each `Fade` parameter of domain A (as CycleGAN's)."""
    min_training_images: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if self.patch % 2**self.generator.depth:
            raise ValueError(f"patch {self.patch} must be a multiple of 2**depth = "
                             f"{2**self.generator.depth}")


def _cut_problem(training: Any, generator: nn.Module, discriminator: nn.Module,
                 sampler: BatchSource) -> GANProblem:
    return CUT(generator, discriminator, training.nce_weight, training.nce_identity,
               training.num_patches, training.temperature, training.adv_weight,
               sampler=sampler, seed=training.seed)


CUT_COLOUR = VisionModel(
    "cut-colour", "CUT", "cut-colour", CUTTraining, compare_with="cyclegan-colour",
    make_generator=lambda t: CUTGenerator(t.generator, t.nce_layers, t.projection),
    make_discriminator=lambda t: PatchDiscriminator(t.d_channels, t.d_layers),
    extra_losses=lambda t, perceptual: {}, batch_source=UnpairedSource,
    make_problem=_cut_problem, validation_source=FadedPairs)
"""The record of CUT on colour."""
