"""Size-independent colour statistics of an image: the global colour context of CR-SRGAN's and
the U-Net's generators."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["STATISTICS", "colour_statistics"]

_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                     [0.5, -0.418688, -0.081312]])
_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
STATISTICS = 7 * (len(_QUANTILES) + 2) + 2
"""Length of a `colour_statistics` vector."""


def colour_statistics(pixels: Tensor, max_pixels: int = 65536) -> Tensor:
    """Size-independent colour statistics of images: [B, 3, ...] in [0, 1] -> [B, STATISTICS].

    For R, G, B, Y, Cb, Cr (BT.601) and the chroma magnitude sqrt(Cb^2 + Cr^2): the 1, 5, 10,
    25, 50, 75, 90, 95, 99 % quantiles, mean and standard deviation; and the covariances of Y
    with Cb and Cr (a tint that grows with brightness, as sepia toning). These estimate the
    distribution of the image's colours, so they do not depend on the image's size or on the
    pixels' order: CR-SRGAN trains them on a random sample of a large region's pixels and applies
    them to all pixels of a whole image. More than ``max_pixels`` pixels are subsampled with a
    fixed stride.
    """
    x = pixels.flatten(2)
    if x.shape[-1] > max_pixels:
        x = x[..., :: math.ceil(x.shape[-1] / max_pixels)]
    ycc = torch.einsum("dc,bcn->bdn", _YCC.to(x), x)
    chroma = ycc[:, 1:].pow(2).sum(1, keepdim=True).add(1e-8).sqrt()
    channels = torch.cat([x, ycc, chroma], dim=1)
    ordered = channels.sort(dim=-1).values
    n = ordered.shape[-1]
    index = torch.tensor([min(round(q * (n - 1)), n - 1) for q in _QUANTILES],
                         device=x.device)
    quantiles = ordered[..., index]
    centred = ycc - ycc.mean(-1, keepdim=True)
    cov = (centred[:, :1] * centred[:, 1:]).mean(-1)
    return torch.cat([quantiles.flatten(1), channels.mean(-1), channels.std(-1), 4 * cov], 1)
