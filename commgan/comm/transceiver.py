"""The CNN autoencoder transceiver: bits -> complex symbols -> bit logits.

Fully convolutional along time, so a model trained on one frame length works on any L that is a
multiple of R (the bits per channel use): R bits enter per symbol position as R input channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from channels import ChannelOutput
from commgan.gan.blocks import conv_block

__all__ = ["Decoder", "Encoder", "TransceiverConfig", "bits_to_channels", "channels_to_bits",
           "normalize_power", "receiver_features"]


@dataclass
class TransceiverConfig:
    """Shape of the encoder and decoder CNNs."""

    num_bits_per_symbol: int = 4
    """R: bits per complex channel use (input channels of the encoder)."""
    hidden: int = 64
    """Channels of the hidden convolutions."""
    encoder_layers: int = 3
    """Convolutions in the encoder (the last one outputs I and Q)."""
    decoder_layers: int = 4
    """Convolutions in the decoder (the last one outputs R bit logits per symbol)."""
    kernel_size: int = 1
    """Kernel along time; 1 = one symbol carries its own R bits, >1 spreads bits over symbols."""


def bits_to_channels(bits: torch.Tensor, r: int) -> torch.Tensor:
    """[B, L] bits in {0, 1} -> [B, R, L/R] +-1 features; R consecutive bits per symbol."""
    batch, length = bits.shape
    return (2.0 * bits.float() - 1.0).reshape(batch, length // r, r).transpose(1, 2)


def channels_to_bits(values: torch.Tensor) -> torch.Tensor:
    """Inverse layout of :func:`bits_to_channels`: [B, R, n] -> [B, n * R]."""
    return values.transpose(1, 2).reshape(values.shape[0], -1)


def normalize_power(x: torch.Tensor) -> torch.Tensor:
    """Scale every frame [B, n] complex to average symbol energy 1 (Es = 1)."""
    power = x.abs().square().mean(dim=-1, keepdim=True)
    return x / torch.sqrt(power + 1e-12)


def receiver_features(out: ChannelOutput) -> torch.Tensor:
    """Decoder input [B, 3, n]: equalised symbol y/h (I, Q) and its SNR |h|^2/no in dB / 10."""
    no = out.no if out.no.dim() == 0 else out.no.reshape(-1, 1)
    gain = out.h.abs().square()
    z = out.y * out.h.conj() / gain.clamp_min(1e-12)
    snr = torch.log10((gain / no).clamp_min(1e-12)).expand_as(gain)
    return torch.stack([z.real, z.imag, snr], dim=1)


def _stack(in_ch: int, hidden: int, out_ch: int, layers: int, kernel: int) -> nn.Sequential:
    padding = kernel // 2
    blocks = [conv_block(1, in_ch, hidden, kernel, padding=padding, norm="none",
                         activation="leaky")]
    blocks += [conv_block(1, hidden, hidden, kernel, padding=padding, norm="none",
                          activation="leaky") for _ in range(layers - 2)]
    blocks.append(nn.Conv1d(hidden, out_ch, 1))
    return nn.Sequential(*blocks)


class Encoder(nn.Module):
    """Alice: bits [B, L] -> unit-energy complex symbols [B, L/R]."""

    def __init__(self, config: TransceiverConfig) -> None:
        super().__init__()
        if config.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd (same-length convolutions)")
        self.r = config.num_bits_per_symbol
        self.net = _stack(self.r, config.hidden, 2, config.encoder_layers, config.kernel_size)

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        iq = self.net(bits_to_channels(bits, self.r))
        return normalize_power(torch.complex(iq[:, 0], iq[:, 1]))


class Decoder(nn.Module):
    """Bob: channel output (y, h, no) -> bit logits [B, L] (logit > 0 means bit 1)."""

    def __init__(self, config: TransceiverConfig) -> None:
        super().__init__()
        self.net = _stack(3, config.hidden, config.num_bits_per_symbol, config.decoder_layers,
                          config.kernel_size)

    def forward(self, out: ChannelOutput) -> torch.Tensor:
        return channels_to_bits(self.net(receiver_features(out)))
