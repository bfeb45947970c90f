"""Real-ESRGAN x4 (second-order degradations) vs the bicubic-trained SRGAN x4 on degradations
that neither saw in training.

Models (trained on the training images or loaded from the model cache, default budgets):
SRGAN x4 (bicubic pairs, MSE + 1e-3 adversarial), Real-ESRGAN x4 (second-order degradations,
L1 + perceptual + 0.1 adversarial, the same generator) and, as an ablation of the data, the same
Real-ESRGAN trained on SRGAN's bicubic pairs (``--no-ablation`` leaves it out). Classical
baseline: bicubic up-sampling of the degraded input.

Inputs: the held-out astronaut, coffee and chelsea images, and a fresh image no setting was
chosen on (matplotlib's Grace Hopper photograph; column ``images``), each degraded by every
`commgan.vision.real_degradations.UNSEEN_DEGRADATIONS` setting (bicubic is SRGAN's own
training input; the others are outside both trainings) and by one draw of the second-order
pipeline (Real-ESRGAN's training distribution, seed per image). Metrics on Y (BT.601) and RGB
with a 4-pixel border crop, every output rounded to 8 bits; LPIPS with ``--backbone-weights``
(else NaN, "unavailable").

Writes, under --out (default results/real_esrgan_vs_srgan/): table.csv (one row per image,
setting and method), summary.csv (means), metrics.csv (one row per method: means over the
held-out images and the unseen settings), trainings.csv (wall clock, load), one PNG per setting
(first image side by side, e.g. jpeg-15.png) and config.json; prints the markdown table.

    python experiments/real_esrgan_vs_srgan.py            # trains missing models (~20 min)
    python experiments/real_esrgan_vs_srgan.py --smoke    # seconds: tiny budgets, crops
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import click
import matplotlib
import pandas as pd
import torch
from torch import Tensor, nn

from commgan.checkpoint import models_dir as resolve_models_dir
from commgan.configfile import config_option
from commgan.fileio import atomic_write, write_json
from commgan.parallel import configure_process
from commgan.vision.baselines import bicubic_upsample
from commgan.vision.data import TEST_IMAGES, load_image, quantize, read_image
from commgan.vision.degradations import crop_to_multiple
from commgan.vision.figures import save_panels
from commgan.vision.metrics import image_metrics
from commgan.vision.models.cache import timed_load_or_train
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.perceptual import LPIPS, load_backbone_state
from commgan.vision.real_degradations import UNSEEN_DEGRADATIONS, SecondOrder, second_order

SCALE = 4
PIPELINE = "second-order draw"
"""Label of the setting drawn from Real-ESRGAN's training pipeline."""
MODELS = {"SRGAN x4": ("sr", {}),
          "Real-ESRGAN x4": ("real-esrgan", {}),
          "Real-ESRGAN x4, bicubic data": ("real-esrgan", {"degradation": "bicubic"})}
"""Method -> (model record, changes to its default training config)."""
ABLATION = "Real-ESRGAN x4, bicubic data"
FRESH_IMAGE = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
"""A photograph no setting was chosen on, reported apart."""
METRICS = ["psnr_y", "ssim_y", "psnr", "ssim", "lpips"]


@dataclass
class Experiment:
    """What the comparison measures and where it goes (saved as config.json)."""

    smoke: bool = False
    """Tiny budgets on image crops, one torch thread (seconds; the numbers mean nothing)."""
    models: str | None = None
    """Model cache folder; None = `commgan.checkpoint.default_models_dir`."""
    backbone_weights: str | None = None
    """Local VGG16 (+ LPIPS lin layers) weights file; None = LPIPS unavailable (also the
    perceptual term then uses the filter-bank substitute)."""
    seed: int = 0
    """Seed of the noise of the fixed settings and of the second-order draws."""
    out: str = "results/real_esrgan_vs_srgan"
    """Output folder."""
    ablation: bool = True
    """Also train and measure Real-ESRGAN on SRGAN's bicubic pairs (the data ablation)."""

    @property
    def methods(self) -> list[str]:
        """The methods measured: every one of `MODELS`, or all but the ablation."""
        return [m for m in MODELS if self.ablation or m != ABLATION]

    def training(self, method: str):
        """The training config of ``method``: its default (or smoke) budget and changes."""
        key, changes = MODELS[method]
        training = replace(VISION_MODELS[key].training(), **changes)
        return training.smoke() if self.smoke else training


def slug(label: str) -> str:
    """A file name stem for a setting's label: "defocus r3 + JPEG 40" -> "defocus-r3-jpeg-40"."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def degraded_inputs(reference: Tensor, index: int, seed: int) -> dict[str, Tensor]:
    """The x4 input [3, H/4, W/4] of ``reference`` [3, H, W] under every setting."""
    inputs = {d.label: d(reference, SCALE, seed + index) for d in UNSEEN_DEGRADATIONS}
    generator = torch.Generator().manual_seed(seed * 1000 + index)
    inputs[PIPELINE] = second_order(reference, SCALE, SecondOrder(), generator)
    return inputs


def super_resolve(model: nn.Module, low: Tensor) -> Tensor:
    """G(low [3, h, w]) -> [3, 4h, 4w], 8-bit rounded."""
    with torch.no_grad():
        return quantize(model(low.unsqueeze(0))[0])


def measure(generators: dict[str, nn.Module], images: dict[str, Tensor], seed: int,
            lpips: LPIPS | None) -> tuple[pd.DataFrame, dict[str, list]]:
    """table.csv's rows, and the panels of the first image per setting."""
    rows, panels = [], {}
    for index, (name, image) in enumerate(images.items()):
        reference = crop_to_multiple(image, SCALE)
        for label, low in degraded_inputs(reference, index, seed).items():
            outputs = {"bicubic": bicubic_upsample(low, SCALE),
                       **{method: super_resolve(g, low) for method, g in generators.items()}}
            for method, output in outputs.items():
                values = image_metrics(output, reference, SCALE, lpips)
                rows.append({"images": "held-out" if name in TEST_IMAGES else "fresh",
                             "image": name, "setting": label,
                             "unseen": label not in ("bicubic", PIPELINE), "method": method,
                             **values})
            if index == 0:
                panels[label] = [(f"{method}\nPSNR(Y) {rows[-len(outputs) + i]['psnr_y']:.2f}",
                                  output) for i, (method, output) in enumerate(outputs.items())]
    return pd.DataFrame(rows), panels


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> dict:
    """Train or load the models, measure them, write the files; returns the tables
    {"table", "summary", "metrics", "trainings"}."""
    if experiment.smoke:
        configure_process(1)
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = resolve_models_dir(experiment.models)
    state = load_backbone_state(experiment.backbone_weights) if experiment.backbone_weights \
        else None
    lpips = LPIPS.from_state(state) if state is not None else None
    generators, trainings = {}, []
    for method in experiment.methods:
        key, training = MODELS[method][0], experiment.training(method)
        generators[method], row = timed_load_or_train(key, models_dir, training,
                                                      backbone_state=state, log=log)
        trainings.append({"method": method, **row})
    images = {name: load_image(name) for name in TEST_IMAGES}
    images[FRESH_IMAGE.stem] = read_image(FRESH_IMAGE)
    if experiment.smoke:
        images = {name: image[:, :96, :128] for name, image in images.items()}
    table, panels = measure(generators, images, experiment.seed, lpips)
    summary = (table.groupby(["images", "setting", "method"], sort=False)[METRICS].mean()
               .reset_index())
    unseen = table[(table["images"] == "held-out") & table["unseen"]]
    metrics = unseen.groupby("method", sort=False)[METRICS].mean().reset_index()
    trained = pd.DataFrame(trainings)
    atomic_write(out / "table.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    atomic_write(out / "metrics.csv", lambda tmp: metrics.to_csv(tmp, index=False))
    atomic_write(out / "trainings.csv", lambda tmp: trained.to_csv(tmp, index=False))
    first = next(iter(images))
    for label, row in panels.items():
        reference = crop_to_multiple(images[first], SCALE)
        save_panels([*row, ("reference", reference)], out / f"{slug(label)}.png",
                    f"x4 SR of {first}: {label}")
    write_json({"experiment": asdict(experiment), "images": list(images),
                "settings": [asdict(d) for d in UNSEEN_DEGRADATIONS] + [PIPELINE],
                "lpips": "vgg16 from file" if lpips is not None else "unavailable",
                "models_dir": str(models_dir),
                "trainings": {m: experiment.training(m).to_dict() for m in experiment.methods}},
               out / "config.json")
    return {"table": table, "summary": summary, "metrics": metrics, "trainings": trained}


def markdown(summary: pd.DataFrame) -> str:
    """PSNR(Y) / SSIM(Y) per image set and setting (rows) and method (columns)."""
    methods = list(dict.fromkeys(summary["method"]))
    lines = ["| images | setting | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for (images, setting), rows in summary.groupby(["images", "setting"], sort=False):
        values = rows.set_index("method")
        cells = [f"{values.loc[m, 'psnr_y']:.2f} / {values.loc[m, 'ssim_y']:.3f}"
                 for m in methods]
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
@click.option("--seed", type=int, default=None,
              help=f"Seed of the test noise and draws [default: {Experiment.seed}].")
@click.option("--out", default=None, help=f"Output folder [default: {Experiment.out}].")
@click.option("--ablation/--no-ablation", default=None,
              help="Also train and measure Real-ESRGAN on bicubic pairs [default: yes].")
@config_option
def main(**options) -> None:
    """Build the `Experiment`, run it, print the tables."""
    given = {key: value for key, value in options.items() if value is not None}
    result = run(Experiment(**given))
    click.echo("PSNR(Y) (dB) / SSIM(Y), 4-pixel border crop: means over the held-out images, "
               "and the fresh image")
    click.echo(markdown(result["summary"]))
    click.echo(result["trainings"].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
