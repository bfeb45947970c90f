"""Training of the restoration GANs on the shared core (`commgan.gan.GANTrainer`), and the cache.

Every model here is an `commgan.gan.AdversarialGAN` with ``noise_shape=None`` (G(condition)),
trained by `commgan.gan.GANTrainer`: there is no other D/G loop.

- SRGAN x4 (Ledig et al.; seed 003 eq. (1)): l_SR = l_X + 1e-3 l_Gen, with the content loss
  l_X = MSE on images scaled to [-1, 1] (the SRGAN-MSE variant; backbone weights, when given,
  serve the multi-loss GAN's perceptual term and LPIPS, not SR) and l_Gen = -log D(G(I_LR))
  (non-saturating). The first ``warmup`` iterations train G on
  l_X alone, as SRGAN starts from a trained SRResNet.
- CR-SRGAN (seed 003 section 3.1): the same game at x2 on faded/darkened inputs; G estimates a
  global colour transform from the colour statistics of a large region (`ColourSource`).
- The multi-loss GAN (seed 001): L = L_GAN + alpha L_perceptual + beta L1 + gamma L_edge, on
  inputs with occlusion (block and free-form masks), noise and block removal.

Models are cached in a folder given by the caller (the CLI passes ``--models`` or
``commgan.checkpoint.default_models_dir()``) as ``STEM-FINGERPRINT.safetensors`` + ``.json``
(see `cache_stem`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from commgan.errors import CommganError
from commgan.gan import AdversarialGAN, GANTrainer, TrainerConfig
from commgan.vision.baselines import biharmonic_inpaint
from commgan.vision.data import TRAIN_IMAGES, PatchSampler, load_image
from commgan.vision.degradations import (
    crop_to_multiple,
    degrade_colour,
    fade,
    gaussian_noise,
    make_mask,
    pil_resize,
    random_fade,
)
from commgan.vision.models import (
    ColourConfig,
    ColourSRGenerator,
    ConvDiscriminator,
    RestorationConfig,
    RestorationGenerator,
    SRConfig,
    SRGenerator,
)
from commgan.vision.perceptual import (
    FilterBankFeatures,
    VGG16Features,
    edge_loss,
    perceptual_loss,
)

__all__ = [
    "MODELS",
    "ColourSource",
    "ColourTraining",
    "RestorationTraining",
    "SRTraining",
    "build_problem",
    "cache_stem",
    "load_or_train",
    "RestorationSource",
    "noise_condition",
    "occlusion_condition",
    "train_model",
]

Log = Callable[[str], None]


@dataclass
class SRTraining:
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

    kind = "sr"

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


@dataclass
class ColourTraining(SRTraining):
    """CR-SRGAN training: x2 super-resolution of faded/darkened inputs, global colour context.

    Each sample is a patch of a region of a training image (a random square of
    ``context_min``-pixel side up to the whole image) with the region's colour statistics
    estimated from ``context_pixels`` random pixels of the region, both under the same random
    fading (`ColourSource`), so that the generator learns to estimate the fading from statistics
    of a large area, as it meets them on a whole image.
    """

    generator: SRConfig = field(default_factory=ColourConfig)
    iterations: int = 1700
    warmup: int = 300
    context_pixels: int = 1024
    """Pixels sampled from the region for its colour statistics."""
    context_min: int = 256
    """Smallest side of the region in (high-resolution) pixels."""
    fade_ranges: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "desaturation": (0.0, 0.8), "sepia": (0.0, 0.8), "gamma": (0.9, 2.0),
        "brightness": (0.55, 1.0), "lift": (0.0, 0.2)})
    """Range of each `Fade` parameter (uniform). Wider than `FADE_RANGES` on the mild side (no
    desaturation, sepia, gamma or darkening at the low ends), so that the network sees mild
    fadings as often as strong ones and learns to estimate the strength instead of applying an
    average correction."""

    kind = "colour"


@dataclass
class RestorationTraining:
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

    kind = "restore"

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


MODELS: dict[str, type] = {"sr": SRTraining, "colour": ColourTraining,
                           "restore": RestorationTraining}
"""Model name -> training config class. "restore" serves the inpaint and denoise tasks."""

_STEMS = {"sr": "srgan-x4", "colour": "cr-srgan-x2", "restore": "multiloss-restore"}


def _make_generator(training: Any) -> nn.Module:
    if isinstance(training, RestorationTraining):
        return RestorationGenerator(training.generator)
    if isinstance(training.generator, ColourConfig):
        return ColourSRGenerator(training.generator)
    return SRGenerator(training.generator)


class RestorationSource:
    """Batches of the multi-loss GAN: ``() -> (target [B, 3, P, P], condition [B, 5, P, P])``.

    Occluded samples (block, free-form, block removal) come from a bank of ``training.bank``
    patches drawn once with their masks and biharmonic pre-fills (the pre-fill costs tens of
    milliseconds a patch), each used under a random flip/rotation (biharmonic inpainting commutes
    with them); noisy samples are drawn fresh from the training images every time.
    """

    def __init__(self, training: RestorationTraining, images: list[Tensor]) -> None:
        self.training = training
        self.patches = PatchSampler(images, training.patch, 1, seed=training.seed)
        self.generator = torch.Generator().manual_seed(training.seed + 1)
        occluded = training.p_occlusion + training.p_block_removal
        self.bank_targets, self.bank_conditions = [], []
        for _ in range(training.bank if occluded > 0 else 0):
            target = self.patches.sample()[0][0]
            u = self._rand() * occluded
            kind = ("block-removal" if u >= training.p_occlusion
                    else "block" if self._rand() < 0.5 else "free-form")
            ratio = 0.05 + (training.max_ratio - 0.05) * self._rand()
            p = training.patch
            mask = make_mask(kind, p, p, ratio, self.generator)
            self.bank_targets.append(target)
            self.bank_conditions.append(occlusion_condition(target * (1 - mask), mask))

    def _rand(self) -> float:
        return float(torch.rand((), generator=self.generator))

    def __call__(self) -> tuple[Tensor, Tensor]:
        """One batch of ``training.batch_size`` samples."""
        t = self.training
        targets, conditions = [], []
        for _ in range(t.batch_size):
            if self.bank_targets and self._rand() < t.p_occlusion + t.p_block_removal:
                i = int(torch.randint(len(self.bank_targets), (), generator=self.generator))
                k = int(torch.randint(4, (), generator=self.generator))
                flip = self._rand() < 0.5
                pair = [torch.rot90(x, k, (1, 2)) for x in
                        (self.bank_targets[i], self.bank_conditions[i])]
                if flip:
                    pair = [x.flip(2) for x in pair]
                targets.append(pair[0])
                conditions.append(pair[1])
            else:
                target = self.patches.sample()[0][0]
                lo, hi = t.noise_sigma
                sigma = lo + (hi - lo) * self._rand()
                targets.append(target)
                conditions.append(noise_condition(gaussian_noise(target, sigma, self.generator)))
        return torch.stack(targets), torch.stack(conditions)


class ColourSource:
    """Batches of CR-SRGAN: ``() -> (target [B, 3, P, P], condition [B, 6, P/s, P/s])``.

    For each sample: an image (probability proportional to its area), a square region of it
    (side uniform between ``context_min`` and the image's smaller side), a random `Fade`, a
    patch inside the region (faded, then down-sampled by the scale as `degrade_colour`; random
    flips and rotations) and ``context_pixels`` pixels drawn at random from the region of the
    down-sampled clean image, faded in the same way. The condition is the faded patch
    (channels 0-2) and the context pixels arranged as a square image (channels 3-5; only their
    colour statistics are used, see `ColourSRGenerator`).
    """

    def __init__(self, training: ColourTraining, images: list[Tensor]) -> None:
        self.training = training
        self.scale = s = training.generator.scale
        self.images = [crop_to_multiple(image, s) for image in images]
        self.lows = [pil_resize(im, (im.shape[1] // s, im.shape[2] // s)) for im in self.images]
        areas = torch.tensor([float(im.shape[1] * im.shape[2]) for im in self.images])
        self.weights = areas / areas.sum()
        self.generator = torch.Generator().manual_seed(training.seed)
        side = math.isqrt(training.context_pixels)
        if side * side != training.context_pixels:
            raise ValueError("context_pixels must be a square number")
        self.side = side

    def _randint(self, low: int, high: int) -> int:
        """Uniform in [low, high]."""
        return int(torch.randint(low, high + 1, (), generator=self.generator))

    def sample(self) -> tuple[Tensor, Tensor]:
        """One (target [3, P, P], condition [6, P/s, P/s])."""
        t, s = self.training, self.scale
        i = int(torch.multinomial(self.weights, 1, generator=self.generator))
        image, low = self.images[i], self.lows[i]
        h, w = image.shape[1:]
        region = max(self._randint(min(t.context_min, h, w), min(h, w)) // s * s, t.patch)
        ry, rx = self._randint(0, h - region) // s * s, self._randint(0, w - region) // s * s
        py = ry + self._randint(0, region - t.patch) // s * s
        px = rx + self._randint(0, region - t.patch) // s * s
        target = image[:, py:py + t.patch, px:px + t.patch]
        k = self._randint(0, 3)
        target = torch.rot90(target, k, (1, 2))
        if self._randint(0, 1):
            target = target.flip(2)
        params = random_fade(self.generator, t.fade_ranges)
        patch = degrade_colour(target, params, s)
        lr = region // s
        n = self.side * self.side
        ys = ry // s + torch.randint(lr, (n,), generator=self.generator)
        xs = rx // s + torch.randint(lr, (n,), generator=self.generator)
        context = fade(low[:, ys, xs].view(3, self.side, self.side), params)
        if context.shape[-1] != patch.shape[-1] or context.shape[-2] != patch.shape[-2]:
            context = F.interpolate(context[None], size=patch.shape[-2:], mode="nearest")[0]
        return target, torch.cat([patch, context])

    def __call__(self) -> tuple[Tensor, Tensor]:
        """One batch of ``training.batch_size`` samples."""
        pairs = [self.sample() for _ in range(self.training.batch_size)]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def occlusion_condition(degraded: Tensor, mask: Tensor) -> Tensor:
    """Generator input of an occluded image [3, H, W] with mask [1, H, W] (1 = missing):
    [5, H, W] = biharmonic pre-fill, mask, keep = 1 - mask."""
    return torch.cat([biharmonic_inpaint(degraded, mask), mask, 1 - mask])


def noise_condition(noisy: Tensor) -> Tensor:
    """Generator input of a noisy image [3, H, W]: [5, H, W] = image, no mask, keep nothing."""
    zeros = torch.zeros_like(noisy[:1])
    return torch.cat([noisy, zeros, zeros])


def _train_images(training: Any) -> list[Tensor]:
    return [load_image(name) for name in training.images]


def _sampler(training: Any) -> Callable[[], Any]:
    """The batch source of one model: ``() -> (target, condition)``."""
    images = _train_images(training)
    if isinstance(training, RestorationTraining):
        return RestorationSource(training, images)
    scale = training.generator.scale
    if isinstance(training, ColourTraining) and isinstance(training.generator, ColourConfig):
        return ColourSource(training, images)
    if isinstance(training, ColourTraining):
        def colour(target: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
            lows = [degrade_colour(t, random_fade(g), scale) for t in target]
            return target, torch.stack(lows)

        return PatchSampler(images, training.patch, training.batch_size, seed=training.seed,
                            transform=colour)
    pairs = []
    for image in images:
        high = crop_to_multiple(image, scale)
        pairs.append((pil_resize(high, (high.shape[1] // scale, high.shape[2] // scale)), high))
    return PatchSampler(pairs, training.patch, training.batch_size, scale=scale,
                        seed=training.seed)


def build_problem(training: Any, perceptual: nn.Module | None = None) -> AdversarialGAN:
    """The `AdversarialGAN` of a training config (generator, discriminator, losses, sampler).

    perceptual: feature network for the multi-loss GAN's perceptual term (`VGG16Features`
    from a backbone file); None = the `FilterBankFeatures` substitute.
    """
    torch.manual_seed(training.seed)
    generator = _make_generator(training)
    if isinstance(training, RestorationTraining):
        discriminator = ConvDiscriminator(training.d_channels, layers=3, patch=True)
        features = perceptual if perceptual is not None else FilterBankFeatures()

        def perceptual_term(fake: Tensor, batch: Any) -> Tensor:
            return perceptual_loss(features, fake, batch[0])

        extra = {
            "perceptual": (training.alpha, perceptual_term),
            "l1": (training.beta, lambda fake, batch: F.l1_loss(fake, batch[0])),
            "edge": (training.gamma, lambda fake, batch: edge_loss(fake, batch[0])),
        }
    else:
        discriminator = ConvDiscriminator(training.d_channels, layers=3, patch=False)

        def content(fake: Tensor, batch: Any) -> Tensor:
            return F.mse_loss(2 * fake - 1, 2 * batch[0] - 1)

        extra = {"content": (1.0, content)}
    return AdversarialGAN(generator, discriminator, "nonsaturating", noise_shape=None,
                          extra_losses=extra, adv_weight=training.adv_weight,
                          condition_discriminator=False, sampler=_sampler(training))


def train_model(training: Any, perceptual: nn.Module | None = None, device: str = "cpu",
                progress: bool = False, log: Log = lambda message: None
                ) -> tuple[nn.Module, pd.DataFrame]:
    """Train one model through `GANTrainer`; returns (generator in eval mode, history)."""
    problem = build_problem(training, perceptual)
    config = TrainerConfig(iterations=training.iterations, warmup=training.warmup,
                           lr_g=training.lr_g, lr_d=training.lr_d, betas=(0.9, 0.999),
                           lr_decay="cosine", seed=training.seed, device=device,
                           progress=progress, log_every=max(training.iterations // 10, 1),
                           name=_STEMS[training.kind])
    trainer = GANTrainer(problem, config)
    history = trainer.fit()
    return problem.generator.eval(), history


def _fingerprint(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def _cache_config(name: str, training: Any, perceptual_name: str) -> dict:
    """The config recorded in (and checked against) a checkpoint, as JSON would return it."""
    config = {"model": name, "training": training.to_dict(), "perceptual": perceptual_name}
    return json.loads(json.dumps(config))


def cache_stem(name: str, models_dir: str | Path, training: Any = None,
               vgg_perceptual: bool = False) -> Path:
    """Checkpoint stem ``models_dir/STEM-FINGERPRINT`` of a model and training config.

    The fingerprint hashes the whole training config and the perceptual network
    (``vgg_perceptual``: the multi-loss GAN trained with VGG16 features from a backbone file).
    """
    if name not in MODELS:
        raise CommganError(f"unknown model {name!r}; valid: {', '.join(MODELS)}")
    training = training or MODELS[name]()
    perceptual = "vgg16" if (name == "restore" and vgg_perceptual) else "filterbank-substitute"
    config = _cache_config(name, training, perceptual)
    return Path(models_dir) / f"{_STEMS[name]}-{_fingerprint(config)}"


def load_or_train(name: str, models_dir: str | Path, training: Any = None,
                  backbone_state: dict[str, Tensor] | None = None, retrain: bool = False,
                  train_if_missing: bool = True, device: str = "cpu", progress: bool = False,
                  log: Log = lambda message: None) -> nn.Module:
    """The cached generator of model ``name`` (see `MODELS`), trained now if missing.

    The cache file is `cache_stem` + ``.safetensors`` (+ ``.json`` with the training config,
    the training time and the final losses), so a changed budget or architecture never silently
    reuses another model. backbone_state: VGG16 weights (see `commgan.vision.perceptual`), used
    by the multi-loss GAN's perceptual term instead of the filter-bank substitute.
    """
    training = training or (MODELS[name]() if name in MODELS else None)
    vgg = name == "restore" and backbone_state is not None
    stem = cache_stem(name, models_dir, training, vgg)
    perceptual_name = "vgg16" if vgg else "filterbank-substitute"
    config = _cache_config(name, training, perceptual_name)
    weights, _ = checkpoint_paths(stem)
    generator = _make_generator(training)
    if weights.exists() and not retrain:
        load_checkpoint(stem, generator, config, device=device)
        log(f"{name}: using cached model {weights}")
        return generator.to(device).eval()
    if not train_if_missing:
        raise CommganError(f"no trained {name} model in {models_dir}")
    log(f"{name}: training {training.iterations} iterations (perceptual term: "
        f"{perceptual_name}); it will be cached at {weights}")
    perceptual = VGG16Features.from_state(backbone_state) if vgg else None
    start, cpu_start = time.perf_counter(), time.process_time()
    generator, history = train_model(training, perceptual, device, progress, log)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    tail = history.tail(100)
    metrics = {k: float(tail[k].mean()) for k in tail.columns
               if k not in ("iteration", "seconds") and tail[k].notna().any()}
    save_checkpoint(stem, generator, {**config, "train_seconds": seconds,
                                      "train_cpu_seconds": cpu_seconds,
                                      "threads": torch.get_num_threads(), "metrics": metrics})
    log(f"{name}: trained in {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")
    return generator.eval()
