"""DCGAN building blocks in 1-D (signals, [B, C, T]) and 2-D (images, [B, C, H, W]).

- `conv_block`: conv / transposed conv -> norm -> activation, the unit of DCGAN G and D
  (Radford et al.: transposed convs + batch norm + ReLU in G, strided convs + LeakyReLU(0.2) in D,
  tanh on G's output, no norm on D's input layer). Spectral norm (Miyato et al.) is an option.
- `ConcatCondition` / `EmbeddingCondition`: conditional GAN inputs (the survey's c in D(i|c),
  G(n|c)) by broadcasting a condition vector / a class embedding along time or space and
  concatenating it to the channels.
- `mlp`: fully connected stack for small GANs (e.g. 2-D toys or per-symbol channel models).
- `dcgan_init_`: DCGAN weight initialisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "ConcatCondition",
    "EmbeddingCondition",
    "activation_layer",
    "broadcast_condition",
    "conv_block",
    "dcgan_init_",
    "mlp",
]

NORMS: tuple[str, ...] = ("batch", "spectral", "instance", "none")
"""Valid `norm` arguments of `conv_block`."""
ACTIVATIONS: tuple[str, ...] = ("relu", "leaky", "tanh", "none")
"""Valid `activation` arguments of `conv_block` and `mlp`."""

_CONV = {(1, False): nn.Conv1d, (2, False): nn.Conv2d,
         (1, True): nn.ConvTranspose1d, (2, True): nn.ConvTranspose2d}
_BATCH_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
_INSTANCE_NORM = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d}


def activation_layer(activation: str, negative_slope: float = 0.2) -> nn.Module:
    """Activation module by name: "relu", "leaky" (LeakyReLU(negative_slope)), "tanh", "none"."""
    if activation == "relu":
        return nn.ReLU()
    if activation == "leaky":
        return nn.LeakyReLU(negative_slope)
    if activation == "tanh":
        return nn.Tanh()
    if activation == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {activation!r}; valid: {', '.join(ACTIVATIONS)}")


def conv_block(
    dim: int,
    in_ch: int,
    out_ch: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    norm: str = "batch",
    activation: str = "relu",
    transpose: bool = False,
    negative_slope: float = 0.2,
    bias: bool | None = None,
) -> nn.Sequential:
    """Conv (or transposed conv) -> norm -> activation.

    dim: 1 for signals [B, in_ch, T] -> [B, out_ch, T'], 2 for images [B, in_ch, H, W] ->
    [B, out_ch, H', W']. Output length follows torch's conv rules, e.g. a DCGAN up-sampler
    (kernel 4, stride 2, padding 1, transpose=True) doubles T (or H and W); the same
    parameters without transpose halve them.
    norm: "batch", "instance" (no affine, as pix2pix), "spectral" (spectral norm on the conv
    weight, no norm layer) or "none". activation: see `activation_layer`.
    bias: conv bias; default False when a batch/instance norm follows (it would cancel it).
    """
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim}")
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
    if bias is None:
        bias = norm not in ("batch", "instance")
    conv: nn.Module = _CONV[(dim, transpose)](in_ch, out_ch, kernel, stride, padding, bias=bias)
    layers: list[nn.Module] = []
    if norm == "spectral":
        conv = spectral_norm(conv)
    layers.append(conv)
    if norm == "batch":
        layers.append(_BATCH_NORM[dim](out_ch))
    elif norm == "instance":
        layers.append(_INSTANCE_NORM[dim](out_ch))
    layers.append(activation_layer(activation, negative_slope))
    return nn.Sequential(*layers)


def broadcast_condition(x: Tensor, condition: Tensor) -> Tensor:
    """Concatenate a condition to x's channels, broadcasting it along time/space.

    x: [B, C, *S] (S = (T,) or (H, W); S may be empty for [B, C] features).
    condition: [B, K] (broadcast along S) or [B, K, *S] (already spatial, e.g. pix2pix's input
    image). Returns [B, C + K, *S].
    """
    if condition.dim() == 2:
        condition = condition.reshape(*condition.shape, *([1] * (x.dim() - 2)))
        condition = condition.expand(-1, -1, *x.shape[2:])
    elif condition.shape[2:] != x.shape[2:] or condition.dim() != x.dim():
        raise ValueError(f"condition {tuple(condition.shape)} does not match x {tuple(x.shape)}")
    return torch.cat([x, condition.to(x.dtype)], dim=1)


class ConcatCondition(nn.Module):
    """Conditional input by concatenation: (x [B, C, *S], c [B, K]) -> [B, C + K, *S]."""

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        """See `broadcast_condition`."""
        return broadcast_condition(x, condition)


class EmbeddingCondition(nn.Module):
    """Conditional input by a learned class embedding (CGAN with labels).

    num_classes: number of labels; embed_dim: E. Forward: (x [B, C, *S], labels [B] int64) ->
    [B, C + E, *S], the embedding broadcast along time/space.
    """

    def __init__(self, num_classes: int, embed_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, embed_dim)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        """Concatenate the labels' embeddings [B, E] to x's channels."""
        return broadcast_condition(x, self.embedding(labels.long().reshape(-1)))


def mlp(
    in_features: int,
    hidden: Sequence[int],
    out_features: int,
    activation: str = "leaky",
    out_activation: str = "none",
    negative_slope: float = 0.2,
) -> nn.Sequential:
    """Fully connected stack [B, in_features] -> [B, out_features].

    hidden: widths of the hidden layers, each followed by `activation`; `out_activation` after
    the last layer ("none" for D logits or unbounded G outputs).
    """
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), activation_layer(activation, negative_slope)]
        width = h
    layers.append(nn.Linear(width, out_features))
    if out_activation != "none":
        layers.append(activation_layer(out_activation, negative_slope))
    return nn.Sequential(*layers)


_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d,
               nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
               nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm)


def dcgan_init_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN initialisation, in place, of every sub-module; returns `module`.

    Conv / transposed-conv / linear weights ~ N(0, std), their biases 0; batch (and affine
    instance/group) norm weights ~ N(1, std), biases 0. Spectrally normalised weights are
    initialised through their parametrisation (the stored original weight).
    """
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, _CONV_TYPES):
                if parametrize.is_parametrized(m, "weight"):
                    weight = m.parametrizations.weight.original
                else:
                    weight = m.weight
                nn.init.normal_(weight, 0.0, std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, _NORM_TYPES) and getattr(m, "weight", None) is not None:
                nn.init.normal_(m.weight, 1.0, std)
                nn.init.zeros_(m.bias)
    return module
