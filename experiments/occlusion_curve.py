"""Seed 001's Fig. 2 on our held-out images: PSNR vs occlusion ratio 0-60%, multi-loss GAN vs
biharmonic inpainting (and the two other classical fills: harmonic and the self-calibrated
harmonic/biharmonic blend), for block and free-form masks.

At 0% nothing is missing and both methods return the image exactly (PSNR = infinity: the CSV
says inf, the plot starts at 10%). Writes, under --out (default results/occlusion_curve/):
curve.csv (per image, mask kind, ratio and method: psnr, ssim), mean.csv (means over the
images), curve.png and config.json.

    python experiments/occlusion_curve.py            # uses (or trains) the cached model
    python experiments/occlusion_curve.py --smoke    # seconds: tiny model, crops
    python experiments/occlusion_curve.py --config curve.toml   # options from a file
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from commgan.checkpoint import models_dir as resolve_models_dir  # noqa: E402
from commgan.cli.options import comma_list, listed
from commgan.configfile import config_option  # noqa: E402
from commgan.fileio import atomic_write, write_json  # noqa: E402
from commgan.parallel import configure_process  # noqa: E402
from commgan.vision.data import TEST_IMAGES, load_image  # noqa: E402
from commgan.vision.degradations import TaskSettings  # noqa: E402
from commgan.vision.models.cache import load_or_train  # noqa: E402
from commgan.vision.models.registry import VISION_MODELS  # noqa: E402
from commgan.vision.restore.evaluate import evaluate_images  # noqa: E402
from commgan.vision.restore.report import method_label  # noqa: E402
from commgan.vision.restore.tasks import VISION_TASKS  # noqa: E402

MODEL = VISION_TASKS["inpaint"].model
"""The model measured: the one serving the inpaint task."""


@dataclass
class Experiment:
    """Ratios, mask kinds and where the files go (saved as config.json)."""

    ratios: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    """Occluded area ratios (0 = nothing missing)."""
    masks: tuple[str, ...] = ("block", "free-form")
    """Mask kinds, one panel each."""
    seed: int = 0
    """Seed of the masks."""
    smoke: bool = False
    """Tiny model on image crops, one torch thread (seconds; checks the plumbing, the numbers
    mean nothing)."""
    models: str | None = None
    """Model cache folder; None = `commgan.checkpoint.default_models_dir`."""
    out: str = "results/occlusion_curve"
    """Output folder."""


SMOKE = {"ratios": (0.0, 0.3, 0.6)}
"""Defaults of ``--smoke`` runs for the options not given."""


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> pd.DataFrame:
    """Measure the curve, write the files; returns mean.csv's table."""
    if experiment.smoke:
        configure_process(1)  # small tensors: a second thread only adds waiting beside other jobs
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = resolve_models_dir(experiment.models)
    training = VISION_MODELS[MODEL].training()
    if experiment.smoke:
        training = training.smoke()
    model = load_or_train(MODEL, models_dir, training, log=log)
    images = {name: load_image(name) for name in TEST_IMAGES}
    if experiment.smoke:
        images = {name: image[:, :96, :128] for name, image in images.items()}
    tables = []
    for kind in experiment.masks:
        for ratio in experiment.ratios:
            table = evaluate_images("inpaint", model, images,
                                    TaskSettings(ratio=ratio, mask=kind, seed=experiment.seed))
            table = table[table["method"] != "degraded"].assign(mask=kind, ratio=ratio)
            table["method"] = table["method"].map(lambda key: method_label("inpaint", key))
            tables.append(table)
            means = table.groupby("method")["psnr"].mean()
            log(f"{kind} {ratio:.0%}: " + ", ".join(f"{m} {v:.2f} dB" for m, v in means.items()))
    curve = pd.concat(tables, ignore_index=True)[["image", "mask", "ratio", "method", "psnr",
                                                  "ssim"]]
    mean = curve.groupby(["mask", "ratio", "method"])[["psnr", "ssim"]].mean().reset_index()
    atomic_write(out / "curve.csv", lambda tmp: curve.to_csv(tmp, index=False))
    atomic_write(out / "mean.csv", lambda tmp: mean.to_csv(tmp, index=False))
    _plot(mean, out / "curve.png")
    write_json({"experiment": asdict(experiment), "images": list(images),
                "models_dir": str(models_dir),
                "training": training.to_dict()}, out / "config.json")
    return mean


def _plot(mean: pd.DataFrame, path: Path) -> None:
    kinds = list(dict.fromkeys(mean["mask"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        for method, style in ((VISION_MODELS[MODEL].display_name, "o-"),
                              (VISION_TASKS["inpaint"].baseline_name, "s--"),
                              ("harmonic", "^:"), ("calibrated blend", "d-.")):
            rows = mean[(mean["mask"] == kind) & (mean["method"] == method)]
            rows = rows[rows["psnr"].map(math.isfinite)]
            ax.plot(100 * rows["ratio"], rows["psnr"], style, label=method)
        ax.set_xlabel("occluded area (%)  [0%: exact, PSNR = inf]")
        ax.set_ylabel("PSNR (dB), mean of held-out images")
        ax.set_title(f"{kind} masks")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)


@click.command(help=__doc__.splitlines()[0])
@click.option("--ratios", callback=comma_list(float), help="Occluded area ratios (comma list) "
              f"[default: {listed(Experiment.ratios)}; --smoke: {listed(SMOKE['ratios'])}].")
@click.option("--masks", callback=comma_list(str),
              help=f"Mask kinds (comma list) [default: {listed(Experiment.masks)}].")
@click.option("--seed", type=int, default=None,
              help=f"Seed of the masks [default: {Experiment.seed}].")
@click.option("--smoke", is_flag=True, default=None,
              help="Tiny model on image crops, one torch thread (seconds; checks the "
                   "plumbing).")
@click.option("--models", default=None, help="Model cache folder [default: $COMMGAN_MODELS, "
              "else ~/.cache/commgan/models].")
@click.option("--out", default=None, help=f"Output folder [default: {Experiment.out}].")
@config_option
def main(**options) -> None:
    """Build the `Experiment` (smoke defaults, then the options given), run it, print the means."""
    given = {key: value for key, value in options.items() if value is not None}
    experiment = Experiment(**{**(SMOKE if given.get("smoke") else {}), **given})
    click.echo(run(experiment).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
