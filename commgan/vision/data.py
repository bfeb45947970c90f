"""Images shipped inside installed packages, the train/test split by image, and a patch sampler.

No image is downloaded: the sources are the colour images bundled with scikit-image
(``skimage.data``), the two scikit-learn sample images (``load_sample_images``) and the
``skimage.data.lfw_subset`` faces. Images are float32 tensors [3, H, W] in [0, 1] (RGB).

The split is by image: `TEST_IMAGES` (astronaut, coffee, chelsea) are never sampled for
training; `TRAIN_IMAGES` are the other shipped colour photographs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from commgan.errors import CommganError

__all__ = [
    "IMAGE_NAMES",
    "TEST_IMAGES",
    "TRAIN_IMAGES",
    "PatchSampler",
    "from_numpy",
    "lfw_faces",
    "load_image",
    "quantize",
    "MAX_IMAGE_PIXELS",
    "read_image",
    "to_numpy",
    "to_uint8",
]

TEST_IMAGES: tuple[str, ...] = ("astronaut", "coffee", "chelsea")
"""Held-out images: every reported number is measured on these, none is used in training."""
TRAIN_IMAGES: tuple[str, ...] = ("rocket", "china", "flower", "motorcycle_left",
                                 "motorcycle_right", "hubble_deep_field",
                                 "immunohistochemistry", "retina")
"""Training images (disjoint from `TEST_IMAGES`)."""


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()
    return load


def _motorcycle(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return skimage.data.stereo_motorcycle()[index]
    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)
    return load


_SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "retina": _skimage("retina"),
    "motorcycle_left": _motorcycle(0),
    "motorcycle_right": _motorcycle(1),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
}
IMAGE_NAMES: tuple[str, ...] = tuple(_SOURCES)
"""Every shipped colour image `load_image` knows."""


def from_numpy(array: np.ndarray) -> Tensor:
    """uint8 [H, W, 3] (or float in [0, 1]) -> float32 tensor [3, H, W] in [0, 1]."""
    array = np.asarray(array)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1)


def to_uint8(image: Tensor) -> np.ndarray:
    """Float tensor [3, H, W] in [0, 1] -> uint8 array [H, W, 3] (rounded, clipped)."""
    array = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return array.permute(1, 2, 0).cpu().numpy()


def to_numpy(image: Tensor) -> np.ndarray:
    """Float tensor [3, H, W] -> float64 array [H, W, 3] (values unchanged)."""
    return image.detach().double().permute(1, 2, 0).cpu().numpy()


def quantize(image: Tensor) -> Tensor:
    """Round to the 256 levels of an 8-bit image (what saving as PNG does), clipped to [0, 1]."""
    return image.clamp(0, 1).mul(255).round().div(255)


@cache
def _load_cached(name: str) -> np.ndarray:
    return np.asarray(_SOURCES[name](), dtype=np.uint8)[..., :3]


def load_image(name: str) -> Tensor:
    """A shipped colour image by name (see `IMAGE_NAMES`): float32 [3, H, W] in [0, 1]."""
    if name not in _SOURCES:
        raise CommganError(f"unknown image {name!r}; shipped images: {', '.join(IMAGE_NAMES)}")
    return from_numpy(_load_cached(name))


def lfw_faces() -> Tensor:
    """The 200 grey 25x25 faces of ``skimage.data.lfw_subset``: float32 [200, 1, 25, 25]."""
    import skimage.data

    return torch.from_numpy(skimage.data.lfw_subset().astype(np.float32)).unsqueeze(1)


MAX_IMAGE_PIXELS = 4_000_000
"""The largest image `read_image` decodes (checked from the header, before decoding)."""
_MODES = ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "YCbCr", "PA")


def read_image(path: str | Path) -> Tensor:
    """Read a user's image file (PNG, JPEG, BMP, TIFF, ...) as float32 [3, H, W] in [0, 1].

    Grey images are replicated to RGB; an alpha channel is dropped (composited on nothing).
    Raises `CommganError` with one line for a missing, unreadable, corrupt or unsupported file,
    a 16-bit/float image, or one over `MAX_IMAGE_PIXELS` (refused before it is decoded).
    """
    if not str(path).strip():
        raise CommganError("image file name is empty")
    path = Path(path)
    name = repr(str(path))[:80]
    if not path.exists():
        raise CommganError(f"image {name} does not exist")
    if not path.is_file():
        raise CommganError(f"image {name} is not a file (a regular file is needed)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                _check_header(image, name)
                image.load()
                rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except CommganError:
        raise
    except UnidentifiedImageError:
        raise CommganError(f"image {name} is not an image file or its format is "
                           "unsupported") from None
    except Image.DecompressionBombError:
        raise CommganError(f"image {name} is too large to decode") from None
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise CommganError(f"image {name} is corrupt or truncated: "
                           f"{str(err)[:80] or type(err).__name__}") from None
    return from_numpy(rgb)


def _check_header(image: Image.Image, name: str) -> None:
    """Refuse, from the header alone, unsupported pixel modes, 16-bit data and huge images."""
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise CommganError(f"image {name} is {width}x{height} pixels; at most "
                           f"{MAX_IMAGE_PIXELS:,} pixels are read: crop or shrink it")
    sixteen = any(";16" in str(tile[3]) for tile in getattr(image, "tile", []) or [])
    if image.mode not in _MODES or sixteen:
        mode = f"{image.mode} (16-bit)" if sixteen else image.mode
        raise CommganError(f"image {name} has unsupported pixel mode {mode} "
                           "(use 8-bit grey or RGB)")


class PatchSampler:
    """Random aligned patches from a list of image pairs (degraded input, target).

    pairs: list of ``(input [C_in, h, w], target [C_t, h*scale, w*scale])`` tensors, or a list of
    targets only (then the input is the target, for on-the-fly degradations).
    patch: target patch size in pixels (a multiple of ``scale``); scale: input-to-target
    up-scaling (4 for SR x4, 1 otherwise). batch_size: patches per batch.
    augment: random flips and 90-degree rotations (the dihedral group).
    transform: optional ``transform(target_batch, generator) -> batch`` applied on the sampled
    targets (degrades them on the fly); otherwise a batch is ``(target, input)``.
    Images are drawn with probability proportional to their area. Deterministic given ``seed``.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Tensor, Tensor]] | Sequence[Tensor],
        patch: int,
        batch_size: int,
        scale: int = 1,
        augment: bool = True,
        transform: Callable[[Tensor, torch.Generator], object] | None = None,
        seed: int = 0,
    ) -> None:
        if patch % scale:
            raise ValueError(f"patch {patch} must be a multiple of scale {scale}")
        self.pairs = [(p, p) if isinstance(p, Tensor) else p for p in pairs]
        if not self.pairs:
            raise ValueError("PatchSampler needs at least one image")
        for low, high in self.pairs:
            if high.shape[-2] < patch or high.shape[-1] < patch:
                raise ValueError(f"image {tuple(high.shape)} is smaller than the patch {patch}")
            if low.shape[-2] * scale > high.shape[-2] or low.shape[-1] * scale > high.shape[-1]:
                raise ValueError("an input image does not match its target at this scale")
        self.patch, self.batch_size, self.scale = patch, batch_size, scale
        self.augment, self.transform = augment, transform
        areas = torch.tensor([float(h.shape[-2] * h.shape[-1]) for _, h in self.pairs])
        self.weights = areas / areas.sum()
        self.generator = torch.Generator().manual_seed(seed)

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def sample(self) -> tuple[Tensor, Tensor]:
        """(target [B, C_t, patch, patch], input [B, C_in, patch/scale, patch/scale])."""
        s, lp = self.scale, self.patch // self.scale
        idx = torch.multinomial(self.weights, self.batch_size, replacement=True,
                                generator=self.generator)
        lows, highs = [], []
        for i in idx.tolist():
            low, high = self.pairs[i]
            y = self._randint(low.shape[-2] - lp + 1)
            x = self._randint(low.shape[-1] - lp + 1)
            lo = low[:, y:y + lp, x:x + lp]
            hi = high[:, y * s:(y + lp) * s, x * s:(x + lp) * s]
            if self.augment:
                k = self._randint(4)
                lo, hi = torch.rot90(lo, k, (1, 2)), torch.rot90(hi, k, (1, 2))
                if self._randint(2):
                    lo, hi = lo.flip(2), hi.flip(2)
            lows.append(lo)
            highs.append(hi)
        return torch.stack(highs), torch.stack(lows)

    def __call__(self) -> object:
        """One batch: ``transform(target, generator)`` or ``(target, input)``."""
        target, low = self.sample()
        if self.transform is not None:
            return self.transform(target, self.generator)
        return target, low
