"""pix2pix's generator (Isola et al. 2017), small enough to train on a CPU.

- `UNetGenerator`: an encoder of strided 4x4 convolutions and a decoder of nearest-neighbour
  up-sampling + 3x3 convolutions, each decoder level concatenated with the encoder features of
  the same resolution (the U-Net skips); [B, C_in, H, W] in [0, 1] -> [B, C_out, H, W] in
  [0, 1] (tanh on [-1, 1] units). Any H, W: the input is reflection-padded to a multiple of
  2**depth and the output cropped back. Other output heads (`UNetConfig.head`): the input plus
  a learned residual, or a learned per-pixel affine transform of the input. Optionally a global
  colour context (as CR-SRGAN's): an MLP on the colour statistics of the whole image, fused
  into every bottleneck position, so that the output can depend on image-wide quantities.
- The discriminator: `commgan.vision.nets.discriminators.PatchDiscriminator`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.gan import conv_block, dcgan_init_
from commgan.vision.nets.colour import STATISTICS, colour_statistics

__all__ = ["HEADS", "UNetConfig", "UNetGenerator"]

HEADS = ("tanh", "residual", "affine")
"""Valid `UNetConfig.head` values."""


@dataclass
class UNetConfig:
    """Architecture of `UNetGenerator` (saved in checkpoints)."""

    in_channels: int = 3
    """Input channels (the condition: a degraded photo, or an edge map as RGB)."""
    out_channels: int = 3
    """Output channels (RGB)."""
    channels: int = 32
    """Channels of the first encoder level (doubled at each level, capped at `max_channels`)."""
    depth: int = 4
    """Down-sampling stages: the bottleneck is 1/2**depth of the input side."""
    max_channels: int = 256
    """Widest level."""
    head: str = "tanh"
    """Output head (`HEADS`): "tanh" (pix2pix: tanh of the last conv, mapped to [0, 1]);
    "residual" (the input's first C_out channels + the last conv); "affine" (a per-pixel affine
    transform of the input, out = x + M x + b, the C_out x C_in matrix M and the offset b from
    the last conv: the input's detail is scaled, not redrawn). The last two start as the
    identity (last conv zero) and suit inputs that hold the output's structure (a faded
    photo)."""
    affine_grid: int = 1
    """"affine" head: M and b are averaged over cells of this many pixels and interpolated
    bilinearly between the cells' centres (a power of two <= 2**depth; 1 = per pixel), so that
    they vary smoothly and the input's detail passes through them."""
    colour_context: int = 0
    """Width of an MLP on the `commgan.vision.nets.colour.colour_statistics` of the whole input
    (quantiles, means, spreads of its colours: a fading's black point, gain and cast), fused into
    every bottleneck position (concatenated, then a 1x1 conv; 0 = none; needs 3 input channels). A
    condition of 6 channels carries context pixels in channels 3-5 whose statistics are used
    instead (training on patches: a pixel sample of a larger region, as CR-SRGAN's
    `commgan.vision.models.crsrgan.ColourSource`)."""

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)

    def widths(self) -> list[int]:
        """Channels of encoder levels 1..depth."""
        return [min(self.channels * 2**i, self.max_channels) for i in range(self.depth)]


class UNetGenerator(nn.Module):
    """pix2pix's U-Net generator: G(condition [B, C_in, H, W]) -> image [B, C_out, H, W].

    Encoder level i (i = 1..depth): conv 4x4 stride 2 -> batch norm (not on level 1) ->
    LeakyReLU(0.2). Decoder level i: nearest x2 up-sampling of the level below -> conv 3x3 ->
    batch norm -> ReLU, then concatenated with encoder level i - 1 (the input itself at the top)
    and mixed by a conv 3x3 (the skip); the top level (full resolution, the input as its skip)
    has half the first level's channels. The last conv feeds the output head (`UNetConfig.head`;
    the "residual" and "affine" outputs are not clipped: clip when saving).
    Up-sampling + convolution instead of transposed convolutions avoids checkerboard artefacts.
    """

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or UNetConfig()
        if config.depth < 1:
            raise ValueError(f"depth must be >= 1, got {config.depth}")
        widths = config.widths()
        self.encoder = nn.ModuleList()
        width_in = config.in_channels
        for i, width in enumerate(widths):
            self.encoder.append(conv_block(2, width_in, width, 4, 2, 1,
                                           norm="none" if i == 0 else "batch",
                                           activation="leaky"))
            width_in = width
        if config.colour_context:
            if config.in_channels != 3:
                raise ValueError("colour_context needs an RGB input (in_channels 3)")
            k = config.colour_context
            self.statistics = nn.Sequential(nn.Linear(STATISTICS, k), nn.PReLU(k),
                                            nn.Linear(k, k), nn.PReLU(k))
            self.fuse_statistics = conv_block(2, width_in + k, width_in, 1, norm="batch")
        skips = [config.in_channels, *widths[:-1]]
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for i in reversed(range(config.depth)):
            out = skips[i] if i > 0 else max(widths[0] // 2, 8)
            self.up.append(conv_block(2, width_in, out, 3, 1, 1, norm="batch"))
            self.merge.append(conv_block(2, out + skips[i], out, 3, 1, 1, norm="batch"))
            width_in = out
        if config.head not in HEADS:
            raise ValueError(f"unknown head {config.head!r}; valid: {', '.join(HEADS)}")
        grid = config.affine_grid
        if grid < 1 or grid & (grid - 1) or grid > 2**config.depth:
            raise ValueError(f"affine_grid must be a power of two <= 2**depth, got {grid}")
        c_in, c_out = config.in_channels, config.out_channels
        head_channels = c_out * (c_in + 1) if config.head == "affine" else c_out
        self.out = nn.Conv2d(width_in, head_channels, 3, padding=1)
        dcgan_init_(self)
        if config.head != "tanh":
            if c_in < c_out:
                raise ValueError(f"a {config.head} head needs at least as many input channels "
                                 "as output channels")
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, condition: Tensor) -> Tensor:
        """condition [B, C_in, H, W] in [0, 1] (or [B, 2 C_in, H, W]: with context pixels, see
        `UNetConfig.colour_context`) -> [B, C_out, H, W] (in [0, 1] for the tanh head)."""
        context = condition
        if condition.shape[1] == 2 * self.config.in_channels:
            condition, context = condition.chunk(2, dim=1)
        h, w = condition.shape[-2:]
        multiple = 2**self.config.depth
        ph, pw = (-h) % multiple, (-w) % multiple
        x = 2 * condition - 1
        if ph or pw:
            mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        features = [x]
        for block in self.encoder:
            features.append(block(features[-1]))
        y = features.pop()
        if self.config.colour_context:
            statistics = self.statistics(2 * colour_statistics(context) - 1)
            y = self.fuse_statistics(torch.cat(
                [y, statistics[..., None, None].expand(-1, -1, *y.shape[-2:])], dim=1))
        for up, merge in zip(self.up, self.merge, strict=True):
            y = up(F.interpolate(y, scale_factor=2, mode="nearest"))
            y = merge(torch.cat([y, features.pop()], dim=1))
        out = self.out(y)
        grid = self.config.affine_grid
        if self.config.head == "affine" and grid > 1:
            out = F.interpolate(F.avg_pool2d(out, grid), size=out.shape[-2:], mode="bilinear",
                                align_corners=False)
        out = out[..., :h, :w]
        c_in, c_out = self.config.in_channels, self.config.out_channels
        if self.config.head == "tanh":
            return 0.5 * (torch.tanh(out) + 1)
        identity = condition[:, :c_out]
        if self.config.head == "residual":
            return identity + out
        matrix, offset = out[:, :c_out * c_in].unflatten(1, (c_out, c_in)), out[:, c_out * c_in:]
        return identity + torch.einsum("boihw,bihw->bohw", matrix, condition) + offset
