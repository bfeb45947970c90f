"""The super-resolution generators (small enough to train on a CPU).

- `SRGenerator` (SRGAN, Ledig et al.): residual blocks at low resolution, pixel-shuffle x2
  up-sampling stages, and a global skip: the output is bicubic(input) + learned residual (the
  residual branch's last conv starts at zero, so an untrained generator is bicubic
  interpolation).
- `ColourSRGenerator` (CR-SRGAN of seed 003): size-independent colour statistics of the whole
  image (`commgan.vision.nets.colour.colour_statistics`) drive, through an MLP, a global colour
  transform of the input (levels + gamma per channel, then a 3x3 colour matrix) and the FiLM
  modulation of the SRGAN body, which adds the detail on top of bicubic(transformed input).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.vision.nets.colour import STATISTICS, colour_statistics

__all__ = ["ColourConfig", "ColourSRGenerator", "ResBlock", "SRConfig", "SRGenerator"]


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


class ResBlock(nn.Module):
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
        self.body = nn.ModuleList(ResBlock(c) for _ in range(config.blocks))
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
