"""The CNN autoencoder transceiver: bits -> complex symbols -> bit logits.

Fully convolutional along time, so a model trained on one frame length works on any L that is a
multiple of R (the bits per channel use): R bits enter per symbol position as R input channels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from sionna.phy.mapping import Mapper
from torch import nn
from torch.nn.utils import parametrize

from channels import MODULATIONS, ChannelOutput, ModulationSpec
from commgan.comm.spreading import (
    block_bits,
    block_features,
    block_labels,
    interleave,
    ssd_skip,
)
from commgan.gan.blocks import broadcast_condition, conv_block

__all__ = ["Decoder", "Encoder", "PowerNorm", "TransceiverConfig", "bits_to_channels",
           "channels_to_bits", "conv_forward", "conv_stack", "is_pointwise", "pointwise_forward",
           "receiver_features", "reset_parameters"]


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
    spread: int = 1
    """K: symbols per block. The encoder maps each block of K*R bits jointly to K symbols, which
    the interleaver sends K frame-fractions apart (:func:`interleave`), so that on fast fading
    they meet independent fades (diversity up to K); the decoder sees the block's K symbols and
    their gains together. With the QAM skip, a block starts as signal-space diversity: K rotated
    Gray QAM points whose quadrature components are cycled within the block (:func:`ssd_skip`).
    1 = one symbol per R bits."""


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
            if layer is module:
                continue
            if parametrize.is_parametrized(layer, "weight"):
                _reset_parametrized(layer)
            elif hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
        if isinstance(module, Encoder):
            module.reset_parameters()


@torch.no_grad()
def _reset_parametrized(layer: nn.Module) -> None:
    """A layer whose weight is parametrized (spectral norm): its own ``reset_parameters`` would
    initialise the computed weight, a temporary, and leave the stored one as constructed. Draw
    the stored weight as torch does for a convolution or linear layer (Kaiming uniform, a =
    sqrt(5); bias U(+-1/sqrt(fan_in))), then the power iteration's vectors and 15 iterations,
    as at construction."""
    original = layer.parametrizations.weight.original
    nn.init.kaiming_uniform_(original, a=math.sqrt(5))
    if getattr(layer, "bias", None) is not None:
        bound = 1 / math.sqrt(original[0].numel())
        nn.init.uniform_(layer.bias, -bound, bound)
    for parametrization in layer.parametrizations.weight:
        if hasattr(parametrization, "_u"):
            parametrization._u.copy_(F.normalize(torch.randn_like(parametrization._u), dim=0,
                                                 eps=parametrization.eps))
            parametrization._v.copy_(F.normalize(torch.randn_like(parametrization._v), dim=0,
                                                 eps=parametrization.eps))
            parametrization._power_method(
                parametrization._reshape_weight_to_matrix(original), 15)


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

    Each block of K*R bits (K = ``config.spread``) becomes K symbols, interleaved across the
    frame. ``extra_channels``: a conditioning input [B, K'] (e.g. a key latent) broadcast along
    time and concatenated to the bit channels; pass it as ``condition`` to :meth:`forward`.
    """

    def __init__(self, config: TransceiverConfig, extra_channels: int = 0) -> None:
        super().__init__()
        if config.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd (same-length convolutions)")
        if config.spread < 1:
            raise ValueError(f"spread must be >= 1 symbol per block, got {config.spread}")
        self.r, self.spread = config.num_bits_per_symbol, config.spread
        self.net = conv_stack(self.r * self.spread + extra_channels, 2 * self.spread, config,
                              config.encoder_layers)
        self.pointwise = is_pointwise(self.net)
        if self.spread > 1 and not (self.pointwise and extra_channels == 0):
            raise ValueError("a spreading encoder maps each block on its own: kernel_size 1 "
                             "and no conditioning input")
        if self.spread > 1:
            self.register_buffer("blocks", block_bits(self.r * self.spread), persistent=False)
        self.power = PowerNorm()
        self.skip = _modulation_for(self.r) if config.qam_skip else None
        self._mappers: dict[str, Mapper] = {}
        if self.skip is not None:
            self.rotation_deg = self.skip.ssd_rotation_deg
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero the last layer when the QAM skip is on, so the encoder starts as Gray QAM (as
        signal-space diversity when it spreads)."""
        if self.skip is not None:
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    def codebook(self) -> torch.Tensor:
        """A spreading encoder's K symbols for each of the 2^(K R) blocks, [2^(K R), K] complex,
        scaled to unit average energy over the blocks (exactly the ensemble average: blocks of
        uniform bits are equally likely). Block m holds the bits of m, most significant first."""
        raw = self._block_symbols(self.blocks)[:, 0]
        return raw / torch.sqrt(raw.abs().square().mean() + 1e-12)

    def alphabet(self) -> torch.Tensor:
        """The values one symbol takes, [M] complex, at unit average energy over equally
        likely bits: the 2^R points of a per-symbol encoder; a spreading encoder's codebook
        entries (2^(K R) K values). Not for an encoder with a conditioning input."""
        if self.spread > 1:
            return self.codebook().reshape(-1)
        raw = self._block_symbols(block_bits(self.r)).reshape(-1)
        return raw / torch.sqrt(raw.abs().square().mean() + 1e-12)

    def raw(self, bits: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Un-normalised symbols [B, L/R] complex, in frame (interleaved) order (a spreading
        encoder's are already normalised: its codebook's energy is exact)."""
        if self.spread > 1:
            return interleave(self.codebook()[block_labels(bits, self.r * self.spread)])
        return interleave(self._block_symbols(bits, condition))

    def _block_symbols(self, bits: torch.Tensor, condition: torch.Tensor | None = None
                       ) -> torch.Tensor:
        """Bits [B, L] -> un-normalised symbols per block [B, L/(K R), K] complex."""
        batch, length = bits.shape
        block = self.r * self.spread
        if self.pointwise and condition is None:
            rows = (2.0 * bits.float() - 1.0).reshape(-1, block)
            iq = pointwise_forward(self.net, rows).reshape(batch, length // block,
                                                           2 * self.spread)
        else:
            features = bits_to_channels(bits, block)
            if condition is not None:
                features = broadcast_condition(features, condition)
            iq = conv_forward(self.net, features).transpose(1, 2)
        x = torch.complex(iq[..., :self.spread], iq[..., self.spread:])
        if self.skip is not None:
            points = self.gray_mapper(bits.device)(bits).reshape(x.shape)
            x = x + ssd_skip(points, self.rotation_deg)
        return x

    def gray_mapper(self, device: torch.device) -> Mapper:
        """Sionna's Gray QAM mapper of the skip, on ``device`` (a Sionna block keeps its
        constellation on the device it was made for; ``Module.to`` does not move it)."""
        name = str(device)
        if name not in self._mappers:
            self._mappers[name] = Mapper(self.skip.constellation_type,
                                         self.skip.num_bits_per_symbol, device=name)
        return self._mappers[name]

    def forward(self, bits: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if self.spread > 1:
            return self.raw(bits)
        return self.power(self.raw(bits, condition))


class Decoder(nn.Module):
    """Bob (or Eve): channel output (y, h, no) -> bit logits [B, L] (logit > 0 means bit 1).

    Sees each block's K symbols together (equalised symbol and gain of each, de-interleaved).
    ``extra_channels``: an optional conditioning input [B, K'] (e.g. a key latent).
    """

    def __init__(self, config: TransceiverConfig, extra_channels: int = 0) -> None:
        super().__init__()
        plain = TransceiverConfig(**{**asdict(config), "norm": "none", "activation": "leaky"})
        self.spread = config.spread
        self.net = conv_stack(3 * self.spread + (self.spread > 1) + extra_channels,
                              config.num_bits_per_symbol * self.spread, plain,
                              config.decoder_layers)
        self.pointwise = is_pointwise(self.net)

    def forward(self, out: ChannelOutput, condition: torch.Tensor | None = None) -> torch.Tensor:
        batch = out.y.shape[0]
        if self.spread > 1:
            rows = block_features(out, self.spread)
        else:
            rows = receiver_features(out, channels_last=True)
        if self.pointwise and condition is None:
            return pointwise_forward(self.net, rows.reshape(-1, rows.shape[-1])).reshape(batch, -1)
        features = rows.transpose(1, 2)
        if condition is not None:
            features = broadcast_condition(features, condition)
        return channels_to_bits(conv_forward(self.net, features))
