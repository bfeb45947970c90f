"""scikit-learn's handwritten digits (8x8, shipped with the package), their split, classical
augmentation and the class-conditional GANs that learn them from a few images per class.

- Images are scaled from scikit-learn's 0..16 ink levels to [-1, 1] (x / 8 - 1; -1 = no ink),
  float32 [N, 1, 8, 8]; labels are int64 [N] in 0..9.
- `digits_split`: a stratified held-out test set of `TEST_SIZE` images (half of the 1797, fixed
  once by `SPLIT_SEED`); the other half is the pool from which `draw_per_class` draws the few
  training images of a seed.
- `classical_augment`: a random rotation and a random shift of whole pixels, one per image.
- `DIGITS_GANS`: the class-conditional GANs as records (conditional DCGAN and WGAN-GP), trained
  by `train_digits_gan` through `commgan.gan.GANTrainer` on the few images alone.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.errors import CommganError
from commgan.gan import (
    AdversarialGAN,
    EmbeddingCondition,
    GANTrainer,
    TrainerConfig,
    conv_block,
    dcgan_init_,
)
from commgan.rng import derive_seed, generator, seed_weights

__all__ = ["DIGITS_GANS", "NUM_CLASSES", "SPLIT_SEED", "TEST_SIZE", "DigitsDiscriminator",
           "DigitsGAN", "DigitsGANTraining", "DigitsGenerator", "DigitsSplit",
           "build_gan_problem", "classical_augment", "digits_split", "draw_per_class",
           "gan_training", "generate_digits", "max_per_class", "train_digits_gan"]

NUM_CLASSES = 10
SIDE = 8
"""Image side in pixels."""
SPLIT_SEED = 0
"""Seed of the one held-out split (never changes with a run's seed)."""
TEST_SIZE = 899
"""Held-out test images: half of the 1797 digits, stratified by class (89 or 90 per class)."""


@dataclass(frozen=True)
class DigitsSplit:
    """The pool (where training images are drawn from) and the held-out test set.

    Images float32 [N, 1, 8, 8] in [-1, 1]; labels int64 [N]; indices int64 [N] into
    scikit-learn's `load_digits` order.
    """

    pool_images: Tensor
    pool_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    pool_index: Tensor
    test_index: Tensor


@functools.cache
def digits_split() -> DigitsSplit:
    """The stratified split of scikit-learn's digits: `TEST_SIZE` test images, the rest pool."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images.astype(np.float32) / 8.0 - 1.0)[:, None]
    labels = digits.target.astype(np.int64)
    pool, test = train_test_split(np.arange(len(labels)), test_size=TEST_SIZE, stratify=labels,
                                  random_state=SPLIT_SEED)
    return DigitsSplit(torch.from_numpy(images[pool]), torch.from_numpy(labels[pool]),
                       torch.from_numpy(images[test]), torch.from_numpy(labels[test]),
                       torch.from_numpy(pool), torch.from_numpy(test))


def max_per_class() -> int:
    """The most training images per class a draw can hold (the smallest class of the pool)."""
    return int(torch.bincount(digits_split().pool_labels, minlength=NUM_CLASSES).min())


def draw_per_class(per_class: int, seed: int) -> tuple[Tensor, Tensor]:
    """``per_class`` pool images of every class, without replacement, drawn by seed
    ``derive_seed("digits-draw", seed, per_class)``.

    Returns images [10 * per_class, 1, 8, 8] and labels [10 * per_class], sorted by class.
    """
    limit = max_per_class()
    if not 0 < per_class <= limit:
        raise CommganError(f"images per class must be in [1, {limit}], got {per_class}")
    split = digits_split()
    rng = np.random.default_rng(derive_seed("digits-draw", seed, per_class))
    labels = split.pool_labels.numpy()
    chosen = np.concatenate([
        rng.choice(np.flatnonzero(labels == digit), per_class, replace=False)
        for digit in range(NUM_CLASSES)])
    index = torch.from_numpy(chosen)
    return split.pool_images[index], split.pool_labels[index]


def classical_augment(images: Tensor, rng: torch.Generator, max_shift: int = 1,
                      max_rotation_deg: float = 15.0) -> Tensor:
    """One random transform per image: a rotation by U(-max_rotation_deg, max_rotation_deg)
    degrees about the centre, then a shift by whole pixels drawn from {-max_shift, ..., max_shift}
    along each axis (bilinear resampling; ink moving in from outside is empty).

    images: [B, 1, H, W] in [-1, 1]; rng: a CPU torch generator. Returns [B, 1, H, W] in [-1, 1].
    """
    batch, _, height, width = images.shape
    angle = (torch.rand(batch, generator=rng) * 2 - 1) * math.radians(max_rotation_deg)
    shift = torch.randint(-max_shift, max_shift + 1, (batch, 2), generator=rng).float()
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    theta[:, 0, 2] = -2 * shift[:, 0] / width  # sampling at x - s moves the ink by +s pixels
    theta[:, 1, 2] = -2 * shift[:, 1] / height
    theta = theta.to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    ink = (images + 1) / 2  # zero padding = no ink
    moved = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (moved * 2 - 1).clamp(-1, 1)


class DigitsGenerator(nn.Module):
    """G(noise [B, noise_dim], labels [B]) -> digits [B, 1, 8, 8] in [-1, 1] (tanh).

    The label's embedding is concatenated to the noise, projected to [2C, 4, 4], up-sampled by a
    transposed conv to [C, 8, 8] and mapped to one channel (DCGAN: batch norm + ReLU, tanh out).
    """

    def __init__(self, noise_dim: int = 32, embed_dim: int = 10, channels: int = 32) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.channels = channels
        self.condition = EmbeddingCondition(NUM_CLASSES, embed_dim)
        self.project = nn.Sequential(nn.Linear(noise_dim + embed_dim, 2 * channels * 16,
                                               bias=False),
                                     nn.BatchNorm1d(2 * channels * 16), nn.ReLU())
        self.up = conv_block(2, 2 * channels, channels, 4, 2, 1, norm="batch",
                             activation="relu", transpose=True)
        self.out = conv_block(2, channels, 1, 3, 1, 1, norm="none", activation="tanh")

    def forward(self, noise: Tensor, labels: Tensor) -> Tensor:
        """Digits [B, 1, 8, 8] of classes ``labels``."""
        hidden = self.project(self.condition(noise, labels))
        return self.out(self.up(hidden.reshape(-1, 2 * self.channels, 4, 4)))


class DigitsDiscriminator(nn.Module):
    """D(x [B, 1, 8, 8], labels [B]) -> scores [B] (logits, or critic values for WGAN).

    The label's embedding is broadcast over the 8x8 pixels and concatenated to the image; two
    strided convs (8 -> 4 -> 2, LeakyReLU 0.2, no norm on the input layer, ``norm`` on the
    second) and a linear head.
    """

    def __init__(self, embed_dim: int = 10, channels: int = 32, norm: str = "batch") -> None:
        super().__init__()
        self.condition = EmbeddingCondition(NUM_CLASSES, embed_dim)
        self.features = nn.Sequential(
            conv_block(2, 1 + embed_dim, channels, 4, 2, 1, norm="none", activation="leaky"),
            conv_block(2, channels, 2 * channels, 4, 2, 1, norm=norm, activation="leaky"))
        self.head = nn.Linear(2 * channels * 4, 1)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        """Scores [B] of the images x of classes ``labels``."""
        return self.head(self.features(self.condition(x, labels)).flatten(1)).squeeze(1)


@dataclass(frozen=True)
class DigitsGANTraining:
    """How one digits GAN is built and trained (the defaults of its `DigitsGAN` record)."""

    loss: str = "nonsaturating"
    """`commgan.gan.GANLoss` mode."""
    gp_weight: float = 0.0
    """WGAN-GP lambda (0: no gradient penalty)."""
    n_critic: int = 1
    """Discriminator steps per generator step."""
    iterations: int = 2000
    """GANTrainer iterations (generator steps)."""
    batch_size: int = 64
    """Images per batch, drawn with replacement from the few training images."""
    lr_g: float = 2e-4
    """Generator Adam learning rate."""
    lr_d: float = 2e-4
    """Discriminator Adam learning rate."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas of both sides."""
    noise_dim: int = 32
    """Noise dimension of G."""
    embed_dim: int = 10
    """Label embedding size of G and D."""
    g_channels: int = 32
    """Generator width C."""
    d_channels: int = 32
    """Discriminator width C."""
    d_norm: str = "batch"
    """Norm of D's second layer ("none" for a WGAN-GP critic: the penalty is per sample)."""
    mixed_batch: bool = True
    """D scores real and generated images in one batch (batch-norm statistics of both)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON)."""
        return asdict(self)


@dataclass(frozen=True)
class DigitsGAN:
    """Spec record of one class-conditional digits GAN."""

    display_name: str
    """Name in tables and figures."""
    summary: str
    """One line: the game."""
    training: DigitsGANTraining = field(default_factory=DigitsGANTraining)
    """Default training config."""


DIGITS_GANS: dict[str, DigitsGAN] = {
    "cgan": DigitsGAN(
        "conditional DCGAN", "DCGAN-style conv G/D, label embeddings, non-saturating loss",
        DigitsGANTraining()),
    "wgan-gp": DigitsGAN(
        "conditional WGAN-GP", "the same G, a critic without batch norm, WGAN loss + GP 10, "
        "5 critic steps per G step",
        DigitsGANTraining(loss="wgan", gp_weight=10.0, n_critic=5, iterations=1000, lr_g=1e-4,
                          lr_d=1e-4, betas=(0.5, 0.9), d_norm="none", mixed_batch=False)),
}
"""GAN name -> spec record; every name contains "gan" (the augmentation table's method names)."""


def gan_training(name: str, iterations: int | None = None) -> DigitsGANTraining:
    """The default training config of GAN ``name``, with ``iterations`` when given."""
    if name not in DIGITS_GANS:
        raise CommganError(f"unknown GAN {name!r}; valid: {', '.join(DIGITS_GANS)}")
    training = DIGITS_GANS[name].training
    return training if iterations is None else replace(training, iterations=iterations)


def build_gan_problem(training: DigitsGANTraining, images: Tensor, labels: Tensor,
                      seed: int) -> AdversarialGAN:
    """The `AdversarialGAN` of a config on the training images [N, 1, 8, 8] / labels [N].

    Weights are initialised (DCGAN init) from ``seed``; batches of ``batch_size`` (image, label)
    pairs are drawn with replacement by a generator seeded from ``seed``.
    """
    seed_weights(seed)
    g = dcgan_init_(DigitsGenerator(training.noise_dim, training.embed_dim, training.g_channels))
    d = dcgan_init_(DigitsDiscriminator(training.embed_dim, training.d_channels,
                                        training.d_norm))
    rng = generator(derive_seed("gan-batches", seed))

    def sampler() -> tuple[Tensor, Tensor]:
        index = torch.randint(len(images), (training.batch_size,), generator=rng)
        return images[index], labels[index]

    return AdversarialGAN(g, d, training.loss, noise_shape=(training.noise_dim,),
                          gp_weight=training.gp_weight, sampler=sampler,
                          mixed_batch=training.mixed_batch)


def train_digits_gan(training: DigitsGANTraining, images: Tensor, labels: Tensor, seed: int,
                     device: str = "cpu", progress: bool = False, name: str | None = None
                     ) -> tuple[DigitsGenerator, pd.DataFrame]:
    """Train a digits GAN through `GANTrainer` on ``images`` [N, 1, 8, 8] / ``labels`` [N] only.

    Returns (generator in eval mode, on ``device``; the trainer's history).
    """
    problem = build_gan_problem(training, images, labels, seed)
    config = TrainerConfig(iterations=training.iterations, n_critic=training.n_critic,
                           lr_g=training.lr_g, lr_d=training.lr_d, betas=training.betas,
                           seed=seed, device=device, progress=progress,
                           log_every=max(training.iterations // 10, 1), name=name)
    history = GANTrainer(problem, config).fit()
    return problem.generator.eval(), history


@torch.no_grad()
def generate_digits(gen: DigitsGenerator, per_class: int, seed: int) -> tuple[Tensor, Tensor]:
    """``per_class`` samples of every class from G (eval mode), noise from ``seed``.

    Returns images [10 * per_class, 1, 8, 8] on the CPU and labels [10 * per_class], sorted by
    class.
    """
    device = next(gen.parameters()).device
    labels = torch.arange(NUM_CLASSES).repeat_interleave(per_class)
    noise = torch.randn(len(labels), gen.noise_dim, generator=generator(seed))
    images = gen.eval()(noise.to(device), labels.to(device))
    return images.cpu(), labels
