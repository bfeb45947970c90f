"""SPADE vs pix2pix on the same label maps (labels2photo): quality, style diversity and cost.

Both are trained (or loaded from the model cache) with their default configs on the label maps
of the training images (`commgan.vision.labels`, 8 colour/texture classes): SPADE
(`commgan.vision.models.spade.SPADE_LABELS`: SPADE generator with a style encoder, two-scale
hinge PatchGAN, feature matching + L1 + KL, 1200 iterations of 8 patches of 64x64) and pix2pix
(`PIX2PIX_LABELS`: U-Net, PatchGAN, pix2pix's loss, 2000 iterations of 16 patches of 64x64).
Classical baseline: each class painted with its mean colour over the training images.

Measured, every output rounded to 8 bits:

- quality: the label maps of the held-out astronaut, coffee and chelsea images, and of a fresh
  image that no configuration was chosen on (matplotlib's Grace Hopper photograph; column
  ``images``); rows the label map itself ("input"), the class mean colours, pix2pix, SPADE (its
  mean style z = 0); PSNR/SSIM in RGB and on Y, LPIPS with ``--backbone-weights`` (else NaN,
  "unavailable");
- style diversity: per label map, the mean pairwise distance between the photos SPADE draws with
  ``--styles`` styles z ~ N(0, I) (seeded; `commgan.vision.models.spade.style_diversity`), as
  the mean absolute RGB difference in [0, 1] units (``diversity_l1``, always) and as LPIPS
  (``diversity_lpips``, with the backbone file). pix2pix and the baseline have no style input:
  their diversity columns are NaN (not measured);
- cost: seconds per training iteration of each game, measured in interleaved blocks in this
  process (``--timing-blocks`` blocks of ``--timing-iterations``, medians of the per-iteration
  times), and the wall clock of the default trainings (the model cache's record of them) with
  the load average around each.

Writes, under --out (default results/spade_vs_pix2pix/): table.csv (one row per image and
method), summary.csv (means per image set), metrics.csv (one row per method: means over the
held-out images), timing.csv, trainings.csv, labels2photo.png and fresh.png (side by side),
styles.png (SPADE's styles of the first map) and config.json; prints the markdown tables.

    python experiments/spade_vs_pix2pix.py            # trains missing models
    python experiments/spade_vs_pix2pix.py --smoke    # seconds: tiny budgets, crops
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import matplotlib
import numpy as np
import pandas as pd
import torch
from torch import Tensor

from commgan.checkpoint import models_dir as resolve_models_dir
from commgan.configfile import config_option
from commgan.fileio import atomic_write, write_json
from commgan.parallel import configure_process
from commgan.vision.data import TEST_IMAGES, load_image, quantize, read_image
from commgan.vision.figures import save_panels
from commgan.vision.models.cache import timed_load_or_train
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.spade import style_diversity
from commgan.vision.models.training import seconds_per_iteration
from commgan.vision.perceptual import LPIPS, load_backbone_state
from commgan.vision.translate.report import side_by_side
from commgan.vision.translate.run import translate_image
from commgan.vision.translate.tasks import TRANSLATION_TASKS, method_name

TASK = "labels2photo"
METHODS = ("pix2pix", "spade")
"""``--model`` names on the labels2photo task: the baseline first."""
STYLED = "spade"
"""The method with a style input (the one whose diversity is measured)."""
FRESH_IMAGE = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
"""A photograph no configuration was chosen on, reported apart."""
METRICS = ["psnr", "ssim", "psnr_y", "ssim_y", "lpips", "diversity_l1", "diversity_lpips"]


@dataclass
class Experiment:
    """What the comparison measures and where it goes (saved as config.json)."""

    smoke: bool = False
    """Tiny budgets on image crops, one torch thread (seconds; the numbers mean nothing)."""
    models: str | None = None
    """Model cache folder; None = `commgan.checkpoint.default_models_dir`."""
    backbone_weights: str | None = None
    """Local VGG16 (+ LPIPS lin layers) weights file; None = LPIPS unavailable."""
    styles: int = 4
    """Styles z ~ N(0, I) drawn per label map for the diversity."""
    seed: int = 0
    """Seed of the styles."""
    timing_blocks: int = 3
    """Interleaved timing blocks per game."""
    timing_iterations: int = 20
    """Iterations per timing block (the first two of a block are not counted)."""
    out: str = "results/spade_vs_pix2pix"
    """Output folder."""


def _training(experiment: Experiment, key: str):
    training = VISION_MODELS[key].training()
    return training.smoke() if experiment.smoke else training


def rgb_l1(first: Tensor, second: Tensor) -> Tensor:
    """Mean absolute RGB difference per image pair ([B, 3, H, W] twice, [0, 1]) -> [B]."""
    return (first - second).abs().flatten(1).mean(1)


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


def measure(generators: dict, images: dict[str, Tensor], lpips: LPIPS | None, styles: int,
            seed: int) -> tuple[pd.DataFrame, dict]:
    """table.csv's rows for every image, and the translations of the first held-out image and
    of the fresh one, for the figures."""
    rows, figures = [], {}
    for name, image in images.items():
        result = translate_image(TASK, generators, image)
        outputs = {"input": result.degraded,
                   TRANSLATION_TASKS[TASK].baseline_name: result.baseline,
                   **{method_name(m): out for m, out in result.outputs.items()}}
        diversity = {"diversity_l1": style_diversity(generators[STYLED], result.degraded,
                                                     rgb_l1, styles, seed),
                     "diversity_lpips": style_diversity(generators[STYLED], result.degraded,
                                                        lpips, styles, seed)
                     if lpips is not None else float("nan")}
        for method, values in result.metrics.items():
            if lpips is not None:
                with torch.no_grad():
                    values["lpips"] = float(lpips(outputs[method].unsqueeze(0),
                                                  image.unsqueeze(0)))
            styled = method == method_name(STYLED)
            rows.append({"images": "held-out" if name in TEST_IMAGES else "fresh",
                         "image": name, "method": method, **values,
                         **{k: v if styled else float("nan") for k, v in diversity.items()}})
        figures.setdefault("fresh" if name not in TEST_IMAGES else TASK, result)
    return pd.DataFrame(rows), figures


def style_panels(generator, labels: Tensor, styles: int, seed: int) -> list[tuple[str, Tensor]]:
    """The label map and SPADE's photos of it for z = 0 and ``styles`` seeded z ~ N(0, I)
    (the draws of `style_diversity`), 8-bit rounded."""
    z = torch.randn(styles, generator.config.z_dim,
                    generator=torch.Generator().manual_seed(seed))
    z = torch.cat([torch.zeros(1, z.shape[1]), z])
    with torch.no_grad():
        photos = generator(labels.unsqueeze(0).expand(len(z), -1, -1, -1), z)
    captions = ["z = 0"] + [f"style {i + 1}" for i in range(styles)]
    return [("label map", labels)] + [(c, quantize(p)) for c, p in zip(captions, photos,
                                                                         strict=True)]


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> dict:
    """Train or load both models, time them, measure them, write the files; returns the
    tables {"table", "summary", "metrics", "timing", "trainings"}."""
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
    table, figures = measure(generators, images, lpips, experiment.styles, experiment.seed)
    summary = table.groupby(["images", "method"], sort=False)[METRICS].mean().reset_index()
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
        side_by_side(result, out / f"{name}.png", f"labels2photo: {name}")
    first = figures[TASK]
    save_panels(style_panels(generators[STYLED], first.degraded, experiment.styles,
                             experiment.seed), out / "styles.png", "SPADE: styles of one map")
    write_json({"experiment": asdict(experiment), "images": list(images),
                "lpips": "vgg16 from file" if lpips is not None else "unavailable",
                "diversity": {"diversity_l1": "mean absolute RGB difference, [0, 1] units",
                              "diversity_lpips": "LPIPS" if lpips is not None
                              else "unavailable"},
                "models_dir": str(models_dir),
                "trainings": {method: _training(experiment, TRANSLATION_TASKS[TASK]
                                                .model_key(method)).to_dict()
                              for method in METHODS}}, out / "config.json")
    return {"table": table, "summary": summary, "metrics": metrics, "timing": timing,
            "trainings": trained}


def markdown(summary: pd.DataFrame) -> str:
    """PSNR / SSIM (RGB), LPIPS and the L1 style diversity per image set and method."""
    lines = ["| images | method | PSNR (dB) | SSIM | LPIPS | diversity (RGB L1) |",
             "|---|---|---|---|---|---|"]
    for row in summary.itertuples():
        lpips = "unavailable" if np.isnan(row.lpips) else f"{row.lpips:.3f}"
        diversity = "" if np.isnan(row.diversity_l1) else f"{row.diversity_l1:.4f}"
        lines.append(f"| {row.images} | {row.method} | {row.psnr:.2f} | {row.ssim:.3f} | "
                     f"{lpips} | {diversity} |")
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
@click.option("--styles", type=click.IntRange(2, 64), default=None,
              help=f"Styles per label map for the diversity [default: {Experiment.styles}].")
@click.option("--seed", type=int, default=None,
              help=f"Seed of the styles [default: {Experiment.seed}].")
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
    click.echo("Means over the held-out images, and the fresh image (SPADE at z = 0; its "
               "diversity over the styles)")
    click.echo(markdown(result["summary"]))
    click.echo(result["trainings"].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
