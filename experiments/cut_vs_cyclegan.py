"""CUT vs CycleGAN on the unpaired colour task: quality on held-out images and cost per iteration.

Both are trained (or loaded from the model cache) with their default configs: the same unpaired
faded/clean patches (`commgan.vision.models.cyclegan.UnpairedSource`), the same U-Net generator
and PatchGAN, LSGAN losses, 1500 iterations of 8 + 8 patches of 64x64. CycleGAN: two
generators, two discriminators, cycle + identity L1. CUT: one generator (+ projection heads),
one discriminator, PatchNCE + identity PatchNCE.

Measured, every output rounded to 8 bits:

- quality: the held-out astronaut, coffee and chelsea images under the three fadings of
  experiments/translation_table.py (default, faded-sepia, dark), and a fresh image that no
  configuration was chosen on (matplotlib's Grace Hopper photograph; column ``images``); rows
  the faded input, white balance + contrast stretch, CycleGAN, CUT; PSNR/SSIM in RGB and on Y,
  LPIPS with ``--backbone-weights`` (else NaN, "unavailable");
- cost: seconds per training iteration of each game, measured in interleaved blocks in this
  process (``--timing-blocks`` blocks of ``--timing-iterations`` each, medians of the
  per-iteration times), and the wall clock of the default trainings (the model cache's record
  of them) with the load average around each.

Writes, under --out (default results/cut_vs_cyclegan/): table.csv (one row per image, setting
and method), summary.csv (means), timing.csv, metrics.csv (one row per method: the means over
the held-out images and the three fadings), colour.png and fresh.png (side by side) and
config.json; prints the markdown tables.

    python experiments/cut_vs_cyclegan.py            # trains missing models (~20 min)
    python experiments/cut_vs_cyclegan.py --smoke    # seconds: tiny budgets, crops
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import matplotlib
import pandas as pd
import torch
from torch import Tensor

from commgan.checkpoint import models_dir as resolve_models_dir
from commgan.configfile import config_option
from commgan.fileio import atomic_write, write_json
from commgan.parallel import configure_process
from commgan.vision.data import TEST_IMAGES, load_image, read_image
from commgan.vision.degradations import Fade, TaskSettings
from commgan.vision.models.cache import timed_load_or_train
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import seconds_per_iteration
from commgan.vision.perceptual import LPIPS, load_backbone_state
from commgan.vision.translate.report import side_by_side
from commgan.vision.translate.run import translate_image
from commgan.vision.translate.tasks import TRANSLATION_TASKS, method_name

TASK = "colour"
METHODS = ("cyclegan", "cut")
"""``--model`` names on the colour task: the baseline first."""
FADES = {"default": Fade(),
         "faded-sepia": Fade(desaturation=0.6, sepia=0.7, gamma=1.3, brightness=0.8, lift=0.15),
         "dark": Fade(desaturation=0.3, sepia=0.2, gamma=2.0, brightness=0.55, lift=0.02)}
"""The fadings of experiments/translation_table.py (inside the training distribution)."""
FRESH_IMAGE = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
"""A photograph no configuration was chosen on, reported apart."""
METRICS = ["psnr", "ssim", "psnr_y", "ssim_y", "lpips"]


@dataclass
class Experiment:
    """What the comparison measures and where it goes (saved as config.json)."""

    smoke: bool = False
    """Tiny budgets on image crops, one torch thread (seconds; the numbers mean nothing)."""
    models: str | None = None
    """Model cache folder; None = `commgan.checkpoint.default_models_dir`."""
    backbone_weights: str | None = None
    """Local VGG16 (+ LPIPS lin layers) weights file; None = LPIPS unavailable."""
    timing_blocks: int = 3
    """Interleaved timing blocks per game."""
    timing_iterations: int = 20
    """Iterations per timing block (the first two of a block are not counted)."""
    out: str = "results/cut_vs_cyclegan"
    """Output folder."""


def _training(experiment: Experiment, key: str):
    training = VISION_MODELS[key].training()
    return training.smoke() if experiment.smoke else training


def time_iterations(experiment: Experiment, log: Callable[[str], None]) -> pd.DataFrame:
    """Seconds per iteration of each game: blocks of `Experiment.timing_iterations` from the
    default config, the games interleaved block by block; per block the median of the
    per-iteration times after the first two. Columns block, method, seconds_per_iteration."""
    rows = []
    for block in range(experiment.timing_blocks):
        for method in METHODS:
            key = TRANSLATION_TASKS[TASK].model_key(method)
            seconds = seconds_per_iteration(VISION_MODELS[key], _training(experiment, key),
                                            experiment.timing_iterations)
            rows.append({"block": block, "method": method_name(method),
                         "seconds_per_iteration": seconds})
            log(f"timing block {block}: {method_name(method)} "
                f"{rows[-1]['seconds_per_iteration']:.3f} s/iteration")
    return pd.DataFrame(rows)


def measure(generators: dict, images: dict[str, Tensor], lpips: LPIPS | None
            ) -> tuple[pd.DataFrame, dict]:
    """table.csv's rows for every image and fading, and the translations of the first image
    (default fading) and of the fresh one, for the figures."""
    rows, figures = [], {}
    for label, fade in FADES.items():
        for name, image in images.items():
            result = translate_image(TASK, generators, image, TaskSettings(fade=fade))
            outputs = {"input": result.degraded,
                       TRANSLATION_TASKS[TASK].baseline_name: result.baseline,
                       **{method_name(m): out for m, out in result.outputs.items()}}
            for method, values in result.metrics.items():
                if lpips is not None:
                    with torch.no_grad():
                        values["lpips"] = float(lpips(outputs[method].unsqueeze(0),
                                                      image.unsqueeze(0)))
                rows.append({"images": "held-out" if name in TEST_IMAGES else "fresh",
                             "image": name, "setting": label, "method": method, **values})
            if label == "default":
                figures.setdefault("fresh" if name not in TEST_IMAGES else TASK, result)
    return pd.DataFrame(rows), figures


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> dict:
    """Train or load both models, time them, measure them, write the files; returns the
    tables {"table", "summary", "timing", "trainings"}."""
    if experiment.smoke:
        configure_process(1)
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = resolve_models_dir(experiment.models)
    state = load_backbone_state(experiment.backbone_weights) if experiment.backbone_weights \
        else None
    lpips = LPIPS.from_state(state) if state is not None else None
    generators, trainings = {}, []
    for method in METHODS:
        key = TRANSLATION_TASKS[TASK].model_key(method)
        training = _training(experiment, key)
        generators[method], row = timed_load_or_train(key, models_dir, training, log=log)
        trainings.append({"method": method_name(method), **row})
    timing = time_iterations(experiment, log)
    images = {name: load_image(name) for name in TEST_IMAGES}
    images[FRESH_IMAGE.stem] = read_image(FRESH_IMAGE)
    if experiment.smoke:
        images = {name: image[:, :96, :128] for name, image in images.items()}
    table, figures = measure(generators, images, lpips)
    summary = (table.groupby(["images", "setting", "method"], sort=False)[METRICS].mean()
               .reset_index())
    held_out = table[table["images"] == "held-out"]
    metrics = held_out.groupby("method", sort=False)[METRICS].mean().reset_index()
    trained = pd.DataFrame(trainings)
    per_iteration = timing.groupby("method", sort=False)["seconds_per_iteration"].median()
    trained["seconds_per_iteration"] = trained["method"].map(per_iteration)
    atomic_write(out / "table.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    atomic_write(out / "metrics.csv", lambda tmp: metrics.to_csv(tmp, index=False))
    atomic_write(out / "timing.csv", lambda tmp: timing.to_csv(tmp, index=False))
    atomic_write(out / "trainings.csv", lambda tmp: trained.to_csv(tmp, index=False))
    for name, result in figures.items():
        side_by_side(result, out / f"{name}.png", f"colour (default fading): {name}")
    write_json({"experiment": asdict(experiment), "images": list(images),
                "fades": {label: fade.to_dict() for label, fade in FADES.items()},
                "lpips": "vgg16 from file" if lpips is not None else "unavailable",
                "models_dir": str(models_dir),
                "trainings": {method: _training(experiment, TRANSLATION_TASKS[TASK]
                                                .model_key(method)).to_dict()
                              for method in METHODS}}, out / "config.json")
    return {"table": table, "summary": summary, "timing": timing, "trainings": trained}


def markdown(summary: pd.DataFrame) -> str:
    """PSNR / SSIM (RGB) per image set and fading (rows) and method (columns)."""
    methods = list(dict.fromkeys(summary["method"]))
    lines = ["| images | fading | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for (images, setting), rows in summary.groupby(["images", "setting"], sort=False):
        values = rows.set_index("method")
        cells = [f"{values.loc[m, 'psnr']:.2f} / {values.loc[m, 'ssim']:.3f}" for m in methods]
        lines.append(f"| {images} | {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command(help=__doc__.splitlines()[0])
@click.option("--smoke", is_flag=True, default=None,
              help="Tiny budgets on image crops, one torch thread (seconds; checks the "
                   "plumbing).")
@click.option("--models", default=None, help="Model cache folder [default: $COMMGAN_MODELS, "
              "else ~/.cache/commgan/models].")
@click.option("--backbone-weights", default=None,
              help="Local VGG16 (+ LPIPS lin layers) weights file; without it LPIPS is "
                   "unavailable.")
@click.option("--timing-blocks", type=click.IntRange(1, 100), default=None,
              help=f"Interleaved timing blocks per game [default: {Experiment.timing_blocks}].")
@click.option("--timing-iterations", type=click.IntRange(3, 10_000), default=None,
              help="Iterations per timing block [default: "
                   f"{Experiment.timing_iterations}].")
@click.option("--out", default=None, help=f"Output folder [default: {Experiment.out}].")
@config_option
def main(**options) -> None:
    """Build the `Experiment`, run it, print the tables."""
    given = {key: value for key, value in options.items() if value is not None}
    if given.get("smoke"):
        given = {"timing_blocks": 1, "timing_iterations": 3, **given}
    result = run(Experiment(**given))
    click.echo("RGB PSNR (dB) / SSIM: means over the held-out images, and the fresh image")
    click.echo(markdown(result["summary"]))
    click.echo(result["trainings"].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
