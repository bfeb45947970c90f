"""GAN data augmentation on scikit-learn's digits: does adding samples of a class-conditional GAN,
trained on the same few images, help a small CNN classifier more than classical augmentation?

For every images-per-class size N and seed s (a *unit*), N images of each class are drawn from
the pool (`commgan.vision.digits.draw_per_class`) and a classifier is trained once per
method:

- ``none``: batches of the real images alone;
- ``classical``: a fixed set of `AugmentConfig.synthetic_per_class` transformed copies per class
  (`classical_augment` of the class's real images in turn: rotation up to 15 degrees, shift
  up to 1 pixel);
- one per GAN of `commgan.vision.digits_gans.DIGITS_GANS` (e.g. ``cgan``, ``wgan-gp``): the
  GAN is trained on the same N images per class only, then
  `AugmentConfig.synthetic_per_class` samples per class are drawn once from G(z, c).

With augmentation, every batch holds ``real_fraction`` real images (drawn with replacement) and
the rest synthetic ones (drawn with replacement from the fixed synthetic set). Every method
trains the same number of steps from the same initial weights (seeded by (s, N)); its batches
are seeded by (s, N, method); the accuracy is measured on the `TEST_SIZE` held-out digits.

Sample quality of every augmenting method (`QUALITY_COLUMNS`): the accuracy of a *reference*
classifier, trained on the whole pool, on the synthetic images (labelled by their class), and
the distance of each synthetic image to its nearest real training image of its class, next to
the same distance of the held-out test digits of that class.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from commgan.errors import CommganError
from commgan.rng import derive_seed, generator, scoped_rng
from commgan.vision.classifier import (
    ClassifierTraining,
    DigitsClassifier,
    accuracy,
    predict,
    train_classifier,
)
from commgan.vision.digits import (
    NUM_CLASSES,
    classical_augment,
    digits_split,
    draw_per_class,
    max_per_class,
)
from commgan.vision.digits_gans import (
    DIGITS_GANS,
    gan_training,
    generate_digits,
    train_digits_gan,
)

__all__ = ["BASE_METHODS", "COLUMNS", "MAX_CLASSIFIER_STEPS", "MAX_GAN_ITERATIONS", "MAX_SEEDS",
           "MAX_SYNTHETIC_PER_CLASS", "QUALITY_COLUMNS", "AugmentConfig", "AugmentResult",
           "AugmentShared", "AugmentUnit", "reference_classifier", "run_augment", "run_unit"]

BASE_METHODS: tuple[str, ...] = ("none", "classical")
"""The methods without a GAN."""
COLUMNS: tuple[str, ...] = ("method", "per_class", "seed", "accuracy")
"""Columns of the augmentation table (accuracy: share of the held-out digits, in [0, 1])."""
QUALITY_COLUMNS: tuple[str, ...] = (
    "method", "per_class", "seed", "label_accuracy", "worst_class_accuracy", "nn_distance",
    "test_nn_distance", "train_seconds")
"""Columns of the sample-quality table: reference-classifier accuracy on the synthetic images
(all, and of the worst class); mean RMS per-pixel distance in ink units [0, 1] of a synthetic
image / of a held-out test digit to the nearest training image of its class; wall seconds of
the GAN's training (0 for classical)."""
SAMPLES_SHOWN = 8
"""Synthetic images per class kept for the sample grids (from the first seed)."""
MAX_SEEDS = 1000
"""The most seeds per size of one study."""
MAX_SYNTHETIC_PER_CLASS = 10_000
"""The most synthetic images per class of an augmenting method (100,000 images of 8x8 pixels,
26 MB as float32)."""
MAX_GAN_ITERATIONS = 1_000_000
"""The most iterations of a digits GAN (the defaults are 1000 and 2000)."""
MAX_CLASSIFIER_STEPS = 1_000_000
"""The most training steps of a classifier (the default is 300)."""

UnitRunner = Callable[[Callable[[Any, Any], Any], Any, list], Iterable[tuple[Any, Any]]]
"""``runner(fn, shared, units) -> (unit, fn(shared, unit))`` pairs in the units' order."""
Log = Callable[[str], None]


@dataclass(frozen=True)
class AugmentConfig:
    """One augmentation study."""

    per_class: tuple[int, ...] = (5, 10, 20, 50)
    """Training images per class (the sizes)."""
    seeds: int = 5
    """Seeds per size: seed, seed + 1, ..."""
    seed: int = 0
    """First seed."""
    gans: tuple[str, ...] = tuple(DIGITS_GANS)
    """GAN variants (keys of `DIGITS_GANS`)."""
    gan_iterations: int | None = None
    """Iterations of every GAN; None = each GAN's default."""
    synthetic_per_class: int = 200
    """Synthetic images per class added by an augmenting method."""
    real_fraction: float = 0.5
    """Share of real images in each classifier batch of an augmenting method."""
    max_shift: int = 1
    """Classical augmentation: largest shift in pixels."""
    max_rotation_deg: float = 15.0
    """Classical augmentation: largest rotation in degrees."""
    classifier: ClassifierTraining = field(default_factory=ClassifierTraining)
    """Classifier training of every method."""
    reference_steps: int = 1000
    """Steps of the reference classifier trained on the whole pool (sample quality)."""
    device: str = "cpu"
    """Torch device of the trainings."""

    def __post_init__(self) -> None:
        limit = max_per_class()
        if not self.per_class or any(not 0 < n <= limit for n in self.per_class):
            raise CommganError(f"images per class must be in [1, {limit}], got "
                               f"{', '.join(map(str, self.per_class)) or 'none'}")
        bounds = (("seeds", self.seeds, MAX_SEEDS),
                  ("synthetic_per_class", self.synthetic_per_class, MAX_SYNTHETIC_PER_CLASS),
                  ("gan_iterations", 1 if self.gan_iterations is None else self.gan_iterations,
                   MAX_GAN_ITERATIONS),
                  ("classifier steps", self.classifier.steps, MAX_CLASSIFIER_STEPS))
        for name, value, bound in bounds:
            if not 0 < value <= bound:
                raise CommganError(f"{name} must be in [1, {bound:,}], got "
                                   f"{value if value < 10**18 else 'over 10^18'}")
        unknown = [name for name in self.gans if name not in DIGITS_GANS]
        if unknown or len(set(self.gans)) != len(self.gans):
            raise CommganError(f"GANs {', '.join(self.gans)}: unknown or repeated; valid: "
                               f"{', '.join(DIGITS_GANS)}")
        if not 0 < self.real_fraction < 1:
            raise CommganError(f"real_fraction must be in (0, 1), got {self.real_fraction}")

    @property
    def methods(self) -> tuple[str, ...]:
        """``none``, ``classical`` and the GANs, in table order."""
        return (*BASE_METHODS, *self.gans)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON), with each GAN's training config."""
        data = asdict(self)
        data["gan_training"] = {name: gan_training(name, self.gan_iterations).to_dict()
                                for name in self.gans}
        return data


@dataclass(frozen=True)
class AugmentShared:
    """What every unit reads: the config and the reference classifier's weights."""

    config: AugmentConfig
    reference_state: dict[str, Tensor]


@dataclass(frozen=True)
class AugmentUnit:
    """One (images per class, seed) cell: every method trained on the same draw."""

    per_class: int
    seed: int
    first_seed: bool = False
    """Keep sample images for the grids."""


@dataclass
class UnitResult:
    """Rows of one unit: accuracies, sample quality, sample images of each augmenting method
    ([10, SAMPLES_SHOWN, 1, 8, 8], first seed only)."""

    rows: list[dict[str, Any]]
    quality: list[dict[str, Any]]
    samples: dict[str, Tensor]


@dataclass
class AugmentResult:
    """A finished study: the tables and the sample images."""

    table: pd.DataFrame
    """`COLUMNS`: one row per method, size and seed."""
    quality: pd.DataFrame
    """`QUALITY_COLUMNS`: one row per augmenting method, size and seed."""
    reference_accuracy: float
    """Held-out accuracy of the reference classifier trained on the whole pool."""
    samples: dict[int, dict[str, Tensor]]
    """size -> method -> images [10, SAMPLES_SHOWN, 1, 8, 8] of the first seed."""
    real_samples: dict[int, Tensor]
    """size -> the first seed's real training images [10, min(N, SAMPLES_SHOWN), 1, 8, 8]."""


def reference_classifier(config: AugmentConfig) -> DigitsClassifier:
    """The classifier trained on the whole pool (``reference_steps`` steps, no augmentation)."""
    split = digits_split()
    training = replace(config.classifier, steps=config.reference_steps)
    return train_classifier((split.pool_images, split.pool_labels), None, training,
                            derive_seed("reference-init", config.seed),
                            derive_seed("reference-batches", config.seed), device=config.device)


def classical_set(images: Tensor, labels: Tensor, per_class: int, seed: int,
                  config: AugmentConfig) -> tuple[Tensor, Tensor]:
    """``per_class`` transformed copies per class, sorted by class: the class's real images in
    turn, each copy with its own random rotation and shift (generator seeded by ``seed``)."""
    index = torch.cat([torch.nonzero(labels == digit).squeeze(1).repeat(per_class)[:per_class]
                       for digit in range(NUM_CLASSES)])
    moved = classical_augment(images[index], generator(seed), config.max_shift,
                              config.max_rotation_deg)
    return moved, labels[index]


def _nearest_distance(queries: Tensor, query_labels: Tensor, images: Tensor,
                      labels: Tensor) -> float:
    """Mean over queries of the RMS per-pixel distance (ink units, [0, 1]) to the nearest
    image of the same class."""
    distances = []
    for digit in range(NUM_CLASSES):
        q = queries[query_labels == digit].flatten(1)
        r = images[labels == digit].flatten(1)
        if len(q) and len(r):
            nearest = torch.cdist(q, r).min(dim=1).values
            distances.append(nearest / 2 / q.shape[1] ** 0.5)  # [-1, 1] -> [0, 1] ink, RMS
    return float(torch.cat(distances).mean())


def sample_quality(reference: nn.Module, synthetic: tuple[Tensor, Tensor],
                   real: tuple[Tensor, Tensor]) -> dict[str, float]:
    """Quality measures of synthetic images (see `QUALITY_COLUMNS`) against the real training
    images they were made from."""
    split = digits_split()
    predicted = predict(reference, synthetic[0])
    correct = (predicted == synthetic[1]).float()
    per_class = [float(correct[synthetic[1] == digit].mean()) for digit in range(NUM_CLASSES)]
    return {
        "label_accuracy": float(correct.mean()),
        "worst_class_accuracy": min(per_class),
        "nn_distance": _nearest_distance(*synthetic, *real),
        "test_nn_distance": _nearest_distance(split.test_images, split.test_labels, *real),
    }


def _shown(images: Tensor, per_class: int) -> Tensor:
    """The first ``per_class`` images of each class of a class-sorted set: [10, k, 1, 8, 8]."""
    total = len(images) // NUM_CLASSES
    return images.reshape(NUM_CLASSES, total, *images.shape[1:])[:, :per_class].clone()


def run_unit(shared: AugmentShared, unit: AugmentUnit) -> UnitResult:
    """Train and measure every method on one (images per class, seed) draw."""
    config = shared.config
    with scoped_rng():  # initial weights, overwritten by the reference's
        reference = DigitsClassifier(config.classifier.channels, config.classifier.dropout)
    reference.load_state_dict(shared.reference_state)
    reference.to(config.device).eval()
    n, seed = unit.per_class, unit.seed
    real = draw_per_class(n, seed)
    synthetic: dict[str, tuple[Tensor, Tensor] | None] = {"none": None}
    seconds: dict[str, float] = {"classical": 0.0}
    synthetic["classical"] = classical_set(*real, config.synthetic_per_class,
                                           derive_seed("classical", seed, n), config)
    for name in config.gans:
        start = time.perf_counter()
        gen, _ = train_digits_gan(gan_training(name, config.gan_iterations), *real,
                                  derive_seed("gan", seed, n, name), device=config.device,
                                  name=f"{name} N={n} seed {seed}")
        seconds[name] = time.perf_counter() - start
        synthetic[name] = generate_digits(gen, config.synthetic_per_class,
                                          derive_seed("gan-samples", seed, n, name))
    split = digits_split()
    rows, quality, samples = [], [], {}
    for method in config.methods:
        model = train_classifier(real, synthetic[method], config.classifier,
                                 derive_seed("classifier-init", seed, n),
                                 derive_seed("classifier-batches", seed, n, method),
                                 config.real_fraction, config.device)
        rows.append({"method": method, "per_class": n, "seed": seed,
                     "accuracy": accuracy(model, split.test_images, split.test_labels)})
        made = synthetic[method]
        if made is not None:
            quality.append({"method": method, "per_class": n, "seed": seed,
                            **sample_quality(reference, made, real),
                            "train_seconds": seconds[method]})
            if unit.first_seed:
                samples[method] = _shown(made[0], SAMPLES_SHOWN)
    if unit.first_seed:
        samples["real"] = _shown(real[0], min(n, SAMPLES_SHOWN))
    return UnitResult(rows, quality, samples)


def run_inline(fn: Callable[[Any, Any], Any], shared: Any, units: list
               ) -> Iterator[tuple[Any, Any]]:
    """The default `UnitRunner`: every unit in this process, in order."""
    for unit in units:
        yield unit, fn(shared, unit)


def run_augment(config: AugmentConfig, runner: UnitRunner = run_inline, progress: bool = False,
                log: Log = lambda message: None) -> AugmentResult:
    """Run the study: every size x seed unit through ``runner`` (e.g. worker processes)."""
    split = digits_split()
    reference = reference_classifier(config)
    reference_accuracy = accuracy(reference, split.test_images, split.test_labels)
    log(f"augment: reference classifier on all {len(split.pool_labels)} pool digits: "
        f"held-out accuracy {reference_accuracy:.4f}")
    shared = AugmentShared(config, {k: v.cpu() for k, v in reference.state_dict().items()})
    units = [AugmentUnit(n, config.seed + i, first_seed=i == 0)
             for n in config.per_class for i in range(config.seeds)]
    rows, quality = [], []
    samples: dict[int, dict[str, Tensor]] = {}
    real_samples: dict[int, Tensor] = {}
    with tqdm(total=len(units), desc="augment", disable=not progress) as bar:
        for unit, result in runner(run_unit, shared, units):
            rows += result.rows
            quality += result.quality
            if unit.first_seed:
                real_samples[unit.per_class] = result.samples.pop("real")
                samples[unit.per_class] = result.samples
            bar.update(1)
            accuracies = ", ".join(f"{r['method']} {r['accuracy']:.3f}" for r in result.rows)
            log(f"augment: N={unit.per_class} seed {unit.seed}: {accuracies}")
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    quality_table = pd.DataFrame(quality, columns=list(QUALITY_COLUMNS))
    return AugmentResult(table, quality_table, reference_accuracy, samples, real_samples)
