"""``commgan converge``: the convergence benchmark of the channel GAN models."""

from __future__ import annotations

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.context import TABLE_QUIET_HELP, RunContext, run_command
from commgan.cli.options import (
    RegistryHelpOption,
    channel_model_names,
    channel_option,
    check_out_dir,
    mod_option,
    parse_train_ebno,
    positive,
)
from commgan.configfile import config_option
from commgan.errors import CommganError
from commgan.fileio import claim_output


@on_interrupt("results are written only when the study finishes; a rerun starts over")
@cli.command(topic="link")
@config_option
@channel_option
@mod_option
@click.option("--models", "model_names", default=None, cls=RegistryHelpOption,
              names=channel_model_names,
              help="Comma-separated channel models [default: all].")
@click.option("--seeds", type=int, default=5, show_default=True, callback=positive,
              help="Training seeds per model (seed, seed + 1, ...).")
@click.option("--iters", type=int, default=None, callback=positive,
              help="Training iterations of every model [default: per model, see README].")
@click.option("--train-ebno", default="0:20", show_default=True,
              help="Eb/N0 range of the training samples in dB: DB or LOW:HIGH.")
@click.option("--fidelity/--no-fidelity", default=True, show_default=True,
              help="Also measure each model's fidelity (distance, BER, ae through it).")
@click.option("--ae/--no-ae", "ae", default=True, show_default=True,
              help="With --fidelity: train ae through each learned channel (the slow part).")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/converge-CHANNEL-MOD].")
@run_command(seed=True, workers=True, quiet_help=TABLE_QUIET_HELP)
def converge(run: RunContext, channel, mod, model_names, seeds, iters, train_ebno, fidelity, ae,
             out_dir) -> None:
    """Convergence benchmark of GAN, CGAN and DCGAN channel models.

    Trains each model for each seed, reports the crossover and equilibrium iterations of the G
    and D losses (mean ± std over seeds) and the fidelity of each model, and writes
    convergence.csv, summary.csv, fidelity.csv, ae_ber.csv, histories.csv, losses.png and
    config.json to the output folder.
    """
    from commgan.channelgan_study import ConvergenceConfig, format_summary, run_convergence
    from commgan.comm.channelgan import CHANNEL_MODELS

    model_names = ",".join(CHANNEL_MODELS) if model_names is None else model_names
    names = [name.strip().lower() for name in model_names.split(",") if name.strip()]
    unknown = [name for name in names if name not in CHANNEL_MODELS]
    if unknown or not names:
        raise CommganError(f"--models {model_names!r}: unknown model(s) "
                           f"{', '.join(unknown) or '(none)'}; valid: {', '.join(CHANNEL_MODELS)}")
    channel, mod = channel.lower(), mod.lower()
    iterations = {name: iters or CHANNEL_MODELS[name].default_iterations for name in names}
    config = ConvergenceConfig(
        channel=channel, mod=mod, models=tuple(names), seeds=seeds, seed=run.seed,
        iterations=iterations, train_ebno_db=parse_train_ebno(train_ebno), fidelity=fidelity,
        ae=ae, device=run.device)
    out = check_out_dir(out_dir or f"results/converge-{channel}-{mod}")
    run.check_backend()
    claim_output(out)
    run.log(f"converge: {', '.join(names)} x {seeds} seeds over {channel} with {mod} on "
            f"{config.device}")
    result = run_convergence(config, out, progress=run.progress, log=run.log, **run.workers)
    click.echo(format_summary(result.summary, result.fidelity))
    run.log(f"wrote convergence.csv, summary.csv, fidelity.csv, losses.png and more in {out}")
