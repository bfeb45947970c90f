"""The CNN autoencoder transceiver: bits -> complex symbols -> bit logits.

Fully convolutional along time, so a model trained on one frame length works on any L that is a
multiple of R (the bits per channel use): R bits enter per symbol position as R input channels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from sionna.phy.mapping import Mapper
from torch import nn

from channels import MODULATIONS, ChannelOutput, ModulationSpec
from commgan.gan.blocks import broadcast_condition, conv_block

__all__ = ["Decoder", "Encoder", "PowerNorm", "TransceiverConfig", "bits_to_channels",
           "channels_to_bits", "conv_forward", "conv_stack", "is_pointwise",
           "pointwise_forward", "receiver_features", "reset_parameters"]


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
    norm: str = "none"
    """Normalisation in the hidden convolutions ("none", "batch" as DCGAN, "spectral")."""
    activation: str = "leaky"
    """Hidden activation ("leaky", "relu" as a DCGAN generator, "tanh")."""
    qam_skip: bool = True
    """Residual encoder around Sionna's Gray QAM map, x = Norm(QAM(b) + CNN(b)), with the CNN's
    last layer initialised to zero: training starts at the classical baseline. False = a plain
    CNN from random initialisation (it converges to worse constellations, see the README)."""


def bits_to_channels(bits: torch.Tensor, r: int) -> torch.Tensor:
    """[B, L] bits in {0, 1} -> [B, R, L/R] +-1 features; R consecutive bits per symbol."""
    batch, length = bits.shape
    return (2.0 * bits.float() - 1.0).reshape(batch, length // r, r).transpose(1, 2)


def channels_to_bits(values: torch.Tensor) -> torch.Tensor:
    """Inverse layout of :func:`bits_to_channels`: [B, R, n] -> [B, n * R]."""
    return values.transpose(1, 2).reshape(values.shape[0], -1)


class PowerNorm(nn.Module):
    """Average-power normalisation to Es = 1 over the ensemble of messages, not per frame.

    Training: divide by the RMS over the batch (all frames and symbols) and track it in a running
    estimate. Evaluation: divide by the running estimate, so a symbol depends only on the bits
    that produced it, never on the rest of its frame. :meth:`calibrate` replaces the estimate by
    the exact mean power of a large batch after training.
    Input and output: [B, n] complex.
    """

    def __init__(self, momentum: float = 0.01) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_power", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            power = x.abs().square().mean()
            with torch.no_grad():
                self.running_power.lerp_(power.detach(), self.momentum)
        else:
            power = self.running_power
        return x / torch.sqrt(power + 1e-12)

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor) -> None:
        """Set the estimate to the mean power of un-normalised outputs ``x`` [B, n]."""
        self.running_power.copy_(x.abs().square().mean())


def receiver_features(out: ChannelOutput, channels_last: bool = False) -> torch.Tensor:
    """Decoder input [B, 3, n] ([B, n, 3] when ``channels_last``): equalised symbol z = y/h
    (I, Q) and the gain log10 |h|^2.

    The noise variance is deliberately not an input: nearest-point decisions on z do not depend
    on it (argmin |y - hc|^2 = argmin |h|^2 |z - c|^2), and a decoder fed N0 extrapolates badly
    outside its training range. The gain tells how reliable each z is when fades vary in time.
    """
    gain = out.h.abs().square()
    z = out.y * out.h.conj() / gain.clamp_min(1e-12)
    log_gain = torch.log10(gain.clamp_min(1e-6))
    return torch.stack([z.real, z.imag, log_gain], dim=-1 if channels_last else 1)


_ELEMENTWISE = (nn.LeakyReLU, nn.ReLU, nn.Tanh, nn.Identity)
INFERENCE_ROWS = 4096
"""Symbols per chunk without autograd: [4096, 64] float intermediates stay in the CPU's L2 cache
(measured on the 2-core machine: 2048-8192 rows run a 64x64 layer 2-3x faster than 131072)."""


def _layers(net: nn.Module) -> list[nn.Module]:
    """The leaf layers of a (nested) Sequential, in order."""
    if isinstance(net, nn.Sequential):
        return [leaf for child in net for leaf in _layers(child)]
    return [net]


def is_pointwise(net: nn.Module) -> bool:
    """Whether ``net`` is kernel-1 convolutions, batch norms and elementwise activations only:
    a per-symbol MLP, run as matmuls on [B n, C] rows by :func:`pointwise_forward`."""
    return all((isinstance(layer, nn.Conv1d) and layer.kernel_size == (1,)
                and layer.stride == (1,) and layer.groups == 1)
               or isinstance(layer, (nn.BatchNorm1d, *_ELEMENTWISE)) for layer in _layers(net))


def pointwise_forward(net: nn.Module, rows: torch.Tensor) -> torch.Tensor:
    """A pointwise stack (:func:`is_pointwise`) on channels-last rows [N, C_in] -> [N, C_out],
    equal to ``net`` on [B, C_in, n] up to float rounding: each kernel-1 convolution is one
    matmul (spectral norm included, through the conv's weight), batch norm runs over the rows
    (the same statistics as over batch and time). Without autograd the rows go in cache-sized
    chunks with in-place activations."""
    layers = _layers(net)
    if torch.is_grad_enabled() or len(rows) <= INFERENCE_ROWS:
        return _rows_forward(layers, rows[None], inplace=not torch.is_grad_enabled())[0]
    return torch.cat([_rows_forward(layers, chunk[None], inplace=True)[0]
                      for chunk in rows.split(INFERENCE_ROWS)])


def _rows_forward(layers: list[nn.Module], x: torch.Tensor, inplace: bool) -> torch.Tensor:
    """Same-length convolution stack on channels-last sequences [B, n, C_in] -> [B, n, C_out] fp32:
    kernel-1 convolutions as matmuls, wider kernels as oneDNN's channels-last convolution (the
    rows seen as a [B, C, 1, n] image in channels-last memory: no copy, no transpose)."""
    for layer in layers:
        if isinstance(layer, nn.Conv1d) and layer.kernel_size == (1,):
            x = F.linear(x, layer.weight[..., 0], layer.bias)
        elif isinstance(layer, nn.Conv1d):
            image = x.unsqueeze(1).permute(0, 3, 1, 2)
            weight = layer.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
            x = F.conv2d(image, weight, layer.bias,
                         padding=(0, layer.padding[0])).permute(0, 2, 3, 1)[:, 0]
        elif isinstance(layer, nn.BatchNorm1d):
            x = layer(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        elif inplace and isinstance(layer, nn.LeakyReLU):
            x = F.leaky_relu_(x, layer.negative_slope)
        elif inplace and isinstance(layer, nn.ReLU):
            x = F.relu_(x)
        else:
            x = layer(x)
    return x.float()


def conv_forward(net: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """A same-length convolution stack (:func:`conv_stack`) on [B, C, n] -> [B, C_out, n] fp32.

    With autograd or autocast (training): on channels-last rows (:func:`_rows_forward`; under
    bf16 autocast 1.5x faster than oneDNN's convolutions in [B, C, n], whose small-channel
    layers are slow). Otherwise: oneDNN's convolution in chunks of whole frames of about
    :data:`INFERENCE_ROWS` symbols (a kernel-3 layer runs 2x faster on such chunks than on a
    Monte Carlo batch of 131 072 symbols; in fp32 it beats the matmul of shifted copies)."""
    if torch.is_grad_enabled() or torch.is_autocast_enabled(features.device.type):
        rows = _rows_forward(_layers(net), features.transpose(1, 2),
                             inplace=not torch.is_grad_enabled())
        return rows.transpose(1, 2)
    frames = max(1, INFERENCE_ROWS // max(1, features.shape[-1]))
    if features.shape[0] <= frames:
        return net(features).float()
    return torch.cat([net(chunk) for chunk in features.split(frames)]).float()


def reset_parameters(*modules: nn.Module) -> None:
    """Re-initialise every layer of ``modules`` from the (freshly seeded) global RNG; encoders
    with a QAM skip start as Gray QAM again."""
    for module in modules:
        for layer in module.modules():
            if layer is not module and hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
        if isinstance(module, Encoder):
            module.reset_parameters()


def _modulation_for(num_bits_per_symbol: int) -> ModulationSpec:
    for spec in MODULATIONS.values():
        if spec.num_bits_per_symbol == num_bits_per_symbol:
            return spec
    raise ValueError(f"no Gray QAM/PSK with {num_bits_per_symbol} bits per symbol")


def conv_stack(in_ch: int, out_ch: int, config: TransceiverConfig, layers: int) -> nn.Sequential:
    """``layers`` same-length 1-D convolutions [B, in_ch, n] -> [B, out_ch, n]: DCGAN blocks
    (conv, norm, activation) and a final 1x1 convolution."""
    kernel, padding = config.kernel_size, config.kernel_size // 2
    widths = [in_ch] + [config.hidden] * (layers - 1)
    blocks: list[nn.Module] = [
        conv_block(1, a, b, kernel, padding=padding, norm=config.norm,
                   activation=config.activation)
        for a, b in zip(widths[:-1], widths[1:], strict=True)
    ]
    blocks.append(nn.Conv1d(widths[-1], out_ch, 1))
    return nn.Sequential(*blocks)


class Encoder(nn.Module):
    """Alice: bits [B, L] -> unit-energy complex symbols [B, L/R].

    ``extra_channels``: a conditioning input [B, K] (e.g. a key latent) broadcast along time and
    concatenated to the bit channels; pass it as ``condition`` to :meth:`forward`.
    """

    def __init__(self, config: TransceiverConfig, extra_channels: int = 0) -> None:
        super().__init__()
        if config.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd (same-length convolutions)")
        self.r = config.num_bits_per_symbol
        self.net = conv_stack(self.r + extra_channels, 2, config, config.encoder_layers)
        self.pointwise = is_pointwise(self.net)
        self.power = PowerNorm()
        self.mapper = None
        if config.qam_skip:
            spec = _modulation_for(self.r)
            self.mapper = Mapper(spec.constellation_type, spec.num_bits_per_symbol)
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero the last layer when the QAM skip is on, so the encoder starts as Gray QAM."""
        if self.mapper is not None:
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    def raw(self, bits: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Un-normalised symbols [B, L/R] complex."""
        if self.pointwise and condition is None:
            batch, length = bits.shape
            rows = (2.0 * bits.float() - 1.0).reshape(-1, self.r)
            iq = pointwise_forward(self.net, rows).reshape(batch, length // self.r, 2)
            x = torch.complex(iq[..., 0], iq[..., 1])
        else:
            features = bits_to_channels(bits, self.r)
            if condition is not None:
                features = broadcast_condition(features, condition)
            iq = conv_forward(self.net, features)
            x = torch.complex(iq[:, 0], iq[:, 1])
        if self.mapper is not None:
            x = x + self.mapper(bits).to(x.device)
        return x

    def forward(self, bits: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.power(self.raw(bits, condition))


class Decoder(nn.Module):
    """Bob (or Eve): channel output (y, h, no) -> bit logits [B, L] (logit > 0 means bit 1).

    ``extra_channels``: an optional conditioning input [B, K] (e.g. a key latent).
    """

    def __init__(self, config: TransceiverConfig, extra_channels: int = 0) -> None:
        super().__init__()
        plain = TransceiverConfig(**{**asdict(config), "norm": "none", "activation": "leaky"})
        self.net = conv_stack(3 + extra_channels, config.num_bits_per_symbol, plain,
                              config.decoder_layers)
        self.pointwise = is_pointwise(self.net)

    def forward(self, out: ChannelOutput, condition: torch.Tensor | None = None) -> torch.Tensor:
        if self.pointwise and condition is None:
            rows = receiver_features(out, channels_last=True).reshape(-1, 3)
            return pointwise_forward(self.net, rows).reshape(out.y.shape[0], -1)
        features = receiver_features(out)
        if condition is not None:
            features = broadcast_condition(features, condition)
        return channels_to_bits(conv_forward(self.net, features))
