"""``commgan augment``: GAN data augmentation of a digits classifier trained on a few images."""

from __future__ import annotations

from collections.abc import Callable

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.context import TABLE_QUIET_HELP, RunContext, run_command
from commgan.cli.options import RegistryHelpOption, check_out_dir, comma_list
from commgan.configfile import config_option
from commgan.errors import CommganError
from commgan.fileio import claim_output, output_set


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
    """A click callback: an integer in [1, ``commgan.vision.augment.study.<bound>``] (None
    stays)."""

    def check(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
        from commgan.vision.augment import study

        limit = getattr(study, bound)
        if value is not None and not 0 < value <= limit:
            given = value if abs(value) < 10**18 else "beyond 10^18"
            raise click.BadParameter(f"must be a positive integer of at most {limit:,}, "
                                     f"got {given}")
        return value

    return check


def _defaults(text: str) -> Callable[[], str]:
    """A help tail made when shown, from the study's defaults and bounds and the GAN records:
    ``text`` formatted with the values of `_help_values`."""
    return lambda: text.format(**_help_values())


def _help_values() -> dict[str, str]:
    from commgan.vision.augment import study
    from commgan.vision.classifier import ClassifierTraining
    from commgan.vision.digits import max_per_class
    from commgan.vision.digits_gans import DIGITS_GANS

    config = study.AugmentConfig()
    return {
        "per_class": ",".join(map(str, config.per_class)), "per_class_limit": max_per_class(),
        "seeds": config.seeds, "max_seeds": f"{study.MAX_SEEDS:,}",
        "gans": ", ".join(DIGITS_GANS),
        "gan_iterations": ", ".join(f"{name} {gan.training.iterations}"
                                    for name, gan in DIGITS_GANS.items()),
        "max_gan_iterations": f"{study.MAX_GAN_ITERATIONS:,}",
        "classifier_steps": ClassifierTraining().steps,
        "max_classifier_steps": f"{study.MAX_CLASSIFIER_STEPS:,}",
        "synthetic": config.synthetic_per_class,
        "max_synthetic": f"{study.MAX_SYNTHETIC_PER_CLASS:,}",
    }


@on_interrupt("results are written only when the study finishes; a rerun starts over")
@cli.command(topic="vision")
@config_option
@click.option("--per-class", "per_class", default=None, callback=_positive_ints,
              cls=RegistryHelpOption, tail=_defaults(
                  "(at most the smallest class of the pool, {per_class_limit}) "
                  "[default: {per_class}]."),
              help="Training images per class: a comma list of positive integers")
@click.option("--seeds", type=int, default=None, callback=_bounded("MAX_SEEDS"),
              cls=RegistryHelpOption,
              tail=_defaults("(seed, seed + 1, ...; at most {max_seeds}) [default: {seeds}]."),
              help="Seeds per size")
@click.option("--gans", default=None, cls=RegistryHelpOption,
              tail=_defaults("[default: all: {gans}]."), help="Comma list of GAN variants")
@click.option("--gan-iters", type=int, default=None, callback=_bounded("MAX_GAN_ITERATIONS"),
              cls=RegistryHelpOption, tail=_defaults(
                  "at most {max_gan_iterations} [default: per GAN: {gan_iterations}]."),
              help="Iterations of every GAN,")
@click.option("--classifier-steps", type=int, default=None,
              callback=_bounded("MAX_CLASSIFIER_STEPS"), cls=RegistryHelpOption,
              tail=_defaults("at most {max_classifier_steps} [default: {classifier_steps}]."),
              help="Training steps of every classifier,")
@click.option("--synthetic", type=int, default=None,
              callback=_bounded("MAX_SYNTHETIC_PER_CLASS"), cls=RegistryHelpOption,
              tail=_defaults("(half of each classifier batch; at most {max_synthetic}) "
                             "[default: {synthetic}]."),
              help="Synthetic images per class added by classical augmentation and each GAN")
@click.option("--out", "out_dir", default="results/augment", show_default=True,
              help="Output folder.")
@run_command(seed=True, workers=True, quiet_help=TABLE_QUIET_HELP)
def augment(run: RunContext, per_class, seeds, gans, gan_iters, classifier_steps, synthetic,
            out_dir) -> None:
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

    from commgan.vision.augment.report import format_summary, summarize, write_augment
    from commgan.vision.augment.study import AugmentConfig, run_augment
    from commgan.vision.classifier import ClassifierTraining
    from commgan.vision.digits import max_per_class
    from commgan.vision.digits_gans import DIGITS_GANS

    limit = max_per_class()
    if per_class is not None and max(per_class) > limit:
        raise CommganError(f"--per-class {','.join(map(str, per_class))}: at most {limit} "
                           "images per class (the smallest class of the pool)")
    names = DIGITS_GANS.names() if gans is None else [
        name.strip().lower() for name in gans.split(",") if name.strip()]
    unknown = [name for name in names if name not in DIGITS_GANS]
    if unknown or not names or len(set(names)) != len(names):
        raise CommganError(f"--gans {gans!r}: unknown, repeated or no GAN; valid: "
                           f"{', '.join(DIGITS_GANS)}")
    classifier = ClassifierTraining()
    if classifier_steps is not None:
        classifier = replace(classifier, steps=classifier_steps)
    device = run.device
    given = {"per_class": per_class, "seeds": seeds, "synthetic_per_class": synthetic}
    config = AugmentConfig(**{key: value for key, value in given.items() if value is not None},
                           seed=run.seed, gans=tuple(names), gan_iterations=gan_iters,
                           classifier=classifier, device=device)
    out = check_out_dir(out_dir)
    run.check_backend()
    claim_output(out)
    jobs = min(run.jobs, len(config.per_class) * config.seeds)
    run.log(f"augment: N={','.join(map(str, config.per_class))} per class x {config.seeds} "
            f"seeds, methods {', '.join(config.methods)}, on {device} ({jobs} process(es))")

    def runner(fn, shared, units):
        return run.executor(shared, jobs).ordered(fn, units)

    result = run_augment(config, runner, progress=run.progress, log=run.log)
    summary = summarize(result.table)
    with output_set(out, replaces=list(out.glob("samples-*.png"))):
        written = write_augment(result, summary, config, out)
    click.echo(format_summary(summary, result.reference_accuracy))
    run.log(f"wrote {', '.join(path.name for path in written)} in {out}")
