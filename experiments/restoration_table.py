"""Seed 001's Table 1, on our held-out images: the restoration GANs vs classical baselines.

Every model is trained on the training images only (or loaded from the model cache) and measured
on the held-out astronaut, coffee and chelsea images:

- sr: SRGAN x4 vs bicubic (PSNR/SSIM on Y with a 4-pixel border crop, and in RGB);
- inpaint: the multi-loss GAN vs biharmonic inpainting (and harmonic inpainting and the
  self-calibrated harmonic/biharmonic blend), block and free-form masks and
  lost 8x8 blocks (block removal) at 10/20/30%;
- denoise: the multi-loss GAN vs non-local means, sigma 15/25/50 (8-bit levels);
- colour: CR-SRGAN x2 vs the degraded input and a white balance + contrast stretch, three fadings.

LPIPS is measured only with ``--backbone-weights`` (see commgan.vision.perceptual); without it
the column is empty ("unavailable"). Writes, under --out (default results/restoration_table/):
table.csv (one row per task, setting, image and method), summary.csv (means over the images),
TASK.png (side by side, first image) and config.json.

    python experiments/restoration_table.py                 # trains missing models (~15 min)
    python experiments/restoration_table.py --smoke         # seconds: tiny models, crops
    python experiments/restoration_table.py --config table.toml   # options from a file
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import pandas as pd

from commgan.checkpoint import models_dir as resolve_models_dir
from commgan.cli.options import comma_list, listed
from commgan.configfile import config_option
from commgan.fileio import atomic_write, write_json
from commgan.parallel import configure_process
from commgan.vision.data import TEST_IMAGES, load_image
from commgan.vision.degradations import Fade, TaskSettings
from commgan.vision.models.cache import load_or_train
from commgan.vision.models.record import VisionTraining
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.perceptual import LPIPS, load_backbone_state
from commgan.vision.restore.evaluate import degrade, evaluate_images, restore_degraded
from commgan.vision.restore.report import method_label, side_by_side
from commgan.vision.restore.tasks import VISION_TASKS

FADES = {"default": Fade(),
         "faded-sepia": Fade(desaturation=0.6, sepia=0.7, gamma=1.3, brightness=0.8, lift=0.15),
         "dark": Fade(desaturation=0.3, sepia=0.2, gamma=2.0, brightness=0.55, lift=0.02)}
"""The fadings of the colour rows (inside the training distribution of CR-SRGAN,
`ColourTraining.fade_ranges`); "default" is the one ``commgan restore --task colour`` applies."""
FIGURES = {"sr": "x4", "inpaint": "block 20%", "denoise": "sigma 25", "colour": "default"}
"""The setting of each task drawn side by side in TASK.png."""


@dataclass
class Experiment:
    """What the table measures and where it goes (saved as config.json)."""

    ratios: tuple[float, ...] = (0.1, 0.2, 0.3)
    """inpaint: occluded area ratios."""
    masks: tuple[str, ...] = ("block", "free-form", "block-removal")
    """inpaint: mask kinds."""
    sigmas: tuple[int, ...] = (15, 25, 50)
    """denoise: noise standard deviations in 8-bit levels."""
    seed: int = 0
    """Seed of masks and noise."""
    smoke: bool = False
    """Tiny models on image crops, one torch thread (seconds; checks the plumbing, the numbers
    mean nothing)."""
    models: str | None = None
    """Model cache folder; None = `commgan.checkpoint.default_models_dir`."""
    backbone_weights: str | None = None
    """Local VGG16 (+ LPIPS lin layers) weights file; None = LPIPS unavailable."""
    out: str = "results/restoration_table"
    """Output folder."""

    def training(self, name: str) -> VisionTraining:
        """The training config of model ``name``: the shipped budget, or the smoke budget."""
        training = VISION_MODELS[name].training()
        return training.smoke() if self.smoke else training


SMOKE = {"ratios": (0.2,), "sigmas": (25,)}
"""Defaults of ``--smoke`` runs for the options not given."""


def _settings(experiment: Experiment) -> list[tuple[str, str, TaskSettings]]:
    """(task, setting label, settings) of every block of rows."""
    out = [("sr", "x4", TaskSettings(seed=experiment.seed))]
    for kind in experiment.masks:
        for ratio in experiment.ratios:
            out.append(("inpaint", f"{kind} {ratio:.0%}",
                        TaskSettings(ratio=ratio, mask=kind, seed=experiment.seed)))
    for sigma in experiment.sigmas:
        out.append(("denoise", f"sigma {sigma}",
                    TaskSettings(sigma=sigma / 255, seed=experiment.seed)))
    for label, params in FADES.items():
        out.append(("colour", label, TaskSettings(fade=params, seed=experiment.seed)))
    return out


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> pd.DataFrame:
    """Train or load the models, measure every block, write the files; returns table.csv."""
    if experiment.smoke:
        configure_process(1)  # small tensors: a second thread only adds waiting beside other jobs
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = resolve_models_dir(experiment.models)
    state = load_backbone_state(experiment.backbone_weights) if experiment.backbone_weights \
        else None
    lpips = LPIPS.from_state(state) if state is not None else None
    images = {name: load_image(name) for name in TEST_IMAGES}
    if experiment.smoke:
        images = {name: image[:, :96, :128] for name, image in images.items()}
    generators, train_seconds = {}, {}
    used = list(dict.fromkeys(VISION_TASKS[task].model for task, _, _ in _settings(experiment)))
    for name in used:
        start = time.perf_counter()
        generators[name] = load_or_train(name, models_dir, experiment.training(name),
                                         backbone_state=state, log=log)
        train_seconds[name] = time.perf_counter() - start
    tables = []
    for task, label, settings in _settings(experiment):
        model = generators[VISION_TASKS[task].model]
        table = evaluate_images(task, model, images, settings, lpips)
        table.insert(1, "setting", label)
        tables.append(table)
        means = table.groupby("method")[["psnr", "ssim", "psnr_y"]].mean()
        log(f"{task} {label}: " + ", ".join(
            f"{m} {r.psnr:.2f} dB/{r.ssim:.3f} (Y {r.psnr_y:.2f})" for m, r in means.iterrows()))
    table = pd.concat(tables, ignore_index=True)
    table["method"] = [method_label(t, m)
                       for t, m in zip(table["task"], table["method"], strict=True)]
    summary = (table.groupby(["task", "setting", "method"], sort=False)
               [["psnr", "ssim", "psnr_y", "ssim_y", "lpips"]].mean().reset_index())
    atomic_write(out / "table.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    first = next(iter(images))
    for task, label, settings in _settings(experiment):
        if label != FIGURES[task]:
            continue
        model = generators[VISION_TASKS[task].model]
        reference, degraded, mask = degrade(task, images[first], settings)
        result = restore_degraded(task, model, degraded, mask, settings.sigma, reference, lpips)
        side_by_side(result, out / f"{task}.png", f"{task} ({label}), {first}")
    write_json({"experiment": asdict(experiment), "images": list(images),
                "lpips": "vgg16 from file" if lpips is not None else "unavailable",
                "models_dir": str(models_dir), "load_or_train_seconds": train_seconds,
                "trainings": {name: experiment.training(name).to_dict() for name in used}},
               out / "config.json")
    return table


@click.command(help=__doc__.splitlines()[0])
@click.option("--ratios", callback=comma_list(float),
              help="inpaint: occluded area ratios (comma list) "
              f"[default: {listed(Experiment.ratios)}; --smoke: {listed(SMOKE['ratios'])}].")
@click.option("--masks", callback=comma_list(str),
              help=f"inpaint: mask kinds (comma list) [default: {listed(Experiment.masks)}].")
@click.option("--sigmas", callback=comma_list(int),
              help="denoise: noise standard deviations in 8-bit "
              f"levels (comma list) [default: {listed(Experiment.sigmas)}; "
              f"--smoke: {listed(SMOKE['sigmas'])}].")
@click.option("--seed", type=int, default=None,
              help=f"Seed of masks and noise [default: {Experiment.seed}].")
@click.option("--smoke", is_flag=True, default=None,
              help="Tiny models on image crops, one torch thread (seconds; checks the "
                   "plumbing).")
@click.option("--models", default=None, help="Model cache folder [default: $COMMGAN_MODELS, "
              "else ~/.cache/commgan/models].")
@click.option("--backbone-weights", default=None,
              help="Local VGG16 (+ LPIPS lin layers) weights file; without it LPIPS is "
                   "unavailable.")
@click.option("--out", default=None, help=f"Output folder [default: {Experiment.out}].")
@config_option
def main(**options) -> None:
    """Build the `Experiment` (smoke defaults, then the options given), run it, print the means."""
    given = {key: value for key, value in options.items() if value is not None}
    experiment = Experiment(**{**(SMOKE if given.get("smoke") else {}), **given})
    table = run(experiment)
    summary = table.groupby(["task", "setting", "method"], sort=False)[
        ["psnr", "ssim", "psnr_y", "ssim_y"]].mean()
    click.echo(summary.round(3).to_string())


if __name__ == "__main__":
    main()
