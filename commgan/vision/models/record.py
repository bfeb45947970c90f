"""The record of a vision model (`VisionModel`) and what every training config provides
(`VisionTraining`).

A model is one file of `commgan.vision.models`: its training config (a `VisionTraining`
dataclass, saved in every checkpoint's identity), its batch source and losses, and its record;
`commgan.vision.models.registry.VISION_MODELS` lists the records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar, Self

from torch import Tensor, nn

from commgan.errors import CommganError
from commgan.gan import ExtraLoss, GANProblem

__all__ = ["MAX_STEPS", "VALIDATION_BATCHES", "VALIDATION_CHECKS", "VALIDATION_SEED_OFFSET",
           "BatchSource", "ExtraLosses", "VisionModel", "VisionTraining"]

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

ExtraLosses = dict[str, tuple[float, ExtraLoss]]
"""Terms added to the generator's loss: ``{name: (weight, fn(fake, batch) -> loss)}``."""
BatchSource = Callable[[], tuple[Tensor, Tensor]]
"""``() -> (target [B, 3, P, P], condition [B, C, P/s, P/s])``."""


class VisionTraining:
    """What every training config of a `VisionModel` provides (the dataclasses of the model
    files)."""

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


@dataclass(frozen=True)
class VisionModel:
    """Spec record of one image GAN: how to build, feed and train it, and its cache name."""

    name: str
    """Registry name (``VISION_MODELS[name]``; a task names the model that serves it)."""
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
    compare_with: str | None = None
    """The closest model already in the project for the same job (a `VISION_MODELS` name):
    measured beside this one by the command's run with the default config (shipped, never
    trained for it); None = only the classical baseline."""

    def config(self, training: VisionTraining | None = None) -> VisionTraining:
        """``training``, or the default config (the shipped budget) when None; a TypeError for
        a config of another model."""
        if training is None:
            return self.training()
        if not isinstance(training, self.training):
            raise TypeError(f"model {self.name} trains with a {self.training.__name__}, "
                            f"not a {type(training).__name__}")
        return training
