"""``commgan generate``: a style-based generator on scikit-learn's digits, with inversion and a
latent edit."""

from __future__ import annotations

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.context import RunContext, run_command
from commgan.cli.options import RegistryChoice, check_out_dir, positive
from commgan.errors import CommganError
from commgan.fileio import claim_output


def generate_model_names() -> list[str]:
    """The ``--model`` names of ``commgan generate``: the names of `GENERATE_MODELS`."""
    from commgan.vision.generate.run import GENERATE_MODELS

    return GENERATE_MODELS.names()


@on_interrupt("results are written only when the run finishes, and a model in training is not "
              "cached (a rerun trains it again)")
@cli.command(topic="vision")
@click.option("--model", type=RegistryChoice(generate_model_names), required=True,
              help="Generator.")
@click.option("--demo", is_flag=True,
              help="Use scikit-learn's shipped 8x8 digits (the only data set so far).")
@click.option("--steps", type=int, default=None, callback=positive,
              help="Train with this many iterations instead of the default budget (cached as "
                   "a separate model).")
@click.option("--mapping-layers", type=click.Choice(["8", "2"]), default="8", show_default=True,
              help="Mapping-network depth: 8 (StyleGAN, StyleGAN2) or 2 (StyleGAN2-ADA).")
@click.option("--path-length", is_flag=True,
              help="Add StyleGAN2's path-length penalty to the generator loss.")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/generate-MODEL].")
@run_command(models=True, seed=True)
def generate(run: RunContext, model, demo, steps, mapping_layers, path_length, out_dir
             ) -> None:
    """Train a StyleGAN2 (mapping network, modulated and demodulated convolutions, noise
    inputs, style mixing) on the pool of the digits, or load it from the model cache.

    Measures its samples with a reference digit classifier (confidence, classes covered),
    inverts held-out digits by optimisation in W and W+ (PSNR, the classifier's accuracy on the
    reconstructions) and moves samples along the first principal direction of W (GANSpace):
    the share whose predicted class changes, and the change of ink. Writes samples.png,
    inversions.png, edit.png and metrics.csv.
    """
    from dataclasses import replace

    from commgan.vision.generate.run import GENERATE_MODELS, MAX_STEPS, run_generate

    model = model.lower()
    if not demo:
        raise CommganError("give --demo: scikit-learn's digits are the only data set so far")
    if steps is not None and steps > MAX_STEPS:
        raise CommganError(f"--steps must be at most {MAX_STEPS:,}")
    out = check_out_dir(out_dir or f"results/generate-{model}")
    models = run.writable_models()
    device = run.check_device()
    training = replace(GENERATE_MODELS[model].training, mapping_layers=int(mapping_layers),
                       path_length=path_length, seed=run.seed)
    if steps is not None:
        training = replace(training, iterations=steps)
    claim_output(out)
    result = run_generate(training, models, out, device, run.progress, run.log)
    for row in result.rows:
        shown = ", ".join(f"{key} {value:.4g}" for key, value in row.items()
                          if key not in ("method", "images") and value == value)
        click.echo(f"{row['method']}: {shown}")
    run.log(f"wrote samples.png, inversions.png, edit.png and metrics.csv in {out}")
