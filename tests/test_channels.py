"""Channels: shapes, CSI structure, statistics of h and of the noise, registry, wiretap pair."""

import doctest

import pytest
import torch

import channels
from channels import WiretapChannel, get_channel, noise_variance


def _ones(batch, n):
    return torch.ones(batch, n, dtype=torch.complex64)


class TestAWGNChannel:
    def test_shape_dtype_and_csi(self, seeded):
        out = get_channel("awgn")(_ones(4, 32), 0.5)
        assert out.y.shape == (4, 32) and out.y.dtype == torch.complex64
        assert bool((out.h == 1).all())

    def test_noise_variance_is_no(self, seeded):
        no = 0.3
        out = get_channel("awgn")(torch.zeros(2000, 500, dtype=torch.complex64), no)
        noise = out.y
        # complex noise CN(0, no): var no/2 per real dimension; 1e6 samples -> rel sd ~0.14%
        assert noise.abs().square().mean().item() == pytest.approx(no, rel=0.01)
        assert noise.real.var().item() == pytest.approx(no / 2, rel=0.01)


class TestRayleighBlockChannel:
    def test_one_coefficient_per_frame_by_default(self, seeded):
        out = get_channel("rayleigh")(_ones(8, 64), 0.1)
        assert bool((out.h == out.h[:, :1]).all())
        assert torch.view_as_real(out.h[:, 0]).unique(dim=0).shape[0] == 8

    def test_block_length(self, seeded):
        out = get_channel("rayleigh", block_length=16)(_ones(3, 40), 0.1)
        h = out.h
        assert bool((h[:, :16] == h[:, :1]).all()) and bool((h[:, 16:32] == h[:, 16:17]).all())
        assert bool((h[:, 32:] == h[:, 32:33]).all())
        assert not bool((h[:, 0] == h[:, 16]).any())

    def test_unit_mean_power_and_circular(self, seeded):
        h = get_channel("rayleigh")(_ones(200_000, 1), 0.1).h[:, 0]
        assert h.abs().square().mean().item() == pytest.approx(1.0, rel=0.01)
        assert abs(h.mean().item()) < 0.01
        assert abs((h * h).mean().item()) < 0.01  # circular symmetry: E[h^2] = 0

    def test_invalid_block_length(self):
        with pytest.raises(ValueError, match="block_length"):
            get_channel("rayleigh", block_length=0)


class TestRayleighFastChannel:
    def test_independent_per_symbol(self, seeded):
        h = get_channel("rayleigh-fast")(_ones(500, 400), 0.1).h
        assert torch.view_as_real(h.flatten()).unique(dim=0).shape[0] == h.numel()
        lag_corr = (h[:, 1:] * h[:, :-1].conj()).mean().abs().item()
        assert lag_corr < 0.01
        assert h.abs().square().mean().item() == pytest.approx(1.0, rel=0.01)


class TestRegistry:
    def test_unknown_name_lists_valid(self):
        with pytest.raises(ValueError, match="awgn, rayleigh, rayleigh-fast"):
            get_channel("rician")

    def test_rejects_real_input(self):
        with pytest.raises(ValueError, match="complex"):
            get_channel("awgn")(torch.ones(2, 3), 0.1)


class TestNoiseVariance:
    def test_matches_definition(self):
        # Es = 1, R = 4 bits per symbol: N0 = 1 / (4 * 10)
        assert noise_variance(10.0, 4).item() == pytest.approx(0.025)
        assert noise_variance(0.0, 0.5).item() == pytest.approx(2.0)

    def test_rejects_nonpositive_rate(self):
        with pytest.raises(ValueError):
            noise_variance(0.0, 0)


class TestWiretapChannel:
    def test_independent_realisations_and_offset(self, seeded):
        wiretap = WiretapChannel("rayleigh", eve_ebno_offset_db=10.0)
        out = wiretap(_ones(20_000, 4), 5.0, 4)
        hb, he = out.bob.h[:, 0], out.eve.h[:, 0]
        assert abs((hb * he.conj()).mean().item()) < 0.03
        assert out.eve.no.item() == pytest.approx(out.bob.no.item() / 10, rel=1e-5)

    def test_eve_optional(self, seeded):
        assert WiretapChannel("awgn")(_ones(2, 4), 5.0, 4, eve=False).eve is None


@pytest.mark.parametrize("module", [channels.awgn, channels.rayleigh])
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module, raise_on_error=False)
    assert failures == 0
