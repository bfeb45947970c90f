"""How far a per-hole choice between the two smooth classical fills can go: reference-oracle
upper bounds for inpainting on the held-out images.

For each image, mask kind and occluded ratio (masks as in `commgan.vision.restore.evaluate`, seed 0)
this measures, on the whole image (RGB PSNR, 8-bit outputs):

- biharmonic, harmonic and the self-calibrated blend (`commgan.vision.baselines`; no reference);
- oracle best of two: for every hole (connected component of the mask) the fill, biharmonic or
  harmonic, with the smaller error against the reference;
- oracle blend: for every hole the least-squares weight w in [0, 1] of
  ``harmonic + w (biharmonic - harmonic)`` against the reference.

The two oracles read the reference image and are **not methods**: they bound what any rule that
picks or mixes these two fills per hole (a self-calibration, a learned weight map) can reach.
Writes, under --out (default results/inpainting_bounds/): bounds.csv (per image, mask, ratio and
method), gains.csv (mean gain over biharmonic in dB) and config.json.

    python experiments/inpainting_bounds.py            # about 2 minutes on 2 CPU cores
    python experiments/inpainting_bounds.py --smoke    # seconds: image crops
    python experiments/inpainting_bounds.py --config bounds.toml   # options from a file
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import pandas as pd
import torch
from scipy import ndimage
from torch import Tensor

from commgan.cli.options import comma_list, listed
from commgan.configfile import config_option
from commgan.fileio import atomic_write, write_json
from commgan.vision.baselines import biharmonic_inpaint, calibrated_inpaint, harmonic_inpaint
from commgan.vision.data import TEST_IMAGES, load_image, quantize
from commgan.vision.degradations import TaskSettings
from commgan.vision.metrics import image_metrics
from commgan.vision.restore.evaluate import degrade


@dataclass
class Experiment:
    """Ratios, mask kinds and where the files go (saved as config.json)."""

    ratios: tuple[float, ...] = (0.1, 0.2, 0.3)
    """Occluded area ratios."""
    masks: tuple[str, ...] = ("block", "free-form", "block-removal")
    """Mask kinds."""
    seed: int = 0
    """Seed of the masks."""
    smoke: bool = False
    """Image crops (seconds; checks the plumbing)."""
    out: str = "results/inpainting_bounds"
    """Output folder."""


SMOKE = {"ratios": (0.3,)}
"""Defaults of ``--smoke`` runs for the options not given."""


def per_hole_oracles(reference: Tensor, mask: Tensor, biharmonic: Tensor, harmonic: Tensor
                     ) -> tuple[Tensor, Tensor]:
    """(best of two, best blend) per hole of ``mask`` [1, H, W], both [3, H, W], 8-bit rounded.

    Each connected hole takes the fill (biharmonic or harmonic) with the smaller squared error
    against ``reference``, or the least-squares weight w in [0, 1] of
    ``harmonic + w (biharmonic - harmonic)``. Upper bounds only: the reference is read.
    """
    labels, count = ndimage.label(mask[0].cpu().numpy() > 0.5)
    labels_t = torch.from_numpy(labels)
    best, blend = biharmonic.clone(), biharmonic.clone()
    for hole in range(1, count + 1):
        inside = (labels_t == hole).expand_as(reference)
        bi, ha, ref = biharmonic[inside], harmonic[inside], reference[inside]
        best[inside] = bi if ((bi - ref) ** 2).sum() <= ((ha - ref) ** 2).sum() else ha
        direction = (bi - ha).double()
        energy = float((direction * direction).sum())
        weight = float((direction * (ref - ha).double()).sum()) / energy if energy > 0 else 0.0
        blend[inside] = ha + min(max(weight, 0.0), 1.0) * (bi - ha)
    return quantize(best), quantize(blend)


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> pd.DataFrame:
    """Measure, write the files; returns gains.csv's table."""
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    images = {name: load_image(name) for name in TEST_IMAGES}
    if experiment.smoke:
        images = {name: image[:, :96, :128] for name, image in images.items()}
    rows = []
    for kind in experiment.masks:
        for ratio in experiment.ratios:
            settings = TaskSettings(ratio=ratio, mask=kind, seed=experiment.seed)
            setting_rows = []
            for name, image in images.items():
                reference, degraded, mask = degrade("inpaint", image, settings)
                biharmonic = biharmonic_inpaint(degraded, mask)
                harmonic = harmonic_inpaint(degraded, mask)
                best, blend = per_hole_oracles(reference, mask, biharmonic, harmonic)
                fills = {"biharmonic": biharmonic, "harmonic": harmonic,
                         "calibrated blend": calibrated_inpaint(degraded, mask,
                                                                biharmonic=biharmonic,
                                                                harmonic=harmonic),
                         "oracle best of two": best, "oracle blend": blend}
                for method, fill in fills.items():
                    metrics = image_metrics(fill, reference)
                    setting_rows.append({"image": name, "mask": kind, "ratio": ratio,
                                         "method": method, "psnr": metrics["psnr"],
                                         "ssim": metrics["ssim"]})
            means = pd.DataFrame(setting_rows).groupby("method", sort=False)["psnr"].mean()
            log(f"{kind} {ratio:.0%}: " + ", ".join(f"{m} {v:.2f}" for m, v in means.items()))
            rows += setting_rows
    bounds = pd.DataFrame(rows)
    psnr = bounds.pivot_table(index=["mask", "ratio", "image"], columns="method",
                              values="psnr", sort=False)
    gains = (psnr.sub(psnr["biharmonic"], axis=0)
             .groupby(level=["mask", "ratio"], sort=False).mean().reset_index())
    gains.columns.name = None
    atomic_write(out / "bounds.csv", lambda tmp: bounds.to_csv(tmp, index=False))
    atomic_write(out / "gains.csv", lambda tmp: gains.to_csv(tmp, index=False))
    write_json({"experiment": asdict(experiment), "images": list(images),
                "note": "oracle rows read the reference: upper bounds, not methods"},
               out / "config.json")
    return gains


@click.command(help=__doc__.splitlines()[0])
@click.option("--ratios", callback=comma_list(float), help="Occluded area ratios (comma list) "
              f"[default: {listed(Experiment.ratios)}; --smoke: {listed(SMOKE['ratios'])}].")
@click.option("--masks", callback=comma_list(str),
              help=f"Mask kinds (comma list) [default: {listed(Experiment.masks)}].")
@click.option("--seed", type=int, default=None,
              help=f"Seed of the masks [default: {Experiment.seed}].")
@click.option("--smoke", is_flag=True, default=None,
              help="Image crops, one ratio (seconds; checks the plumbing).")
@click.option("--out", default=None, help=f"Output folder [default: {Experiment.out}].")
@config_option
def main(**options) -> None:
    """Build the `Experiment` (smoke defaults, then the options given), run it, print the gains."""
    given = {key: value for key, value in options.items() if value is not None}
    experiment = Experiment(**{**(SMOKE if given.get("smoke") else {}), **given})
    gains = run(experiment)
    click.echo("mean gain over biharmonic (dB):")
    click.echo(gains.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
