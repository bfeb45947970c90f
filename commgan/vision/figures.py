"""Image files and panels of images, for the restoration and translation reports.

Knows nothing of tasks or models: it draws what it is given. Every file is written atomically
(`commgan.fileio.atomic_write`); plots use matplotlib's Agg backend.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402
from torch import Tensor  # noqa: E402

from commgan.fileio import atomic_write  # noqa: E402
from commgan.vision.data import to_uint8  # noqa: E402

__all__ = ["save_panels", "save_png"]


def save_png(image: Tensor, path: str | Path) -> None:
    """Write [3, H, W] in [0, 1] as an 8-bit RGB PNG, atomically."""
    pil = Image.fromarray(to_uint8(image))
    atomic_write(path, lambda tmp: pil.save(tmp, format="PNG"))


def save_panels(panels: list[tuple[str, Tensor]], path: str | Path, title: str = "") -> None:
    """PNG of images [3, H, W] side by side, each under its caption, sized to the last one."""
    h, w = panels[-1][1].shape[-2:]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 4.0 * h / w + 0.9))
    for ax, (caption, image) in zip(axes, panels, strict=True):
        ax.imshow(to_uint8(image), interpolation="nearest")
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)
