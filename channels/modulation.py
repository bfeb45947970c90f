"""Classical modulations: names, Sionna constellations, and a fast nearest-point slicer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from channels.base import device_name

if TYPE_CHECKING:
    from sionna.phy.mapping import Constellation

__all__ = [
    "MODULATIONS",
    "ModulationSpec",
    "NearestPointSlicer",
    "bit_errors_between_indices",
    "get_modulation",
]


@dataclass(frozen=True)
class ModulationSpec:
    """A Gray-labelled classical modulation as Sionna names it.

    ``num_bits_per_symbol`` is R, the number of bits per channel use.
    """

    name: str
    constellation_type: str
    num_bits_per_symbol: int
    ssd_rotation_deg: float = 0.0
    """Rotation (degrees) of signal-space diversity (``qam-ssd``, the learned links' start on
    fast fading): DVB-T2's angles for QPSK, 16QAM and 64QAM (Boutros & Viterbo 1998)."""

    def constellation(self, device: str | None = None) -> Constellation:
        """Sionna's unit-energy Gray constellation for this modulation."""
        from sionna.phy.mapping import Constellation  # lazy: `import channels` skips Sionna

        return Constellation(self.constellation_type, self.num_bits_per_symbol,
                             device=device_name(device))


MODULATIONS: dict[str, ModulationSpec] = {
    "bpsk": ModulationSpec("bpsk", "pam", 1, ssd_rotation_deg=45.0),
    "qpsk": ModulationSpec("qpsk", "qam", 2, ssd_rotation_deg=29.0),
    "16qam": ModulationSpec("16qam", "qam", 4, ssd_rotation_deg=16.8),
    "64qam": ModulationSpec("64qam", "qam", 6, ssd_rotation_deg=8.6),
}


def get_modulation(name: str) -> ModulationSpec:
    """Look a modulation up by name; the error lists the valid names."""
    try:
        return MODULATIONS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown modulation {name!r}; valid: {', '.join(MODULATIONS)}"
        ) from None


class NearestPointSlicer(torch.nn.Module):
    """Nearest-point (ML) hard decisions for a separable constellation (square QAM or PAM).

    A square QAM constellation is the product of two PAM grids, so the nearest point is found
    axis by axis with one ``floor`` per axis instead of distances to all M points. The lookup from
    (real level, imaginary level) to the constellation index is built from Sionna's own points, so
    the Gray labelling is Sionna's. Decisions equal Sionna's ``Demapper("maxlog", hard_out=True)``
    (tested).

    Input ``y``: [..., n] complex, equalised received symbols (``y / h``).
    Output: [..., n] int64 symbol indices.
    """

    def __init__(self, points: torch.Tensor) -> None:
        super().__init__()
        points = points.detach().to(torch.complex64).cpu()
        re_levels = _unique_levels(points.real)
        im_levels = _unique_levels(points.imag)
        if len(re_levels) * len(im_levels) != points.numel():
            raise ValueError("the slicer needs a separable (square QAM or PAM) constellation")
        self.num_re, self.num_im = len(re_levels), len(im_levels)
        re0, re_step = _grid(re_levels)
        im0, im_step = _grid(im_levels)
        lut = torch.full((self.num_re * self.num_im,), -1, dtype=torch.int64)
        for index, point in enumerate(points):
            a = int(torch.argmin((re_levels - point.real).abs()))
            b = int(torch.argmin((im_levels - point.imag).abs()))
            lut[a * self.num_im + b] = index
        if (lut < 0).any():
            raise ValueError("constellation points do not form a full grid")
        self.register_buffer("lut", lut)
        step = torch.tensor([re_step, im_step], dtype=torch.float64)
        origin = torch.tensor([re0, im0], dtype=torch.float64) - 0.5 * step
        self.register_buffer("origin", origin.float())
        self.register_buffer("step", step.float())
        self.register_buffer("top", torch.tensor([self.num_re - 1, self.num_im - 1]).float())

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        levels = torch.view_as_real(y.to(torch.complex64)).sub(self.origin).div_(self.step)
        levels = levels.floor_().clamp_(min=torch.zeros_like(self.top), max=self.top).long()
        return self.lut[levels[..., 0] * self.num_im + levels[..., 1]]


def _unique_levels(values: torch.Tensor) -> torch.Tensor:
    """Distinct levels of one axis, each the mean of the float values that round to it."""
    values = values.double()
    keys, group = torch.unique(torch.round(values, decimals=5), return_inverse=True)
    sums = torch.zeros(len(keys), dtype=torch.float64).index_add_(0, group, values)
    counts = torch.zeros(len(keys), dtype=torch.float64).index_add_(
        0, group, torch.ones_like(values)
    )
    return sums / counts


def _grid(levels: torch.Tensor) -> tuple[float, float]:
    """(first level, spacing) of a uniform grid; spacing 1 for a single level."""
    if len(levels) == 1:
        return float(levels[0]), 1.0
    steps = levels[1:] - levels[:-1]
    if not torch.allclose(steps, steps[0], rtol=1e-3):
        raise ValueError("constellation levels are not uniformly spaced")
    return float(levels[0]), float((levels[-1] - levels[0]) / (len(levels) - 1))


_POPCOUNT = torch.tensor([bin(i).count("1") for i in range(256)], dtype=torch.int64)


def bit_errors_between_indices(index: torch.Tensor, index_hat: torch.Tensor) -> torch.Tensor:
    """Number of differing label bits per frame between two symbol-index tensors.

    ``index``, ``index_hat``: [B, n] integer symbol indices (labels of at most 8 bits).
    Returns [B] int64 bit-error counts (the Hamming distance of the labels, summed over n).
    """
    popcount = _POPCOUNT.to(index.device)
    return popcount[torch.bitwise_xor(index, index_hat)].sum(dim=-1)
