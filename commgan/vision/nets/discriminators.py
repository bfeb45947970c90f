"""The discriminators of the image GANs.

- `ConvDiscriminator`: strided convolutions with spectral norm and LeakyReLU(0.2) (DCGAN family,
  `commgan.gan.conv_block`), either one logit per image (SRGAN) or a patch map (PatchGAN).
- `PatchDiscriminator`: pix2pix's PatchGAN of strided 4x4 convolutions with spectral norm and
  LeakyReLU(0.2), one logit per overlapping patch; conditional (pix2pix: D sees the
  concatenation (input, output)) or not (CycleGAN).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from commgan.gan import conv_block, dcgan_init_

__all__ = ["ConvDiscriminator", "PatchDiscriminator", "patch_receptive_field"]


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


class PatchDiscriminator(nn.Module):
    """PatchGAN: D(x [B, 3, H, W] in [0, 1], condition [B, C, H, W] or None) -> logits
    [B, 1, H', W'], one per overlapping patch of `patch_receptive_field` pixels.

    ``layers`` conv 4x4 stride 2 blocks (widths channels * 2**i, capped at 8x), one conv 4x4
    stride 1 block, then a conv 4x4 stride 1 to one channel, all with spectral norm and
    LeakyReLU(0.2) (pix2pix's 70x70 PatchGAN for ``layers=3``). cond_channels > 0: D scores the
    concatenation (condition, x) (pix2pix); 0: x alone (CycleGAN).
    """

    def __init__(self, channels: int = 32, layers: int = 3, cond_channels: int = 0,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.cond_channels = cond_channels
        blocks: list[nn.Module] = []
        width_in = in_channels + cond_channels
        for i in range(layers + 1):
            width = channels * min(2**i, 8)
            stride = 2 if i < layers else 1
            blocks.append(conv_block(2, width_in, width, 4, stride, 1, norm="spectral",
                                     activation="leaky"))
            width_in = width
        blocks.append(conv_block(2, width_in, 1, 4, 1, 1, norm="spectral", activation="none"))
        self.net = nn.Sequential(*blocks)
        self.layers = layers
        dcgan_init_(self)

    def forward(self, x: Tensor, condition: Tensor | None = None) -> Tensor:
        """x [B, 3, H, W], condition [B, C, H, W] (conditional D; channels beyond
        ``cond_channels``, a generator's context pixels, are ignored) -> logits [B, 1, H', W']."""
        if (condition is None) != (self.cond_channels == 0):
            raise ValueError("a conditional PatchDiscriminator needs the condition, an "
                             "unconditional one takes none")
        if condition is not None:
            x = torch.cat([condition[:, :self.cond_channels], x], dim=1)
        return self.net(2 * x - 1)


def patch_receptive_field(layers: int) -> int:
    """Side in pixels of the input patch one logit of `PatchDiscriminator` sees (70 for 3)."""
    field = 1
    for stride in [1, 1] + [2] * layers:  # from the output back to the input
        field = (field - 1) * stride + 4
    return field
