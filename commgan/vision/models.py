"""Generators and discriminators of the restoration GANs (small enough to train on a CPU).

- `SRGenerator` (SRGAN, Ledig et al.): residual blocks at low resolution, pixel-shuffle x2
  up-sampling stages, and a global skip: the output is bicubic(input) + learned residual (the
  residual branch's last conv starts at zero, so an untrained generator is bicubic
  interpolation).
- `ColourSRGenerator` (CR-SRGAN of seed 003): size-independent colour statistics of the whole
  image (`colour_statistics`) drive, through an MLP, a global colour transform of the input
  (levels + gamma per channel, then a 3x3 colour matrix) and the FiLM modulation of the SRGAN
  body, which adds the detail on top of bicubic(transformed input).
- `RestorationGenerator` (seed 001): encoder-decoder with residual blocks at 1/4 resolution and
  skip connections; input = the degraded image with its missing pixels pre-filled by biharmonic
  inpainting, the missing-pixel mask and the keep mask; output = input + learned residual (the
  last conv starts at zero), the pixels to keep copied from the input.
- `ConvDiscriminator`: strided convolutions with spectral norm and LeakyReLU(0.2) (DCGAN family,
  `commgan.gan.conv_block`), either one logit per image (SRGAN) or a patch map (PatchGAN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.gan import conv_block, dcgan_init_

__all__ = [
    "ColourConfig",
    "ColourSRGenerator",
    "ConvDiscriminator",
    "RestorationConfig",
    "RestorationGenerator",
    "SRConfig",
    "SRGenerator",
    "colour_statistics",
]


@dataclass
class SRConfig:
    """Architecture of `SRGenerator` (saved in checkpoints)."""

    scale: int = 4
    """Up-sampling factor: 1, 2 or 4 (pixel-shuffle x2 stages)."""
    channels: int = 32
    """Feature channels."""
    blocks: int = 6
    """Residual blocks at the input resolution."""
    colour: bool = False
    """True only in `ColourConfig` (CR-SRGAN, built as `ColourSRGenerator`)."""

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


class _ResBlock(nn.Module):
    """conv3x3 -> PReLU -> conv3x3, plus the input; optional FiLM (scale, shift) per channel."""

    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.act = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)

    def forward(self, x: Tensor, film: Tensor | None = None) -> Tensor:
        """x [B, C, H, W]; film [B, 2C] or None -> [B, C, H, W]."""
        h = self.act(self.conv1(x))
        if film is not None:
            scale, shift = film[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + scale) + shift
        return x + self.conv2(h)


class _SRBody(nn.Module):
    """The SRGAN body shared by both SR generators: head conv, residual blocks (optionally
    FiLM-modulated), pixel-shuffle x2 stages and a zero-initialised tail on top of bicubic."""

    def _build_body(self, config: SRConfig) -> None:
        if config.scale not in (1, 2, 4):
            raise ValueError(f"scale must be 1, 2 or 4, got {config.scale}")
        c = config.channels
        self.head = nn.Sequential(nn.Conv2d(3, c, 5, padding=2), nn.PReLU(c))
        self.body = nn.ModuleList(_ResBlock(c) for _ in range(config.blocks))
        self.body_tail = nn.Conv2d(c, c, 3, padding=1)
        up: list[nn.Module] = []
        for _ in range(int(math.log2(config.scale))):
            up += [nn.Conv2d(c, 4 * c, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(c)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def _upscale(self, x: Tensor, films: Sequence[Tensor | None]) -> Tensor:
        """x [B, 3, h, w] (about [0, 1]) -> bicubic(x) + residual [B, 3, h*scale, w*scale];
        films: one [B, 2C] or None per residual block."""
        s = self.config.scale
        base = x if s == 1 else F.interpolate(x, scale_factor=s, mode="bicubic",
                                              align_corners=False)
        feat = self.head((2 * x - 1).clamp(-2, 2))
        h = feat
        for block, film in zip(self.body, films, strict=True):
            h = block(h, film)
        h = feat + self.body_tail(h)
        return base + self.tail(self.upsample(h))


class SRGenerator(_SRBody):
    """SRGAN generator: [B, 3, h, w] in [0, 1] -> [B, 3, h*scale, w*scale].

    The output is not clipped (clip when saving); an untrained generator is bicubic (torch,
    a = -0.75) up-sampling because the residual branch's last conv is zero-initialised.
    """

    def __init__(self, config: SRConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SRConfig()
        if config.colour:
            raise ValueError("colour=True is the CR-SRGAN: use ColourSRGenerator(ColourConfig)")
        self._build_body(config)

    def forward(self, x: Tensor) -> Tensor:
        """x [B, 3, h, w] in [0, 1] -> [B, 3, h*scale, w*scale]."""
        return self._upscale(x, [None] * len(self.body))


_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                     [0.5, -0.418688, -0.081312]])
_QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
STATISTICS = 7 * (len(_QUANTILES) + 2) + 2
"""Length of a `colour_statistics` vector."""


def colour_statistics(pixels: Tensor, max_pixels: int = 65536) -> Tensor:
    """Size-independent colour statistics of images: [B, 3, ...] in [0, 1] -> [B, STATISTICS].

    For R, G, B, Y, Cb, Cr (BT.601) and the chroma magnitude sqrt(Cb^2 + Cr^2): the 1, 5, 10,
    25, 50, 75, 90, 95, 99 % quantiles, mean and standard deviation; and the covariances of Y
    with Cb and Cr (a tint that grows with brightness, as sepia toning). These estimate the
    distribution of the image's colours, so they do not depend on the image's size or on the
    pixels' order: CR-SRGAN trains them on a random sample of a large region's pixels and applies
    them to all pixels of a whole image. More than ``max_pixels`` pixels are subsampled with a
    fixed stride.
    """
    x = pixels.flatten(2)
    if x.shape[-1] > max_pixels:
        x = x[..., :: math.ceil(x.shape[-1] / max_pixels)]
    ycc = torch.einsum("dc,bcn->bdn", _YCC.to(x), x)
    chroma = ycc[:, 1:].pow(2).sum(1, keepdim=True).add(1e-8).sqrt()
    channels = torch.cat([x, ycc, chroma], dim=1)
    ordered = channels.sort(dim=-1).values
    n = ordered.shape[-1]
    index = torch.tensor([min(round(q * (n - 1)), n - 1) for q in _QUANTILES],
                         device=x.device)
    quantiles = ordered[..., index]
    centred = ycc - ycc.mean(-1, keepdim=True)
    cov = (centred[:, :1] * centred[:, 1:]).mean(-1)
    return torch.cat([quantiles.flatten(1), channels.mean(-1), channels.std(-1), 4 * cov], 1)


@dataclass
class ColourConfig(SRConfig):
    """Architecture of `ColourSRGenerator` (CR-SRGAN; saved in checkpoints)."""

    scale: int = 2
    colour: bool = True
    context: int = 64
    """Width of the MLP on the image's `colour_statistics` (the global colour context)."""


class ColourSRGenerator(_SRBody):
    """CR-SRGAN generator: a global colour transform estimated from the whole image, then SR.

    From the `colour_statistics` of the context (by default the input image itself; in training
    a pixel sample of a region larger than the patch, see ``forward``) an MLP estimates

    - a global colour transform T of the input: per channel a black point, a white point and an
      exponent (levels + gamma), then a 3x3 colour matrix and an offset (a channel mixer), the
      identity at start; and
    - FiLM scales and shifts of the residual blocks.

    Output = bicubic(T(input)) + residual, the residual computed from T(input) by the SRGAN body
    (last conv zero-initialised, so an untrained generator is bicubic up-sampling).
    """

    def __init__(self, config: ColourConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ColourConfig()
        c, k = config.channels, config.context
        self.stats = nn.Sequential(nn.Linear(STATISTICS, k), nn.PReLU(k), nn.Linear(k, k),
                                   nn.PReLU(k))
        self.transform = nn.Linear(k, 21)
        self.film = nn.Linear(k, 2 * c * config.blocks)
        self._build_body(config)
        for layer in (self.transform, self.film):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def colour_transform(self, x: Tensor, params: Tensor) -> Tensor:
        """Apply the global transform of ``params`` [B, 21] to x [B, 3, h, w]."""
        p = params[:, :, None, None]
        black, white = 0.5 * p[:, 0:3], 1 + 0.5 * p[:, 3:6]
        exponent = p[:, 6:9].clamp(-3, 3).exp()
        matrix = torch.eye(3, device=x.device) + 2 * params[:, 9:18].view(-1, 3, 3)
        offset = 0.5 * p[:, 18:21]
        level = (x - black) / (white - black).clamp_min(0.05)
        curved = level.clamp(1e-3, 2.0) ** exponent
        return torch.einsum("bdc,bchw->bdhw", matrix, curved) + offset

    def forward(self, x: Tensor) -> Tensor:
        """x [B, 3, h, w] in [0, 1] -> [B, 3, h*scale, w*scale].

        x may also be [B, 6, h, w]: the image and, in channels 3-5, context pixels (any order)
        whose colour statistics replace the image's own (training on patches of large images).
        """
        if x.shape[1] == 6:
            x, context = x[:, :3], x[:, 3:]
        else:
            context = x
        g = self.stats(2 * colour_statistics(context) - 1)
        corrected = self.colour_transform(x, self.transform(g))
        return self._upscale(corrected, self.film(g).chunk(len(self.body), dim=1))


@dataclass
class RestorationConfig:
    """Architecture of `RestorationGenerator` (saved in checkpoints)."""

    channels: int = 24
    """Channels at full resolution (x2 at 1/2, x4 at 1/4 resolution)."""
    blocks: int = 4
    """Residual blocks at 1/4 resolution (dilations 1, 2, 4, 8, ... for a wide receptive field)."""

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


class RestorationGenerator(nn.Module):
    """Seed 001's encoder-decoder generator.

    Forward: ``condition`` [B, 5, H, W] = pre-filled degraded RGB (missing pixels filled by
    `commgan.vision.baselines.biharmonic_inpaint`; a noisy image as it is), missing mask
    (1 = pixel lost), keep mask (1 = pixel to copy to the output: the known pixels of an occluded
    image; 0 everywhere for a noisy one). Output [B, 3, H, W] = keep * input + (1 - keep) *
    (input + residual). H and W need not be multiples of 4 (reflection padding, then a crop).
    """

    def __init__(self, config: RestorationConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or RestorationConfig()
        c = config.channels
        self.enc1 = nn.Sequential(nn.Conv2d(5, c, 5, padding=2), nn.PReLU(c))
        self.enc2 = nn.Sequential(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.PReLU(2 * c))
        self.enc3 = nn.Sequential(nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1),
                                  nn.PReLU(4 * c))
        self.body = nn.ModuleList(_ResBlock(4 * c, dilation=2 ** (i % 4))
                                  for i in range(config.blocks))
        self.up2 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                 nn.Conv2d(4 * c, 2 * c, 3, padding=1), nn.PReLU(2 * c))
        self.dec2 = nn.Sequential(nn.Conv2d(4 * c, 2 * c, 3, padding=1), nn.PReLU(2 * c))
        self.up1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                 nn.Conv2d(2 * c, c, 3, padding=1), nn.PReLU(c))
        self.dec1 = nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.PReLU(c))
        self.out = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, condition: Tensor) -> Tensor:
        """condition [B, 5, H, W] -> restored [B, 3, H, W]."""
        prefill, missing, keep = condition[:, :3], condition[:, 3:4], condition[:, 4:5]
        h, w = condition.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        x = torch.cat([2 * prefill - 1, missing, keep], dim=1)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        b = self.enc3(e2)
        for block in self.body:
            b = block(b)
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        restored = prefill + self.out(d1)[..., :h, :w]
        return keep * prefill + (1 - keep) * restored


class ConvDiscriminator(nn.Module):
    """Convolutional discriminator: [B, 3, H, W] in [0, 1] -> logits.

    ``layers`` strided (stride 2, kernel 4) conv blocks with spectral norm and LeakyReLU(0.2),
    widths channels * 2**i (capped at 8x), then a 3x3 conv to one channel. ``patch=True``:
    the logit map [B, 1, H', W'] (PatchGAN); else its spatial mean [B] (one logit per image).
    """

    def __init__(self, channels: int = 32, layers: int = 3, patch: bool = False) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width_in = 3
        for i in range(layers):
            width = channels * min(2**i, 8)
            blocks.append(conv_block(2, width_in, width, 4, 2, 1, norm="spectral",
                                     activation="leaky"))
            width_in = width
        blocks.append(conv_block(2, width_in, 1, 3, 1, 1, norm="spectral", activation="none"))
        self.net = nn.Sequential(*blocks)
        self.patch = patch
        dcgan_init_(self)

    def forward(self, x: Tensor) -> Tensor:
        """x [B, 3, H, W] -> [B, 1, H/2**layers, W/2**layers] (patch) or [B]."""
        out = self.net(2 * x - 1)
        return out if self.patch else out.mean(dim=(1, 2, 3))
