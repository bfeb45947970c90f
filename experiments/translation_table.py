"""pix2pix and CycleGAN vs the input and a classical baseline on the held-out images.

Every model is trained on the training images only (or loaded from the model cache) and measured
on the held-out astronaut, coffee and chelsea images (RGB PSNR / SSIM, and on BT.601 Y), and on
a fresh image that no configuration was chosen on (`FRESH_IMAGE`, matplotlib's Grace Hopper
photograph, 600x512; reported apart, column ``images``):

- colour: the three fadings of the restoration table (default, faded-sepia, dark) at full
  resolution; rows: the faded input, white balance + contrast stretch, pix2pix (paired) and
  CycleGAN (unpaired);
- edges2photo: Canny edges -> photo; rows: the edge map, the edge/non-edge mean colours of the
  training images, pix2pix.

Writes, under --out (default results/translation_table/): table.csv (one row per task,
setting, image and method), summary.csv (means over the images), summary.png (the means as
bars), TASK.png (side by side, first image, first setting) and config.json (the trainings, their
training times); prints the means as a markdown table.

    python experiments/translation_table.py             # trains missing models (~17 min)
    python experiments/translation_table.py --smoke     # seconds: tiny models, crops
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from torch import Tensor  # noqa: E402

from commgan.checkpoint import checkpoint_paths  # noqa: E402
from commgan.checkpoint import models_dir as resolve_models_dir  # noqa: E402
from commgan.configfile import config_option  # noqa: E402
from commgan.fileio import atomic_write, write_json  # noqa: E402
from commgan.parallel import configure_process  # noqa: E402
from commgan.vision.data import TEST_IMAGES, load_image, read_image  # noqa: E402
from commgan.vision.degradations import Fade, TaskSettings  # noqa: E402
from commgan.vision.models.cache import cache_stem, load_or_train  # noqa: E402
from commgan.vision.models.record import VisionTraining  # noqa: E402
from commgan.vision.models.registry import VISION_MODELS  # noqa: E402
from commgan.vision.translate.report import side_by_side  # noqa: E402
from commgan.vision.translate.run import evaluate_translation, translate_image  # noqa: E402
from commgan.vision.translate.tasks import TRANSLATION_TASKS  # noqa: E402

FADES = {"default": Fade(),
         "faded-sepia": Fade(desaturation=0.6, sepia=0.7, gamma=1.3, brightness=0.8, lift=0.15),
         "dark": Fade(desaturation=0.3, sepia=0.2, gamma=2.0, brightness=0.55, lift=0.02)}
"""The fadings of the colour rows (those of experiments/restoration_table.py, inside the
training distribution); "default" is the one ``commgan translate --task colour`` applies."""
SETTINGS: dict[str, dict[str, TaskSettings]] = {
    "colour": {label: TaskSettings(fade=params) for label, params in FADES.items()},
    "edges2photo": {"canny": TaskSettings()},
}
"""Task -> setting label -> degradation settings."""
FRESH_IMAGE = "grace_hopper.jpg"
"""A photograph shipped with matplotlib (its sample data), measured apart from the held-out
images: the colour models' configurations were compared on those, never on this one."""


def fresh_image() -> Tensor:
    """`FRESH_IMAGE` as [3, H, W] in [0, 1]."""
    return read_image(Path(matplotlib.get_data_path()) / "sample_data" / FRESH_IMAGE)


@dataclass
class Experiment:
    """What the table measures and where it goes (saved as config.json)."""

    smoke: bool = False
    """Tiny models on image crops, one torch thread (seconds; checks the plumbing, the numbers
    mean nothing)."""
    models: str | None = None
    """Model cache folder; None = `commgan.checkpoint.default_models_dir`."""
    out: str = "results/translation_table"
    """Output folder."""

    def training(self, key: str) -> VisionTraining:
        """The training config of model ``key``: the shipped budget, or the smoke budget."""
        training = VISION_MODELS[key].training()
        return training.smoke() if self.smoke else training


def _sidecar(key: str, models_dir: Path, training: VisionTraining) -> dict:
    """The cached checkpoint's JSON (training time, threads, final losses), or {}."""
    meta = checkpoint_paths(cache_stem(key, models_dir, training))[1]
    return json.loads(meta.read_text()) if meta.exists() else {}


def _summary_figure(summary: pd.DataFrame, path: Path) -> None:
    """Bars of the mean PSNR and SSIM per task/setting (groups) and method (bars)."""
    groups = list(dict.fromkeys(zip(summary["task"], summary["setting"], strict=True)))
    colours = {method: f"C{i}" for i, method in enumerate(dict.fromkeys(summary["method"]))}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, metric in zip(axes, ("psnr", "ssim"), strict=True):
        for g, (task, setting) in enumerate(groups):
            rows = summary[(summary["task"] == task) & (summary["setting"] == setting)]
            width = 0.8 / len(rows)
            for i, (method, value) in enumerate(zip(rows["method"], rows[metric], strict=True)):
                ax.bar(g + (i - (len(rows) - 1) / 2) * width, value, width,
                       color=colours[method],
                       label=method)
        ax.set_xticks(range(len(groups)), [f"{t}\n{s}" for t, s in groups])
        ax.set_ylabel({"psnr": "PSNR (dB)", "ssim": "SSIM"}[metric])
        ax.set_title(f"mean {metric.upper()} over the held-out images")
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize=8)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> pd.DataFrame:
    """Train or load the models, measure every task and setting, write the files; returns
    table.csv."""
    if experiment.smoke:
        configure_process(1)  # small tensors: a second thread only adds waiting beside other jobs
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = resolve_models_dir(experiment.models)
    images = {name: load_image(name) for name in TEST_IMAGES}
    images[Path(FRESH_IMAGE).stem] = fresh_image()
    if experiment.smoke:
        images = {name: image[:, :96, :128] for name, image in images.items()}
    tables, trainings = [], {}
    for task in SETTINGS:  # the tasks of this table; others have their own experiments
        spec = TRANSLATION_TASKS[task]
        generators = {}
        for method, key in spec.models.items():
            training = experiment.training(key)
            start = time.perf_counter()
            generators[method] = load_or_train(key, models_dir, training, log=log)
            trainings[key] = {"config": training.to_dict(),
                              "load_or_train_seconds": time.perf_counter() - start,
                              "checkpoint": _sidecar(key, models_dir, training)}
        for label, settings in SETTINGS[task].items():
            table = evaluate_translation(task, generators, images, settings)
            table.insert(1, "setting", label)
            tables.append(table)
        first = next(iter(images))
        label, settings = next(iter(SETTINGS[task].items()))
        result = translate_image(task, generators, images[first], settings)
        side_by_side(result, out / f"{task}.png", f"{task} ({label}), {first}")
    table = pd.concat(tables, ignore_index=True)
    table.insert(2, "images", ["held-out" if name in TEST_IMAGES else "fresh"
                               for name in table["image"]])
    baselines = {spec.baseline_name for spec in TRANSLATION_TASKS.values()}
    table["role"] = ["baseline" if m in baselines else m for m in table["method"]]
    summary = (table.groupby(["images", "task", "setting", "method"], sort=False)
               [["psnr", "ssim", "psnr_y", "ssim_y"]].mean().reset_index())
    held_out = summary[summary["images"] == "held-out"]
    summary_roles = held_out.assign(method=[
        "baseline" if m in baselines else m for m in held_out["method"]])
    atomic_write(out / "table.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False))
    _summary_figure(summary_roles, out / "summary.png")
    write_json({"experiment": asdict(experiment), "images": list(images),
                "settings": {task: {label: s.fade.to_dict() if task == "colour" else {}
                                    for label, s in by_label.items()}
                             for task, by_label in SETTINGS.items()},
                "models_dir": str(models_dir), "trainings": trainings}, out / "config.json")
    return table


def markdown(table: pd.DataFrame) -> str:
    """The means over the held-out images, then the fresh image (PSNR / SSIM, RGB) as a markdown
    table, one row per image set, task and setting, one column per method."""
    summary = table.groupby(["images", "task", "setting", "role"], sort=False)[
        ["psnr", "ssim"]].mean()
    roles = list(dict.fromkeys(table["role"]))
    lines = ["| images | task | setting | " + " | ".join(roles) + " |",
             "|---|---|---|" + "---|" * len(roles)]
    groups = sorted(summary.groupby(level=[0, 1, 2], sort=False),
                    key=lambda group: group[0][0] != "held-out")  # stable: held-out first
    for (images, task, setting), rows in groups:
        cells = []
        for role in roles:
            key = (images, task, setting, role)
            cells.append(f"{rows.loc[key, 'psnr']:.2f} / {rows.loc[key, 'ssim']:.3f}"
                         if key in rows.index else "")
        lines.append(f"| {images} | {task} | {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command(help=__doc__.splitlines()[0])
@click.option("--smoke", is_flag=True, default=None,
              help="Tiny budgets on image crops, one torch thread (seconds; checks the "
                   "plumbing).")
@click.option("--models", default=None, help="Model cache folder [default: $COMMGAN_MODELS, "
              "else ~/.cache/commgan/models].")
@click.option("--out", default=None, help=f"Output folder [default: {Experiment.out}].")
@config_option
def main(**options) -> None:
    """Build the `Experiment`, run it, print the means (PSNR dB / SSIM, RGB) as markdown."""
    given = {key: value for key, value in options.items() if value is not None}
    table = run(Experiment(**given))
    click.echo("RGB PSNR (dB) / SSIM, mean over the held-out images and on the fresh one; "
               "'baseline' is the task's classical baseline, 'input' the model's input itself")
    click.echo(markdown(table))


if __name__ == "__main__":
    main()
