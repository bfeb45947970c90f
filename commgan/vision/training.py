"""The vision GANs as records (`VISION_MODELS`) and their training (configs in
`commgan.vision.configs`).

Every model is an `commgan.gan.AdversarialGAN` with ``noise_shape=None`` (G(condition)), trained
by `commgan.gan.GANTrainer`: there is no other D/G loop.

- SRGAN x4 (Ledig et al.; seed 003 eq. (1)): l_SR = l_X + 1e-3 l_Gen, with the content loss
  l_X = MSE on images scaled to [-1, 1] and l_Gen = -log D(G(I_LR)) (non-saturating); the first
  ``warmup`` iterations train G on l_X alone (an SRResNet start).
- CR-SRGAN (seed 003 section 3.1): the same game at x2 on faded/darkened inputs; G estimates a
  global colour transform from the colour statistics of a large region (`ColourSource`).
- The multi-loss GAN (seed 001): L = L_GAN + alpha L_perceptual + beta L1 + gamma L_edge, on
  inputs with occlusion (block and free-form masks), noise and block removal.
- pix2pix (Isola et al.): U-Net G, conditional PatchGAN D(input, output), L_cGAN + 100 L1, one
  model per paired task of `commgan.vision.translation` (colour, edges2photo).
- CycleGAN (Zhu et al.; `commgan.vision.cyclegan`): a `GANProblem` of its own (two G, two D,
  LSGAN, cycle and identity L1) on unpaired faded and clean patches.

The model cache is `commgan.vision.cache`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.gan import AdversarialGAN, ExtraLoss, GANProblem, GANTrainer, TrainerConfig
from commgan.rng import seed_weights
from commgan.vision.configs import (
    VALIDATION_BATCHES,
    VALIDATION_CHECKS,
    ColourTraining,
    CycleGANTraining,
    Pix2PixColourTraining,
    Pix2PixEdgesTraining,
    RestorationTraining,
    SRTraining,
    VisionTraining,
)
from commgan.vision.cyclegan import CycleGAN, CycleGenerators, UnpairedSource
from commgan.vision.data import load_image
from commgan.vision.models import (
    ColourSRGenerator,
    ConvDiscriminator,
    RestorationGenerator,
    SRGenerator,
)
from commgan.vision.perceptual import FilterBankFeatures, edge_loss, perceptual_loss
from commgan.vision.sources import ColourSource, RestorationSource, sr_source
from commgan.vision.translation import FadedPairs, edges_source
from commgan.vision.unet import PatchDiscriminator, UNetGenerator

__all__ = ["VISION_MODELS", "BestOnValidation", "VisionModel", "build_problem", "train_model",
           "validation_psnr"]

Log = Callable[[str], None]
ExtraLosses = dict[str, tuple[float, ExtraLoss]]
BatchSource = Callable[[], tuple[Tensor, Tensor]]

def _pix2pix_losses(training: Any, perceptual: nn.Module | None) -> ExtraLosses:
    """pix2pix's lambda L1 between G(x) and the target."""
    return {"l1": (training.l1_weight, lambda fake, batch: F.l1_loss(fake, batch[0]))}


def _pix2pix_discriminator(training: Any) -> nn.Module:
    return PatchDiscriminator(training.d_channels, training.d_layers,
                              cond_channels=training.generator.in_channels)


def _cyclegan_problem(training: Any, generator: nn.Module, discriminator: nn.Module,
                      sampler: BatchSource) -> GANProblem:
    return CycleGAN(generator, discriminator, training.cycle_weight, training.identity_weight,
                    sampler=sampler)


def _content_losses(training: Any, perceptual: nn.Module | None) -> ExtraLosses:
    """SRGAN's content loss l_X: MSE on images scaled to [-1, 1]."""
    def content(fake: Tensor, batch: Any) -> Tensor:
        return F.mse_loss(2 * fake - 1, 2 * batch[0] - 1)

    return {"content": (1.0, content)}


def _multi_losses(training: Any, perceptual: nn.Module | None) -> ExtraLosses:
    """The multi-loss GAN's alpha L_perceptual + beta L1 + gamma L_edge."""
    features = perceptual if perceptual is not None else FilterBankFeatures()

    def perceptual_term(fake: Tensor, batch: Any) -> Tensor:
        return perceptual_loss(features, fake, batch[0])

    return {
        "perceptual": (training.alpha, perceptual_term),
        "l1": (training.beta, lambda fake, batch: F.l1_loss(fake, batch[0])),
        "edge": (training.gamma, lambda fake, batch: edge_loss(fake, batch[0])),
    }


@dataclass(frozen=True)
class VisionModel:
    """Spec record of one restoration GAN: how to build, feed and train it, and its cache name."""

    display_name: str
    """Name in tables and figures, e.g. "SRGAN x4"."""
    stem: str
    """Cache name: files ``STEM-FINGERPRINT.safetensors`` / ``.json``."""
    training: type[VisionTraining]
    """Training config class; its defaults are the shipped budget."""
    make_generator: Callable[[Any], nn.Module]
    """``(training) -> G``: G(condition [B, C, h, w]) -> image [B, 3, H, W]."""
    make_discriminator: Callable[[Any], nn.Module]
    """``(training) -> D``: D(image [B, 3, H, W]) -> logits [B] or [B, 1, h', w']."""
    extra_losses: Callable[[Any, nn.Module | None], ExtraLosses]
    """``(training, perceptual features or None) -> {name: (weight, fn)}`` added to L_G."""
    batch_source: Callable[[Any, list[Tensor]], BatchSource]
    """``(training, training images) -> () -> (target, condition)``."""
    perceptual: bool = False
    """Trains with a perceptual term, whose network (VGG16 from backbone weights, else the
    filter-bank substitute) is part of the cache identity."""
    loss: str = "nonsaturating"
    """Adversarial loss mode of the `AdversarialGAN` (`commgan.gan.GAN_MODES`)."""
    condition_discriminator: bool = False
    """D scores (output, condition) pairs: D(x, c) (pix2pix); False: D(x)."""
    make_problem: Callable[[Any, nn.Module, nn.Module, BatchSource], GANProblem] | None = None
    """``(training, G, D, batch source) -> problem`` for a game other than `AdversarialGAN`
    (CycleGAN); None = the `AdversarialGAN` of the fields above."""
    validation_source: Callable[[Any, list[Tensor]], BatchSource] | None = None
    """Paired ``(target, condition)`` batches to choose the generator on when its training
    batches are not pairs (CycleGAN); None = `batch_source`."""


VISION_MODELS: dict[str, VisionModel] = {
    "sr": VisionModel(
        "SRGAN x4", "srgan-x4", SRTraining,
        make_generator=lambda t: SRGenerator(t.generator),
        make_discriminator=lambda t: ConvDiscriminator(t.d_channels, layers=3, patch=False),
        extra_losses=_content_losses, batch_source=sr_source),
    "colour": VisionModel(
        "CR-SRGAN x2", "cr-srgan-x2", ColourTraining,
        make_generator=lambda t: ColourSRGenerator(t.generator),
        make_discriminator=lambda t: ConvDiscriminator(t.d_channels, layers=3, patch=False),
        extra_losses=_content_losses, batch_source=ColourSource),
    "restore": VisionModel(
        "multi-loss GAN", "multiloss-restore", RestorationTraining,
        make_generator=lambda t: RestorationGenerator(t.generator),
        make_discriminator=lambda t: ConvDiscriminator(t.d_channels, layers=3, patch=True),
        extra_losses=_multi_losses, batch_source=RestorationSource, perceptual=True),
    "pix2pix-colour": VisionModel(
        "pix2pix", "pix2pix-colour", Pix2PixColourTraining,
        make_generator=lambda t: UNetGenerator(t.generator),
        make_discriminator=_pix2pix_discriminator, extra_losses=_pix2pix_losses,
        batch_source=ColourSource, condition_discriminator=True),
    "pix2pix-edges2photo": VisionModel(
        "pix2pix", "pix2pix-edges2photo", Pix2PixEdgesTraining,
        make_generator=lambda t: UNetGenerator(t.generator),
        make_discriminator=_pix2pix_discriminator, extra_losses=_pix2pix_losses,
        batch_source=edges_source, condition_discriminator=True),
    "cyclegan-colour": VisionModel(
        "CycleGAN", "cyclegan-colour", CycleGANTraining,
        make_generator=lambda t: CycleGenerators(UNetGenerator(t.generator),
                                                 UNetGenerator(t.generator)),
        make_discriminator=lambda t: nn.ModuleDict({
            "D_A": PatchDiscriminator(t.d_channels, t.d_layers),
            "D_B": PatchDiscriminator(t.d_channels, t.d_layers)}),
        extra_losses=lambda t, perceptual: {}, batch_source=UnpairedSource,
        make_problem=_cyclegan_problem, validation_source=FadedPairs),
}
"""Model name -> spec record. "restore" serves the inpaint and denoise tasks."""


def build_problem(training: VisionTraining, perceptual: nn.Module | None = None
                  ) -> AdversarialGAN | GANProblem:
    """The `AdversarialGAN` of a training config (generator, discriminator, losses, sampler),
    or the record's own `GANProblem` (`VisionModel.make_problem`).

    perceptual: feature network of a perceptual term (`VGG16Features` from a backbone file);
    None = the `FilterBankFeatures` substitute.
    """
    model = VISION_MODELS[training.model_name]
    seed_weights(training.seed)
    generator = model.make_generator(training)
    discriminator = model.make_discriminator(training)
    extra = model.extra_losses(training, perceptual)
    images = [load_image(name) for name in training.images]
    sampler = model.batch_source(training, images)
    if model.make_problem is not None:
        return model.make_problem(training, generator, discriminator, sampler)
    return AdversarialGAN(generator, discriminator, model.loss, noise_shape=None,
                          extra_losses=extra, adv_weight=training.adv_weight,
                          condition_discriminator=model.condition_discriminator,
                          sampler=sampler)


def validation_psnr(generator: nn.Module, batches: Sequence[tuple[Tensor, Tensor]]) -> float:
    """Mean PSNR in dB of ``generator(condition)`` (clipped to [0, 1]) against the target over
    fixed ``(target [B, 3, H, W], condition)`` batches, in eval mode without gradients."""
    was_training = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    with torch.no_grad():
        errors = [F.mse_loss(generator(condition.to(device)).clamp(0, 1), target.to(device),
                             reduction="none").flatten(1).mean(1)
                  for target, condition in batches]
    generator.train(was_training)
    return float((-10 * torch.log10(torch.cat(errors).clamp_min(1e-10))).mean())


class BestOnValidation:
    """A `GANTrainer` checkpoint callback that keeps the generator state with the best
    validation PSNR (`validation_psnr`); ``scores`` maps iteration -> PSNR in dB."""

    def __init__(self, generator: nn.Module, batches: Sequence[tuple[Tensor, Tensor]]) -> None:
        self.generator, self.batches = generator, list(batches)
        self.scores: dict[int, float] = {}
        self.best_state: dict[str, Tensor] | None = None
        self.best_iteration = -1

    def __call__(self, state: dict) -> None:
        """Score the generator as it is now (``state`` is the trainer's copy of it)."""
        score = validation_psnr(self.generator, self.batches)
        self.scores[int(state["iteration"])] = score
        if self.best_state is None or score > self.scores[self.best_iteration]:
            self.best_state, self.best_iteration = state["generator"], int(state["iteration"])


def train_model(training: VisionTraining, perceptual: nn.Module | None = None,
                device: str = "cpu", progress: bool = False, log: Log = lambda message: None
                ) -> tuple[nn.Module, pd.DataFrame]:
    """Train one model through `GANTrainer`; returns (generator in eval mode, history).

    With validation images the returned generator is the checked state with the best validation
    PSNR; the history then has a ``validation_psnr`` column (NaN where not checked) and
    ``history.attrs["chosen_iteration"]`` / ``["chosen_psnr"]`` (dB)."""
    problem = build_problem(training, perceptual)
    selection = None
    checkpoint_every = 100
    if training.validation:
        model = VISION_MODELS[training.model_name]
        source = (model.validation_source or model.batch_source)(
            training.validation_source(), [load_image(name) for name in training.validation])
        selection = BestOnValidation(problem.generator,
                                     [source() for _ in range(VALIDATION_BATCHES)])
        checkpoint_every = max(training.iterations // VALIDATION_CHECKS, 1)
    config = TrainerConfig(iterations=training.iterations, warmup=training.warmup,
                           lr_g=training.lr_g, lr_d=training.lr_d, betas=(0.9, 0.999),
                           lr_decay="cosine", seed=training.seed, device=device,
                           progress=progress, log_every=max(training.iterations // 10, 1),
                           checkpoint_every=checkpoint_every,
                           name=VISION_MODELS[training.model_name].stem)
    trainer = GANTrainer(problem, config, on_checkpoint=selection)
    history = trainer.fit()
    if selection is not None:
        if trainer.iteration not in selection.scores:
            selection(trainer.state_dict())
        problem.generator.load_state_dict(selection.best_state)
        history["validation_psnr"] = history["iteration"].map(selection.scores)
        history.attrs["chosen_iteration"] = selection.best_iteration
        history.attrs["chosen_psnr"] = selection.scores[selection.best_iteration]
        log(f"chosen on validation: iteration {selection.best_iteration}, "
            f"{selection.scores[selection.best_iteration]:.2f} dB on "
            f"{len(training.validation)} held-out image(s)")
    return problem.generator.eval(), history
