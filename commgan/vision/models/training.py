"""Training a vision model: its game built from the record, `commgan.gan.GANTrainer`'s loop
(there is no other D/G loop), and the generator state chosen on validation images.

Every model is a `commgan.gan.AdversarialGAN` with ``noise_shape=None`` (G(condition)), or the
record's own `commgan.gan.GANProblem` (CycleGAN).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.gan import AdversarialGAN, GANProblem, GANTrainer, TrainerConfig
from commgan.rng import seeded_weights
from commgan.vision.data import folder_split, load_image
from commgan.vision.models.record import (
    VALIDATION_BATCHES,
    VALIDATION_CHECKS,
    VisionModel,
    VisionTraining,
)

__all__ = ["BestOnValidation", "build_problem", "model_training", "seconds_per_iteration",
           "train_model", "validation_psnr"]

Log = Callable[[str], None]


def build_problem(model: VisionModel, training: VisionTraining | None = None,
                  perceptual: nn.Module | None = None) -> AdversarialGAN | GANProblem:
    """The `AdversarialGAN` of a model and training config (generator, discriminator, losses,
    sampler), or the record's own `GANProblem` (`VisionModel.make_problem`).

    training: None = the model's default config. perceptual: feature network of a perceptual
    term (`VGG16Features` from a backbone file); None = the `FilterBankFeatures` substitute.
    """
    training = model.config(training)
    with seeded_weights(training.seed):
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


def train_model(model: VisionModel, training: VisionTraining | None = None,
                perceptual: nn.Module | None = None, device: str = "cpu", progress: bool = False,
                log: Log = lambda message: None) -> tuple[nn.Module, pd.DataFrame]:
    """Train one model through `GANTrainer`; returns (generator in eval mode, history).

    training: None = the model's default config (the shipped budget).

    With validation images the returned generator is the checked state with the best validation
    PSNR; the history then has a ``validation_psnr`` column (NaN where not checked) and
    ``history.attrs["chosen_iteration"]`` / ``["chosen_psnr"]`` (dB)."""
    training = model.config(training)
    problem = build_problem(model, training, perceptual)
    selection = None
    checkpoint_every = 100
    if training.validation:
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
                           name=model.stem)
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


def model_training(model: VisionModel, steps: int | None, train_dir: str | None,
                   notes: list[str] | None = None) -> VisionTraining | None:
    """The training config of ``model`` for ``--steps`` and ``--train-dir`` (None: the
    default, i.e. the shipped images and budget). With a folder, its photographs are split by
    image into training and validation sets (`folder_split`) and the generator state that
    restores the validation images best is kept; ``notes`` gets a line saying so."""
    if steps is None and train_dir is None:
        return None
    training = model.training()
    if steps is not None:
        training = training.with_steps(steps)
    if train_dir is not None:
        images, validation = folder_split(train_dir, min_size=training.min_image_size,
                                          notes=notes)
        training = training.with_images(images, validation)
        if notes is not None:
            notes.append(f"training on {len(images)} photographs from {train_dir} "
                         f"({len(validation)} more held out to choose the model)")
    return training


def seconds_per_iteration(model: VisionModel, training: VisionTraining,
                          iterations: int = 20) -> float:
    """Wall-clock seconds per adversarial iteration of ``model``'s game with ``training``: the
    median over ``iterations`` (at least 3) iterations without warm-up, the first two not
    counted."""
    timed = replace(training, iterations=max(iterations, 3), warmup=0)
    _, history = train_model(model, timed)
    return float(np.median(np.diff(np.concatenate([[0.0], history["seconds"].to_numpy()]))[2:]))

