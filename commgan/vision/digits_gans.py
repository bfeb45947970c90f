"""The class-conditional GANs of scikit-learn's digits, as records (`DIGITS_GANS`: conditional
DCGAN and WGAN-GP), trained by `train_digits_gan` through `commgan.gan.GANTrainer`: on a few
images per class by ``commgan augment``, on the whole pool (cached, the default shipped) as
``commgan generate``'s baseline (`load_or_train_digits_gan`). Shared by both jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from commgan.checkpoint import CachedModel, ModelCache, config_hash
from commgan.gan import (
    AdversarialGAN,
    EmbeddingCondition,
    GANTrainer,
    TrainerConfig,
    conv_block,
    dcgan_init_,
)
from commgan.registry import Registry
from commgan.rng import derive_seed, generator, seeded_weights
from commgan.vision.digits import NUM_CLASSES, digits_split

__all__ = ["DIGITS_GANS", "DigitsDiscriminator", "DigitsGAN", "DigitsGANTraining",
           "DigitsGenerator", "build_gan_problem", "digits_gan_stem", "gan_training",
           "generate_digits", "load_or_train_digits_gan", "train_digits_gan"]


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

    name: str
    """Registry name (``--gans``; the augmentation table's method name, containing "gan")."""
    display_name: str
    """Name in tables and figures."""
    summary: str
    """One line: the game."""
    training: DigitsGANTraining = field(default_factory=DigitsGANTraining)
    """Default training config."""


DIGITS_GANS: Registry[DigitsGAN] = Registry("digits GAN", [
    DigitsGAN(
        "cgan", "conditional DCGAN",
        "DCGAN-style conv G/D, label embeddings, non-saturating loss", DigitsGANTraining()),
    DigitsGAN(
        "wgan-gp", "conditional WGAN-GP", "the same G, a critic without batch norm, WGAN loss + "
        "GP 10, 5 critic steps per G step",
        DigitsGANTraining(loss="wgan", gp_weight=10.0, n_critic=5, iterations=1000, lr_g=1e-4,
                          lr_d=1e-4, betas=(0.5, 0.9), d_norm="none", mixed_batch=False)),
])
"""GAN name -> record; every name contains "gan" (the augmentation table's method names)."""


def gan_training(name: str, iterations: int | None = None) -> DigitsGANTraining:
    """The default training config of GAN ``name``, with ``iterations`` when given."""
    training = DIGITS_GANS[name].training
    return training if iterations is None else replace(training, iterations=iterations)


def build_gan_problem(training: DigitsGANTraining, images: Tensor, labels: Tensor,
                      seed: int) -> AdversarialGAN:
    """The `AdversarialGAN` of a config on the training images [N, 1, 8, 8] / labels [N].

    Weights are initialised (DCGAN init) from ``seed``; batches of ``batch_size`` (image, label)
    pairs are drawn with replacement by a generator seeded from ``seed``.
    """
    with seeded_weights(seed):
        g = dcgan_init_(DigitsGenerator(training.noise_dim, training.embed_dim,
                                        training.g_channels))
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


def _digits_gan_identity(name: str, training: DigitsGANTraining, seed: int) -> dict:
    return json.loads(json.dumps({"model": f"digits-{name}", "training": training.to_dict(),
                                  "data": "digits-pool", "seed": seed}))


def digits_gan_stem(models_dir: str | Path, name: str, training: DigitsGANTraining,
                    seed: int) -> Path:
    """Checkpoint stem ``models_dir/digits-NAME-FINGERPRINT`` of GAN ``name`` trained with
    ``training`` and ``seed`` on the whole digits pool."""
    identity = _digits_gan_identity(name, training, seed)
    return ModelCache(models_dir).stem(f"digits-{name}", config_hash(identity))


def load_or_train_digits_gan(name: str, models_dir: str | Path, seed: int,
                             training: DigitsGANTraining | None = None,
                             log: Callable[[str], None] = lambda message: None,
                             use_shipped: bool = True, train_if_missing: bool = True
                             ) -> tuple[DigitsGenerator, CachedModel]:
    """GAN ``name``'s generator (eval mode, CPU) trained on the whole digits pool
    (``digits_split().pool_images``) with ``training`` (default: its record's) and ``seed``:
    from ``models_dir``, else the package's shipped model of the same identity (unless
    ``use_shipped`` is False), else trained now and cached (unless ``train_if_missing`` is
    False: then a `CommganError`)."""
    training = training or gan_training(name)
    identity = _digits_gan_identity(name, training, seed)
    stem = digits_gan_stem(models_dir, name, training, seed)
    with seeded_weights(seed):
        gen = DigitsGenerator(training.noise_dim, training.embed_dim, training.g_channels)

    def train() -> dict:
        log(f"{name}: training {training.iterations} iterations on the digits pool; it will "
            f"be cached at {stem}.safetensors")
        split = digits_split()
        start = time.perf_counter()
        trained, _ = train_digits_gan(training, split.pool_images, split.pool_labels, seed)
        gen.load_state_dict(trained.state_dict())
        seconds = time.perf_counter() - start
        log(f"{name}: trained in {seconds:.0f} s")
        return {"train_seconds": seconds, "threads": torch.get_num_threads()}

    cached = ModelCache(models_dir).resolve(stem, gen, identity, train, use_shipped=use_shipped,
                                            train_if_missing=train_if_missing,
                                            missing=f"no trained {name} model in {models_dir}")
    cached.report(name, log)
    return gen.eval(), cached
