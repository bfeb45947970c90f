"""``commgan translate``: paired image-to-image translation by pix2pix or CycleGAN."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.options import (
    RegistryChoice,
    RegistryHelpOption,
    check_out_dir,
    models_option,
    positive,
    train_dir_option,
)
from commgan.cli.workers import device_option, resolve_device, threads_check
from commgan.configfile import config_option
from commgan.errors import CommganError
from commgan.fileio import claim_output, output_set


def translation_task_names() -> list[str]:
    from commgan.vision.translation import TRANSLATION_TASKS

    return list(TRANSLATION_TASKS)


def translation_method_names() -> list[str]:
    from commgan.vision.translation import translation_methods

    return translation_methods()


def translation_task_summaries() -> list[str]:
    from commgan.vision.translation import TRANSLATION_TASKS

    return [f"{name} ({task.summary}; --model {' or '.join(task.models)})"
            for name, task in TRANSLATION_TASKS.items()]


@on_interrupt("results are written only when the translation finishes, and a model in "
              "training is not cached (a rerun trains it again)")
@cli.command()
@config_option
@click.option("--model", "method", type=RegistryChoice(translation_method_names), required=True,
              help="Translation model; each task lists the models it takes.")
@click.option("--task", type=RegistryChoice(translation_task_names), required=True,
              cls=RegistryHelpOption, names=translation_task_summaries,
              help="What to translate.")
@click.option("--image", "image_path", default=None,
              help="A clean image file (PNG, JPEG, ...): the task makes the model's input from "
                   "it (faded, or its edges), translates it and measures the result against "
                   "the image.")
@click.option("--demo", is_flag=True, help="Use the shipped held-out image (astronaut).")
@click.option("--steps", type=int, default=None, callback=positive,
              help="Train with this many iterations instead of the default budget "
                   "(cached as a separate model).")
@train_dir_option
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/translate-MODEL-TASK].")
@models_option
@device_option
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              callback=threads_check,
              help="torch intra-op threads [default: the usable cores: image models have large "
                   "tensors, where threads pay off on an idle machine].")
@click.option("--quiet", is_flag=True, help="No progress bar or log lines.")
def translate(method, task, image_path, demo, steps, train_dir, out_dir, models_dir, device,
              threads, quiet) -> None:
    """Translate an image with pix2pix or CycleGAN next to a classical baseline.

    Writes translated.png, side_by_side.png (input | baseline | model | reference, with
    PSNR/SSIM) and metrics.csv (rows: the input, the classical baseline, the model). The model
    is trained on first use (minutes on a CPU) and cached in the model folder.
    """
    from commgan.sim.executor import configure_process, usable_cores

    configure_process(threads or usable_cores())
    from commgan.checkpoint import models_dir as resolve_models_dir
    from commgan.vision.cache import load_or_train
    from commgan.vision.data import TEST_IMAGES, load_image, read_image
    from commgan.vision.restore import model_training
    from commgan.vision.training import VISION_MODELS
    from commgan.vision.translation import (
        check_image,
        translate_image,
        translation_task,
        write_translation,
    )

    method, task = method.lower(), task.lower()
    out = check_out_dir(out_dir or f"results/translate-{method}-{task}")
    models = resolve_models_dir(models_dir)
    check_out_dir(str(models), "--models")
    spec = translation_task(task)
    key = spec.model_key(method)
    if demo == (image_path is not None):
        raise CommganError("give exactly one of --image PATH and --demo")
    demo_image = TEST_IMAGES[0]
    image = load_image(demo_image) if demo else read_image(image_path)
    check_image(task, image)
    notes: list[str] = []
    training = model_training(key, steps, train_dir, notes)
    claim_output(out)
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    for note in notes:
        say(note)
    model = load_or_train(key, models, training, device=resolve_device(device),
                          progress=not quiet and sys.stderr.isatty(), log=say)
    images = training.images if training is not None else None
    result = translate_image(task, {method: model}, image, baseline_images=images)
    source = f"{demo_image} (demo)" if demo else Path(image_path).name
    with output_set(out):  # the three files appear together
        written = write_translation(result, out, f"{task} by "
                                                 f"{VISION_MODELS[key].display_name}: {source}")
    for name, values in result.metrics.items():
        click.echo(f"{name}: PSNR {values['psnr']:.2f} dB, SSIM {values['ssim']:.4f}, "
                   f"PSNR(Y) {values['psnr_y']:.2f} dB, SSIM(Y) {values['ssim_y']:.4f}")
    say("wrote " + ", ".join(str(path) for path in written))
