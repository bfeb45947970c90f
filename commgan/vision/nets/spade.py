"""SPADE's networks (Park et al. 2019, GauGAN), small enough to train on a CPU.

- `SPADE`: spatially-adaptive normalisation. A parameter-free normalisation (instance or batch
  norm) of the features x, then a per-pixel scale and shift computed from the label map m
  (one-hot [B, K, h, w], resized to x's side by nearest neighbour):
  ``out = norm(x) * (1 + gamma(m)) + beta(m)``, with ``gamma = conv3x3(h)``,
  ``beta = conv3x3(h)``, ``h = ReLU(conv3x3(m))``; with a style z, ``h = ReLU(conv3x3(m) +
  W z)`` (one linear map W per SPADE).
- `SPADEResBlock`: SPADE, LeakyReLU(0.2), conv3x3, twice, plus a shortcut (SPADE and a 1x1 conv
  when the width changes); spectral norm on the convolutions.
- `StyleEncoder`: the VAE encoder of multi-modal synthesis, a photo [B, 3, H, W] -> (mu,
  logvar) [B, z_dim] each; a style is ``z = mu + exp(logvar / 2) * eps``.
- `SPADEGenerator`: an RGB label map (`commgan.vision.labels.label_image`) and a style z ->
  a photo. The label map is decoded to one-hot; a conv of it at 1/2**(levels - 1) of the side
  starts the first level; then one `SPADEResBlock` per level, each followed by a 2x nearest
  up-sampling but the last, and a conv3x3 + tanh to RGB in [0, 1]. Any H, W: the label map is
  reflection-padded to a multiple of 2**(levels - 1) and the output cropped back. The
  generator holds the encoder: `encode` gives a photo's (mu, logvar), calling it with z = None
  draws the mean style (z = 0). SPADE adds z once, through a linear layer to a 4x4 map of the
  first level's features; here z enters every SPADE instead, since instance norm would erase a
  constant added to the first level, and a map of fixed cells would tie the style's layout to
  the image side.
- The discriminator: `MultiScaleDiscriminator`, conditional PatchGANs
  (`commgan.vision.nets.discriminators.PatchDiscriminator`) on the image and on its 2x
  down-sampled copies, with their intermediate features for the feature-matching loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from commgan.vision.labels import CLASSES, decode_labels
from commgan.vision.nets.discriminators import PatchDiscriminator

__all__ = ["SPADE", "MultiScaleDiscriminator", "SPADEConfig", "SPADEGenerator",
           "SPADEResBlock", "StyleEncoder"]


class SPADE(nn.Module):
    """``norm(x) * (1 + gamma(m)) + beta(m)``: x [B, C, H, W], m one-hot [B, K, h, w] ->
    [B, C, H, W]. norm: "instance" or "batch" (both without learned parameters)."""

    def __init__(self, channels: int, classes: int = CLASSES, hidden: int = 32,
                 norm: str = "instance", z_dim: int = 0) -> None:
        super().__init__()
        if norm not in ("instance", "batch"):
            raise ValueError(f"norm must be 'instance' or 'batch', got {norm!r}")
        self.norm = (nn.InstanceNorm2d(channels, affine=False) if norm == "instance"
                     else nn.BatchNorm2d(channels, affine=False))
        self.shared = nn.Conv2d(classes, hidden, 3, padding=1)
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)
        self.style = nn.Linear(z_dim, hidden, bias=False) if z_dim else None

    def forward(self, x: Tensor, labels: Tensor, z: Tensor | None = None) -> Tensor:
        """x [B, C, H, W], labels [B, K, h, w], z [B, z_dim] or None -> [B, C, H, W]."""
        labels = F.interpolate(labels, size=x.shape[-2:], mode="nearest")
        h = self.shared(labels)
        if z is not None and self.style is not None:
            h = h + self.style(z)[:, :, None, None]
        h = F.relu(h)
        return self.norm(x) * (1 + self.gamma(h)) + self.beta(h)


class SPADEResBlock(nn.Module):
    """SPADE residual block: [B, C_in, H, W], labels [B, K, h, w], z [B, z_dim] or None ->
    [B, C_out, H, W]."""

    def __init__(self, in_channels: int, out_channels: int, classes: int = CLASSES,
                 hidden: int = 32, norm: str = "instance", z_dim: int = 0) -> None:
        super().__init__()
        middle = min(in_channels, out_channels)
        self.norm_0 = SPADE(in_channels, classes, hidden, norm, z_dim)
        self.conv_0 = spectral_norm(nn.Conv2d(in_channels, middle, 3, padding=1))
        self.norm_1 = SPADE(middle, classes, hidden, norm, z_dim)
        self.conv_1 = spectral_norm(nn.Conv2d(middle, out_channels, 3, padding=1))
        self.learned_shortcut = in_channels != out_channels
        if self.learned_shortcut:
            self.norm_s = SPADE(in_channels, classes, hidden, norm, z_dim)
            self.conv_s = spectral_norm(nn.Conv2d(in_channels, out_channels, 1, bias=False))

    def forward(self, x: Tensor, labels: Tensor, z: Tensor | None = None) -> Tensor:
        """x [B, C_in, H, W], labels [B, K, h, w], z [B, z_dim] or None -> [B, C_out, H, W]."""
        shortcut = self.conv_s(self.norm_s(x, labels, z)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, labels, z), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, labels, z), 0.2))
        return shortcut + dx


class StyleEncoder(nn.Module):
    """VAE style encoder: photo [B, 3, H, W] in [0, 1] -> (mu, logvar) [B, z_dim] each.

    ``layers`` conv 3x3 stride 2 blocks (widths channels * 2**i, capped at 8x) with instance
    norm and LeakyReLU(0.2), a global average pool, then two linear layers (mu, logvar)."""

    def __init__(self, z_dim: int = 16, channels: int = 16, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width_in = 3
        for i in range(layers):
            width = channels * min(2**i, 8)
            blocks += [nn.Conv2d(width_in, width, 3, 2, 1),
                       nn.InstanceNorm2d(width, affine=False), nn.LeakyReLU(0.2)]
            width_in = width
        self.net = nn.Sequential(*blocks)
        self.mu = nn.Linear(width_in, z_dim)
        self.logvar = nn.Linear(width_in, z_dim)

    def forward(self, photo: Tensor) -> tuple[Tensor, Tensor]:
        """photo [B, 3, H, W] -> (mu, logvar) [B, z_dim] each."""
        h = self.net(2 * photo - 1).mean(dim=(2, 3))
        return self.mu(h), self.logvar(h)


@dataclass
class SPADEConfig:
    """Architecture of `SPADEGenerator` (saved in checkpoints)."""

    classes: int = CLASSES
    """K: classes of the label map (`commgan.vision.labels.CLASSES`, the only value taken)."""
    channels: int = 16
    """Width of the last (full-resolution) level; doubled per level towards the first."""
    max_channels: int = 128
    """Widest level."""
    levels: int = 4
    """SPADE residual blocks; the first runs at 1/2**(levels - 1) of the output side."""
    hidden: int = 32
    """Width of each SPADE's shared conv on the label map."""
    norm: str = "instance"
    """Parameter-free normalisation of the SPADE layers ("instance" or "batch")."""
    z_dim: int = 16
    """Style dimension."""
    encoder_channels: int = 16
    """Width of the style encoder's first conv."""
    encoder_layers: int = 3
    """Strided convs of the style encoder."""

    def widths(self) -> list[int]:
        """Output width of each level, first (coarsest) to last."""
        return [min(self.channels * 2**(self.levels - 1 - i), self.max_channels)
                for i in range(self.levels)]

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


class SPADEGenerator(nn.Module):
    """G(labels [B, 3, H, W] RGB label map, z [B, z_dim] or None) -> photo [B, 3, H, W] in
    [0, 1]; ``encoder`` gives a photo's style (`encode`)."""

    def __init__(self, config: SPADEConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or SPADEConfig()
        if config.levels < 1:
            raise ValueError(f"levels must be >= 1, got {config.levels}")
        if config.classes != CLASSES:
            raise ValueError(f"the label maps have {CLASSES} classes, got classes="
                             f"{config.classes}")
        widths = config.widths()
        self.encoder = StyleEncoder(config.z_dim, config.encoder_channels,
                                    config.encoder_layers)
        self.head = nn.Conv2d(config.classes, widths[0], 3, padding=1)
        self.blocks = nn.ModuleList(
            SPADEResBlock(w_in, w_out, config.classes, config.hidden, config.norm,
                          config.z_dim)
            for w_in, w_out in zip([widths[0], *widths[:-1]], widths, strict=True))
        self.to_rgb = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def encode(self, photo: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar) [B, z_dim] each of photos [B, 3, H, W]."""
        return self.encoder(photo)

    def forward(self, labels: Tensor, z: Tensor | None = None) -> Tensor:
        """labels [B, 3, H, W] (palette RGB), z [B, z_dim] (None: zeros) -> [B, 3, H, W]."""
        b, _, height, width = labels.shape
        multiple = 2**(self.config.levels - 1)
        pad_h, pad_w = -height % multiple, -width % multiple
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            labels = F.pad(labels, (0, pad_w, 0, pad_h), mode=mode)
        one_hot = decode_labels(labels)
        if z is None:
            z = torch.zeros(b, self.config.z_dim, device=labels.device, dtype=labels.dtype)
        side = (labels.shape[-2] // multiple, labels.shape[-1] // multiple)
        h = self.head(F.interpolate(one_hot, size=side, mode="nearest"))
        for i, block in enumerate(self.blocks):
            h = block(h, one_hot, z)
            if i < len(self.blocks) - 1:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        out = (torch.tanh(self.to_rgb(F.leaky_relu(h, 0.2))) + 1) / 2
        return out[..., :height, :width]


class MultiScaleDiscriminator(nn.Module):
    """``scales`` conditional PatchGANs, scale s scoring (labels, image) 2**s times
    down-sampled (average pooling 3x3 stride 2): D(x [B, 3, H, W], labels [B, 3, H, W]) ->
    logits, one [B, 1, H_s, W_s] per scale."""

    def __init__(self, channels: int = 32, layers: int = 3, scales: int = 2) -> None:
        super().__init__()
        if scales < 1:
            raise ValueError(f"scales must be >= 1, got {scales}")
        self.nets = nn.ModuleList(PatchDiscriminator(channels, layers, cond_channels=3)
                                  for _ in range(scales))

    def features(self, x: Tensor, labels: Tensor) -> list[list[Tensor]]:
        """Per scale, the output of each block of its PatchGAN (the last: the logits)."""
        out = []
        for i, net in enumerate(self.nets):
            if i:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
                labels = F.interpolate(labels, size=x.shape[-2:], mode="nearest")
            h = torch.cat([labels, x], dim=1) * 2 - 1
            taps = []
            for block in net.net:
                h = block(h)
                taps.append(h)
            out.append(taps)
        return out

    def forward(self, x: Tensor, labels: Tensor) -> list[Tensor]:
        """The logits of each scale."""
        return [taps[-1] for taps in self.features(x, labels)]
