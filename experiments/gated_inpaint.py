"""Gated-conv inpainting (small DeepFill v2) vs the multi-loss GAN and classical free-form fills.

Models (trained on the training images, or on ``--train-dir``, or loaded from the model cache;
default budgets): the gated-conv GAN (`commgan.vision.models.gated.GATED`, ``commgan restore
--task inpaint --model gated``: gated convolutions, coarse and refined stages with contextual
attention, SN-PatchGAN, 1000 iterations) and the multi-loss GAN (the task's default model,
``restore``, 2000 iterations). Classical rows: biharmonic inpainting (the task's baseline and the
multi-loss GAN's pre-fill), harmonic inpainting, their self-calibrated blend, and the occluded
input itself ("degraded").

Inputs: the held-out astronaut, coffee and chelsea images under free-form masks (brush strokes,
`commgan.vision.degradations.make_mask`) at ``--ratios`` coverage, seeded by ``--seed``; every
method fills the same holes. Metrics in RGB and on Y, every output rounded to 8 bits, LPIPS with
``--backbone-weights`` (else NaN, "unavailable"); the measured coverage of each mask is in
column ``coverage``.

Writes, under --out (default results/gated_inpaint/): table.csv (one row per ratio, image and
method), summary.csv (means per ratio), metrics.csv (one row per method: means over the images
and ratios), trainings.csv (wall clock, load, seconds per iteration = wall clock / iterations),
inpaint.png (first image at the middle ratio, side by side) and config.json; prints the
markdown table.

    python experiments/gated_inpaint.py                        # trains missing models
    python experiments/gated_inpaint.py --train-dir photos/    # both GANs trained on a folder
    python experiments/gated_inpaint.py --smoke                # seconds: tiny budgets, crops
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import pandas as pd
from torch import Tensor

from commgan.checkpoint import models_dir as resolve_models_dir
from commgan.cli.options import comma_list, listed
from commgan.configfile import config_option
from commgan.fileio import atomic_write, write_json
from commgan.parallel import configure_process
from commgan.vision.data import TEST_IMAGES, load_image
from commgan.vision.degradations import TaskSettings
from commgan.vision.figures import save_panels
from commgan.vision.metrics import image_metrics
from commgan.vision.models.cache import timed_load_or_train
from commgan.vision.models.record import VisionTraining
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import model_training
from commgan.vision.perceptual import LPIPS, load_backbone_state
from commgan.vision.restore.evaluate import degrade, restore_degraded, run_model
from commgan.vision.restore.report import method_label

TASK = "inpaint"
MASK = "free-form"
MODELS = ("restore", "gated")
"""`VISION_MODELS` names: the task's default model (the in-project baseline) first."""
METRICS = ["psnr", "ssim", "psnr_y", "ssim_y", "lpips"]


@dataclass
class Experiment:
    """What the comparison measures and where it goes (saved as config.json)."""

    ratios: tuple[float, ...] = (0.1, 0.2, 0.3)
    """Free-form mask coverages."""
    seed: int = 0
    """Seed of the masks."""
    smoke: bool = False
    """Tiny budgets on image crops, one torch thread (seconds; the numbers mean nothing)."""
    models: str | None = None
    """Model cache folder; None = `commgan.checkpoint.default_models_dir`."""
    backbone_weights: str | None = None
    """Local VGG16 (+ LPIPS lin layers) weights file; None = LPIPS unavailable (and the
    multi-loss GAN's perceptual term uses the filter-bank substitute)."""
    train_dir: str | None = None
    """Folder of photographs both GANs train on (split into training and validation images,
    as ``commgan restore --train-dir``); None = the shipped training images."""
    out: str = "results/gated_inpaint"
    """Output folder."""

    def training(self, name: str, notes: list[str] | None = None) -> VisionTraining:
        """The training config of model ``name``: its default (or ``--train-dir``) config, with
        the smoke budget in smoke runs."""
        training = (model_training(VISION_MODELS[name], None, self.train_dir, notes)
                    or VISION_MODELS[name].training())
        return training.smoke() if self.smoke else training


def measure(generators: dict, images: dict[str, Tensor], experiment: Experiment,
            lpips: LPIPS | None) -> tuple[pd.DataFrame, list[tuple[str, Tensor]]]:
    """table.csv's rows, and the panels of the first image at the middle ratio."""
    rows, panels = [], []
    default, gated = MODELS
    middle = experiment.ratios[len(experiment.ratios) // 2]
    for ratio in experiment.ratios:
        settings = TaskSettings(ratio=ratio, mask=MASK, seed=experiment.seed)
        for index, (name, image) in enumerate(images.items()):
            reference, degraded, mask = degrade(TASK, image, settings)
            result = restore_degraded(TASK, generators[default], degraded, mask, None,
                                      reference, lpips)
            filled = run_model(TASK, generators[gated], degraded, mask, result.baseline)
            outputs = {method_label(TASK, key, default): image_out for key, image_out in (
                ("degraded", result.degraded), ("baseline", result.baseline),
                ("model", result.restored))}
            values = {method_label(TASK, key, default): v for key, v in result.metrics.items()}
            values[method_label(TASK, "model", gated)] = image_metrics(filled, reference, 0,
                                                                       lpips)
            outputs[method_label(TASK, "model", gated)] = filled
            for method, metrics in values.items():
                rows.append({"ratio": ratio, "coverage": float(mask.mean()), "image": name,
                             "method": method, **metrics})
            if index == 0 and ratio == middle:
                panels = [(f"{method}\nPSNR {values[method]['psnr']:.2f} dB", out)
                          for method, out in outputs.items()] + [("reference", reference)]
    return pd.DataFrame(rows), panels


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> dict:
    """Train or load both models, measure them, write the files; returns the tables
    {"table", "summary", "metrics", "trainings"}."""
    if experiment.smoke:
        configure_process(1)
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = resolve_models_dir(experiment.models)
    state = load_backbone_state(experiment.backbone_weights) if experiment.backbone_weights \
        else None
    lpips = LPIPS.from_state(state) if state is not None else None
    notes: list[str] = []
    generators, trainings, configs = {}, [], {}
    for name in MODELS:
        training = experiment.training(name, notes)
        configs[name] = training.to_dict()
        generators[name], row = timed_load_or_train(name, models_dir, training,
                                                    backbone_state=state, log=log)
        trainings.append({"method": VISION_MODELS[name].display_name, **row,
                          "seconds_per_iteration": row["train_seconds"] / training.iterations})
    for note in dict.fromkeys(notes):
        log(note)
    images = {name: load_image(name) for name in TEST_IMAGES}
    if experiment.smoke:
        images = {name: image[:, :96, :128] for name, image in images.items()}
    table, panels = measure(generators, images, experiment, lpips)
    summary = table.groupby(["ratio", "method"], sort=False)[["coverage", *METRICS]].mean()
    summary = summary.reset_index()
    metrics = table.groupby("method", sort=False)[METRICS].mean().reset_index()
    trained = pd.DataFrame(trainings)
    atomic_write(out / "table.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    atomic_write(out / "metrics.csv", lambda tmp: metrics.to_csv(tmp, index=False))
    atomic_write(out / "trainings.csv", lambda tmp: trained.to_csv(tmp, index=False))
    first = next(iter(images))
    middle = experiment.ratios[len(experiment.ratios) // 2]
    save_panels(panels, out / "inpaint.png", f"free-form {middle:.0%}: {first}")
    write_json({"experiment": asdict(experiment), "images": list(images), "mask": MASK,
                "lpips": "vgg16 from file" if lpips is not None else "unavailable",
                "models_dir": str(models_dir), "notes": list(dict.fromkeys(notes)),
                "trainings": configs}, out / "config.json")
    return {"table": table, "summary": summary, "metrics": metrics, "trainings": trained}


def markdown(summary: pd.DataFrame) -> str:
    """PSNR / SSIM (RGB) per coverage (rows) and method (columns)."""
    methods = list(dict.fromkeys(summary["method"]))
    lines = ["| free-form | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for ratio, rows in summary.groupby("ratio", sort=False):
        values = rows.set_index("method")
        cells = [f"{values.loc[m, 'psnr']:.2f} / {values.loc[m, 'ssim']:.3f}" for m in methods]
        lines.append(f"| {ratio:.0%} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command(help=__doc__.splitlines()[0])
@click.option("--ratios", callback=comma_list(float),
              help=f"Free-form mask coverages (comma list) [default: "
                   f"{listed(Experiment.ratios)}].")
@click.option("--seed", type=int, default=None,
              help=f"Seed of the masks [default: {Experiment.seed}].")
@click.option("--smoke", is_flag=True, default=None,
              help="Tiny budgets on image crops, one torch thread (seconds; checks the "
                   "plumbing).")
@click.option("--models", default=None, help="Model cache folder [default: $COMMGAN_MODELS, "
              "else ~/.cache/commgan/models].")
@click.option("--backbone-weights", default=None,
              help="Local VGG16 (+ LPIPS lin layers) weights file; without it LPIPS is "
                   "unavailable.")
@click.option("--train-dir", default=None,
              help="Folder of photographs both GANs train on [default: the shipped training "
                   "images].")
@click.option("--out", default=None, help=f"Output folder [default: {Experiment.out}].")
@config_option
def main(**options) -> None:
    """Build the `Experiment`, run it, print the tables."""
    given = {key: value for key, value in options.items() if value is not None}
    result = run(Experiment(**given))
    click.echo("RGB PSNR (dB) / SSIM, means over the held-out images, free-form masks")
    click.echo(markdown(result["summary"]))
    click.echo(result["trainings"].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
