"""CUT's generator side (Park et al. 2020): the U-Net generator G, its encoder features, and
the patch projection heads H_l (CUT's ``PatchSampleF``), in one module.

The contrastive loss (`commgan.vision.models.cut.patch_nce_loss`) compares, at sampled
positions of encoder layer l, the features of G's output with those of G's input: the layers
are the input itself (l = 0, scaled to [-1, 1]) and the encoder levels of
`commgan.vision.nets.unet.UNetGenerator` (l = 1..depth, 1/2**l of the input side). Each head is
a two-layer MLP (linear, ReLU, linear) on the features of one position, its output
L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.vision.nets.unet import UNetConfig, UNetGenerator

__all__ = ["CUTGenerator"]


class CUTGenerator(nn.Module):
    """G and the projection heads of CUT: calling it applies G, [B, 3, H, W] in [0, 1] ->
    [B, 3, H, W] in [0, 1]; `encode` and `project` serve the PatchNCE loss.

    config: the U-Net of G. layers: the feature layers of the loss (0 = the input, 1..depth =
    the encoder levels). projection: width of the heads' hidden and output layers (CUT: 256).
    """

    def __init__(self, config: UNetConfig | None = None, layers: Sequence[int] = (0, 1, 2, 3, 4),
                 projection: int = 256) -> None:
        super().__init__()
        config = config or UNetConfig()
        self.net = UNetGenerator(config)
        widths = [config.in_channels, *config.widths()]
        if not layers or any(not 0 <= layer <= config.depth for layer in layers):
            raise ValueError(f"layers must be in [0, {config.depth}], got {tuple(layers)}")
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers must be distinct, got {tuple(layers)}")
        self.layers = tuple(int(layer) for layer in layers)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(widths[layer], projection), nn.ReLU(),
                          nn.Linear(projection, projection))
            for layer in self.layers)
        for head in self.heads:
            for module in head:
                if isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, 0.0, 0.02)
                    nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        """G(x [B, 3, H, W]) -> [B, 3, H, W]."""
        return self.net(x)

    def encode(self, x: Tensor) -> list[Tensor]:
        """The features of `layers` for an image [B, 3, H, W] in [0, 1] (H, W multiples of
        2**depth, as training patches are): [B, C_l, H / 2**l, W / 2**l] each."""
        multiple = 2**self.net.config.depth
        if x.shape[-2] % multiple or x.shape[-1] % multiple:
            raise ValueError(f"encode takes sides that are multiples of {multiple}, got "
                             f"{tuple(x.shape[-2:])}")
        h = 2 * x - 1
        features = [h]
        for block in self.net.encoder[:max(self.layers)]:
            h = block(h)
            features.append(h)
        return [features[layer] for layer in self.layers]

    def sample_positions(self, features: Sequence[Tensor], count: int,
                         generator: torch.Generator) -> list[Tensor]:
        """For each feature map, ``min(count, H_l W_l)`` distinct positions (flat indices,
        without replacement), the same for every image of the batch."""
        return [torch.randperm(f.shape[-2] * f.shape[-1], generator=generator)[:count]
                .to(f.device) for f in features]

    def project(self, features: Sequence[Tensor], positions: Sequence[Tensor]) -> list[Tensor]:
        """The heads' L2-normalised embeddings [B, N_l, projection] of each layer's features
        [B, C_l, H_l, W_l] at ``positions`` (flat indices [N_l])."""
        out = []
        for head, feature, where in zip(self.heads, features, positions, strict=True):
            flat = feature.flatten(2).transpose(1, 2)  # [B, H_l W_l, C_l]
            out.append(F.normalize(head(flat[:, where]), dim=-1, eps=1e-7))
        return out
