"""Tests of commgan.gan.losses: loss values at known inputs, GANLoss modes, gradient penalty."""

import math

import pytest
import torch
from torch import nn

from commgan.gan.losses import (
    GAN_MODES,
    GANLoss,
    bce_discriminator_loss,
    gradient_penalty,
    minimax_generator_loss,
    nonsaturating_generator_loss,
)

LN2 = math.log(2.0)


class TestBCELosses:
    """The survey's L_D / L_G at D = 1/2 (logit 0) and at hand-computed logits."""

    def test_discriminator_at_half_is_ln2(self):
        zeros = torch.zeros(8, 1, 4, 4)
        assert bce_discriminator_loss(zeros, zeros).item() == pytest.approx(LN2, abs=1e-6)

    def test_nonsaturating_generator_at_half_is_ln2(self):
        assert nonsaturating_generator_loss(torch.zeros(16)).item() == pytest.approx(LN2, abs=1e-6)

    def test_minimax_generator_at_half_is_minus_ln2(self):
        # Convention: G minimises E[log(1 - D(G(n)))] of eq. (2) directly, so L_G <= 0.
        assert minimax_generator_loss(torch.zeros(16)).item() == pytest.approx(-LN2, abs=1e-6)

    def test_hand_computed_logits(self):
        real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
        sig = torch.sigmoid
        expected_d = -0.5 * (torch.log(sig(real)).mean() + torch.log(1 - sig(fake)).mean())
        assert bce_discriminator_loss(real, fake).item() == pytest.approx(expected_d.item(), 1e-6)
        expected_ns = -torch.log(sig(fake)).mean()
        assert nonsaturating_generator_loss(fake).item() == pytest.approx(expected_ns.item(), 1e-6)
        expected_mm = torch.log(1 - sig(fake)).mean()
        assert minimax_generator_loss(fake).item() == pytest.approx(expected_mm.item(), 1e-6)

    def test_stable_at_extreme_logits(self):
        big = torch.tensor([200.0, -200.0])
        for value in (bce_discriminator_loss(big, big), minimax_generator_loss(big),
                      nonsaturating_generator_loss(big)):
            assert torch.isfinite(value)


class TestGANLoss:
    real = torch.tensor([2.0, -0.5])
    fake = torch.tensor([0.5, -3.0])

    @pytest.mark.parametrize("mode", ["minimax", "nonsaturating"])
    def test_bce_modes_at_half(self, mode):
        loss = GANLoss(mode)
        zeros = torch.zeros(4)
        assert loss.discriminator_loss(zeros, zeros).item() == pytest.approx(LN2, abs=1e-6)
        expected_g = LN2 if mode == "nonsaturating" else -LN2
        assert loss.generator_loss(zeros).item() == pytest.approx(expected_g, abs=1e-6)
        assert loss.is_probabilistic

    def test_lsgan(self):
        loss = GANLoss("lsgan")
        # L_D = 1/2 (mean((2-1)^2, (-0.5-1)^2) + mean(0.5^2, 3^2)) = 1/2 (1.625 + 4.625) = 3.125
        assert loss.discriminator_loss(self.real, self.fake).item() == pytest.approx(3.125)
        # L_G = mean((0.5-1)^2, (-3-1)^2) = (0.25 + 16) / 2 = 8.125
        assert loss.generator_loss(self.fake).item() == pytest.approx(8.125)
        assert not loss.is_probabilistic

    def test_hinge(self):
        loss = GANLoss("hinge")
        # real: mean(relu(1-2), relu(1+0.5)) = 0.75; fake: mean(relu(1.5), relu(-2)) = 0.75
        assert loss.discriminator_loss(self.real, self.fake).item() == pytest.approx(1.5)
        # L_G = -mean(0.5, -3) = 1.25
        assert loss.generator_loss(self.fake).item() == pytest.approx(1.25)

    def test_wgan(self):
        loss = GANLoss("wgan")
        # E[D(fake)] - E[D(real)] = -1.25 - 0.75 = -2
        assert loss.discriminator_loss(self.real, self.fake).item() == pytest.approx(-2.0)
        assert loss.generator_loss(self.fake).item() == pytest.approx(1.25)

    @pytest.mark.parametrize("mode", ["vanilla", "", "WGAN", "wgan-gp"])
    def test_invalid_mode_raises_naming_valid_ones(self, mode):
        with pytest.raises(ValueError, match="nonsaturating") as info:
            GANLoss(mode)
        for valid in GAN_MODES:
            assert valid in str(info.value)

    @pytest.mark.parametrize("mode", GAN_MODES)
    def test_gradients_flow_in_every_mode(self, mode):
        fake = torch.randn(6, requires_grad=True)
        GANLoss(mode).generator_loss(fake).backward()
        assert fake.grad is not None and fake.grad.abs().sum() > 0


class _Linear(nn.Module):
    """Critic f(x) = w . x over all non-batch dimensions."""

    def __init__(self, shape: tuple[int, ...], norm: float, seed: int = 0) -> None:
        super().__init__()
        w = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
        self.w = nn.Parameter(w * norm / w.norm())

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        out = (x * self.w).flatten(1).sum(1)
        return out if condition is None else out + condition.flatten(1).sum(1)


class TestGradientPenalty:
    @pytest.mark.parametrize("shape", [(5,), (3, 4, 4)], ids=["2d", "4d"])
    def test_unit_norm_linear_critic_has_zero_penalty(self, shape):
        torch.manual_seed(0)
        critic = _Linear(shape, norm=1.0)
        real, fake = torch.randn(16, *shape), torch.randn(16, *shape)
        assert abs(gradient_penalty(critic, real, fake).item()) < 1e-6

    @pytest.mark.parametrize("shape", [(5,), (2, 8), (3, 4, 4)], ids=["2d", "3d", "4d"])
    def test_norm_two_linear_critic_has_unit_penalty(self, shape):
        torch.manual_seed(0)
        critic = _Linear(shape, norm=2.0)
        real, fake = torch.randn(16, *shape), torch.randn(16, *shape)
        assert gradient_penalty(critic, real, fake).item() == pytest.approx(1.0, abs=1e-5)

    def test_condition_is_passed_through(self):
        critic = _Linear((2, 8), norm=1.0)
        real, fake, cond = torch.randn(4, 2, 8), torch.randn(4, 2, 8), torch.randn(4, 3)
        assert abs(gradient_penalty(critic, real, fake, condition=cond).item()) < 1e-6

    def test_norm_is_per_sample_not_per_batch(self):
        # f(x) = sum(x^2) / 2 has grad x_hat; with real == fake == x the norm is ||x_i||.
        x = torch.stack([torch.full((2, 3), 1.0 / math.sqrt(6)), torch.full((2, 3), 3.0)])
        gp = gradient_penalty(lambda z: 0.5 * (z ** 2).flatten(1).sum(1), x, x.clone())
        expected = 0.5 * ((1.0 - 1.0) ** 2 + (3.0 * math.sqrt(6) - 1.0) ** 2)
        assert gp.item() == pytest.approx(expected, rel=1e-5)

    def test_penalty_is_differentiable_wrt_critic(self):
        critic = _Linear((4,), norm=2.0)
        gradient_penalty(critic, torch.randn(8, 4), torch.randn(8, 4)).backward()
        assert critic.w.grad is not None and critic.w.grad.norm() > 0

    def test_shape_mismatch_raises(self):
        with pytest.raises(ValueError, match="shape"):
            gradient_penalty(_Linear((4,), 1.0), torch.randn(8, 4), torch.randn(8, 5))


def test_docstring_examples():
    import doctest

    import commgan.gan.losses as module

    assert doctest.testmod(module, raise_on_error=True).failed == 0
