"""DeepFill v2's networks (Yu et al. 2019, free-form inpainting with gated convolutions), small.

- `GatedConv2d`: out = act(conv_f(x)) * sigmoid(conv_g(x)), one convolution with 2x the output
  channels split into features and gates;
- `contextual_attention` / `ContextualAttention`: the hole's features rebuilt from patches of the
  known background, matched by cosine similarity (DeepFill v1's layer);
- `GatedGenerator`: coarse network, then a refinement network with a dilated gated-conv branch
  and a contextual-attention branch;
- `SNPatchDiscriminator`: SN-PatchGAN, spectral-norm 5x5 stride-2 convolutions on (image, mask),
  every feature of the last map a logit (hinge loss).

Images are [B, 3, H, W] in [0, 1]; masks [B, 1, H, W] with 1 = missing pixel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["ContextualAttention", "GatedConfig", "GatedConv2d", "GatedGenerator",
           "SNPatchDiscriminator", "attention_rate", "contextual_attention"]


class GatedConv2d(nn.Module):
    """Gated convolution: [B, C_in, H, W] -> act(features) * sigmoid(gates) [B, C_out, H', W'].

    One convolution with 2 C_out output channels (the first C_out are the features, the last
    C_out the gates), "same" padding dilation (kernel - 1) / 2; activation None = identity
    (DeepFill's output layer), else an ``nn.Module`` (ELU by default, as DeepFill v2).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1,
                 dilation: int = 1, activation: nn.Module | None = None) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, kernel, stride,
                              padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.activation = activation if activation is not None else nn.ELU()

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C_in, H, W] -> [B, C_out, H / stride, W / stride]."""
        features, gates = self.conv(x).split(self.out_channels, dim=1)
        return self.activation(features) * torch.sigmoid(gates)


class GatedUp(nn.Module):
    """x2 nearest up-sampling then a 3x3 `GatedConv2d` (DeepFill v2's gated deconvolution)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = GatedConv2d(in_channels, out_channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C_in, H, W] -> [B, C_out, 2H, 2W]."""
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


def contextual_attention(foreground: Tensor, background: Tensor, mask: Tensor, rate: int = 2,
                         kernel: int = 3, scale: float = 10.0) -> tuple[Tensor, Tensor]:
    """DeepFill's contextual attention: (output [B, C, H, W], attention [B, L, H/r, W/r]).

    foreground, background: features [B, C, H, W] (H, W multiples of ``rate`` r, even);
    mask [B, 1, H, W], 1 = hole. Matching runs at 1/r resolution: every ``kernel`` x
    ``kernel`` patch of the down-sampled background that holds no hole pixel (L = H W / r^2
    patches, the others get weight 0) is L2-normalised and correlated with the foreground
    (cosine similarity up to the foreground patch's norm); a softmax over the patches with
    ``scale`` gives the attention of each position. The output is the transposed convolution
    of the attention with the full-resolution background patches (2r x 2r, stride r), divided
    by the number of patches overlapping each pixel. A position with no valid patch gets 0.
    """
    if rate < 2 or rate % 2:
        raise ValueError(f"rate must be even and at least 2, got {rate}")
    b, c, h, w = background.shape
    if h % rate or w % rate:
        raise ValueError(f"feature size {h}x{w} is not a multiple of the rate {rate}")
    small_f = F.interpolate(foreground, scale_factor=1 / rate, mode="nearest")
    small_b = F.interpolate(background, scale_factor=1 / rate, mode="nearest")
    small_m = F.max_pool2d(mask, rate)
    hs, ws = small_b.shape[-2:]
    pad = kernel // 2
    # [B, C k k, L] matching patches, valid = no hole pixel in the patch
    patches = F.unfold(small_b, kernel, padding=pad)
    valid = F.unfold(small_m, kernel, padding=pad).amax(dim=1) == 0  # [B, L]
    raw = F.unfold(background, 2 * rate, stride=rate, padding=rate // 2)  # [B, C 4r^2, L]
    outputs, attentions = [], []
    for i in range(b):
        weights = patches[i].t().reshape(-1, c, kernel, kernel)
        weights = weights / weights.flatten(1).norm(dim=1).clamp_min(1e-4).view(-1, 1, 1, 1)
        scores = F.conv2d(small_f[i:i + 1], weights, padding=pad)  # [1, L, hs, ws]
        if valid[i].any():
            scores = scores.masked_fill(~valid[i].view(1, -1, 1, 1), float("-inf"))
            attention = torch.softmax(scale * scores, dim=1)
        else:
            attention = torch.zeros_like(scores)
        kernels = raw[i].t().reshape(-1, c, 2 * rate, 2 * rate)
        outputs.append(F.conv_transpose2d(attention, kernels, stride=rate, padding=rate // 2))
        attentions.append(attention)
    ones = torch.ones(1, 1, hs, ws, device=background.device, dtype=background.dtype)
    overlap = F.conv_transpose2d(ones, torch.ones(1, 1, 2 * rate, 2 * rate, dtype=ones.dtype,
                                                  device=ones.device),
                                 stride=rate, padding=rate // 2)
    return torch.cat(outputs) / overlap, torch.cat(attentions)


def attention_rate(height: int, width: int, max_patches: int = 4096) -> int:
    """The smallest power of 2 (at least 2) whose matching grid of a [H, W] feature map has at
    most ``max_patches`` positions (bounds the [L, L] scores: 64 MiB at 4096)."""
    rate = 2
    while (-(-height // rate)) * (-(-width // rate)) > max_patches:
        rate *= 2
    return rate


class ContextualAttention(nn.Module):
    """`contextual_attention` of features on themselves (foreground = background), at the rate
    of `attention_rate`; features are padded (replicated, the padding counted as hole) to a
    multiple of the rate and cropped back."""

    def __init__(self, kernel: int = 3, scale: float = 10.0, max_patches: int = 4096) -> None:
        super().__init__()
        self.kernel, self.scale, self.max_patches = kernel, scale, max_patches

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """x [B, C, H, W], mask [B, 1, H, W] (1 = hole) -> [B, C, H, W]."""
        h, w = x.shape[-2:]
        rate = attention_rate(h, w, self.max_patches)
        ph, pw = (-h) % rate, (-w) % rate
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
            mask = F.pad(mask, (0, pw, 0, ph), value=1.0)
        out, _ = contextual_attention(x, x, mask, rate, self.kernel, self.scale)
        return out[..., :h, :w]


@dataclass
class GatedConfig:
    """Architecture of `GatedGenerator` (saved in checkpoints)."""

    channels: int = 16
    """Channels at full resolution (x2 at 1/2, x4 at 1/4 resolution; DeepFill v2: 48)."""
    dilations: tuple[int, ...] = (2, 4, 8)
    """Dilations of the gated convolutions at 1/4 resolution (DeepFill: 2, 4, 8, 16)."""
    attention_scale: float = 10.0
    """Softmax scale of the contextual attention (DeepFill: 10)."""

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


def _encoder(in_channels: int, c: int) -> list[nn.Module]:
    """Full resolution -> 1/4 resolution, 4c channels."""
    return [GatedConv2d(in_channels, c, 5), GatedConv2d(c, 2 * c, 3, 2),
            GatedConv2d(2 * c, 2 * c, 3), GatedConv2d(2 * c, 4 * c, 3, 2)]


def _decoder(in_channels: int, c: int) -> list[nn.Module]:
    """1/4 resolution -> full resolution RGB in [-1, 1] (tanh)."""
    return [GatedConv2d(in_channels, 4 * c, 3), GatedUp(4 * c, 2 * c),
            GatedConv2d(2 * c, 2 * c, 3), GatedUp(2 * c, c), GatedConv2d(c, c // 2, 3),
            GatedConv2d(c // 2, 3, 3, activation=nn.Tanh())]


class GatedGenerator(nn.Module):
    """DeepFill v2's two-stage generator, small.

    Forward: ``condition`` [B, 5, H, W] as the inpaint task builds it (pre-filled RGB, missing
    mask, keep mask; the pre-fill of the hole is ignored: the network sees the image with its
    hole zeroed, as DeepFill) -> [B, 3, H, W], the known pixels copied from the input.
    `stages` also returns the coarse output. H, W need not be multiples of 4 (reflection
    padding to a multiple of 8, then a crop).
    """

    def __init__(self, config: GatedConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GatedConfig()
        c = config.channels
        body = [GatedConv2d(4 * c, 4 * c, 3, dilation=d) for d in config.dilations]
        self.coarse = nn.Sequential(*_encoder(5, c), *body, *_decoder(4 * c, c))
        self.refine_conv = nn.Sequential(
            *_encoder(5, c), *[GatedConv2d(4 * c, 4 * c, 3, dilation=d)
                               for d in config.dilations])
        self.refine_pre_attention = nn.Sequential(*_encoder(5, c),
                                                  GatedConv2d(4 * c, 4 * c, 3,
                                                              activation=nn.ReLU()))
        self.attention = ContextualAttention(scale=config.attention_scale)
        self.refine_post_attention = nn.Sequential(GatedConv2d(4 * c, 4 * c, 3),
                                                   GatedConv2d(4 * c, 4 * c, 3))
        self.refine_decoder = nn.Sequential(*_decoder(8 * c, c))

    def stages(self, condition: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """condition [B, 5, H, W] -> (coarse, refined, output) [B, 3, H, W] in about [0, 1]:
        the two stages' raw outputs and the refined one with the known pixels pasted back."""
        image, missing, keep = condition[:, :3], condition[:, 3:4], condition[:, 4:5]
        h, w = condition.shape[-2:]
        ph, pw = (-h) % 8, (-w) % 8
        x = torch.cat([(2 * image - 1) * (1 - missing), torch.ones_like(missing), missing], 1)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        known, hole = x[:, :3], x[:, 4:5]
        coarse = self.coarse(x)
        filled = known * (1 - hole) + coarse * hole
        second = torch.cat([filled, x[:, 3:]], dim=1)
        conv_branch = self.refine_conv(second)
        features = self.refine_pre_attention(second)
        small_hole = F.max_pool2d(hole, 4)
        attended = self.refine_post_attention(self.attention(features, small_hole))
        refined = self.refine_decoder(torch.cat([conv_branch, attended], dim=1))
        coarse, refined = ((t[..., :h, :w] + 1) / 2 for t in (coarse, refined))
        return coarse, refined, keep * image + (1 - keep) * refined

    def forward(self, condition: Tensor) -> Tensor:
        """condition [B, 5, H, W] -> inpainted [B, 3, H, W]."""
        return self.stages(condition)[2]


class SNPatchDiscriminator(nn.Module):
    """SN-PatchGAN: D(image [B, 3, H, W] in [0, 1], mask [B, 1, H, W]) -> [B, C, H', W'].

    ``layers`` 5x5 stride-2 convolutions with spectral norm and LeakyReLU(0.2) (the last one
    without), widths channels * 2**i capped at 4x; every output feature is one logit of the
    hinge loss (DeepFill v2: 6 layers, 64 channels).
    """

    def __init__(self, channels: int = 16, layers: int = 4) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width_in = 4
        for i in range(layers):
            width = channels * min(2**i, 4)
            blocks.append(spectral_norm(nn.Conv2d(width_in, width, 5, 2, 2)))
            if i < layers - 1:
                blocks.append(nn.LeakyReLU(0.2))
            width_in = width
        self.net = nn.Sequential(*blocks)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """image [B, 3, H, W], mask [B, 1, H, W] -> logits [B, C, H / 2**layers, ...]."""
        return self.net(torch.cat([2 * image - 1, mask], dim=1))
