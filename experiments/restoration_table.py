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
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from commgan.checkpoint import models_dir as resolve_models_dir
from commgan.fileio import atomic_write, write_json
from commgan.vision.data import TEST_IMAGES, load_image
from commgan.vision.degradations import Fade
from commgan.vision.evaluate import TaskSettings, degrade, evaluate_images, restore_degraded
from commgan.vision.perceptual import LPIPS, load_backbone_state
from commgan.vision.report import method_label, side_by_side
from commgan.vision.training import MODELS, load_or_train

FADES = {"default": Fade(),
         "faded-sepia": Fade(desaturation=0.6, sepia=0.7, gamma=1.3, brightness=0.8, lift=0.15),
         "dark": Fade(desaturation=0.3, sepia=0.2, gamma=2.0, brightness=0.55, lift=0.02)}
"""The fadings of the colour rows (inside the training distribution of CR-SRGAN,
`ColourTraining.fade_ranges`); "default" is the one ``commgan restore --task colour`` applies."""
FIGURES = {"sr": "x4", "inpaint": "block 20%", "denoise": "sigma 25", "colour": "default"}
"""The setting of each task drawn side by side in TASK.png."""


@dataclass
class Experiment:
    """What the table measures."""

    ratios: tuple[float, ...] = (0.1, 0.2, 0.3)
    masks: tuple[str, ...] = ("block", "free-form", "block-removal")
    sigmas: tuple[int, ...] = (15, 25, 50)
    seed: int = 0
    smoke: bool = False
    models: str | None = None
    backbone_weights: str | None = None
    out: str = "results/restoration_table"


def _smoke_training(name: str):
    training = MODELS[name]()
    training.iterations, training.warmup = 3, 1
    if name == "restore":
        training.bank = 4
    return training


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


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    """Train or load the models, measure every block, write the files; returns table.csv."""
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
    for name in MODELS:
        start = time.perf_counter()
        generators[name] = load_or_train(
            name, models_dir, _smoke_training(name) if experiment.smoke else None,
            backbone_state=state, log=log)
        train_seconds[name] = time.perf_counter() - start
    tables = []
    for task, label, settings in _settings(experiment):
        model = generators["restore" if task in ("inpaint", "denoise") else task]
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
        model = generators["restore" if task in ("inpaint", "denoise") else task]
        reference, degraded, mask = degrade(task, images[first], settings)
        result = restore_degraded(task, model, degraded, mask,
                                  settings.sigma if task == "denoise" else None, reference, lpips)
        side_by_side(result, out / f"{task}.png", f"{task} ({label}), {first}")
    write_json({"experiment": asdict(experiment), "images": list(images),
                "lpips": "vgg16 from file" if lpips is not None else "unavailable",
                "models_dir": str(models_dir), "load_or_train_seconds": train_seconds,
                "trainings": {name: (_smoke_training(name) if experiment.smoke
                                     else MODELS[name]()).to_dict() for name in MODELS}},
               out / "config.json")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny models on image crops")
    parser.add_argument("--models", default=None, help="model cache folder")
    parser.add_argument("--backbone-weights", default=None,
                        help="local VGG16 (+ LPIPS lin layers) weights file")
    parser.add_argument("--out", default="results/restoration_table")
    args = parser.parse_args()
    experiment = Experiment(models=args.models, backbone_weights=args.backbone_weights,
                            out=args.out, smoke=args.smoke)
    if args.smoke:
        experiment.ratios, experiment.sigmas = (0.2,), (25,)
    table = run(experiment)
    summary = table.groupby(["task", "setting", "method"], sort=False)[
        ["psnr", "ssim", "psnr_y", "ssim_y"]].mean()
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
