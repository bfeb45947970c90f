"""Generators and discriminators of the channel models: MLPs per symbol (GAN, CGAN) and DCGAN
convolutions over a block.

Every generator ends in the `affine_head`, y = a x + sigma(c) (s w + b): b alone can represent
any conditional distribution and sigma(c) > 0 is a fixed function of the condition, so the head
reparametrises rather than constrains G, and lets small networks express a multiplicative fade
and Gaussian noise whose power spans the 100x of a 0-20 dB training range. Every discriminator
sees, besides (y, condition), the `equalised` z = y / x and `referenced_features` of z against a
reference of the block's fade (see docs/decisions.md, channel GANs).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from commgan.comm.channelgan.features import (
    PILOT,
    affine_head,
    equalised,
    from_iq,
    nominal_noise_std,
    referenced_features,
    to_iq,
)
from commgan.gan import conv_block, dcgan_init_, mlp

__all__ = ["BlockDiscriminator", "BlockGenerator", "SymbolDiscriminator", "SymbolGenerator"]

HEAD_OUTPUTS = 5
"""Outputs of a generator per symbol: Re a, Im a, s, Re b, Im b of the `affine_head`."""


class SymbolGenerator(nn.Module):
    """MLP G per symbol (GAN, CGAN): (noise [N, latent + 2], condition [N, C]) -> y [N, 2].

    condition: [Re x, Im x, Eb/N0 condition, (CGAN) received pilots as I/Q pairs]; the last two
    noise entries are the per-symbol noise w (times 1/sqrt 2 for CN(0, 1)); rate: R, bits per
    symbol (for the noise scale sigma(c)). Hidden layers keep torch's default initialisation;
    the output layer is DCGAN-initialised, so G starts at y ~ 0 like the DCGAN generator.
    """

    def __init__(self, condition_dim: int, latent: int, hidden: int, rate: float) -> None:
        super().__init__()
        self.latent, self.rate = latent, rate
        self.net = mlp(latent + 2 + condition_dim, [hidden, hidden, hidden], HEAD_OUTPUTS)
        dcgan_init_(self.net[-1])

    def sample_noise(self, condition: Tensor) -> Tensor:
        """N(0, I) noise [N, latent + 2] for conditions [N, C]."""
        return torch.randn(condition.shape[0], self.latent + 2, device=condition.device)

    def forward(self, noise: Tensor, condition: Tensor) -> Tensor:
        out = self.net(torch.cat([noise, condition], dim=1))
        x = torch.complex(condition[:, 0], condition[:, 1])
        w = torch.complex(noise[:, -2], noise[:, -1]) / math.sqrt(2.0)
        scale = nominal_noise_std(condition[:, 2], self.rate)
        return to_iq(affine_head(out, x, w, scale, dim=1))


class SymbolDiscriminator(nn.Module):
    """MLP D per symbol: (y [N, 2], condition [N, C]) -> logits [N].

    Input per symbol: y, `referenced_features` of z = y / x against the pilots' estimate (with
    ``pilots`` > 0, CGAN) or against 0 (GAN), and the condition (x first). With pilots, also the
    residual y - ref x in units of `nominal_noise_std` (rate: R, bits per symbol). Torch's
    default initialisation.
    """

    def __init__(self, condition_dim: int, hidden: int, rate: float, pilots: int = 0) -> None:
        super().__init__()
        self.pilots, self.rate = pilots, rate
        residual = 2 if pilots else 0
        self.net = mlp(2 + 8 + residual + condition_dim, [hidden, hidden, hidden], 1)

    def forward(self, y: Tensor, condition: Tensor) -> Tensor:
        output = torch.complex(y[:, 0], y[:, 1])
        x = torch.complex(condition[:, 0], condition[:, 1])
        z = equalised(output, x)
        if self.pilots:
            received = condition[:, 3:3 + 2 * self.pilots].reshape(-1, self.pilots, 2)
            reference = torch.complex(received[..., 0], received[..., 1]).mean(dim=1) / PILOT
        else:
            reference = torch.zeros_like(z)
        parts = [y, referenced_features(z, reference, dim=1), condition]
        if self.pilots:
            residual = (output - reference * x) / nominal_noise_std(condition[:, 2], self.rate)
            parts.insert(2, to_iq(residual))
        return self.net(torch.cat(parts, dim=1)).squeeze(1)


class BlockGenerator(nn.Module):
    """DCGAN G over a block: (noise [B, latent + 2, T], condition [B, 3, T]) -> y [B, 2, T].

    condition channels: Re x, Im x, Eb/N0 condition. Noise channels 0..latent-1 are the block
    latent z (constant along time), the last two the per-symbol noise w. All-convolutional (no
    pooling, no fully connected layer), batch norm and ReLU after every hidden convolution: a
    1x1 conv, ``layers - 2`` convs of kernel 3 along the block (a symbol sees its neighbours), a
    1x1 conv, and a 1x1 conv to s and b of the head. The gain a comes from a separate branch of
    1x1 convs on the block latent z alone: one a per block, independent of the symbols and of
    Eb/N0, as a block fade is. rate: R, bits per symbol. Any block length works.
    """

    def __init__(self, latent: int, hidden: int, rate: float, layers: int = 4) -> None:
        super().__init__()
        self.latent, self.rate = latent, rate
        blocks: list[nn.Module] = [conv_block(1, latent + 2 + 3, hidden, 1, activation="relu")]
        blocks += [conv_block(1, hidden, hidden, 3, padding=1, activation="relu")
                   for _ in range(layers - 2)]
        blocks += [conv_block(1, hidden, hidden, 1, activation="relu"),
                   nn.Conv1d(hidden, HEAD_OUTPUTS - 2, 1)]
        self.net = nn.Sequential(*blocks)
        self.fade = nn.Sequential(
            conv_block(1, latent, hidden, 1, activation="relu"),
            conv_block(1, hidden, hidden, 1, activation="relu"),
            nn.Conv1d(hidden, 2, 1))
        dcgan_init_(self)

    def sample_noise(self, condition: Tensor) -> Tensor:
        """Noise [B, latent + 2, T]: z ~ N(0, I) per block (repeated along time), w per symbol."""
        batch, _, length = condition.shape
        z = torch.randn(batch, self.latent, 1, device=condition.device).expand(-1, -1, length)
        w = torch.randn(batch, 2, length, device=condition.device)
        return torch.cat([z, w], dim=1)

    def head_output(self, noise: Tensor, condition: Tensor) -> Tensor:
        """The head's input [B, 5, T]: Re a, Im a (one per block, from its latent), s, Re b,
        Im b (before the noise scale)."""
        out = self.net(torch.cat([noise, condition], dim=1))
        gain = self.fade(noise[:, :self.latent, :1]).expand(-1, -1, out.shape[-1])
        return torch.cat([gain, out], dim=1)

    def forward(self, noise: Tensor, condition: Tensor) -> Tensor:
        w_iq = noise[:, self.latent:]
        out = self.head_output(noise, condition)
        x = torch.complex(condition[:, 0], condition[:, 1])
        w = torch.complex(w_iq[:, 0], w_iq[:, 1]) / math.sqrt(2.0)
        scale = nominal_noise_std(condition[:, 2], self.rate)
        return to_iq(affine_head(out, x, w, scale, dim=1), dim=1)


class BlockDiscriminator(nn.Module):
    """DCGAN D over a block (PatchGAN output): (y [B, 2, T], condition [B, 3, T]) -> logits
    [B, T / 4], one per 4-symbol patch (receptive field 10 symbols; the block-mean features
    below carry the whole block).

    Input per symbol (15 channels): y, `referenced_features` of the `equalised` z = y / x
    against the block mean of z (each symbol compared with the whole block), x, Eb/N0, and the
    residual y - ref x around the block's fade reference in units of `nominal_noise_std` (I/Q;
    rate: R, bits per symbol), so that the noise of every Eb/N0 is seen on one scale. A 1x1 conv
    (no norm, as DCGAN's input layer; LeakyReLU(0.2)), two strided convs (kernel 4, stride 2,
    batch norm, LeakyReLU(0.2)), a 1x1 conv to the logits.
    """

    def __init__(self, block_length: int, hidden: int, rate: float) -> None:
        super().__init__()
        if block_length % 4:
            raise ValueError(f"block length {block_length} is not a multiple of 4")
        self.rate = rate
        self.net = nn.Sequential(
            conv_block(1, 15, hidden, 1, norm="none", activation="leaky"),
            conv_block(1, hidden, 2 * hidden, 4, 2, 1, activation="leaky"),
            conv_block(1, 2 * hidden, 4 * hidden, 4, 2, 1, activation="leaky"),
            nn.Conv1d(4 * hidden, 1, 1),
        )
        dcgan_init_(self)

    def features(self, y: Tensor, condition: Tensor) -> Tensor:
        """The input of the network [B, 15, T] (see the class docstring)."""
        received, x = from_iq(y, 1), from_iq(condition, 1)
        z = equalised(received, x)
        reference = z.mean(dim=-1, keepdim=True).expand_as(z)
        parts = [y, referenced_features(z, reference, dim=1), condition]
        residual = (received - reference * x) / nominal_noise_std(condition[:, 2], self.rate)
        return torch.cat([*parts, to_iq(residual, dim=1)], dim=1)

    def forward(self, y: Tensor, condition: Tensor) -> Tensor:
        return self.net(self.features(y, condition)).flatten(1)
