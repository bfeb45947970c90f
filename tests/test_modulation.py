"""The fast nearest-point slicer and popcount error counting, against Sionna's own blocks."""

import numpy as np
import pytest
import torch
from sionna.phy.mapping import Demapper, Mapper
from sionna.phy.utils import count_errors

from channels import MODULATIONS, NearestPointSlicer, bit_errors_between_indices, get_modulation


def _index_bits(index: torch.Tensor, r: int) -> torch.Tensor:
    shifts = torch.arange(r - 1, -1, -1)
    return ((index.unsqueeze(-1) >> shifts) & 1).reshape(*index.shape[:-1], -1).float()


@pytest.mark.parametrize("name", list(MODULATIONS))
def test_slicer_equals_sionna_maxlog_hard_decisions(name, seeded):
    spec = get_modulation(name)
    constellation = spec.constellation()
    points = constellation()
    slicer = NearestPointSlicer(points)
    demapper = Demapper("maxlog", constellation=constellation, hard_out=True)
    y = (torch.randn(400, 128) + 1j * torch.randn(400, 128)).to(torch.complex64) * 1.2
    ours = slicer(y)
    theirs = demapper(y, torch.tensor(0.1))
    differ = (_index_bits(ours, spec.num_bits_per_symbol) != theirs).reshape(
        400, 128, spec.num_bits_per_symbol).any(-1)
    # Decisions may differ only on exact ties (y on a decision boundary, float32 rounding):
    # then our point must be as close to y as the nearest point, to float precision.
    ours_distance = (points[ours] - y).abs()
    best_distance = (y.unsqueeze(-1) - points).abs().min(-1).values
    assert torch.allclose(ours_distance, best_distance, atol=1e-5)
    assert differ.float().mean().item() < 1e-3


@pytest.mark.parametrize("name", list(MODULATIONS))
def test_constellation_points_slice_to_themselves(name):
    points = get_modulation(name).constellation()()
    assert torch.equal(NearestPointSlicer(points)(points), torch.arange(len(points)))


def test_popcount_errors_match_sionna_count_errors(seeded):
    mapper_bits = 4
    a = torch.randint(0, 16, (64, 100))
    b = torch.randint(0, 16, (64, 100))
    ours = bit_errors_between_indices(a, b)
    ref = count_errors(_index_bits(a, mapper_bits), _index_bits(b, mapper_bits))
    assert ours.sum().item() == ref.item()
    per_frame = (_index_bits(a, 4) != _index_bits(b, 4)).sum(-1)
    assert torch.equal(ours, per_frame)


def test_slicer_labels_follow_sionna_mapper(seeded):
    """Symbol index i is the point Sionna's Mapper sends for the bits of i (MSB first)."""
    spec = get_modulation("64qam")
    index = torch.randint(0, 64, (8, 50))
    x = Mapper(constellation=spec.constellation())(_index_bits(index, 6))
    assert torch.equal(NearestPointSlicer(spec.constellation()())(x), index)


def test_unknown_modulation_lists_valid():
    with pytest.raises(ValueError, match="bpsk, qpsk, 16qam, 64qam"):
        get_modulation("8psk")


def test_non_separable_constellation_rejected():
    angles = np.exp(2j * np.pi * np.arange(8) / 8)
    with pytest.raises(ValueError, match="separable"):
        NearestPointSlicer(torch.tensor(angles, dtype=torch.complex64))
