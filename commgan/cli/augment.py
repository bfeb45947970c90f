"""``commgan augment``: GAN data augmentation of a digits classifier trained on a few images."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.options import check_out_dir, comma_list, seed_option
from commgan.cli.workers import (
    device_option,
    make_backend,
    resolve_device,
    resolve_jobs,
    worker_options,
)
from commgan.configfile import config_option
from commgan.errors import CommganError
from commgan.fileio import claim_output, output_set

DEFAULT_PER_CLASS = "5,10,20,50"


def _positive_ints(ctx: click.Context, param: click.Parameter, value: str | None
                   ) -> tuple[int, ...] | None:
    """A comma list of positive integers, each given once, at most as many as the smallest
    class of the pool holds images (counted before the list is read)."""
    from commgan.vision.digits import max_per_class

    limit = max_per_class()
    if value is not None and value.count(",") >= limit:
        raise click.BadParameter(f"{value.count(',') + 1} sizes; at most {limit} (each in "
                                 f"[1, {limit}], given once)")
    values = comma_list(int)(ctx, param, value)
    if values is None:
        return None
    if any(v <= 0 for v in values):
        raise click.BadParameter(f"{value[:40]!r}: every value must be a positive integer")
    if len(set(values)) != len(values):
        raise click.BadParameter(f"{value[:40]!r}: a value is repeated")
    return tuple(sorted(values))


def _bounded(bound: str) -> Callable[[click.Context, click.Parameter, int | None],
                                     int | None]:
    """A click callback: an integer in [1, ``commgan.vision.augment.<bound>``] (None stays)."""

    def check(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
        from commgan.vision import augment as study

        limit = getattr(study, bound)
        if value is not None and not 0 < value <= limit:
            given = value if abs(value) < 10**18 else "beyond 10^18"
            raise click.BadParameter(f"must be a positive integer of at most {limit:,}, "
                                     f"got {given}")
        return value

    return check


def _gan_names() -> list[str]:
    from commgan.vision.digits import DIGITS_GANS

    return list(DIGITS_GANS)


@on_interrupt("results are written only when the study finishes; a rerun starts over")
@cli.command()
@config_option
@click.option("--per-class", "per_class", default=DEFAULT_PER_CLASS, show_default=True,
              callback=_positive_ints,
              help="Training images per class: a comma list of positive integers (at most the "
                   "smallest class of the pool, 87).")
@click.option("--seeds", type=int, default=5, show_default=True, callback=_bounded("MAX_SEEDS"),
              help="Seeds per size (seed, seed + 1, ...; at most 1000).")
@click.option("--gans", default=None,
              help="Comma list of GAN variants [default: all: cgan, wgan-gp].")
@click.option("--gan-iters", type=int, default=None, callback=_bounded("MAX_GAN_ITERATIONS"),
              help="Iterations of every GAN, at most 1,000,000 [default: per GAN: cgan 2000, "
                   "wgan-gp 1000].")
@click.option("--classifier-steps", type=int, default=None,
              callback=_bounded("MAX_CLASSIFIER_STEPS"),
              help="Training steps of every classifier, at most 1,000,000 [default: 300].")
@click.option("--synthetic", type=int, default=200, show_default=True,
              callback=_bounded("MAX_SYNTHETIC_PER_CLASS"),
              help="Synthetic images per class added by classical augmentation and each GAN "
                   "(half of each classifier batch; at most 10,000).")
@worker_options
@click.option("--out", "out_dir", default="results/augment", show_default=True,
              help="Output folder.")
@seed_option
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar or log lines; the table only.")
def augment(per_class, seeds, gans, gan_iters, classifier_steps, synthetic, jobs, backend,
            ray_address, threads, out_dir, seed, device, quiet) -> None:
    """GAN data augmentation of a small CNN on scikit-learn's 8x8 digits.

    For each images-per-class size and seed, trains the classifier with no augmentation,
    classical augmentation (shifts, small rotations) and the samples of each class-conditional
    GAN trained on the same few images, and measures the accuracy on 899 held-out digits.
    Writes augment.csv (method, per_class, seed, accuracy), summary.csv, quality.csv (sample
    quality of each augmenting method), augment.png, samples-METHOD.png and config.json, and
    prints mean ± std per method and size with the paired differences to none and classical
    (Bonferroni-corrected intervals over the sizes).
    """
    from dataclasses import replace

    from commgan.sim.executor import UnitExecutor, configure_process
    from commgan.vision.augment import AugmentConfig, ClassifierTraining
    from commgan.vision.digits import DIGITS_GANS, max_per_class

    limit = max_per_class()
    if max(per_class) > limit:
        raise CommganError(f"--per-class {','.join(map(str, per_class))}: at most {limit} "
                           "images per class (the smallest class of the pool)")
    names = list(DIGITS_GANS) if gans is None else [
        name.strip().lower() for name in gans.split(",") if name.strip()]
    unknown = [name for name in names if name not in DIGITS_GANS]
    if unknown or not names or len(set(names)) != len(names):
        raise CommganError(f"--gans {gans!r}: unknown, repeated or no GAN; valid: "
                           f"{', '.join(DIGITS_GANS)}")
    classifier = ClassifierTraining()
    if classifier_steps is not None:
        classifier = replace(classifier, steps=classifier_steps)
    device = resolve_device(device)
    config = AugmentConfig(per_class=per_class, seeds=seeds, seed=seed, gans=tuple(names),
                           gan_iterations=gan_iters, synthetic_per_class=synthetic,
                           classifier=classifier, device=device)
    out = check_out_dir(out_dir)
    executor_backend = make_backend(backend, ray_address)
    claim_output(out)
    jobs = min(resolve_jobs(jobs, device), len(per_class) * seeds)
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    say(f"augment: N={','.join(map(str, per_class))} per class x {seeds} seeds, methods "
        f"{', '.join(config.methods)}, on {device} ({jobs} process(es))")
    configure_process(threads)

    def runner(fn, shared, units):
        executor = UnitExecutor(jobs, threads, shared=shared, backend=executor_backend,
                                device=device)
        return executor.ordered(fn, units)

    from commgan.vision.augment import run_augment
    from commgan.vision.augment_report import format_summary, summarize, write_augment

    result = run_augment(config, runner, progress=not quiet and sys.stderr.isatty(), log=say)
    summary = summarize(result.table)
    with output_set(out, replaces=list(out.glob("samples-*.png"))):
        written = write_augment(result, summary, config, out)
    click.echo(format_summary(summary, result.reference_accuracy))
    say(f"wrote {', '.join(path.name for path in written)} in {out}")
