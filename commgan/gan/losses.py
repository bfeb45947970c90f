"""GAN losses as pure functions of discriminator outputs, and one `GANLoss(mode)` front end.

Notation (the survey's eq. (2)): ``min_G max_D E[log D(i|c)] + E[log(1 - D(G(n|c)|c))]`` with real
samples i, noise n and condition c. Every function here takes the discriminator's raw outputs
("logits", any shape, e.g. [B] or [B, 1, H, W] for a patch discriminator) and returns a scalar
tensor averaged over all elements. For the BCE modes D(.) = sigmoid(logit) is a probability.

Sign conventions (all losses are *minimised* by the player they belong to):

- ``L_D`` (BCE) = mean of the real and fake terms
  = -1/2 (E[log D(i)] + E[log(1 - D(G(n)))]); equals ln 2 when D = 1/2 everywhere.
- ``L_G`` minimax = E[log(1 - D(G(n)))]; equals -ln 2 when D = 1/2 (G minimises eq. (2) directly).
- ``L_G`` non-saturating = -E[log D(G(n))]; equals ln 2 when D = 1/2.
- LSGAN (pix2pix convention): L_D = 1/2 (E[(D(i) - 1)^2] + E[D(G(n))^2]), L_G = E[(D(G(n)) - 1)^2].
- hinge (Lim & Ye; SAGAN): L_D = E[relu(1 - D(i))] + E[relu(1 + D(G(n)))], L_G = -E[D(G(n))].
- WGAN (Arjovsky et al.): L_D = E[D(G(n))] - E[D(i)], L_G = -E[D(G(n))]; add `gradient_penalty`
  (Gulrajani et al., WGAN-GP) to L_D.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "GAN_MODES",
    "GANLoss",
    "bce_discriminator_loss",
    "gradient_penalty",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "minimax_generator_loss",
    "nonsaturating_generator_loss",
    "wgan_critic_loss",
    "wgan_generator_loss",
]

GAN_MODES: tuple[str, ...] = ("minimax", "nonsaturating", "lsgan", "hinge", "wgan")
"""Valid `GANLoss` modes."""


def bce_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The survey's L_D: mean of BCE(D(i), 1) and BCE(D(G(n)), 0).

    real_logits, fake_logits: discriminator logits, any shapes. Returns a scalar in nats
    (ln 2 at logit 0 everywhere).
    """
    real_term = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake_term = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return 0.5 * (real_term + fake_term)


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """Minimax L_G = E[log(1 - D(G(n)))] (eq. (2) as G sees it); -ln 2 at logit 0.

    fake_logits: logits of D on generated samples, any shape. Returns a scalar in nats.
    """
    # log(1 - sigmoid(x)) = -softplus(x), computed stably.
    return -F.softplus(fake_logits).mean()


def nonsaturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating L_G = -E[log D(G(n))] = BCE(D(G(n)), 1); ln 2 at logit 0.

    fake_logits: logits of D on generated samples, any shape. Returns a scalar in nats.
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def lsgan_discriminator_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """LSGAN L_D = 1/2 (E[(D(i) - 1)^2] + E[D(G(n))^2]); real_out, fake_out any shapes."""
    return 0.5 * (F.mse_loss(real_out, torch.ones_like(real_out))
                  + F.mse_loss(fake_out, torch.zeros_like(fake_out)))


def lsgan_generator_loss(fake_out: Tensor) -> Tensor:
    """LSGAN L_G = E[(D(G(n)) - 1)^2]; fake_out any shape."""
    return F.mse_loss(fake_out, torch.ones_like(fake_out))


def hinge_discriminator_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """Hinge L_D = E[relu(1 - D(i))] + E[relu(1 + D(G(n)))]; real_out, fake_out any shapes."""
    return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()


def hinge_generator_loss(fake_out: Tensor) -> Tensor:
    """Hinge L_G = -E[D(G(n))]; fake_out any shape."""
    return -fake_out.mean()


def wgan_critic_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """WGAN critic loss E[D(G(n))] - E[D(i)] (minus the Wasserstein-1 estimate)."""
    return fake_out.mean() - real_out.mean()


def wgan_generator_loss(fake_out: Tensor) -> Tensor:
    """WGAN L_G = -E[D(G(n))]; fake_out any shape."""
    return -fake_out.mean()


def gradient_penalty(
    critic: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor,
    condition: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = eps i + (1 - eps) G(n).

    critic: callable ``critic(x)`` or ``critic(x, condition)`` returning per-sample outputs.
    real, fake: [B, ...] tensors of the same shape and any rank (e.g. [B, C, T] or [B, C, H, W]).
    condition: optional conditioning passed unchanged to the critic.
    generator: optional RNG for eps ~ U[0, 1), one value per sample.
    The gradient norm is taken per sample over all non-batch dimensions. Returns an unweighted
    scalar (multiply by lambda, 10 in the paper). Evaluated in fp32 even under autocast.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    with torch.autocast(device_type=real.device.type, enabled=False):
        real32 = real.detach().float()
        fake32 = fake.detach().float()
        eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        eps = torch.rand(eps_shape, device=real.device, generator=generator)
        x_hat = (eps * real32 + (1.0 - eps) * fake32).requires_grad_(True)
        out = critic(x_hat) if condition is None else critic(x_hat, condition)
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
        grad_norm = grad.flatten(start_dim=1).norm(2, dim=1)
        return ((grad_norm - 1.0) ** 2).mean()


_D_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "minimax": bce_discriminator_loss,
    "nonsaturating": bce_discriminator_loss,
    "lsgan": lsgan_discriminator_loss,
    "hinge": hinge_discriminator_loss,
    "wgan": wgan_critic_loss,
}
_G_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": minimax_generator_loss,
    "nonsaturating": nonsaturating_generator_loss,
    "lsgan": lsgan_generator_loss,
    "hinge": hinge_generator_loss,
    "wgan": wgan_generator_loss,
}


class GANLoss:
    """One interface to every adversarial loss (cf. pix2pix ``GANLoss``, BasicSR ``GANLoss``).

    mode: one of `GAN_MODES`. The discriminator outputs raw logits/scores in every mode; the
    BCE modes ("minimax", "nonsaturating") apply the sigmoid internally.

    >>> loss = GANLoss("nonsaturating")
    >>> round(loss.generator_loss(torch.zeros(4)).item(), 4)  # ln 2
    0.6931
    """

    def __init__(self, mode: str = "nonsaturating") -> None:
        if mode not in GAN_MODES:
            raise ValueError(f"unknown GAN loss mode {mode!r}; valid modes: {', '.join(GAN_MODES)}")
        self.mode = mode

    @property
    def is_probabilistic(self) -> bool:
        """True when D's output is a logit of the probability 'real' (BCE modes)."""
        return self.mode in ("minimax", "nonsaturating")

    def discriminator_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        """L_D from D's outputs on real [B, ...] and generated [B', ...] samples; a scalar."""
        return _D_LOSSES[self.mode](real_out, fake_out)

    def generator_loss(self, fake_out: Tensor) -> Tensor:
        """L_G from D's outputs on generated samples [B, ...]; a scalar."""
        return _G_LOSSES[self.mode](fake_out)

    def __repr__(self) -> str:
        return f"GANLoss(mode={self.mode!r})"
