"""A user's image files (`commgan.vision.data.read_image`), read once and bounded: at most
`MAX_IMAGE_BYTES` bytes and `MAX_IMAGE_PIXELS` pixels (checked from the header, before
decoding), never blocking on a FIFO or a device, one `CommganError` line for whatever cannot be
used."""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from commgan.errors import CommganError

__all__ = ["MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "decode_image", "read_bounded"]

MAX_IMAGE_PIXELS = 4_000_000
"""The largest image `read_image` decodes (checked from the header, before decoding)."""
MAX_IMAGE_BYTES = 64 << 20
"""The largest image file `read_image` reads, in bytes (64 MiB; a 4-megapixel 8-bit image
needs at most about 16 MiB)."""
_MODES = ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK", "YCbCr", "PA")


def read_bounded(path: Path, name: str) -> bytes:
    """The bytes of the regular file ``path``, read once; at most `MAX_IMAGE_BYTES`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise CommganError(f"image {name} does not exist") from None
    except IsADirectoryError:
        raise CommganError(f"image {name} is not a file (a regular file is needed)") from None
    except PermissionError:
        raise CommganError(f"image {name} cannot be read: permission denied") from None
    except OSError as err:
        raise CommganError(f"image {name} cannot be read: "
                           f"{(err.strerror or type(err).__name__).lower()}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CommganError(f"image {name} is not a file (a regular file is needed)")
        if info.st_size > MAX_IMAGE_BYTES:
            raise CommganError(f"image {name} is {info.st_size / 2**20:,.0f} MiB; at most "
                               f"{MAX_IMAGE_BYTES >> 20} MiB are read")
        chunks, size = [], 0
        while size <= MAX_IMAGE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_IMAGE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise CommganError(f"image {name} cannot be read: "
                           f"{(err.strerror or type(err).__name__).lower()}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_IMAGE_BYTES:
        raise CommganError(f"image {name} is over {MAX_IMAGE_BYTES >> 20} MiB; at most "
                           f"{MAX_IMAGE_BYTES >> 20} MiB are read")
    if not data:
        raise CommganError(f"image {name} is empty (0 bytes)")
    return data


def decode_image(data: bytes, name: str) -> np.ndarray:
    """The pixels of an image file's bytes: uint8 [H, W, 3]; one CommganError line if the
    header is refused (`_check_header`) or the data is corrupt."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                _check_header(image, name)
                image.load()
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except CommganError:
        raise
    except UnidentifiedImageError:
        raise CommganError(f"image {name} is not an image file or its format is "
                           "unsupported") from None
    except Image.DecompressionBombError:
        raise CommganError(f"image {name} is over {MAX_IMAGE_PIXELS:,} pixels (at most that "
                           "many are read): crop or shrink it") from None
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise CommganError(f"image {name} is corrupt or truncated: "
                           f"{str(err)[:80] or type(err).__name__}") from None


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
