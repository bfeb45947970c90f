"""The game a `GANTrainer` optimises: the `GANProblem` protocol and the standard `AdversarialGAN`.

A problem names its two parameter sets and their losses:

- ``generator``: one `nn.Module` holding every generator-side parameter (e.g. a channel GAN's G,
  or a transmitter and the legitimate receiver in an ``nn.ModuleDict``);
- ``discriminator``: one `nn.Module` holding every adversary-side parameter (a discriminator, or
  an eavesdropper and critics);
- ``discriminator_loss(batch)`` / ``generator_loss(batch)``: ``(scalar loss, {name: float})``;
- optionally ``next_batch()`` when no data is passed to `GANTrainer.fit`;
- optionally ``warmup_loss(batch)``: the generator's non-adversarial loss, trained alone for the
  first ``TrainerConfig.warmup`` iterations (e.g. SRGAN starts from a content-loss-trained G).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from commgan.gan.losses import GANLoss, gradient_penalty

__all__ = ["AdversarialGAN", "ExtraLoss", "GANProblem", "Metrics"]

Metrics = dict[str, float]
"""Named plain-float metrics of one loss evaluation (history columns)."""
ExtraLoss = Callable[[Tensor, Any], Tensor]
"""``fn(fake [B, ...], batch) -> scalar``: a non-adversarial generator loss term."""


@runtime_checkable
class GANProblem(Protocol):
    """What `GANTrainer` trains: two parameter sets and their losses.

    The two modules must not share parameters. Losses are scalars to be *minimised* by their
    side; metrics are plain floats recorded as history columns. A problem may also define
    ``next_batch() -> batch``, used when `GANTrainer.fit` gets no data.
    """

    generator: nn.Module
    discriminator: nn.Module

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """L_D on one batch (the generator is frozen while this is minimised)."""
        ...

    def generator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """L_G on one batch (the discriminator is frozen while this is minimised)."""
        ...


class AdversarialGAN:
    """The standard game G(n[, c]) vs D(x[, c]) as a `GANProblem`.

    generator: ``G(noise)``, ``G(noise, condition)`` or, when ``noise_shape`` is None (pix2pix,
    SRGAN), ``G(condition)``; returns samples shaped like the real ones, [B, ...].
    discriminator: ``D(x)`` or ``D(x, condition)`` -> logits/scores [B, ...].
    loss: a `GANLoss` mode ("minimax", "nonsaturating", "lsgan", "hinge", "wgan") or object.
    noise_shape: per-sample noise shape, n ~ N(0, I) of shape [B, *noise_shape]; None for none.
    gp_weight: lambda of the WGAN-GP term added to L_D (0 disables it).
    extra_losses: ``{name: (weight, fn)}`` with ``fn(fake, batch) -> scalar`` added to L_G,
    e.g. ``{"l1": (100.0, lambda fake, b: F.l1_loss(fake, b[0]))}`` for pix2pix.
    adv_weight: weight of the adversarial term in L_G (e.g. 1e-3 for SRGAN).
    condition_discriminator: pass the condition to D too (CGAN/pix2pix); False for SRGAN.
    sampler: ``sampler() -> batch`` used by `next_batch`.
    mixed_batch: D scores real and generated samples in one call (concatenated along the batch,
    the condition repeated), in the D step and in the G step, so that D's batch-norm statistics
    are those of a mixed batch. With separate batches (the default), batch norm normalises each
    batch by its own statistics, which hides from D any difference in a feature's mean or
    scale between real and generated samples (e.g. a wrong noise power).

    A batch is ``real`` [B, ...], ``(real, condition)`` or ``{"real": ..., "condition": ...}``.
    Metrics: ``d_real``/``d_fake`` (mean D output on real/generated samples, as probabilities
    in the BCE modes), ``gp`` when used, ``g_adv`` and ``g_<name>`` per extra loss (unweighted).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: str | GANLoss = "nonsaturating",
        *,
        noise_shape: tuple[int, ...] | None = None,
        gp_weight: float = 0.0,
        extra_losses: Mapping[str, tuple[float, ExtraLoss]] | None = None,
        adv_weight: float = 1.0,
        condition_discriminator: bool = True,
        sampler: Callable[[], Any] | None = None,
        mixed_batch: bool = False,
    ) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.loss = loss if isinstance(loss, GANLoss) else GANLoss(loss)
        self.noise_shape = tuple(noise_shape) if noise_shape is not None else None
        if gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {gp_weight}")
        self.gp_weight = float(gp_weight)
        self.extra_losses = dict(extra_losses or {})
        self.adv_weight = float(adv_weight)
        self.condition_discriminator = condition_discriminator
        self.sampler = sampler
        self.mixed_batch = mixed_batch

    @staticmethod
    def split(batch: Any) -> tuple[Tensor, Any]:
        """Return (real [B, ...], condition or None) from a batch."""
        if isinstance(batch, Tensor):
            return batch, None
        if isinstance(batch, Mapping):
            return batch["real"], batch.get("condition")
        if isinstance(batch, (tuple, list)) and len(batch) in (1, 2):
            return batch[0], (batch[1] if len(batch) == 2 else None)
        raise TypeError("a batch is real, (real, condition) or {'real': ..., 'condition': ...}")

    def next_batch(self) -> Any:
        """One batch from ``sampler``."""
        if self.sampler is None:
            raise TypeError("AdversarialGAN has no sampler: pass data to GANTrainer.fit")
        return self.sampler()

    def generate(self, batch_size: int, condition: Any = None,
                 device: torch.device | str = "cpu") -> Tensor:
        """G(n|c): generated samples [batch_size, ...] on `device`."""
        if self.noise_shape is None:
            if condition is None:
                raise ValueError("noise_shape is None, so the generator needs a condition")
            return self.generator(condition)
        noise = torch.randn(batch_size, *self.noise_shape, device=device)
        return self.generator(noise) if condition is None else self.generator(noise, condition)

    def _d(self, x: Tensor, condition: Any) -> Tensor:
        return self.discriminator(x) if condition is None else self.discriminator(x, condition)

    def _d_pair(self, real: Tensor, fake: Tensor, condition: Any) -> tuple[Tensor, Tensor]:
        """D's outputs on (real, fake): two calls, or one on the mixed batch (`mixed_batch`)."""
        if not self.mixed_batch:
            return self._d(real, condition), self._d(fake, condition)
        both_condition = None if condition is None else torch.cat([condition, condition])
        out = self._d(torch.cat([real, fake]), both_condition)
        return out[:real.shape[0]], out[real.shape[0]:]

    def _mean_score(self, out: Tensor) -> float:
        out = out.detach().float()
        return float((torch.sigmoid(out) if self.loss.is_probabilistic else out).mean())

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """L_D (+ lambda * GP) on a batch; metrics d_real, d_fake[, gp]."""
        real, condition = self.split(batch)
        with torch.no_grad():  # the fake is a constant for D: G(n|c) detached
            fake = self.generate(real.shape[0], condition, real.device)
        d_cond = condition if self.condition_discriminator else None
        real_out, fake_out = self._d_pair(real, fake, d_cond)  # D(i|c), D(G(n|c)|c)
        loss = self.loss.discriminator_loss(real_out, fake_out)
        metrics = {"d_real": self._mean_score(real_out), "d_fake": self._mean_score(fake_out)}
        if self.gp_weight > 0:
            gp = gradient_penalty(self.discriminator, real, fake, d_cond)
            loss = loss + self.gp_weight * gp
            metrics["gp"] = float(gp.detach())
        return loss, metrics

    def warmup_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """Sum of the weighted extra losses alone (no D); metrics g_<name>."""
        if not self.extra_losses:
            raise TypeError("warm-up needs extra (non-adversarial) generator losses")
        real, condition = self.split(batch)
        fake = self.generate(real.shape[0], condition, real.device)
        loss = torch.zeros((), device=real.device)
        metrics = {}
        for name, (weight, fn) in self.extra_losses.items():
            term = fn(fake, batch)
            loss = loss + weight * term
            metrics[f"g_{name}"] = float(term.detach())
        return loss, metrics

    def generator_loss(self, batch: Any) -> tuple[Tensor, Metrics]:
        """adv_weight * L_G + sum of weighted extra losses; metrics g_adv, g_<name>."""
        real, condition = self.split(batch)
        fake = self.generate(real.shape[0], condition, real.device)
        d_cond = condition if self.condition_discriminator else None
        if self.mixed_batch:
            fake_out = self._d_pair(real.detach(), fake, d_cond)[1]
        else:
            fake_out = self._d(fake, d_cond)
        adv = self.loss.generator_loss(fake_out)
        loss = self.adv_weight * adv
        metrics = {"g_adv": float(adv.detach())}
        for name, (weight, fn) in self.extra_losses.items():
            term = fn(fake, batch)
            loss = loss + weight * term
            metrics[f"g_{name}"] = float(term.detach())
        return loss, metrics

