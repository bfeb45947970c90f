"""Perceptual terms: VGG16 features and LPIPS from a local weights file, or a named substitute.

Pretrained backbones cannot be downloaded here, so they are supported only from a file the user
supplies (``--backbone-weights PATH``): a state dict (``.safetensors``, or a ``.pth``/``.pt``
loaded with ``torch.load(weights_only=True)``) whose keys are torchvision's VGG16 names
(``features.0.weight`` ... ``features.28.bias``; other keys are ignored). LPIPS (Zhang et al.,
v0.1, VGG variant) also needs its linear calibration layers: keys ``lin0.model.1.weight`` ...
``lin4.model.1.weight`` in the same file (the layout of the ``lpips`` package's ``vgg.pth``).
Without a file, LPIPS is *unavailable* (reported as NaN, never computed with an untrained
backbone) and the perceptual loss is `FilterBankFeatures`, a fixed substitute named as such.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.errors import CommganError

__all__ = [
    "LPIPS",
    "FilterBankFeatures",
    "VGG16Features",
    "edge_loss",
    "image_gradients",
    "load_backbone_state",
    "perceptual_loss",
]

# torchvision's vgg16().features layout: conv indices and the ReLU after which LPIPS taps.
_VGG_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
_LPIPS_TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
_LPIPS_CHANNELS = (64, 128, 256, 512, 512)


def load_backbone_state(path: str | Path) -> dict[str, Tensor]:
    """Read a local weights file (safetensors or torch state dict); CommganError if unusable."""
    path = Path(path)
    if not path.is_file():
        raise CommganError(f"--backbone-weights {str(path)!r} does not exist or is not a file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any reader failure is one line for the user
        detail = " ".join(str(err).split())[:80]
        raise CommganError(f"--backbone-weights {str(path)!r} cannot be read as safetensors or "
                           f"torch weights ({type(err).__name__}: {detail})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CommganError(f"--backbone-weights {str(path)!r} is not a state dict of tensors")
    return state


class VGG16Features(nn.Module):
    """torchvision's VGG16 ``features`` (no download): [B, 3, H, W] in [0, 1] -> the five LPIPS
    taps relu1_2 ... relu5_3. Weights must be loaded from a file (`from_state`); the module is
    frozen (no gradients to its parameters)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 3
        for item in _VGG_CFG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(width, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                width = int(item)
        self.features = nn.Sequential(*layers)
        self.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    @classmethod
    def from_state(cls, state: dict[str, Tensor]) -> VGG16Features:
        """Build from a state dict with torchvision's ``features.*`` keys."""
        model = cls()
        own = model.features.state_dict()
        wanted = {k: v for k, v in state.items() if k.startswith("features.")}
        sub = {k[len("features."):]: v for k, v in wanted.items()}
        if set(sub) != set(own):
            raise CommganError("the backbone weights are not VGG16 features: need keys "
                               f"features.0.weight ... features.28.bias, found {len(sub)} of "
                               f"{len(own)}")
        for k, v in sub.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise CommganError(f"the backbone weights do not fit VGG16: features.{k} has "
                                   f"shape {tuple(v.shape)}, VGG16 needs {tuple(own[k].shape)}")
        model.features.load_state_dict({k: v.float() for k, v in sub.items()})
        return model.eval()

    def taps(self, x: Tensor, normalise: bool = True) -> list[Tensor]:
        """Feature maps after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (ImageNet-normalised
        input when ``normalise``; else x is used as given)."""
        h = (x - self.mean) / self.std if normalise else x
        out = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in _LPIPS_TAPS:
                out.append(h)
            if i == _LPIPS_TAPS[-1]:
                break
        return out


class LPIPS(nn.Module):
    """LPIPS v0.1 (VGG) distance, lower = more similar: ([B, 3, H, W], [B, 3, H, W]) in [0, 1]
    -> [B]. Only from a file holding both the VGG16 features and the lin0..lin4 layers."""

    def __init__(self, backbone: VGG16Features, lins: list[Tensor]) -> None:
        super().__init__()
        self.backbone = backbone
        self.lins = nn.ParameterList(nn.Parameter(w.float(), requires_grad=False) for w in lins)
        # LPIPS's ScalingLayer: inputs in [-1, 1], shift/scale per channel.
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    @classmethod
    def from_state(cls, state: dict[str, Tensor]) -> LPIPS:
        """Build from a state dict with ``features.*`` and ``lin{k}.model.1.weight`` keys."""
        lins = []
        for k, channels in enumerate(_LPIPS_CHANNELS):
            key = f"lin{k}.model.1.weight"
            if key not in state:
                raise CommganError(f"LPIPS needs its calibration layers ({key} ... in the "
                                   "weights file); LPIPS is unavailable")
            if tuple(state[key].shape) != (1, channels, 1, 1):
                raise CommganError(f"{key} has shape {tuple(state[key].shape)}, "
                                   f"LPIPS needs {(1, channels, 1, 1)}")
            lins.append(state[key])
        return cls(VGG16Features.from_state(state), lins).eval()

    def forward(self, x: Tensor, ref: Tensor) -> Tensor:
        """Distances [B]."""
        feats = [self.backbone.taps(((2 * t - 1) - self.shift) / self.scale, normalise=False)
                 for t in (x, ref)]
        total = torch.zeros(x.shape[0], device=x.device)
        for f0, f1, lin in zip(feats[0], feats[1], self.lins, strict=True):
            n0 = f0 / (f0.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            n1 = f1 / (f1.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + F.conv2d((n0 - n1) ** 2, lin).mean(dim=(1, 2, 3))
        return total


class FilterBankFeatures(nn.Module):
    """SUBSTITUTE perceptual features (not VGG, not learned): fixed multi-scale filter-bank
    responses, used for the perceptual term when no backbone weights are supplied.

    At each of ``scales`` levels of a 2x average-pooling pyramid: the BT.601 luma, two
    colour-opponent channels (R-G, B-Y), horizontal/vertical Sobel and a Laplacian of the luma.
    ``taps(x)`` returns one [B, 6, H/2**s, W/2**s] map per level. It compares local structure
    and colour at several scales, like a feature-space loss, but it has no learned semantics.
    """

    def __init__(self, scales: int = 3) -> None:
        super().__init__()
        self.scales = scales
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
        laplace = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]) / 4
        self.register_buffer("kernels", torch.stack([sobel, sobel.T, laplace]).unsqueeze(1))

    def taps(self, x: Tensor) -> list[Tensor]:
        """x [B, 3, H, W] in [0, 1] -> list of [B, 6, H/2**s, W/2**s]."""
        out = []
        for s in range(self.scales):
            if s:
                x = F.avg_pool2d(x, 2)
            r, g, b = x.unbind(1)
            luma = (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)
            opp = torch.stack([r - g, b - 0.5 * (r + g)], dim=1)
            edges = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), self.kernels)
            out.append(torch.cat([luma, opp, edges], dim=1))
        return out


def perceptual_loss(features: nn.Module, x: Tensor, ref: Tensor) -> Tensor:
    """Seed 001's L_perceptual = sum_i lambda_i ||phi_i(x) - phi_i(ref)||_2^2 (mean over
    elements per tap, lambda_i = 1/number of taps); ``features.taps`` gives the phi_i."""
    fx, fr = features.taps(x), features.taps(ref)
    return sum(F.mse_loss(a, b) for a, b in zip(fx, fr, strict=True)) / len(fx)


def image_gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Forward differences (d/dy [B, C, H-1, W], d/dx [B, C, H, W-1]) of [B, C, H, W]."""
    return x[..., 1:, :] - x[..., :-1, :], x[..., :, 1:] - x[..., :, :-1]


def edge_loss(x: Tensor, ref: Tensor) -> Tensor:
    """Seed 001's L_edge = ||grad x - grad ref||_1 (mean absolute difference of the image
    gradients, both directions)."""
    gy, gx = image_gradients(x)
    ry, rx = image_gradients(ref)
    return 0.5 * (F.l1_loss(gy, ry) + F.l1_loss(gx, rx))
