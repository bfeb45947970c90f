"""GAN, CGAN and DCGAN models of a channel's p(y | x, c): one `ChannelGAN` subclass and one
`ChannelModelSpec` each, gathered in `CHANNEL_MODELS`.

After Cheng et al. 2022 and Ye et al. 2020: a generator G learns to produce the received signal
y of a channel from the transmitted symbols x and a condition c, against a discriminator D that
tells true (x, y) pairs from generated ones. The loss is the survey's equation (2) (the survey
writes lb; we use nats),

    min_G max_D V(D, G) = E_y[log D(y | x, c)] + E_n[log(1 - D(G(n | x, c) | x, c))],

optimised as the core's ``nonsaturating`` `GANLoss`: D minimises
L_D = -1/2 (E[log D(y|x,c)] + E[log(1 - D(G(n|x,c)|x,c))]) (eq. (2) times -1/2: the mean of the
real and fake BCE), G minimises L_G = -E[log D(G(n|x,c)|x,c)] (Goodfellow's non-saturating form
of eq. (2), same fixed point). At the equilibrium D = 1/2 both are ln 2.

Every model is conditioned on the block's Eb/N0 (c, see `ebno_condition`); they differ in what
else they see and in their networks (`commgan.comm.channelgan.networks`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn

from commgan.comm.channelgan.features import ebno_condition, from_iq, to_iq
from commgan.comm.channelgan.networks import (
    BlockDiscriminator,
    BlockGenerator,
    SymbolDiscriminator,
    SymbolGenerator,
)
from commgan.comm.channelgan.sampler import BlockSampler
from commgan.gan import AdversarialGAN

if TYPE_CHECKING:
    from commgan.comm.channelgan.config import ChannelModelConfig

__all__ = [
    "CHANNEL_MODELS",
    "BlockDCGAN",
    "ChannelGAN",
    "ChannelModelSpec",
    "PilotCGAN",
    "SymbolGAN",
    "build_channel_model",
]


class ChannelGAN(AdversarialGAN, ABC):
    """One channel model as a `GANProblem` of the shared core.

    ``next_batch()`` draws blocks from the true channel (`BlockSampler`) and lays them out for
    the model (`as_training_batch`); `sample` generates channel outputs for given blocks. D's
    batch norm sees real and generated samples in one batch (``mixed_batch``), so that it
    cannot normalise a wrong noise power away. Subclasses give the networks and the layout.
    """

    uses_measured_pilots: ClassVar[bool] = False
    """The model is conditioned on the received pilots of the true channel (CGAN)."""

    def __init__(self, config: ChannelModelConfig, device: str | torch.device = "cpu") -> None:
        self.config = config
        self.sampler_blocks = BlockSampler(config, device)
        generator, discriminator = self.build_networks(config)
        super().__init__(generator.to(device), discriminator.to(device), "nonsaturating",
                         mixed_batch=True,
                         sampler=lambda: self.as_training_batch(
                             self.sampler_blocks.draw(config.batch_blocks)))

    @classmethod
    def check_config(cls, config: ChannelModelConfig) -> None:
        """Raise ``ValueError`` if ``config`` does not suit this model (default: accept)."""

    @abstractmethod
    def build_networks(self, config: ChannelModelConfig) -> tuple[nn.Module, nn.Module]:
        """(G, D) for ``config``, in this order (their initialisation draws from torch's RNG)."""

    @abstractmethod
    def condition(self, x: Tensor, ebno_db: Tensor, y_pilots: Tensor | None = None) -> Tensor:
        """G's and D's condition for blocks x [B, T] complex at Eb/N0 [B, 1] dB (y_pilots:
        the received pilots [B, P], for models that use them)."""

    @abstractmethod
    def received_samples(self, y: Tensor) -> Tensor:
        """Received blocks y [B, T] complex laid out as G's samples (D's real input)."""

    @abstractmethod
    def to_blocks(self, fake: Tensor, x: Tensor, y_pilots: Tensor | None) -> Tensor:
        """G's samples back to received blocks [B, T] complex (x: the sent blocks [B, T])."""

    @property
    def name(self) -> str:
        return self.config.model

    def generate(self, batch_size: int, condition: Tensor | None = None,
                 device: str | torch.device = "cpu") -> Tensor:
        """G(n | c) for a condition laid out as `condition` does (batch_size and device are
        unused: the condition's size and device decide)."""
        return self.generator(self.generator.sample_noise(condition), condition)

    def as_training_batch(self, blocks: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(real, condition) for the trainer from a `BlockSampler.draw` batch."""
        y = blocks["y"]
        condition = self.condition(blocks["x"], blocks["ebno_db"],
                                   y[:, :self.config.pilot_symbols])
        return self.received_samples(y), condition

    @torch.no_grad()
    def sample(self, x: Tensor, ebno_db: Tensor, y_pilots: Tensor | None = None) -> Tensor:
        """Generated channel outputs y [B, T] complex for blocks x [B, T] at Eb/N0 [B, 1] dB.

        A model that `uses_measured_pilots` generates the data symbols and returns ``y_pilots``
        (the received pilots [B, P] it is conditioned on) in the pilot positions. Uses G in
        eval mode (batch-norm running statistics) and restores its mode.
        """
        return self.differentiable_sample(x, ebno_db, y_pilots)

    def differentiable_sample(self, x: Tensor, ebno_db: Tensor,
                              y_pilots: Tensor | None = None) -> Tensor:
        """As `sample`, but gradients flow to x (G's parameters are not touched)."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            fake = self.generate(0, self.condition(x, ebno_db, y_pilots))
        finally:
            self.generator.train(was_training)
        return self.to_blocks(fake, x, y_pilots)


@dataclass(frozen=True)
class ChannelModelSpec:
    """A channel model's registry record."""

    name: str
    """Its name in configs, the CLI and result tables."""
    model_class: type[ChannelGAN]
    """The `ChannelGAN` subclass."""
    summary: str
    """One line for help texts."""
    default_iterations: int = 1500
    """Training iterations of the convergence study when none are given."""


class SymbolGAN(ChannelGAN):
    """GAN: MLP G and D per symbol (`SymbolGenerator`, `SymbolDiscriminator`), conditioned only
    on the symbol x and Eb/N0. Learns the marginal p(y | x), not that the symbols of a block
    share one fade. Samples: every symbol of a block, [B*T, 2]; condition [B*T, 3]."""

    def build_networks(self, config: ChannelModelConfig) -> tuple[nn.Module, nn.Module]:
        rate = config.num_bits_per_symbol
        return (SymbolGenerator(3, config.latent, config.hidden, rate),
                SymbolDiscriminator(3, config.hidden, rate))

    def condition(self, x: Tensor, ebno_db: Tensor, y_pilots: Tensor | None = None) -> Tensor:
        c = ebno_condition(ebno_db)
        return torch.cat([to_iq(x.reshape(-1)), c.expand(-1, x.shape[1]).reshape(-1, 1)], 1)

    def received_samples(self, y: Tensor) -> Tensor:
        return to_iq(y.reshape(-1))

    def to_blocks(self, fake: Tensor, x: Tensor, y_pilots: Tensor | None) -> Tensor:
        return from_iq(fake, 1).reshape(x.shape)


GAN = ChannelModelSpec("gan", SymbolGAN, "MLP per symbol, conditioned on the symbol")


class PilotCGAN(SymbolGAN):
    """CGAN: MLP G and D per data symbol, conditioned on x, Eb/N0 and the block's received
    pilots y_p = h p + n (measured on the true channel), from which the current fade can be
    inferred; D also compares z = y / x with the pilots' estimate. Samples: the data symbols,
    [B*n, 2]; condition [B*n, 3 + 2P]."""

    uses_measured_pilots = True

    def build_networks(self, config: ChannelModelConfig) -> tuple[nn.Module, nn.Module]:
        rate, pilots = config.num_bits_per_symbol, config.pilot_symbols
        return (SymbolGenerator(3 + 2 * pilots, config.latent, config.hidden, rate),
                SymbolDiscriminator(3 + 2 * pilots, config.hidden, rate, pilots))

    def condition(self, x: Tensor, ebno_db: Tensor, y_pilots: Tensor | None = None) -> Tensor:
        if y_pilots is None:
            raise ValueError("the CGAN is conditioned on the received pilots: pass y_pilots")
        c = ebno_condition(ebno_db)
        data = x[:, self.config.pilot_symbols:]
        n = data.shape[1]
        pilots = to_iq(y_pilots).flatten(1)[:, None, :].expand(-1, n, -1)
        return torch.cat([to_iq(data.reshape(-1)), c.expand(-1, n).reshape(-1, 1),
                          pilots.reshape(data.numel(), -1)], dim=1)

    def received_samples(self, y: Tensor) -> Tensor:
        return to_iq(y[:, self.config.pilot_symbols:].reshape(-1))

    def to_blocks(self, fake: Tensor, x: Tensor, y_pilots: Tensor | None) -> Tensor:
        return torch.cat([y_pilots, from_iq(fake, 1).reshape(x.shape[0], -1)], dim=1)


CGAN = ChannelModelSpec("cgan", PilotCGAN, "MLP per data symbol, conditioned on the pilots")


class BlockDCGAN(ChannelGAN):
    """DCGAN: G and D over the whole block (pilots + data) following the DCGAN guidelines
    (`BlockGenerator`, `BlockDiscriminator`); G's block latent, broadcast along time, carries
    the fade. Samples [B, 2, T]; condition [B, 3, T] (Re x, Im x, Eb/N0). T must be a multiple
    of 4 (D's two stride-2 convolutions)."""

    @classmethod
    def check_config(cls, config: ChannelModelConfig) -> None:
        if config.block_length % 4:
            raise ValueError(f"dcgan needs a block length (pilots + data) that is a multiple "
                             f"of 4, got {config.block_length}")

    def build_networks(self, config: ChannelModelConfig) -> tuple[nn.Module, nn.Module]:
        rate = config.num_bits_per_symbol
        return (BlockGenerator(config.latent, config.hidden, rate),
                BlockDiscriminator(config.block_length, config.hidden, rate))

    def condition(self, x: Tensor, ebno_db: Tensor, y_pilots: Tensor | None = None) -> Tensor:
        c = ebno_condition(ebno_db)
        return torch.cat([to_iq(x, dim=1), c[:, :, None].expand(-1, 1, x.shape[1])], dim=1)

    def received_samples(self, y: Tensor) -> Tensor:
        return to_iq(y, dim=1)

    def to_blocks(self, fake: Tensor, x: Tensor, y_pilots: Tensor | None) -> Tensor:
        return from_iq(fake, 1)


DCGAN = ChannelModelSpec("dcgan", BlockDCGAN, "DCGAN convolutions over the whole block")

CHANNEL_MODELS: dict[str, ChannelModelSpec] = {"gan": GAN, "cgan": CGAN, "dcgan": DCGAN}
"""Every channel model by name."""


def build_channel_model(config: ChannelModelConfig,
                        device: str | torch.device = "cpu") -> ChannelGAN:
    """An untrained model of ``config.model`` (its weights drawn from torch's RNG)."""
    return CHANNEL_MODELS[config.model].model_class(config, device)
