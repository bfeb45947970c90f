"""The training configs of the vision models (one dataclass per model of
`commgan.vision.training.VISION_MODELS`), saved in every checkpoint's identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import ClassVar, Self

from commgan.errors import CommganError
from commgan.vision.data import TRAIN_IMAGES
from commgan.vision.models import ColourConfig, RestorationConfig, SRConfig
from commgan.vision.unet import UNetConfig

__all__ = ["MAX_STEPS", "VALIDATION_BATCHES", "VALIDATION_CHECKS", "VALIDATION_SEED_OFFSET",
           "ColourTraining", "CycleGANTraining", "Pix2PixColourTraining", "Pix2PixEdgesTraining",
           "Pix2PixTraining", "RestorationTraining", "SRTraining", "VisionTraining", "colour_unet"]

VALIDATION_BATCHES = 4
"""Fixed batches drawn once from the validation images to choose the generator state."""
VALIDATION_CHECKS = 20
"""How often in a run (evenly spaced, and at its end) the validation PSNR is measured."""
MAX_STEPS = 1_000_000
"""The most iterations of a vision training (``--steps``; the shipped budgets are 1500 to
2000)."""
VALIDATION_SEED_OFFSET = 7919
"""The validation batches' seed is the training seed plus this (other patches, other
degradations)."""


class VisionTraining:
    """What every training config of a `VisionModel` provides (the dataclasses below)."""

    model_name: ClassVar[str]
    """Key of the config's model in `VISION_MODELS`."""
    min_training_images: ClassVar[int] = 1
    """The fewest training images the model's batch source can draw from."""
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
        """A copy with ``steps`` iterations, at most a quarter of them warm-up; CommganError
        unless ``steps`` is in [1, `MAX_STEPS`]."""
        if not 0 < steps <= MAX_STEPS:
            given = steps if steps < 10**18 else "over 10^18"
            raise CommganError(f"--steps {given}: must be in [1, {MAX_STEPS:,}] iterations")
        return replace(self, iterations=steps,  # type: ignore[type-var]
                       warmup=min(self.warmup, steps // 4))

    def smoke(self) -> Self:
        """A copy with the tiny budget of smoke runs: 3 iterations, 1 of them warm-up."""
        return replace(self, iterations=3, warmup=1)  # type: ignore[type-var]

    def with_images(self, images: Sequence[str], validation: Sequence[str] = ()) -> Self:
        """A copy that trains on ``images`` (shipped names or file paths) and, when
        ``validation`` is given, keeps the generator state that restores those images best;
        CommganError with fewer than `min_training_images` images."""
        if len(images) < self.min_training_images:
            held = (f" ({len(validation)} more held out for validation: give more distinct "
                    "photographs)") if validation else ""
            raise CommganError(f"this model trains on at least {self.min_training_images} "
                               f"images; got {len(images)}{held}")
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
    min_training_images: ClassVar[int] = 2
