"""The 8-Gaussian ring, the 2-D toy of WGAN-GP (Gulrajani et al. 2017), and its mode measures.

- `GaussianRing`: a mixture of ``modes`` equally weighted isotropic Gaussians whose centres are
  equally spaced on a circle. The default is the WGAN-GP toy: 8 modes, radius 2 / 1.414 and std
  0.02 / 1.414 (the paper's code draws centres on a radius-2 circle with std 0.02, then divides
  the data by 1.414). Coordinates are dimensionless data units.
- Measures on generated samples [N, 2]: `mode_counts` (samples within ``within_stds`` std of
  each centre), `modes_covered` (modes holding at least ``min_share`` of the samples),
  `high_quality_share` (share of samples within ``within_stds`` std of any centre) and
  `mode_kl` (KL of the high-quality samples' mode shares from the uniform 1/modes, in nats);
  `measure` computes all of them as one `ToyMeasures`.
- `toy_gan`: an `AdversarialGAN` of MLP G and D of the same size for a kind of `TOY_GAN_KINDS`
  ("vanilla": the classic non-saturating BCE GAN; "wgan-gp": Wasserstein loss with gradient
  penalty), and `ToyGANKind.trainer_config` for the n_critic and Adam settings of that kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from commgan.gan.blocks import mlp
from commgan.gan.problem import AdversarialGAN
from commgan.gan.trainer import TrainerConfig
from commgan.rng import derive_seed, seeded_weights
from commgan.rng import generator as seeded_generator

__all__ = [
    "HIGH_QUALITY_STDS",
    "MIN_MODE_SHARE",
    "TOY_GAN_KINDS",
    "GaussianRing",
    "ToyGANKind",
    "ToyMeasures",
    "high_quality_share",
    "measure",
    "mode_counts",
    "mode_kl",
    "modes_covered",
    "nearest_mode",
    "toy_gan",
]

HIGH_QUALITY_STDS = 3.0
"""A sample is high-quality when it lies within this many std of a mode's centre (a real
sample does with probability 1 - exp(-9/2) = 0.9889 in 2-D)."""
MIN_MODE_SHARE = 0.01
"""A mode is covered when at least this share of all generated samples lies within
`HIGH_QUALITY_STDS` std of its centre (an eighth of the 1/8 a perfect generator puts there)."""


@dataclass(frozen=True)
class GaussianRing:
    """Equally weighted isotropic Gaussians on a circle around the origin.

    modes: number of Gaussians; radius: distance of each centre from the origin; std: standard
    deviation of each coordinate (data units). Centre k sits at angle 2 pi k / modes.
    """

    modes: int = 8
    radius: float = 2.0 / 1.414
    std: float = 0.02 / 1.414

    def __post_init__(self) -> None:
        if self.modes < 1:
            raise ValueError(f"modes must be >= 1, got {self.modes}")
        if self.radius <= 0 or self.std <= 0:
            raise ValueError(f"radius and std must be > 0, got {self.radius}, {self.std}")

    def centres(self) -> Tensor:
        """The mode centres, [modes, 2] float32."""
        angles = 2 * math.pi * torch.arange(self.modes, dtype=torch.float64) / self.modes
        return (self.radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples [n, 2] float32: a uniformly drawn mode's centre plus N(0, std^2 I) noise."""
        index = torch.randint(self.modes, (n,), generator=generator)
        noise = torch.randn(n, 2, generator=generator)
        return self.centres()[index] + self.std * noise

    def sampler(self, batch_size: int, seed: int) -> Callable[[], Tensor]:
        """``next() -> [batch_size, 2]`` batches drawn from a generator seeded with ``seed``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rng = seeded_generator(seed)
        return lambda: self.sample(batch_size, rng)


def nearest_mode(samples: Tensor, ring: GaussianRing) -> tuple[Tensor, Tensor]:
    """(index [N] int64 of the nearest centre, distance [N] to it) of samples [N, 2]."""
    distances = torch.cdist(samples.detach().float(), ring.centres())
    distance, index = distances.min(dim=1)
    return index, distance


def mode_counts(samples: Tensor, ring: GaussianRing,
                within_stds: float = HIGH_QUALITY_STDS) -> Tensor:
    """Samples [N, 2] within ``within_stds`` std of each centre: [modes] int64 counts.

    A sample counts for its nearest centre only (the default ring's centres are 76 std apart,
    so the 3-std discs do not overlap).
    """
    index, distance = nearest_mode(samples, ring)
    close = distance <= within_stds * ring.std
    return torch.bincount(index[close], minlength=ring.modes)


def modes_covered(counts: Tensor, n_samples: int, min_share: float = MIN_MODE_SHARE) -> int:
    """Number of modes whose count (from `mode_counts`) is at least ``min_share * n_samples``."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    return int((counts >= min_share * n_samples).sum())


def high_quality_share(samples: Tensor, ring: GaussianRing,
                       within_stds: float = HIGH_QUALITY_STDS) -> float:
    """Share of samples [N, 2] within ``within_stds`` std of any centre, in [0, 1]."""
    _, distance = nearest_mode(samples, ring)
    return float((distance <= within_stds * ring.std).float().mean())


def mode_kl(counts: Tensor) -> float:
    """KL(q || uniform) in nats of the mode shares q = counts / sum(counts).

    0 for balanced modes, ln(modes / k) for k equally filled modes (ln 8 = 2.08 for one of
    eight); NaN when every count is 0.
    """
    total = float(counts.sum())
    if total == 0:
        return math.nan
    share = counts.double() / total
    filled = share[share > 0]
    return float((filled * (filled * counts.numel()).log()).sum())


@dataclass(frozen=True)
class ToyMeasures:
    """The measures of one set of generated samples (see the module docstring)."""

    counts: tuple[int, ...]
    """Samples within the high-quality radius of each mode."""
    n_samples: int
    """Samples measured."""
    modes_covered: int
    """Modes holding at least the minimum share of the samples."""
    high_quality_share: float
    """Share of the samples within the high-quality radius of any mode."""
    mode_kl: float
    """KL (nats) of the high-quality samples' mode shares from uniform."""


def measure(samples: Tensor, ring: GaussianRing, within_stds: float = HIGH_QUALITY_STDS,
            min_share: float = MIN_MODE_SHARE) -> ToyMeasures:
    """Every measure of samples [N, 2] against ``ring``."""
    counts = mode_counts(samples, ring, within_stds)
    return ToyMeasures(
        counts=tuple(int(c) for c in counts),
        n_samples=int(samples.shape[0]),
        modes_covered=modes_covered(counts, samples.shape[0], min_share),
        high_quality_share=float(counts.sum()) / samples.shape[0],
        mode_kl=mode_kl(counts),
    )


@dataclass(frozen=True)
class ToyGANKind:
    """The objective and training settings of one kind of toy GAN."""

    loss: str
    """`GANLoss` mode."""
    gp_weight: float
    """lambda of the gradient penalty (0: none)."""
    n_critic: int
    """Discriminator updates per generator update."""
    betas: tuple[float, float]
    """Adam betas of both sides."""
    lr: float = 1e-4
    """Adam learning rate of both sides (Gulrajani et al.'s toy)."""

    def trainer_config(self, iterations: int, seed: int, **overrides: object) -> TrainerConfig:
        """`TrainerConfig` of this kind: its n_critic, lr and betas, CPU, no progress bar."""
        settings: dict[str, object] = {
            "iterations": iterations, "n_critic": self.n_critic, "lr_g": self.lr,
            "lr_d": self.lr, "betas": self.betas, "seed": seed, "device": "cpu",
            "progress": False, "log_every": 0,
        }
        settings.update(overrides)
        return TrainerConfig(**settings)  # type: ignore[arg-type]


TOY_GAN_KINDS: dict[str, ToyGANKind] = {
    "vanilla": ToyGANKind("nonsaturating", gp_weight=0.0, n_critic=1, betas=(0.5, 0.999)),
    "wgan-gp": ToyGANKind("wgan", gp_weight=10.0, n_critic=5, betas=(0.5, 0.9)),
}
"""The toy GANs compared: the same networks, each with the objective and the n_critic / Adam
betas its paper prescribes (Goodfellow et al. with DCGAN's Adam; Gulrajani et al.)."""


def toy_gan(kind: str, hidden: tuple[int, ...] = (64, 64, 64), seed: int = 0,
            ring: GaussianRing | None = None, batch_size: int = 256,
            noise_dim: int = 2) -> AdversarialGAN:
    """An `AdversarialGAN` on ``ring`` (default `GaussianRing()`) for a kind of `TOY_GAN_KINDS`.

    G: mlp(noise_dim -> hidden -> 2), D: mlp(2 -> hidden -> 1), both ReLU and without any
    normalisation layer (the gradient penalty is per sample). Weights are initialised from
    ``seed``; real batches [batch_size, 2] come from a generator seeded by
    ``derive_seed("gaussian ring data", seed)``.
    """
    if kind not in TOY_GAN_KINDS:
        raise ValueError(f"unknown toy GAN kind {kind!r}; valid: {', '.join(TOY_GAN_KINDS)}")
    if not hidden or min(hidden) < 1:
        raise ValueError(f"hidden must be non-empty positive widths, got {hidden}")
    spec = TOY_GAN_KINDS[kind]
    ring = ring if ring is not None else GaussianRing()
    with seeded_weights(seed):
        generator_net = mlp(noise_dim, list(hidden), 2, activation="relu")
        discriminator_net = mlp(2, list(hidden), 1, activation="relu")
    data = ring.sampler(batch_size, derive_seed("gaussian ring data", seed))
    return AdversarialGAN(generator_net, discriminator_net, spec.loss, noise_shape=(noise_dim,),
                          gp_weight=spec.gp_weight, sampler=data)
