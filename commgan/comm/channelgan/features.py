"""Fixed, parameter-free coordinates shared by the channel models: the Eb/N0 condition, the
nominal noise std, the pilots' fade estimate, the generators' affine head and the
discriminators' input features."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "MIN_SYMBOL_POWER",
    "PILOT",
    "affine_head",
    "ebno_condition",
    "equalised",
    "estimate_fading",
    "from_iq",
    "nominal_noise_std",
    "referenced_features",
    "to_iq",
]

PILOT = complex(1.0, 0.0)
"""The known pilot symbol (unit energy)."""

MIN_SYMBOL_POWER = 0.05
"""Floor of |x|^2 in `equalised` (16QAM's smallest is 0.2; a learned constellation may put a
point near 0)."""


def to_iq(z: Tensor, dim: int = -1) -> Tensor:
    """Complex [...] -> real with a new I/Q axis of size 2 at ``dim`` ([..., 2] for dim=-1,
    [B, 2, T] for a [B, T] input and dim=1)."""
    return torch.stack([z.real, z.imag], dim=dim)


def from_iq(t: Tensor, dim: int) -> Tensor:
    """Inverse of `to_iq`: the two entries of axis ``dim`` as real and imaginary parts."""
    return torch.complex(t.select(dim, 0), t.select(dim, 1))


def ebno_condition(ebno_db: Tensor) -> Tensor:
    """The Eb/N0 condition c fed to G and D: (Eb/N0 [dB] - 10) / 10, same shape."""
    return (ebno_db - 10.0) / 10.0


def nominal_noise_std(condition: Tensor, rate: float) -> Tensor:
    """sqrt(N0) = (R Eb/N0)^(-1/2) for an `ebno_condition` c (Eb/N0 = 10 c + 10 dB), same shape;
    rate: R, bits per symbol."""
    return torch.pow(10.0, -(condition + 1.0) / 2.0) / math.sqrt(rate)


def estimate_fading(y_pilots: Tensor, pilots: Tensor) -> Tensor:
    """Least-squares fade estimate from a block's pilots.

    y_pilots: [B, P] complex received pilots; pilots: [P] complex sent pilots.
    Returns [B, 1] complex: sum(y_p conj(p)) / sum(|p|^2).
    """
    return ((y_pilots * pilots.conj()).sum(-1, keepdim=True)
            / pilots.abs().square().sum())


def affine_head(out: Tensor, x: Tensor, w: Tensor, scale: Tensor, dim: int) -> Tensor:
    """The generators' output head: y = a x + sigma(c) (s w + b), complex.

    out: the network's 5 outputs (Re a, Im a, s, Re b, Im b) along ``dim`` ([N, 5] with dim=1
    per symbol, or [B, 5, T] with dim=1 per block); x, w: complex transmitted symbols and
    per-symbol noise CN(0, 1), ``out``'s shape without ``dim``; scale: sigma(c), the
    `nominal_noise_std` of the Eb/N0 condition, same shape. Returns y, x's shape.
    """
    a = torch.complex(out.select(dim, 0), out.select(dim, 1))
    b = torch.complex(out.select(dim, 3), out.select(dim, 4))
    return a * x + scale * (out.select(dim, 2) * w + b)


def equalised(y: Tensor, x: Tensor) -> Tensor:
    """D's view of y from the symbol: z = y conj(x) / max(|x|^2, `MIN_SYMBOL_POWER`).

    y, x: complex, same shape. For a channel y = h x + n, z = h + n / x: the coordinates in
    which the symbols of one fading block agree.
    """
    return y * x.conj() / x.abs().square().clamp_min(MIN_SYMBOL_POWER)


def _log_power(z: Tensor) -> Tensor:
    """log10(|z|^2 + 1e-6): fade depths and noise powers in bels (dB / 10)."""
    return torch.log10(z.abs().square() + 1e-6)


def referenced_features(z: Tensor, reference: Tensor, dim: int) -> Tensor:
    """D's per-symbol view of z against a reference (the block's fade as seen from the sample):
    [z, ref, z - ref] as I/Q pairs and log10 of |ref|^2 and |z - ref|^2: 8 features along
    ``dim`` (dim=1: [B, T] -> [B, 8, T], or [N] -> [N, 8]). z, reference: complex, same shape."""
    deviation = z - reference
    parts = [to_iq(z, dim), to_iq(reference, dim), to_iq(deviation, dim),
             _log_power(reference).unsqueeze(dim), _log_power(deviation).unsqueeze(dim)]
    return torch.cat(parts, dim=dim)
