"""Seed 001's Fig. 2 on our held-out images: PSNR vs occlusion ratio 0-60%, multi-loss GAN vs
biharmonic inpainting (and the two other classical fills: harmonic and the self-calibrated
harmonic/biharmonic blend), for block and free-form masks.

At 0% nothing is missing and both methods return the image exactly (PSNR = infinity: the CSV
says inf, the plot starts at 10%). Writes, under --out (default results/occlusion_curve/):
curve.csv (per image, mask kind, ratio and method: psnr, ssim), mean.csv (means over the
images), curve.png and config.json.

    python experiments/occlusion_curve.py            # uses (or trains) the cached model
    python experiments/occlusion_curve.py --smoke    # seconds: tiny model, crops
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from commgan.checkpoint import models_dir as resolve_models_dir  # noqa: E402
from commgan.fileio import atomic_write, write_json  # noqa: E402
from commgan.vision.data import TEST_IMAGES, load_image  # noqa: E402
from commgan.vision.evaluate import TaskSettings, evaluate_images  # noqa: E402
from commgan.vision.report import method_label  # noqa: E402
from commgan.vision.training import MODELS, load_or_train  # noqa: E402


@dataclass
class Experiment:
    """Ratios, mask kinds and where the files go."""

    ratios: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    masks: tuple[str, ...] = ("block", "free-form")
    seed: int = 0
    smoke: bool = False
    models: str | None = None
    out: str = "results/occlusion_curve"


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    """Measure the curve, write the files; returns mean.csv's table."""
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = resolve_models_dir(experiment.models)
    training = None
    if experiment.smoke:
        training = MODELS["restore"]()
        training.iterations, training.warmup, training.bank = 3, 1, 4
    model = load_or_train("restore", models_dir, training, log=log)
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
                "training": (training or MODELS["restore"]()).to_dict()}, out / "config.json")
    return mean


def _plot(mean: pd.DataFrame, path: Path) -> None:
    kinds = list(dict.fromkeys(mean["mask"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        for method, style in (("multi-loss GAN", "o-"), ("biharmonic", "s--"),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model on image crops")
    parser.add_argument("--models", default=None, help="model cache folder")
    parser.add_argument("--out", default="results/occlusion_curve")
    args = parser.parse_args()
    experiment = Experiment(models=args.models, out=args.out, smoke=args.smoke)
    if args.smoke:
        experiment.ratios = (0.0, 0.3, 0.6)
    print(run(experiment).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
