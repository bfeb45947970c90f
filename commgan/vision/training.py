"""The restoration GANs as records (`VISION_MODELS`), their training configs, and their training.

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
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, Self

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.gan import AdversarialGAN, ExtraLoss, GANProblem, GANTrainer, TrainerConfig
from commgan.rng import seed_weights
from commgan.vision.cyclegan import CycleGAN, CycleGenerators, UnpairedSource
from commgan.vision.data import TRAIN_IMAGES, load_image
from commgan.vision.models import (
    ColourConfig,
    ColourSRGenerator,
    ConvDiscriminator,
    RestorationConfig,
    RestorationGenerator,
    SRConfig,
    SRGenerator,
)
from commgan.vision.perceptual import FilterBankFeatures, edge_loss, perceptual_loss
from commgan.vision.sources import ColourSource, RestorationSource, sr_source
from commgan.vision.translation import FadedPairs, edges_source
from commgan.vision.unet import PatchDiscriminator, UNetConfig, UNetGenerator

__all__ = ["VISION_MODELS", "BestOnValidation", "ColourTraining", "CycleGANTraining",
           "Pix2PixColourTraining", "Pix2PixEdgesTraining", "Pix2PixTraining",
           "RestorationTraining", "SRTraining", "VisionModel", "VisionTraining", "build_problem",
           "colour_unet", "train_model", "validation_psnr"]

Log = Callable[[str], None]
ExtraLosses = dict[str, tuple[float, ExtraLoss]]
BatchSource = Callable[[], tuple[Tensor, Tensor]]

VALIDATION_BATCHES = 4
"""Fixed batches drawn once from the validation images to choose the generator state."""
VALIDATION_CHECKS = 20
"""How often in a run (evenly spaced, and at its end) the validation PSNR is measured."""
VALIDATION_SEED_OFFSET = 7919
"""The validation batches' seed is the training seed plus this (other patches, other
degradations)."""


class VisionTraining:
    """What every training config of a `VisionModel` provides (the dataclasses below)."""

    model_name: ClassVar[str]
    """Key of the config's model in `VISION_MODELS`."""
    iterations: int
    warmup: int
    adv_weight: float
    lr_g: float
    lr_d: float
    seed: int
    images: tuple[str, ...]
    validation: tuple[str, ...]
    patch: int

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)  # type: ignore[call-overload]

    def with_steps(self, steps: int) -> Self:
        """A copy with ``steps`` iterations, at most a quarter of them warm-up."""
        return replace(self, iterations=steps,  # type: ignore[type-var]
                       warmup=min(self.warmup, steps // 4))

    def smoke(self) -> Self:
        """A copy with the tiny budget of smoke runs: 3 iterations, 1 of them warm-up."""
        return replace(self, iterations=3, warmup=1)  # type: ignore[type-var]

    def with_images(self, images: Sequence[str], validation: Sequence[str] = ()) -> Self:
        """A copy that trains on ``images`` (shipped names or file paths) and, when
        ``validation`` is given, keeps the generator state that restores those images best."""
        return replace(self, images=tuple(images),  # type: ignore[type-var]
                       validation=tuple(validation))

    @property
    def min_image_size(self) -> int:
        """Smallest side in pixels of a training image this config can sample."""
        return self.patch

    def validation_source(self) -> Self:
        """The config whose batch source draws the fixed validation batches (another seed)."""
        return replace(self, seed=self.seed + VALIDATION_SEED_OFFSET)  # type: ignore[type-var]


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

    model_name: ClassVar[str] = "sr"


@dataclass
class ColourTraining(SRTraining):
    """CR-SRGAN training: x2 super-resolution of faded/darkened inputs, global colour context.

    Each sample is a patch of a region of a training image (a random square of
    ``context_min``-pixel side up to the whole image) with the region's colour statistics
    estimated from ``context_pixels`` random pixels of the region, both under the same random
    fading (`ColourSource`).
    """

    generator: ColourConfig = field(default_factory=ColourConfig)
    iterations: int = 1700
    warmup: int = 300
    context_pixels: int = 1024
    """Pixels sampled from the region for its colour statistics (a square number)."""
    context_min: int = 256
    """Smallest side of the region in (high-resolution) pixels."""
    fade_ranges: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "desaturation": (0.0, 0.8), "sepia": (0.0, 0.8), "gamma": (0.9, 2.0),
        "brightness": (0.55, 1.0), "lift": (0.0, 0.2)})
    """Range of each `Fade` parameter (uniform), reaching down to no fading at all."""

    model_name: ClassVar[str] = "colour"

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

    model_name: ClassVar[str] = "restore"

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


def _colour_fade_ranges() -> dict[str, tuple[float, float]]:
    """The fadings CR-SRGAN trains on (`ColourTraining.fade_ranges`)."""
    return ColourTraining().fade_ranges


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
    fade_ranges: dict[str, tuple[float, float]] = field(default_factory=_colour_fade_ranges)
    """Range of each `Fade` parameter (uniform), as CR-SRGAN's."""

    model_name: ClassVar[str] = "pix2pix-colour"


@dataclass
class Pix2PixEdgesTraining(Pix2PixTraining):
    """pix2pix on edges2photo: Canny edges of the training images -> the photos."""

    model_name: ClassVar[str] = "pix2pix-edges2photo"


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
    fade_ranges: dict[str, tuple[float, float]] = field(default_factory=_colour_fade_ranges)
    """Range of each `Fade` parameter of domain A (as pix2pix's)."""

    model_name: ClassVar[str] = "cyclegan-colour"


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
