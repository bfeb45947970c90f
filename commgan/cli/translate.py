"""``commgan translate``: paired image-to-image translation by pix2pix or CycleGAN."""

from __future__ import annotations

from pathlib import Path

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.context import RunContext, run_command
from commgan.cli.options import (
    RegistryChoice,
    RegistryHelpOption,
    check_out_dir,
    positive,
    train_dir_option,
)
from commgan.configfile import config_option
from commgan.errors import CommganError
from commgan.fileio import claim_output, output_set


def translation_task_names() -> list[str]:
    """The tasks of ``commgan translate``: the names of `TRANSLATION_TASKS`."""
    from commgan.vision.translate.tasks import TRANSLATION_TASKS

    return TRANSLATION_TASKS.names()


def translation_method_names() -> list[str]:
    """The ``--model`` names the tasks' records take."""
    from commgan.vision.translate.tasks import translation_methods

    return translation_methods()


def translation_task_summaries() -> list[str]:
    """``NAME (summary; --model ...)`` of every translation task, for the help."""
    from commgan.vision.translate.tasks import TRANSLATION_TASKS

    return [f"{name} ({task.summary}; --model {' or '.join(task.models)})"
            for name, task in TRANSLATION_TASKS.items()]


@on_interrupt("results are written only when the translation finishes, and a model in "
              "training is not cached (a rerun trains it again)")
@cli.command(topic="vision")
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
@run_command(models=True, threads="image")
def translate(run: RunContext, method, task, image_path, demo, steps, train_dir, out_dir
              ) -> None:
    """Translate an image with a GAN (the models of the task) next to a classical baseline.

    Writes translated.png, side_by_side.png (input | baseline | model | reference, with
    PSNR/SSIM) and metrics.csv (rows: the input, the classical baseline, the model, and with the
    default model the closest other model of the project where the model's record names one:
    CUT beside CycleGAN, SPADE beside pix2pix). The default model ships with the package; any
    other (``--steps``, ``--train-dir``) is trained on first use (minutes on a CPU) and cached
    in the model folder.
    """
    from commgan.vision.data import TEST_IMAGES, load_image, read_image
    from commgan.vision.models.cache import comparison_model, load_or_train
    from commgan.vision.models.registry import VISION_MODELS
    from commgan.vision.models.training import model_training
    from commgan.vision.translate.report import write_translation
    from commgan.vision.translate.run import check_image, translate_image
    from commgan.vision.translate.tasks import TRANSLATION_TASKS

    method, task = method.lower(), task.lower()
    out = check_out_dir(out_dir or f"results/translate-{method}-{task}")
    models = run.writable_models()
    key = TRANSLATION_TASKS[task].model_key(method)
    if demo == (image_path is not None):
        raise CommganError("give exactly one of --image PATH and --demo")
    demo_image = TEST_IMAGES[0]
    image = load_image(demo_image) if demo else read_image(image_path)
    check_image(task, image)
    notes: list[str] = []
    training = model_training(VISION_MODELS[key], steps, train_dir, notes)
    claim_output(out)
    for note in notes:
        run.log(note)
    model = load_or_train(key, models, training, device=run.device, progress=run.progress,
                          log=run.log)
    compared = {method: model}
    other = comparison_model(key, models, run.device, run.log) if training is None else None
    if other is not None:
        methods = {name: m for m, name in TRANSLATION_TASKS[task].models.items()}
        compared[methods[other[0]]] = other[1]
    images = training.images if training is not None else None
    result = translate_image(task, compared, image, baseline_images=images)
    source = f"{demo_image} (demo)" if demo else Path(image_path).name
    with output_set(out):  # the three files appear together
        written = write_translation(result, out, f"{task} by "
                                                 f"{VISION_MODELS[key].display_name}: {source}")
    for name, values in result.metrics.items():
        click.echo(f"{name}: PSNR {values['psnr']:.2f} dB, SSIM {values['ssim']:.4f}, "
                   f"PSNR(Y) {values['psnr_y']:.2f} dB, SSIM(Y) {values['ssim_y']:.4f}")
    run.log("wrote " + ", ".join(str(path) for path in written))
