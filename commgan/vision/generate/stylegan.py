"""A small StyleGAN2 for 8x8 digits: mapping network, modulated convolutions with weight
demodulation, noise inputs, style mixing, and the game (non-saturating logistic loss, R1 and an
optional path-length penalty) as a `commgan.gan.GANProblem` for the one `GANTrainer`.

Shapes: z [B, z_dim], w [B, w_dim], per-layer styles ws [B, NUM_WS, w_dim], images
[B, 1, 8, 8] (unbounded linear output, trained towards the digits' [-1, 1] range).
Layers use the equalised learning rate of Karras et al. (weights ~ N(0, 1), scaled at run time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["NUM_WS", "EqualLinear", "MappingNetwork", "ModulatedConv", "StyleDiscriminator",
           "StyleGANProblem", "StyleGenerator", "SynthesisNetwork", "mix_styles",
           "modulated_conv2d", "modulated_weight", "path_length_penalty", "r1_penalty"]

NUM_WS = 4
"""Styles of the 8x8 synthesis network: 4x4 conv (0), 4x4 toRGB and 8x8 up-conv (1), 8x8 conv
(2), 8x8 toRGB (3), StyleGAN2's sharing of w between a toRGB and the next conv."""
_GAIN = math.sqrt(2.0)
"""Gain after leaky ReLU (0.2) that keeps activations at unit scale."""


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2) * _GAIN


class EqualLinear(nn.Module):
    """Linear layer with the equalised learning rate: weight N(0, 1) / lr_mul, multiplied by
    lr_mul / sqrt(in_features) at run time; bias initialised to ``bias_init``."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0,
                 lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        """[B, in] -> [B, out]."""
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class MappingNetwork(nn.Module):
    """z [B, z_dim] -> w [B, w_dim]: pixel norm of z, then ``layers`` EqualLinear + leaky ReLU
    (8 in StyleGAN/StyleGAN2, 2 in the StyleGAN2-ADA configs), learning rate x ``lr_mul``.

    Keeps ``w_avg``, a moving average of w in training mode (truncation, inversion start).
    """

    def __init__(self, z_dim: int = 32, w_dim: int = 32, layers: int = 8,
                 lr_mul: float = 0.01, w_avg_beta: float = 0.995) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.ModuleList(EqualLinear(a, b, lr_mul=lr_mul)
                                 for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor) -> Tensor:
        """w [B, w_dim] of z [B, z_dim]."""
        x = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
        for layer in self.net:
            x = _lrelu(layer(x))
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(x.detach().mean(0), 1.0 - self.w_avg_beta)
        return x


def modulated_weight(weight: Tensor, styles: Tensor, demodulate: bool = True,
                     eps: float = 1e-8) -> Tensor:
    """Per-sample weights [B, out, in, k, k] of weight [out, in, k, k] scaled per input channel
    by styles [B, in]; with ``demodulate`` each output channel's weight is divided by its L2
    norm (StyleGAN2 eq. 3), so it has unit norm."""
    w = weight.unsqueeze(0) * styles[:, None, :, None, None]
    if demodulate:
        w = w * torch.rsqrt(w.pow(2).sum(dim=(2, 3, 4), keepdim=True) + eps)
    return w


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True,
                     padding: int = 0, eps: float = 1e-8) -> Tensor:
    """Modulated convolution of x [B, in, H, W]: [B, out, H', W'].

    Computed as StyleGAN2's non-fused path, scale the input channels by the styles, convolve
    with the shared weight, scale each output channel by its demodulation coefficient; equal to
    a convolution of each sample with its own `modulated_weight`, and faster on a CPU than the
    grouped convolution of the fused path."""
    out = F.conv2d(x * styles[:, :, None, None], weight, padding=padding)
    if demodulate:
        # sum_{i, k} (W[o, i, k] s[b, i])^2 = s^2 @ (sum_k W^2)^T
        power = styles.pow(2) @ weight.pow(2).sum(dim=(2, 3)).t()
        out = out * torch.rsqrt(power + eps)[:, :, None, None]
    return out


class ModulatedConv(nn.Module):
    """Style-modulated k x k conv: styles = affine(w) (bias 1), weight N(0, 1) scaled by
    1 / sqrt(in * k * k), demodulated unless ``demodulate`` is False (toRGB); ``upsample``
    doubles H and W (nearest) first."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, w_dim: int,
                 demodulate: bool = True, upsample: bool = False) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.scale = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = kernel // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """x [B, in, H, W], w [B, w_dim] -> [B, out, H, W] (2H, 2W with ``upsample``)."""
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return modulated_conv2d(x, self.weight * self.scale, self.affine(w), self.demodulate,
                                self.padding)


class StyledLayer(nn.Module):
    """ModulatedConv, per-pixel noise with a learned per-layer strength, bias, leaky ReLU.

    Noise: fresh N(0, 1) in training mode, the fixed ``noise_const`` buffer in eval mode (so an
    eval-mode generator is deterministic); none when ``noise`` is False."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 upsample: bool = False, noise: bool = True) -> None:
        super().__init__()
        self.conv = ModulatedConv(in_channels, out_channels, 3, w_dim, upsample=upsample)
        self.noise = noise
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """x [B, in, H, W] -> [B, out, H', W']."""
        x = self.conv(x, w)
        if self.noise:
            n = (torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
                 if self.training else self.noise_const)
            x = x + n * self.noise_strength
        return _lrelu(x + self.bias[None, :, None, None])


class SynthesisNetwork(nn.Module):
    """ws [B, NUM_WS, w_dim] -> images [B, 1, 8, 8]: a learned constant [C, 4, 4], a styled
    conv at 4x4, an up-sampling styled conv and a styled conv at 8x8, and the skip outputs
    (toRGB, 1x1 modulated without demodulation) of both resolutions summed (4x4 up-sampled)."""

    def __init__(self, w_dim: int = 32, channels: int = 64, noise: bool = True) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.randn(1, channels, 4, 4))
        self.conv4 = StyledLayer(channels, channels, w_dim, 4, noise=noise)
        self.rgb4 = ModulatedConv(channels, 1, 1, w_dim, demodulate=False)
        self.up8 = StyledLayer(channels, channels, w_dim, 8, upsample=True, noise=noise)
        self.conv8 = StyledLayer(channels, channels, w_dim, 8, noise=noise)
        self.rgb8 = ModulatedConv(channels, 1, 1, w_dim, demodulate=False)
        self.rgb_bias = nn.Parameter(torch.zeros(2))

    def forward(self, ws: Tensor) -> Tensor:
        """Images [B, 1, 8, 8] of per-layer styles ws [B, NUM_WS, w_dim]."""
        x = self.conv4(self.const.expand(ws.shape[0], -1, -1, -1), ws[:, 0])
        img = self.rgb4(x, ws[:, 1]) + self.rgb_bias[0]
        x = self.conv8(self.up8(x, ws[:, 1]), ws[:, 2])
        return F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + (
            self.rgb8(x, ws[:, 3]) + self.rgb_bias[1])


def mix_styles(w1: Tensor, w2: Tensor, crossover: int) -> Tensor:
    """Per-layer styles [B, NUM_WS, w_dim]: w1 [B, w_dim] for layers < crossover, w2 from
    layer ``crossover`` on (style mixing)."""
    ws = w1.unsqueeze(1).repeat(1, NUM_WS, 1)
    ws[:, crossover:] = w2.unsqueeze(1)
    return ws


class StyleGenerator(nn.Module):
    """G(z [B, z_dim]) -> images [B, 1, 8, 8]: `MappingNetwork` then `SynthesisNetwork`.

    In training mode, with probability ``mixing_prob`` a batch mixes the styles of a second z
    from a crossover layer drawn uniformly in [1, NUM_WS - 1] (style mixing regularisation).
    """

    def __init__(self, z_dim: int = 32, w_dim: int = 32, mapping_layers: int = 8,
                 channels: int = 64, noise: bool = True, mixing_prob: float = 0.9) -> None:
        super().__init__()
        self.z_dim, self.w_dim = z_dim, w_dim
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.synthesis = SynthesisNetwork(w_dim, channels, noise)
        self.mixing_prob = mixing_prob

    def styles(self, z: Tensor) -> Tensor:
        """ws [B, NUM_WS, w_dim] of z (mixed with a second z in training, see the class)."""
        w = self.mapping(z)
        if self.training and self.mixing_prob > 0 and float(torch.rand(())) < self.mixing_prob:
            crossover = int(torch.randint(1, NUM_WS, ()))
            return mix_styles(w, self.mapping(torch.randn_like(z)), crossover)
        return w.unsqueeze(1).repeat(1, NUM_WS, 1)

    def forward(self, z: Tensor) -> Tensor:
        """Images [B, 1, 8, 8]."""
        return self.synthesis(self.styles(z))


class StyleDiscriminator(nn.Module):
    """D(x [B, 1, 8, 8]) -> logits [B]: fromRGB 1x1, two 3x3 convs at 8x8, 2x2 average pooling,
    a minibatch standard-deviation channel (groups of up to 4), a 3x3 conv at 4x4 and two linear
    layers (leaky ReLU, equalised learning rate)."""

    def __init__(self, channels: int = 64, group: int = 4) -> None:
        super().__init__()
        self.group = group
        shapes = [(channels, 1, 1), (channels, channels, 3), (channels, channels, 3),
                  (channels, channels + 1, 3)]
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(o, i, k, k))
                                        for o, i, k in shapes)
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(o)) for o, _, _ in shapes)
        self.fc = EqualLinear(channels * 16, channels)
        self.out = EqualLinear(channels, 1)

    def _conv(self, x: Tensor, index: int) -> Tensor:
        weight = self.weights[index]
        scale = 1.0 / math.sqrt(weight[0].numel())
        return _lrelu(F.conv2d(x, weight * scale, self.biases[index],
                               padding=weight.shape[-1] // 2))

    def _stddev(self, x: Tensor) -> Tensor:
        """x [B, C, H, W] plus one channel: the mean std over the sample's group."""
        batch = x.shape[0]
        group = math.gcd(min(self.group, batch), batch)
        y = x.reshape(group, -1, *x.shape[1:])
        std = (y.var(0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
        std = std.repeat(group).reshape(batch, 1, 1, 1).expand(-1, 1, *x.shape[2:])
        return torch.cat([x, std], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits [B]."""
        h = self._conv(self._conv(self._conv(x, 0), 1), 2)
        h = self._conv(self._stddev(F.avg_pool2d(h, 2)), 3)
        return self.out(_lrelu(self.fc(h.flatten(1)))).squeeze(1)


def r1_penalty(discriminator: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 = E[||grad_x D(x)||^2] at the real images x [B, ...] (unweighted scalar)."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def path_length_penalty(generator: StyleGenerator, z: Tensor, pl_mean: Tensor,
                        decay: float = 0.01) -> tuple[Tensor, Tensor]:
    """StyleGAN2's path-length penalty E[(||J_w^T y||_2 - a)^2] on a batch z [B, z_dim].

    y ~ N(0, I) / sqrt(H W) per image; a = ``pl_mean`` (a scalar buffer, updated in place as a
    moving average of the lengths with rate ``decay``). Returns (penalty, lengths [B]).
    """
    ws = generator.styles(z)
    images = generator.synthesis(ws)
    noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    lengths = grad.pow(2).sum(2).mean(1).add(1e-8).sqrt()
    with torch.no_grad():
        pl_mean.lerp_(lengths.mean().detach(), decay)
    return (lengths - pl_mean).pow(2).mean(), lengths


class StyleGANProblem:
    """The StyleGAN2 game as a `commgan.gan.GANProblem`: non-saturating logistic loss, R1 on
    the real images (weight ``r1_gamma / 2``) for D, and for G optionally the path-length
    penalty (weight ``pl_weight``, on half the batch). ``sampler() -> real [B, 1, 8, 8]``.

    Metrics: d_real, d_fake (mean sigmoid of D), r1, g_adv, and pl / pl_mean with the penalty.
    """

    def __init__(self, generator: StyleGenerator, discriminator: StyleDiscriminator,
                 sampler: Callable[[], Tensor], r1_gamma: float = 0.1,
                 pl_weight: float = 0.0) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.sampler = sampler
        self.r1_gamma = r1_gamma
        self.pl_weight = pl_weight
        self.pl_mean = torch.zeros(())

    def next_batch(self) -> Tensor:
        """Real images [B, 1, 8, 8]."""
        return self.sampler()

    def _fake(self, batch: int, device: torch.device) -> Tensor:
        return self.generator(torch.randn(batch, self.generator.z_dim, device=device))

    def discriminator_loss(self, batch: Any) -> tuple[Tensor, dict[str, float]]:
        """softplus(D(fake)) + softplus(-D(real)) + r1_gamma / 2 * R1."""
        real = batch
        with torch.no_grad():
            fake = self._fake(real.shape[0], real.device)
        real_out, fake_out = self.discriminator(real), self.discriminator(fake)
        loss = F.softplus(fake_out).mean() + F.softplus(-real_out).mean()
        metrics = {"d_real": float(torch.sigmoid(real_out.detach()).mean()),
                   "d_fake": float(torch.sigmoid(fake_out.detach()).mean())}
        if self.r1_gamma > 0:
            r1 = r1_penalty(self.discriminator, real)
            loss = loss + 0.5 * self.r1_gamma * r1
            metrics["r1"] = float(r1.detach())
        return loss, metrics

    def generator_loss(self, batch: Any) -> tuple[Tensor, dict[str, float]]:
        """softplus(-D(G(z))) (+ pl_weight * path-length penalty)."""
        real = batch
        adv = F.softplus(-self.discriminator(self._fake(real.shape[0], real.device))).mean()
        metrics = {"g_adv": float(adv.detach())}
        loss = adv
        if self.pl_weight > 0:
            self.pl_mean = self.pl_mean.to(real.device)
            z = torch.randn(max(real.shape[0] // 2, 1), self.generator.z_dim, device=real.device)
            penalty, _ = path_length_penalty(self.generator, z, self.pl_mean)
            loss = loss + self.pl_weight * penalty
            metrics.update({"pl": float(penalty.detach()), "pl_mean": float(self.pl_mean)})
        return loss, metrics
