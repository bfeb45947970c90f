"""Semantic label maps derived from photographs: the input of the labels2photo task (SPADE,
pix2pix).

No labelled images ship with the project, so the classes are made from the shipped photographs:
every pixel gets one of ``K = 8`` classes, the nearest of K centres in a feature space of colour
and texture. The centres are fitted once, deterministically, on the shipped training images
(`commgan.vision.data.TRAIN_IMAGES`) and are part of the task's definition: the same centres
label every image (training photographs of ``--train-dir`` included, and the held-out ones).

- features per pixel (4): the CIELAB channels ``L/100, a/100, b/100`` of the image, each
  smoothed by a Gaussian of `SMOOTH_SIGMA` pixels, and a texture feature, the local standard
  deviation of ``L/100`` in a Gaussian window of `TEXTURE_SIGMA` pixels, times
  `TEXTURE_WEIGHT`;
- centres: k-means (k-means++ initialisation, `KMEANS_ITERATIONS` Lloyd iterations) on
  `SAMPLES_PER_IMAGE` pixels drawn from each training image with seed `LABEL_SEED`, sorted by
  their lightness so that class 0 is the darkest;
- a label map is the class index per pixel, [H, W] int64 (`label_indices`), or an RGB image
  [3, H, W] with class k painted `PALETTE[k]`, a corner of the RGB cube (`label_image`): the
  form the translation tasks pass around, unchanged by 8-bit rounding, flips and rotations;
  `decode_labels` turns it back into one-hot maps [B, K, H, W].
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from commgan.vision.data import TRAIN_IMAGES, load_image, quantize, to_numpy

__all__ = ["CLASSES", "KMEANS_ITERATIONS", "LABEL_SEED", "PALETTE", "SAMPLES_PER_IMAGE",
           "SMOOTH_SIGMA", "TEXTURE_SIGMA", "TEXTURE_WEIGHT", "class_colours", "decode_labels",
           "fit_centres", "kmeans", "label_centres", "label_features", "label_image",
           "label_indices", "paint_labels"]

CLASSES = 8
"""K: classes of a label map."""
SMOOTH_SIGMA = 2.0
"""Gaussian smoothing (pixels) of the image before its colour features."""
TEXTURE_SIGMA = 3.0
"""Gaussian window (pixels) of the local standard deviation of lightness."""
TEXTURE_WEIGHT = 2.0
"""Scale of the texture feature against the colour features."""
SAMPLES_PER_IMAGE = 4096
"""Pixels drawn from each training image for k-means."""
KMEANS_ITERATIONS = 30
"""Lloyd iterations of k-means."""
LABEL_SEED = 0
"""Seed of the pixel draw and of the k-means++ initialisation."""
PALETTE = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                        [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=torch.float32)
"""[K, 3]: the RGB colour of each class in a label image."""


def label_features(image: Tensor) -> Tensor:
    """The per-pixel features [H, W, 4] of an image [3, H, W] in [0, 1] (module docstring)."""
    from scipy.ndimage import gaussian_filter
    from skimage.color import rgb2lab

    lab = (rgb2lab(np.clip(to_numpy(image), 0, 1)) / 100.0).astype(np.float32)
    smooth = np.stack([gaussian_filter(lab[..., c], SMOOTH_SIGMA) for c in range(3)], axis=-1)
    lightness = lab[..., 0]
    mean = gaussian_filter(lightness, TEXTURE_SIGMA)
    variance = gaussian_filter(lightness**2, TEXTURE_SIGMA) - mean**2
    texture = TEXTURE_WEIGHT * np.sqrt(np.clip(variance, 0, None))
    return torch.from_numpy(np.concatenate([smooth, texture[..., None]], axis=-1)).float()


def kmeans(points: Tensor, k: int, iterations: int, generator: torch.Generator) -> Tensor:
    """Centres [k, D] of points [N, D] (N >= k): k-means++ seeding from ``generator``, then
    ``iterations`` Lloyd steps (an empty cluster keeps its centre)."""
    if points.shape[0] < k:
        raise ValueError(f"k-means needs at least {k} points, got {points.shape[0]}")
    first = int(torch.randint(points.shape[0], (1,), generator=generator))
    centres = [points[first]]
    distance = ((points - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        chosen = int(torch.multinomial(distance + 1e-12, 1, generator=generator))
        centres.append(points[chosen])
        distance = torch.minimum(distance, ((points - points[chosen]) ** 2).sum(1))
    result = torch.stack(centres)
    for _ in range(iterations):
        assignment = torch.cdist(points, result).argmin(1)
        for j in range(k):
            members = points[assignment == j]
            if len(members):
                result[j] = members.mean(0)
    return result


def fit_centres(images: Sequence[Tensor], k: int = CLASSES, seed: int = LABEL_SEED) -> Tensor:
    """The class centres [k, 4] fitted on ``images`` ([3, H, W] each), sorted by lightness."""
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for image in images:
        features = label_features(image).reshape(-1, 4)
        picks = torch.randint(features.shape[0], (SAMPLES_PER_IMAGE,), generator=generator)
        samples.append(features[picks])
    centres = kmeans(torch.cat(samples).double(), k, KMEANS_ITERATIONS, generator).float()
    return centres[centres[:, 0].argsort()]


@cache
def label_centres() -> Tensor:
    """The task's class centres [`CLASSES`, 4], fitted on the shipped `TRAIN_IMAGES`."""
    return fit_centres([load_image(name) for name in TRAIN_IMAGES])


def label_indices(image: Tensor, centres: Tensor | None = None) -> Tensor:
    """The class of each pixel of an image [3, H, W]: [H, W] int64 in [0, K)."""
    centres = label_centres() if centres is None else centres
    features = label_features(image)
    return torch.cdist(features.reshape(-1, 4), centres).argmin(1).view(features.shape[:2])


def label_image(image: Tensor, centres: Tensor | None = None) -> Tensor:
    """The label map of an image [3, H, W] as RGB [3, H, W], class k painted `PALETTE[k]`."""
    return PALETTE[label_indices(image, centres)].permute(2, 0, 1).contiguous()


def decode_labels(labels: Tensor) -> Tensor:
    """RGB label maps [B, 3, H, W] (`label_image`, any value rounded to the nearest palette
    colour) -> one-hot maps [B, K, H, W] (float)."""
    palette = PALETTE.to(labels.device, labels.dtype)
    distance = ((labels.unsqueeze(1) - palette.view(1, -1, 3, 1, 1)) ** 2).sum(2)
    return F.one_hot(distance.argmin(1), len(PALETTE)).permute(0, 3, 1, 2).to(labels.dtype)


@cache
def class_colours(images: tuple[str, ...]) -> Tensor:
    """[K, 3]: the mean RGB colour of each class over the pixels of ``images`` (shipped names
    or file paths); mid-grey for a class none of their pixels has."""
    sums, counts = torch.zeros(CLASSES, 3), torch.zeros(CLASSES)
    for name in images:
        image = load_image(name)
        labels = label_indices(image).flatten()
        sums.index_add_(0, labels, image.reshape(3, -1).T)
        counts += torch.bincount(labels, minlength=CLASSES).float()
    grey = torch.full((CLASSES, 3), 0.5)
    return torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], grey)


def paint_labels(labels: Tensor, images: tuple[str, ...] = TRAIN_IMAGES) -> Tensor:
    """The labels2photo baseline: an RGB label map [3, H, W] with each class painted its
    `class_colours` over ``images``: [3, H, W], 8-bit rounded."""
    one_hot = decode_labels(labels.unsqueeze(0))[0]
    colours = class_colours(tuple(images))
    return quantize(torch.einsum("khw,kc->chw", one_hot, colours))
