"""GAN inversion of a `StyleGenerator` by optimisation in W (one w per image) or W+ (one w per
layer), and GANSpace-style edits along principal directions of W.

Images are [N, 1, 8, 8] in [-1, 1]; the generator is used in eval mode (fixed noise), and
nothing global is touched: every draw takes an explicit seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from commgan.gan import frozen
from commgan.rng import generator as make_generator
from commgan.vision.generate.stylegan import NUM_WS, StyleGenerator

__all__ = ["INVERSION_SPACES", "Inversion", "edit", "invert", "mean_w", "pca_directions",
           "sample_w"]

INVERSION_SPACES: tuple[str, ...] = ("w", "w+")
"""``w``: one w [w_dim] per image, shared by every layer; ``w+``: one w per layer."""


@dataclass(frozen=True)
class Inversion:
    """Result of `invert`: styles ws [N, NUM_WS, w_dim], reconstructions [N, 1, 8, 8] and the
    per-image mean squared error (pixels in [-1, 1]) at the start and at the end [N]."""

    ws: Tensor
    images: Tensor
    start_mse: Tensor
    final_mse: Tensor


@torch.no_grad()
def sample_w(gen: StyleGenerator, count: int, seed: int) -> Tensor:
    """w = mapping(z) [count, w_dim] of ``count`` z drawn from ``seed`` (CPU)."""
    device = next(gen.parameters()).device
    z = torch.randn(count, gen.z_dim, generator=make_generator(seed))
    return gen.eval().mapping(z.to(device)).cpu()


def mean_w(gen: StyleGenerator, count: int = 2000, seed: int = 0) -> Tensor:
    """The mean of w over ``count`` samples [w_dim] (the start of every inversion)."""
    return sample_w(gen, count, seed).mean(0)


def invert(gen: StyleGenerator, targets: Tensor, space: str = "w", steps: int = 300,
           lr: float = 0.05, start: Tensor | None = None) -> Inversion:
    """Optimise styles so that the generator's images match ``targets`` [N, 1, 8, 8] (pixel
    MSE, Adam, ``steps`` steps at rate ``lr``); each image keeps the styles of its lowest error
    seen. ``space``: "w" or "w+" (`INVERSION_SPACES`). ``start``: [w_dim] for every image,
    [N, w_dim], or in W+ also [N, NUM_WS, w_dim] (e.g. a W inversion's ws, to refine it);
    default `mean_w`."""
    if space not in INVERSION_SPACES:
        raise ValueError(f"space must be one of {', '.join(INVERSION_SPACES)}, got {space!r}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    device = next(gen.parameters()).device
    gen.eval()
    targets = targets.to(device)
    w0 = (mean_w(gen) if start is None else start).to(device)
    if space == "w":
        latent = w0.expand(len(targets), gen.w_dim).clone()
    else:
        w0 = w0.unsqueeze(-2) if w0.dim() < 3 else w0
        latent = w0.expand(len(targets), NUM_WS, gen.w_dim).clone()
    latent.requires_grad_(True)

    def styles(values: Tensor) -> Tensor:
        return values.unsqueeze(1).expand(-1, NUM_WS, -1) if space == "w" else values

    optimizer = torch.optim.Adam([latent], lr=lr)
    best = latent.detach().clone()
    best_mse = torch.full((len(targets),), float("inf"), device=device)
    start_mse = None
    with frozen(gen):
        for step in range(steps + 1):
            mse = (gen.synthesis(styles(latent)) - targets).pow(2).flatten(1).mean(1)
            with torch.no_grad():
                start_mse = mse.detach().cpu() if start_mse is None else start_mse
                better = mse < best_mse
                best[better] = latent[better]
                best_mse = torch.where(better, mse, best_mse)
            if step == steps:
                break
            optimizer.zero_grad(set_to_none=True)
            mse.sum().backward()
            optimizer.step()
        with torch.no_grad():
            ws = styles(best)
            images = gen.synthesis(ws)
    return Inversion(ws.cpu(), images.cpu(), start_mse, best_mse.cpu())


def pca_directions(gen: StyleGenerator, count: int = 2000, components: int = 5,
                   seed: int = 0) -> tuple[Tensor, Tensor]:
    """GANSpace: the principal directions of w over ``count`` samples.

    Returns (directions [components, w_dim], each of unit L2 norm, in decreasing order of
    variance; their standard deviations [components] in w units).
    """
    w = sample_w(gen, count, seed).double()
    centred = w - w.mean(0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    std = singular / (count - 1) ** 0.5
    return vh[:components].float(), std[:components].float()


@torch.no_grad()
def edit(gen: StyleGenerator, w: Tensor, direction: Tensor, amounts: Sequence[float]) -> Tensor:
    """Images of w [N, w_dim] moved by each amount along ``direction`` [w_dim] (amounts in w
    units, applied to every layer): [len(amounts), N, 1, 8, 8] on the CPU."""
    device = next(gen.parameters()).device
    gen.eval()
    w, direction = w.to(device), direction.to(device)
    frames = []
    for amount in amounts:
        moved = (w + float(amount) * direction).unsqueeze(1).expand(-1, NUM_WS, -1)
        frames.append(gen.synthesis(moved).cpu())
    return torch.stack(frames)

