"""Images shipped inside installed packages, the train/test split by image, and a patch sampler.

No image is downloaded: the sources are the colour images bundled with scikit-image
(``skimage.data``), the two scikit-learn sample images (``load_sample_images``) and the
``skimage.data.lfw_subset`` faces. Images are float32 tensors [3, H, W] in [0, 1] (RGB).

The split is by image: `TEST_IMAGES` (astronaut, coffee, chelsea) are never sampled for
training; `TRAIN_IMAGES` are the other shipped colour photographs. A folder of the user's own
photographs (``--train-dir``) is split by image into training and validation sets
(`folder_split`); an entry of a training config's image list is a shipped name or a file path.
`read_image` reads a user's image file with the bounds of `commgan.vision.imagefile`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from commgan.errors import CommganError
from commgan.vision.imagefile import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    decode_image,
    read_bounded,
)

__all__ = [
    "IMAGE_NAMES",
    "TEST_IMAGES",
    "TRAIN_IMAGES",
    "IMAGE_SUFFIXES",
    "PatchSampler",
    "folder_digest",
    "folder_split",
    "from_numpy",
    "lfw_faces",
    "load_image",
    "quantize",
    "MAX_FOLDER_IMAGES",
    "MAX_FOLDER_PIXELS",
    "MAX_IMAGE_BYTES",
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
    """A shipped colour image by name (see `IMAGE_NAMES`), or an image file by path (an entry of
    a ``--train-dir`` folder): float32 [3, H, W] in [0, 1]."""
    if name in _SOURCES:
        return from_numpy(_load_cached(name))
    if Path(name).suffix.lower() in IMAGE_SUFFIXES:
        return read_image(name)
    raise CommganError(f"unknown image {name!r}; shipped images: {', '.join(IMAGE_NAMES)}")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
"""File suffixes a ``--train-dir`` folder is searched for (case-insensitive; not recursive)."""
VALIDATION_SHARE = 0.2
"""Share of a folder's images held out for validation (at least one)."""
MAX_FOLDER_IMAGES = 1000
"""The most image files a ``--train-dir`` folder may hold (counted before any is read)."""
MAX_FOLDER_PIXELS = 100_000_000
"""The most pixels of all of a folder's distinct images together (from their headers; 1.2 GB
as float32 RGB, the training holds them all in memory)."""


def folder_split(directory: str | Path, min_size: int = 0,
                 validation_share: float = VALIDATION_SHARE,
                 notes: list[str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training, validation) image paths of a folder of photographs, split by image.

    Every regular file with a suffix in `IMAGE_SUFFIXES` is read once (at most
    `MAX_FOLDER_IMAGES` files of at most `MAX_IMAGE_BYTES` each, `MAX_FOLDER_PIXELS` pixels in
    all; `read_image`'s checks, one CommganError line for the first unusable one) and must be at
    least ``min_size`` pixels on each side; FIFOs, devices and folders named like images are
    skipped. Files with the same contents (symbolic or hard links, copies) count as one image:
    the first name in sorted order is kept and ``notes`` gets a line saying how many were
    dropped. Images are ordered by the SHA-256 of their bytes, and every k-th one (k = 1 /
    ``validation_share``, at least one image) is held out, so the split depends on the contents
    only, not on file names or listing order. At least two distinct images are needed.
    """
    if not str(directory).strip():
        raise CommganError("--train-dir is empty; give a folder of photographs")
    folder = Path(directory)
    shown = repr(str(directory))[:80]
    if not folder.exists():
        raise CommganError(f"--train-dir {shown} does not exist")
    if not folder.is_dir():
        raise CommganError(f"--train-dir {shown} is not a folder")
    files = _image_files(folder, shown)
    by_digest: dict[str, Path] = {}
    total = 0
    for path in files:
        data = read_bounded(path, repr(str(path))[:80])
        digest = hashlib.sha256(data).hexdigest()
        if digest in by_digest:
            continue
        width, height = decode_image(data, repr(str(path))[:80]).shape[1::-1]
        total += width * height
        if total > MAX_FOLDER_PIXELS:
            raise CommganError(f"--train-dir {shown}: its images hold more than "
                               f"{MAX_FOLDER_PIXELS:,} pixels in all (at most that many are "
                               "read): use fewer or smaller photographs")
        if min(height, width) < min_size:
            raise CommganError(f"image {repr(str(path))[:80]} is {width}x{height} pixels; this "
                               f"model trains on {min_size}x{min_size} patches")
        by_digest[digest] = path
    duplicates = len(files) - len(by_digest)
    if len(by_digest) < 2:
        raise CommganError(f"--train-dir {shown} holds {len(by_digest)} distinct image(s) "
                           f"({', '.join(IMAGE_SUFFIXES)}); at least 2 are needed (training "
                           "and validation, split by image)")
    if duplicates and notes is not None:
        notes.append(f"--train-dir: {duplicates} duplicate file(s) (the same contents under "
                     "another name) counted once")
    ordered = [path for _, path in sorted(by_digest.items())]
    step = max(2, round(1 / validation_share))
    validation = tuple(str(path.resolve()) for path in ordered[::step])
    training = tuple(str(path.resolve()) for index, path in enumerate(ordered)
                     if index % step)
    return training, validation


def _image_files(folder: Path, shown: str) -> list[Path]:
    """The regular files of ``folder`` with an image suffix, sorted by name; at most
    `MAX_FOLDER_IMAGES` (refused as soon as one more is seen)."""
    files: list[Path] = []
    try:
        entries = os.scandir(folder)
    except OSError as err:
        raise CommganError(f"--train-dir {shown} cannot be read: "
                           f"{(err.strerror or type(err).__name__).lower()}") from None
    with entries:
        for entry in entries:
            if Path(entry.name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                regular = stat.S_ISREG(os.stat(entry.path).st_mode)
            except OSError:
                regular = False  # a dangling or looping link
            if not regular:
                continue
            files.append(Path(entry.path))
            if len(files) > MAX_FOLDER_IMAGES:
                raise CommganError(f"--train-dir {shown} holds more than "
                                   f"{MAX_FOLDER_IMAGES:,} image files; at most "
                                   f"{MAX_FOLDER_IMAGES:,} are read")
    return sorted(files)


def folder_digest(names: Sequence[str]) -> str | None:
    """SHA-256 over the bytes of the image files among ``names`` (shipped names are skipped),
    in order; None if there are none. Part of a model's cache identity, so a changed photo
    means a new model."""
    paths = [name for name in names if name not in _SOURCES]
    if not paths:
        return None
    digest = hashlib.sha256()
    for path in paths:
        data = read_bounded(Path(path), repr(str(path))[:80])
        digest.update(hashlib.sha256(data).hexdigest().encode())
    return digest.hexdigest()


def lfw_faces() -> Tensor:
    """The 200 grey 25x25 faces of ``skimage.data.lfw_subset``: float32 [200, 1, 25, 25]."""
    import skimage.data

    return torch.from_numpy(skimage.data.lfw_subset().astype(np.float32)).unsqueeze(1)


def read_image(path: str | Path) -> Tensor:
    """Read a user's image file (PNG, JPEG, BMP, TIFF, ...) as float32 [3, H, W] in [0, 1].

    Grey images are replicated to RGB; an alpha channel is dropped (composited on nothing).
    The file is read once, at most `MAX_IMAGE_BYTES` of it, and never blocks (a FIFO or a
    device is refused). Raises `CommganError` with one line for a missing, unreadable, empty,
    corrupt or unsupported file, a 16-bit/float image, or one over `MAX_IMAGE_PIXELS` (refused
    before it is decoded).
    """
    if not str(path).strip():
        raise CommganError("image file name is empty")
    name = repr(str(path))[:80]
    return from_numpy(decode_image(read_bounded(Path(path), name), name))


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
