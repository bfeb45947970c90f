"""``commgan generate --model stylegan --demo``: train (or load from the model cache) a StyleGAN2
on the pool of scikit-learn's digits, then measure its samples, its inversions of held-out
digits and one GANSpace edit with the reference digit classifier, and write the files.

Measures (`COLUMNS` of metrics.csv, one row per ``method``):

- ``real``: the held-out digits themselves (the classifier's accuracy and confidence on them);
- ``samples``: ``SAMPLES`` generated digits: mean confidence (top softmax probability) and
  classes covered (classes predicted for at least ``COVERED_SHARE`` of the samples); the
  generator is unconditional, so there is no accuracy;
- ``inversion-W`` / ``inversion-W+``: ``INVERTED_PER_CLASS`` held-out digits per class
  reconstructed by optimisation in W (``INVERSION_STEPS`` steps), then in W+ started from the
  W result (``REFINE_STEPS`` steps at rate ``REFINE_LR``): PSNR (ink in [0, 1], data range 1),
  the classifier's accuracy on the reconstructions (against the true labels) and confidence;
  LPIPS is NaN (there are no LPIPS weights for 8x8 grey digits);
- ``edit``: ``EDITED`` samples moved by -/+ ``EDIT_SIGMAS`` std along W's first principal
  direction: share whose predicted class differs at the two ends, mean change of ink in [0, 1];
- ``samples-untrained``, ``inversion-W-untrained``, ``inversion-W+-untrained``: the same
  measures of the generator at its initial weights (what the measures give without training);
- ``samples-cgan``: the in-project baseline, ``commgan augment``'s conditional DCGAN (default
  config, same pool; shipped): ``SAMPLES`` digits, an equal number per class; accuracy is
  against the asked class.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from commgan.checkpoint import CachedModel, ModelCache, config_hash
from commgan.fileio import atomic_write, output_set
from commgan.gan import GANTrainer, TrainerConfig
from commgan.registry import Registry
from commgan.rng import derive_seed, generator, scoped_rng, seeded_weights
from commgan.vision.classifier import ClassifierTraining, train_classifier
from commgan.vision.digits import NUM_CLASSES, digits_split
from commgan.vision.digits_gans import (
    DigitsGANTraining,
    DigitsGenerator,
    generate_digits,
    load_or_train_digits_gan,
)
from commgan.vision.generate.inversion import edit, invert, pca_directions, sample_w
from commgan.vision.generate.stylegan import (
    NUM_WS,
    StyleDiscriminator,
    StyleGANProblem,
    StyleGenerator,
)
from commgan.vision.metrics import psnr

__all__ = ["BASELINE", "COLUMNS", "GENERATE_MODELS", "MAX_STEPS", "GenerateResult",
           "GenerativeModel", "StyleGANTraining", "baseline_generator", "baseline_rows",
           "load_or_train_stylegan", "measure", "reference_classifier", "run_generate",
           "stylegan_stem", "train_stylegan", "untrained_generator", "write_generate"]

COLUMNS: tuple[str, ...] = ("method", "images", "accuracy", "confidence", "classes_covered",
                            "psnr", "lpips", "class_changed", "ink_change")
"""metrics.csv columns (NaN where a measure does not apply; see the module docstring)."""
SAMPLES = 1000
COVERED_SHARE = 0.01
INVERTED_PER_CLASS = 5
INVERSION_STEPS = 200
REFINE_STEPS = 100
REFINE_LR = 0.01
EDIT_SIGMAS = 3.0
EDITED = 100
REFERENCE_STEPS = 1000
BASELINE = "cgan"
"""The baseline's name among ``commgan.vision.digits_gans.DIGITS_GANS``."""
MAX_STEPS = 1_000_000
"""The most training iterations ``--steps`` takes."""
Log = Callable[[str], None]


@dataclass(frozen=True)
class StyleGANTraining:
    """Architecture and training of the digits StyleGAN (its identity in the model cache)."""

    iterations: int = 5000
    """GANTrainer iterations (one D and one G step each): about 5.5 min on 2 CPU cores (6.8
    with the path-length penalty), extrapolated from 20 iterations."""
    batch_size: int = 32
    """Real images per batch, drawn with replacement from the pool."""
    mapping_layers: int = 8
    """Mapping-network depth: 8 (StyleGAN, StyleGAN2) or 2 (StyleGAN2-ADA configs)."""
    path_length: bool = False
    """Add the path-length penalty to the generator loss."""
    pl_weight: float = 2.0
    """Weight of the path-length penalty when used."""
    r1_gamma: float = 0.1
    """R1 weight gamma (the penalty enters L_D as gamma / 2 * R1)."""
    mixing_prob: float = 0.9
    """Share of generator batches with style mixing."""
    z_dim: int = 32
    """Size of z."""
    w_dim: int = 32
    """Size of w."""
    channels: int = 64
    """Feature maps of every generator and discriminator layer."""
    lr: float = 2e-3
    """Adam learning rate of both sides (the mapping network's is 0.01 x this)."""
    betas: tuple[float, float] = (0.0, 0.99)
    """Adam betas of both sides (StyleGAN2)."""
    seed: int = 0
    """Seed of the initial weights, the batches and the trainer's stream."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON)."""
        return asdict(self)


@dataclass(frozen=True)
class GenerativeModel:
    """Spec record of one ``commgan generate --model`` generator."""

    name: str
    """Registry name (``--model``)."""
    display_name: str
    """Name in tables and figures."""
    summary: str
    """One line: the architecture and the game."""
    training: StyleGANTraining = field(default_factory=StyleGANTraining)
    """Default architecture and training (the model cache's identity)."""


GENERATE_MODELS: Registry[GenerativeModel] = Registry("generative model", [
    GenerativeModel("stylegan", "StyleGAN2 (digits)",
                    "mapping MLP, modulated/demodulated convs 4x4 -> 8x8, noise inputs, style "
                    "mixing; non-saturating loss + R1, optional path-length penalty"),
])
"""Model name -> record."""


def _make_generator(training: StyleGANTraining) -> StyleGenerator:
    return StyleGenerator(training.z_dim, training.w_dim, training.mapping_layers,
                          training.channels, mixing_prob=training.mixing_prob)


def train_stylegan(training: StyleGANTraining, images: Tensor, device: str = "cpu",
                   progress: bool = False) -> tuple[StyleGenerator, Any]:
    """Train on ``images`` [N, 1, 8, 8] through `GANTrainer`; (generator in eval mode, history)."""
    with seeded_weights(derive_seed("stylegan-init", training.seed)):
        gen = _make_generator(training)
        disc = StyleDiscriminator(training.channels)
    rng = generator(derive_seed("stylegan-batches", training.seed))

    def sampler() -> Tensor:
        return images[torch.randint(len(images), (training.batch_size,), generator=rng)]

    problem = StyleGANProblem(gen, disc, sampler, training.r1_gamma,
                              training.pl_weight if training.path_length else 0.0)
    config = TrainerConfig(iterations=training.iterations, lr_g=training.lr, lr_d=training.lr,
                           betas=training.betas, seed=training.seed, device=device,
                           progress=progress, log_every=max(training.iterations // 10, 1),
                           name="stylegan")
    history = GANTrainer(problem, config).fit()
    return gen.eval(), history


def _stylegan_identity(training: StyleGANTraining) -> dict:
    return json.loads(json.dumps({"model": "stylegan-digits", "training": training.to_dict()}))


def stylegan_stem(models_dir: str | Path, training: StyleGANTraining | None = None) -> Path:
    """Checkpoint stem ``models_dir/stylegan-digits-FINGERPRINT`` of ``training`` (default:
    the default config)."""
    identity = _stylegan_identity(training or StyleGANTraining())
    return ModelCache(models_dir).stem("stylegan-digits", config_hash(identity))


def load_or_train_stylegan(training: StyleGANTraining, models_dir: str | Path,
                           device: str = "cpu", progress: bool = False,
                           log: Log = lambda message: None, train_if_missing: bool = True,
                           use_shipped: bool = True) -> tuple[StyleGenerator, CachedModel]:
    """The cached generator of ``training`` (eval mode, on ``device``): from ``models_dir``, else
    the package's shipped default of the same identity (unless ``use_shipped`` is False), else
    trained now on the digits pool and saved as ``stylegan-digits-FINGERPRINT`` (unless
    ``train_if_missing`` is False: then a `CommganError`)."""
    identity = _stylegan_identity(training)
    cache = ModelCache(models_dir)
    stem = stylegan_stem(models_dir, training)
    with scoped_rng():  # initial weights, overwritten by the checkpoint or the trained ones
        gen = _make_generator(training)

    def train() -> dict:
        log(f"stylegan: training {training.iterations} iterations; it will be cached at "
            f"{stem}.safetensors")
        start, cpu_start = time.perf_counter(), time.process_time()
        trained, history = train_stylegan(training, digits_split().pool_images, device, progress)
        gen.load_state_dict(trained.state_dict())
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        tail = history.tail(100)
        metrics = {k: float(tail[k].mean()) for k in tail.columns
                   if k not in ("iteration", "seconds")}
        log(f"stylegan: trained in {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")
        return {"train_seconds": seconds, "train_cpu_seconds": cpu_seconds,
                "threads": torch.get_num_threads(), "metrics": metrics}

    cached = cache.resolve(stem, gen, identity, train, device=device, use_shipped=use_shipped,
                           train_if_missing=train_if_missing,
                           missing=f"no trained stylegan model in {models_dir}")
    cached.report("stylegan", log)
    return gen.to(device).eval(), cached


@dataclass(frozen=True)
class GenerateResult:
    """Rows of metrics.csv and the images of the figures (all [*, 1, 8, 8] in [-1, 1])."""

    rows: list[dict[str, Any]]
    samples: Tensor
    """[10, 10] grid of samples."""
    targets: Tensor
    """[10] held-out digits, one per class."""
    inversions: dict[str, Tensor]
    """space -> [10] reconstructions of ``targets``."""
    edit_strip: Tensor
    """[amounts, 10]: samples along the edit direction."""


def _ink(images: Tensor) -> Tensor:
    return ((images + 1) / 2).clamp(0, 1)


@torch.no_grad()
def _probs(classifier: torch.nn.Module, images: Tensor) -> Tensor:
    return torch.softmax(classifier(images.clamp(-1, 1)), dim=1)


def _row(method: str, images: int, **values: float) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, float("nan"))
    row.update(method=method, images=images, **values)
    return row


def _sample_rows(gen: StyleGenerator, classifier: torch.nn.Module, w: Tensor, suffix: str
                 ) -> tuple[list[dict[str, Any]], Tensor]:
    """The ``samples`` row of the images of styles w [N, w_dim], and the images."""
    with torch.no_grad():
        samples = gen.synthesis(w.unsqueeze(1).expand(-1, NUM_WS, -1))
    probs = _probs(classifier, samples)
    counts = torch.bincount(probs.argmax(1), minlength=NUM_CLASSES)
    return [_row(f"samples{suffix}", len(w), confidence=float(probs.max(1).values.mean()),
                 classes_covered=int((counts >= COVERED_SHARE * len(w)).sum()))], samples


def _inversion_rows(gen: StyleGenerator, classifier: torch.nn.Module, targets: Tensor,
                    labels: Tensor, steps: int, suffix: str, log: Log
                    ) -> tuple[list[dict[str, Any]], dict[str, Tensor]]:
    """The ``inversion-W`` and ``inversion-W+`` rows of ``targets``, and the reconstructions."""
    rows, inversions, start = [], {}, None
    for space in ("w", "w+"):
        log(f"stylegan: inverting {len(targets)} held-out digits in {space.upper()}{suffix}")
        result = invert(gen, targets, space, steps if start is None else REFINE_STEPS,
                        lr=0.05 if start is None else REFINE_LR, start=start)
        start = result.ws
        predicted = _probs(classifier, result.images)
        rows.append(_row(f"inversion-{space.upper()}{suffix}", len(targets),
                         accuracy=float((predicted.argmax(1) == labels).float().mean()),
                         confidence=float(predicted.max(1).values.mean()),
                         psnr=float(psnr(_ink(result.images), _ink(targets)).mean())))
        inversions[space] = result.images
    return rows, inversions


def reference_classifier(seed: int = 0) -> torch.nn.Module:
    """The digit classifier that judges generated digits: trained ``REFERENCE_STEPS`` steps on
    the whole pool (weights and batches from ``seed``), in eval mode."""
    split = digits_split()
    return train_classifier((split.pool_images, split.pool_labels), None,
                            ClassifierTraining(steps=REFERENCE_STEPS),
                            derive_seed("generate-reference-init", seed),
                            derive_seed("generate-reference-batches", seed)).eval()


def baseline_generator(models_dir: str | Path, seed: int = 0, log: Log = lambda message: None,
                       training: DigitsGANTraining | None = None, **cache_options: bool
                       ) -> tuple[DigitsGenerator, CachedModel]:
    """The baseline of run ``seed``: `BASELINE` with ``training`` (default: its record's)
    trained on the digits pool with a seed derived from ``seed`` (``cache_options``:
    ``use_shipped``, ``train_if_missing`` of `load_or_train_digits_gan`)."""
    return load_or_train_digits_gan(BASELINE, models_dir, derive_seed("stylegan-baseline", seed),
                                    training, log=log, **cache_options)


def baseline_rows(baseline: DigitsGenerator, classifier: torch.nn.Module, seed: int
                   ) -> list[dict[str, Any]]:
    """The ``samples-cgan`` row: ``SAMPLES`` of the conditional baseline, one class in ten each."""
    images, labels = generate_digits(baseline, SAMPLES // NUM_CLASSES,
                                     derive_seed("stylegan-baseline-samples", seed))
    probs = _probs(classifier, images)
    counts = torch.bincount(probs.argmax(1), minlength=NUM_CLASSES)
    return [_row(f"samples-{BASELINE}", len(images),
                 accuracy=float((probs.argmax(1) == labels).float().mean()),
                 confidence=float(probs.max(1).values.mean()),
                 classes_covered=int((counts >= COVERED_SHARE * len(images)).sum()))]


def measure(gen: StyleGenerator, untrained: StyleGenerator | None = None, seed: int = 0,
            inversion_steps: int = INVERSION_STEPS, log: Log = lambda message: None,
            baseline: DigitsGenerator | None = None) -> GenerateResult:
    """Every measure of the module docstring for a trained generator; with ``untrained`` (the
    same architecture at its initial weights) also its samples and inversions, as rows
    ``samples-untrained``, ``inversion-W-untrained`` and ``inversion-W+-untrained``; with
    ``baseline`` (see `baseline_generator`) the ``samples-cgan`` row."""
    gen = gen.cpu().eval()
    split = digits_split()
    classifier = reference_classifier(seed)
    probs = _probs(classifier, split.test_images)
    rows = [_row("real", len(probs), accuracy=float((probs.argmax(1) == split.test_labels)
                                                    .float().mean()),
                 confidence=float(probs.max(1).values.mean()), classes_covered=NUM_CLASSES)]
    index = torch.cat([torch.nonzero(split.test_labels == digit).squeeze(1)[:INVERTED_PER_CLASS]
                       for digit in range(NUM_CLASSES)])
    targets, labels = split.test_images[index], split.test_labels[index]
    models = [("", gen)] + ([("-untrained", untrained.cpu().eval())] if untrained else [])
    inversions, w, samples = {}, None, None
    for suffix, model in models:
        w_model = sample_w(model, SAMPLES, derive_seed("generate-samples", seed))
        sample_rows, images = _sample_rows(model, classifier, w_model, suffix)
        inversion_rows, reconstructed = _inversion_rows(model, classifier, targets, labels,
                                                        inversion_steps, suffix, log)
        rows += sample_rows + inversion_rows
        if not suffix:
            w, samples = w_model, images
            inversions = {k: v[::INVERTED_PER_CLASS] for k, v in reconstructed.items()}
    directions, std = pca_directions(gen, seed=derive_seed("generate-pca", seed))
    amounts = [k * EDIT_SIGMAS * float(std[0]) / 2 for k in (-2, -1, 0, 1, 2)]
    frames = edit(gen, w[:EDITED], directions[0], amounts)
    low, high = _probs(classifier, frames[0]), _probs(classifier, frames[-1])
    rows.append(_row("edit", EDITED,
                     class_changed=float((low.argmax(1) != high.argmax(1)).float().mean()),
                     ink_change=float((_ink(frames[-1]).mean(dim=(1, 2, 3))
                                       - _ink(frames[0]).mean(dim=(1, 2, 3))).mean())))
    if baseline is not None:
        rows += baseline_rows(baseline, classifier, seed)
    return GenerateResult(rows, samples[:100].reshape(10, 10, 1, 8, 8),
                          targets[::INVERTED_PER_CLASS], inversions, frames[:, :10])


def _grid(images: Tensor, zoom: int = 8) -> Tensor:
    """[rows, cols, 1, 8, 8] in [-1, 1] -> [3, H, W] in [0, 1] (dark ink on white, 1-pixel
    gaps), each pixel ``zoom`` x ``zoom``."""
    rows, cols = images.shape[:2]
    canvas = torch.ones(rows * 9 + 1, cols * 9 + 1)
    for r in range(rows):
        for c in range(cols):
            canvas[1 + 9 * r:9 * r + 9, 1 + 9 * c:9 * c + 9] = 1 - _ink(images[r, c, 0])
    return canvas.repeat_interleave(zoom, 0).repeat_interleave(zoom, 1).expand(3, -1, -1)


def write_generate(result: GenerateResult, out: Path) -> list[Path]:
    """samples.png (10 x 10), inversions.png (rows: held-out digit, W, W+), edit.png (rows:
    amounts -3..+3 sigma, columns: samples) and metrics.csv, all together in ``out``."""
    from commgan.vision.figures import save_png

    paths = [out / name for name in ("samples.png", "inversions.png", "edit.png", "metrics.csv")]

    def write_csv(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(COLUMNS))
            writer.writeheader()
            writer.writerows(result.rows)

    with output_set(out):
        save_png(_grid(result.samples), paths[0])
        save_png(_grid(torch.stack([result.targets, *result.inversions.values()])), paths[1])
        save_png(_grid(result.edit_strip), paths[2])
        atomic_write(paths[3], write_csv)
    return paths


def untrained_generator(training: StyleGANTraining) -> StyleGenerator:
    """The generator of ``training`` at its initial weights (those its training starts from)."""
    with seeded_weights(derive_seed("stylegan-init", training.seed)):
        return _make_generator(training)


def run_generate(training: StyleGANTraining, models_dir: str | Path, out: Path,
                 device: str = "cpu", progress: bool = False,
                 log: Log = lambda message: None) -> GenerateResult:
    """Train or load, measure, write (see the module docstring)."""
    gen, _ = load_or_train_stylegan(training, models_dir, device, progress, log)
    baseline, _ = baseline_generator(models_dir, training.seed, log)
    result = measure(gen, untrained_generator(training), training.seed, log=log,
                     baseline=baseline)
    write_generate(result, out)
    return result
