"""Seed 001's multi-loss GAN generator: an encoder-decoder with residual blocks at 1/4
resolution and skip connections; input = the degraded image with its missing pixels pre-filled by
biharmonic inpainting, the missing-pixel mask and the keep mask; output = input + learned
residual (the last conv starts at zero), the pixels to keep copied from the input."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.vision.nets.sr import ResBlock

__all__ = ["RestorationConfig", "RestorationGenerator"]


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
        self.body = nn.ModuleList(ResBlock(4 * c, dilation=2 ** (i % 4))
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
