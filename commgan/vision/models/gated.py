"""DeepFill v2 (Yu et al. 2019) on the shared core, small: the game, its training config, free-form
batches and record (``commgan restore --task inpaint`` with the "gated" model).

Generator `commgan.vision.nets.gated.GatedGenerator` (gated convolutions, coarse then refined
stage with contextual attention), discriminator `commgan.vision.nets.gated.SNPatchDiscriminator`
on (image, mask). DeepFill v2's objective:

    L_G = l1_coarse |coarse - y|_1 + l1_refined |refined - y|_1 - adv_weight E[D(out, m)]
    L_D = E[relu(1 - D(y, m))] + E[relu(1 + D(out, m))]

(hinge losses of `commgan.gan.losses`; ``out`` = the refined output with the known pixels pasted
back). The first ``warmup`` iterations train the two L1 terms alone. Training masks are
free-form strokes (`stroke_mask`: `commgan.vision.degradations.free_form_mask`, DeepFill v2's
brush strokes, kept within ``ratios``) or, for a share of the patches, rectangles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.gan.losses import hinge_discriminator_loss, hinge_generator_loss
from commgan.gan.problem import GANProblem, Metrics
from commgan.vision.data import TRAIN_IMAGES, PatchSampler
from commgan.vision.degradations import block_mask, free_form_mask
from commgan.vision.models.record import BatchSource, VisionModel, VisionTraining
from commgan.vision.nets.gated import GatedConfig, GatedGenerator, SNPatchDiscriminator

__all__ = ["GATED", "MAX_MASK_DRAWS", "GatedInpaintGAN", "GatedSource", "GatedTraining",
           "masked_condition", "stroke_mask"]

MAX_MASK_DRAWS = 100
"""Draws `stroke_mask` makes before giving up (the acceptance rate is about 85% at 64x64)."""


@dataclass
class GatedTraining(VisionTraining):
    """Training of the small DeepFill v2 on 64x64 patches with free-form holes."""

    generator: GatedConfig = field(default_factory=GatedConfig)
    """Generator architecture."""
    d_channels: int = 16
    """Width of the SN-PatchGAN (DeepFill v2: 64)."""
    d_layers: int = 4
    """SN-PatchGAN layers (5x5, stride 2; DeepFill v2: 6)."""
    patch: int = 64
    """Patch side in pixels (DeepFill v2: 256)."""
    batch_size: int = 8
    """Patches per batch."""
    iterations: int = 1000
    """GANTrainer iterations (including the warm-up); about 0.2 s (warm-up) and 0.3 s each on 2
    CPU cores."""
    warmup: int = 200
    """First iterations on the two L1 terms alone."""
    l1_coarse: float = 1.0
    """Weight of the coarse stage's L1 (DeepFill v2: 1)."""
    l1_refined: float = 1.0
    """Weight of the refined stage's L1 (DeepFill v2: 1)."""
    adv_weight: float = 0.1
    """Weight of the hinge L_G (DeepFill v2: 1; lower here for a run of hundreds of
    iterations instead of hundreds of thousands)."""
    lr_g: float = 1e-3
    """Generator Adam learning rate (cosine decay to 1%; DeepFill v2: 1e-4)."""
    lr_d: float = 4e-4
    """Discriminator Adam learning rate."""
    ratios: tuple[float, float] = (0.1, 0.3)
    """Hole ratios are uniform in this range."""
    p_free_form: float = 0.75
    """Share of patches with free-form strokes; the others get rectangles."""
    seed: int = 0
    """Seed of weights, patches and masks."""
    images: tuple[str, ...] = TRAIN_IMAGES
    """Training images (never the held-out ones)."""
    validation: tuple[str, ...] = ()
    """Validation images (see `SRTraining.validation`)."""

    def __post_init__(self) -> None:
        low, high = self.ratios
        if not 0.0 < low <= high < 1.0:
            raise ValueError(f"ratios {self.ratios} must satisfy 0 < low <= high < 1")
        if not 0.0 <= self.p_free_form <= 1.0:
            raise ValueError(f"p_free_form {self.p_free_form} must be in [0, 1]")


def stroke_mask(height: int, width: int, ratios: tuple[float, float],
                generator: torch.Generator) -> Tensor:
    """A free-form mask [1, H, W] (`free_form_mask`, brush strokes) whose covered fraction lies
    in ``ratios`` = (low, high): the target ratio is uniform in the range and the mask is drawn
    again while its last stroke segment overshoots ``high`` (a segment covers up to 13% of a
    64x64 patch); RuntimeError after `MAX_MASK_DRAWS` draws."""
    low, high = ratios
    for _ in range(MAX_MASK_DRAWS):
        ratio = low + (high - low) * float(torch.rand((), generator=generator))
        mask = free_form_mask(height, width, ratio, generator)
        if float(mask.mean()) <= high:
            return mask
    raise RuntimeError(f"no free-form mask of {height}x{width} covered at most {high} of it in "
                       f"{MAX_MASK_DRAWS} draws")


def masked_condition(image: Tensor, mask: Tensor) -> Tensor:
    """The inpaint task's model input [B, 5, H, W] of clean images [B, 3, H, W] under masks
    [B, 1, H, W] (1 = missing): the image with its hole zeroed, the mask, 1 - mask (the
    generator ignores the pre-fill of the hole, so none is computed)."""
    return torch.cat([image * (1 - mask), mask, 1 - mask], dim=1)


class GatedSource:
    """Batches ``() -> (target [B, 3, P, P], condition [B, 5, P, P])``: random patches (flips,
    rotations) under fresh masks, deterministic given ``training.seed``."""

    def __init__(self, training: GatedTraining, images: list[Tensor]) -> None:
        self.training = training
        self.patches = PatchSampler(images, training.patch, training.batch_size,
                                    seed=training.seed)
        self.generator = torch.Generator().manual_seed(training.seed + 1)

    def mask(self) -> Tensor:
        """One mask [1, P, P]: free-form strokes (`stroke_mask`, share ``p_free_form``) or
        rectangles (`block_mask`), covering a fraction in ``training.ratios``."""
        t, g = self.training, self.generator
        if float(torch.rand((), generator=g)) < t.p_free_form:
            return stroke_mask(t.patch, t.patch, t.ratios, g)
        low, high = t.ratios
        return block_mask(t.patch, t.patch, low + (high - low) * float(torch.rand((), generator=g)),
                          g)

    def __call__(self) -> tuple[Tensor, Tensor]:
        """One batch of ``training.batch_size`` pairs."""
        target = self.patches.sample()[0]
        masks = torch.stack([self.mask() for _ in range(len(target))])
        return target, masked_condition(target, masks)


class GatedInpaintGAN:
    """DeepFill v2's game as a `GANProblem` (see the module docstring).

    generator: `GatedGenerator`; discriminator: D(image, mask) -> logits of any shape.
    sampler: ``() -> (target, condition [B, 5, H, W])``. Metrics: d_real, d_fake (mean D
    logits), g_adv, g_l1_coarse, g_l1_refined (unweighted).
    """

    def __init__(self, generator: GatedGenerator, discriminator: nn.Module,
                 l1_coarse: float = 1.0, l1_refined: float = 1.0, adv_weight: float = 1.0,
                 sampler: Callable[[], Any] | None = None) -> None:
        self.generator, self.discriminator = generator, discriminator
        self.l1_coarse, self.l1_refined = float(l1_coarse), float(l1_refined)
        self.adv_weight = float(adv_weight)
        self.sampler = sampler

    def next_batch(self) -> Any:
        """One batch from ``sampler``."""
        if self.sampler is None:
            raise TypeError("GatedInpaintGAN has no sampler: pass data to GANTrainer.fit")
        return self.sampler()

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """Hinge L_D on the targets and the generator's outputs (constants here)."""
        target, condition = batch
        mask = condition[:, 3:4]
        with torch.no_grad():
            fake = self.generator(condition)
        real_out, fake_out = self.discriminator(target, mask), self.discriminator(fake, mask)
        return hinge_discriminator_loss(real_out, fake_out), {
            "d_real": float(real_out.detach().mean()), "d_fake": float(fake_out.detach().mean())}

    def _l1(self, batch: Any) -> tuple[Tensor, Tensor, Metrics]:
        target, condition = batch
        coarse, refined, out = self.generator.stages(condition)
        l1_c, l1_r = F.l1_loss(coarse, target), F.l1_loss(refined, target)
        loss = self.l1_coarse * l1_c + self.l1_refined * l1_r
        return loss, out, {"g_l1_coarse": float(l1_c.detach()),
                           "g_l1_refined": float(l1_r.detach())}

    def warmup_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """The two L1 terms alone (no D)."""
        loss, _, metrics = self._l1(batch)
        return loss, metrics

    def generator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """The two L1 terms plus adv_weight times the hinge L_G of the pasted output."""
        loss, out, metrics = self._l1(batch)
        adv = hinge_generator_loss(self.discriminator(out, batch[1][:, 3:4]))
        return loss + self.adv_weight * adv, {"g_adv": float(adv.detach()), **metrics}


def _gated_problem(training: Any, generator: nn.Module, discriminator: nn.Module,
                   sampler: BatchSource) -> GANProblem:
    return GatedInpaintGAN(generator, discriminator, training.l1_coarse,  # type: ignore[arg-type]
                           training.l1_refined, training.adv_weight, sampler=sampler)


GATED = VisionModel(
    "gated", "gated-conv GAN", "gated-inpaint", GatedTraining, compare_with="restore",
    make_generator=lambda t: GatedGenerator(t.generator),
    make_discriminator=lambda t: SNPatchDiscriminator(t.d_channels, t.d_layers),
    extra_losses=lambda t, perceptual: {}, batch_source=GatedSource,
    make_problem=_gated_problem)
"""The record of the small DeepFill v2 (inpaint task, ``--model gated``)."""
