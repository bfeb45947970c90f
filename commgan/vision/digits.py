"""scikit-learn's handwritten digits (8x8, shipped with the package): their split and classical
augmentation.

- Images are scaled from scikit-learn's 0..16 ink levels to [-1, 1] (x / 8 - 1; -1 = no ink),
  float32 [N, 1, 8, 8]; labels are int64 [N] in 0..9.
- `digits_split`: a stratified held-out test set of `TEST_SIZE` images (half of the 1797, fixed
  once by `SPLIT_SEED`); the other half is the pool from which `draw_per_class` draws the few
  training images of a seed.
- `classical_augment`: a random rotation and a random shift of whole pixels, one per image.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from commgan.errors import CommganError
from commgan.rng import derive_seed

__all__ = ["NUM_CLASSES", "SIDE", "SPLIT_SEED", "TEST_SIZE", "DigitsSplit", "classical_augment",
           "digits_split", "draw_per_class", "max_per_class"]

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
