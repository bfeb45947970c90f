"""StyleGAN2 on scikit-learn's digits: mapping depth 8 vs 2 (and the path-length penalty)
against the project's conditional DCGAN of the augmentation study.

Each StyleGAN variant is trained with its default budget (or loaded from the model cache: the
8-layer default is shipped) and measured as ``commgan generate --demo`` does
(`commgan.vision.generate.run.measure`: samples judged by the reference digit classifier,
inversions of held-out digits in W and W+, one GANSpace edit; the untrained generator's rows
beside them). The baseline is the closest model already in the project: the class-conditional
DCGAN of ``commgan augment`` (`commgan.vision.digits_gans`, default config), trained on the
same pool, whose ``SAMPLES`` samples (an equal share per class) are judged by the same
classifier; its accuracy is against the conditioning labels, the unconditional StyleGAN has none.

Writes under --out (default results/stylegan_digits/): table.csv (every row, column
``variant``), one folder per variant with its figures and metrics.csv, config.json; prints the
markdown table.

    python experiments/stylegan_digits.py            # ~20 min without cached models
    python experiments/stylegan_digits.py --smoke    # seconds
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import click
import pandas as pd

from commgan.checkpoint import models_dir as resolve_models_dir
from commgan.fileio import write_json
from commgan.vision.digits_gans import gan_training
from commgan.vision.generate.run import (
    BASELINE,
    StyleGANTraining,
    baseline_generator,
    baseline_rows,
    load_or_train_stylegan,
    measure,
    reference_classifier,
    untrained_generator,
    write_generate,
)

VARIANTS = {
    "mapping-8": StyleGANTraining(),
    "mapping-2": StyleGANTraining(mapping_layers=2),
    "mapping-8-path-length": StyleGANTraining(path_length=True),
}
"""Variant -> its training config (the first is ``commgan generate``'s default)."""


@dataclass
class Experiment:
    """Scope and budget."""

    variants: tuple[str, ...] = tuple(VARIANTS)
    iterations: int | None = None
    """StyleGAN iterations (None: each variant's default)."""
    baseline_iterations: int | None = None
    """DCGAN iterations (None: its default)."""
    inversion_steps: int = 200
    models: str | None = None
    out: str = "results/stylegan_digits"
    seed: int = 0


def baseline_table(experiment: Experiment, models: Path, log) -> tuple[list[dict], float]:
    """The conditional DCGAN's row (as ``commgan generate --demo`` writes it), and its training
    seconds (from its sidecar)."""
    gen, cached = baseline_generator(models, experiment.seed, log,
                                     gan_training(BASELINE, experiment.baseline_iterations))
    rows = baseline_rows(gen, reference_classifier(experiment.seed), experiment.seed)
    return rows, float(cached.sidecar.get("train_seconds", float("nan")))


def run(experiment: Experiment, log=click.echo) -> pd.DataFrame:
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json({**asdict(experiment), "variant_configs": {
        variant: VARIANTS[variant].to_dict() for variant in experiment.variants}},
        out / "config.json")
    models = resolve_models_dir(experiment.models)
    frames = []
    for variant in experiment.variants:
        training = replace(VARIANTS[variant], seed=experiment.seed)
        if experiment.iterations is not None:
            training = replace(training, iterations=experiment.iterations)
        start = time.perf_counter()
        gen, cached = load_or_train_stylegan(training, models, log=log)
        seconds = time.perf_counter() - start
        result = measure(gen, untrained_generator(training), training.seed,
                         experiment.inversion_steps, log=log)
        write_generate(result, out / variant)
        frame = pd.DataFrame(result.rows)
        frame.insert(0, "variant", variant)
        frame["train_seconds"] = cached.sidecar.get("train_seconds", float("nan"))
        frame["load_or_train_seconds"] = seconds
        frames.append(frame)
    rows, seconds = baseline_table(experiment, models, log)
    frames.append(pd.DataFrame(rows).assign(variant="cgan (augment's conditional DCGAN)",
                                            train_seconds=seconds))
    table = pd.concat(frames, ignore_index=True)
    table.to_csv(out / "table.csv", index=False)
    return table


def markdown(table: pd.DataFrame) -> str:
    """The main rows as a markdown table."""
    shown = table[~table["method"].str.endswith("-untrained") | table["variant"].eq("mapping-8")]
    columns = ["variant", "method", "accuracy", "confidence", "classes_covered", "psnr",
               "class_changed", "ink_change"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for _, row in shown.iterrows():
        cells = [str(row[c]) if isinstance(row[c], str) else
                 ("" if row[c] != row[c] else f"{row[c]:.3f}".rstrip("0").rstrip("."))
                 for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@click.command(help=__doc__.splitlines()[0])
@click.option("--variants", default=",".join(VARIANTS), show_default=True,
              help="Comma-separated StyleGAN variants.")
@click.option("--smoke", is_flag=True, help="Tiny budgets (seconds).")
@click.option("--models", default=None, help="Model cache folder [default: $COMMGAN_MODELS, "
              "else ~/.cache/commgan/models].")
@click.option("--out", default="results/stylegan_digits", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(variants: str, smoke: bool, models: str | None, out: str, seed: int) -> None:
    chosen = tuple(v.strip() for v in variants.split(",") if v.strip())
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise click.BadParameter(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    experiment = Experiment(variants=chosen, models=models, out=out, seed=seed)
    if smoke:
        experiment.iterations, experiment.baseline_iterations = 4, 4
        experiment.inversion_steps = 2
    table = run(experiment, log=lambda message: click.echo(message, err=True))
    click.echo(markdown(table))


if __name__ == "__main__":
    main()
