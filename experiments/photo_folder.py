"""A folder of photographs for ``--train-dir`` runs, assembled from what the packages ship.

Square crops of the project's training photographs (``commgan.vision.data.TRAIN_IMAGES``: the
scikit-image and scikit-learn colour photographs), a regular grid of non-overlapping crops per
photograph, at most ``--per-image`` of them (evenly spaced in the grid, so no one photograph
dominates). The held-out images (astronaut, coffee, chelsea) are never used. Written as PNG.

    python experiments/photo_folder.py --out results/photo_folder      # 247 crops of 96x96
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from torch import Tensor

from commgan.vision.data import TEST_IMAGES, TRAIN_IMAGES, load_image
from commgan.vision.figures import save_png


def crops(name: str, size: int, per_image: int) -> list[Tensor]:
    """Non-overlapping ``size`` x ``size`` crops [3, size, size] of shipped photograph ``name``,
    at most ``per_image`` of them, evenly spaced over the grid."""
    image = load_image(name)
    rows, cols = image.shape[1] // size, image.shape[2] // size
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    keep = np.unique(np.linspace(0, len(cells) - 1, min(per_image, len(cells))).round()
                     .astype(int))
    return [image[:, r * size:(r + 1) * size, c * size:(c + 1) * size]
            for r, c in (cells[i] for i in keep)]


@click.command()
@click.option("--out", default="results/photo_folder", show_default=True,
              help="Folder to write (created; must be empty or absent).")
@click.option("--size", default=96, show_default=True, type=click.IntRange(32, 512),
              help="Crop side in pixels.")
@click.option("--per-image", default=40, show_default=True, type=click.IntRange(1, 1000),
              help="Most crops taken from one photograph.")
def main(out: str, size: int, per_image: int) -> None:
    """Write crops of the shipped training photographs to OUT (never the held-out images)."""
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise click.UsageError(f"--out {out!r} is not empty")
    assert not set(TRAIN_IMAGES) & set(TEST_IMAGES)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in TRAIN_IMAGES:
        pieces = crops(name, size, per_image)
        for index, piece in enumerate(pieces):
            save_png(piece, folder / f"{name}_{index:03d}.png")
        total += len(pieces)
        click.echo(f"{name}: {len(pieces)} crops")
    click.echo(f"{total} crops of {size}x{size} in {folder}")


if __name__ == "__main__":
    main()
