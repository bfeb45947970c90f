"""``commgan restore``: image restoration by a GAN next to a classical baseline."""

from __future__ import annotations

from pathlib import Path

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.context import RunContext, run_command
from commgan.cli.options import (
    RegistryChoice,
    RegistryHelpOption,
    check_out_dir,
    finite,
    positive,
    train_dir_option,
)
from commgan.configfile import config_option
from commgan.fileio import claim_output


def restore_task_names() -> list[str]:
    """The tasks of ``commgan restore``: the names of `VISION_TASKS`."""
    from commgan.vision.restore.tasks import VISION_TASKS

    return VISION_TASKS.names()


def restore_task_summaries() -> list[str]:
    """``NAME (summary)`` of every restoration task, for the help."""
    from commgan.vision.restore.tasks import VISION_TASKS

    return [f"{name} ({task.summary})" for name, task in VISION_TASKS.items()]


def restore_model_names() -> list[str]:
    """The models of ``--model``: every model serving a restoration task."""
    from commgan.vision.restore.tasks import VISION_TASKS

    names = [name for task in VISION_TASKS.values() for name in (task.model, *task.models)]
    return list(dict.fromkeys(names))


def restore_model_summaries() -> list[str]:
    """``NAME (tasks)`` of every model of ``--model``, for the help."""
    from commgan.vision.restore.tasks import VISION_TASKS

    summaries = []
    for name in restore_model_names():
        tasks = [task.name for task in VISION_TASKS.values() if name in (task.model, *task.models)]
        summaries.append(f"{name} (--task {' or '.join(tasks)})")
    return summaries


def mask_kinds() -> list[str]:
    """The occlusion masks of ``--mask-kind``: the kinds of `make_mask`."""
    from commgan.vision.degradations import MASK_KINDS

    return list(MASK_KINDS)


@on_interrupt("results are written only when the restoration finishes, and a model in "
              "training is not cached (a rerun trains it again)")
@cli.command(topic="vision")
@config_option
@click.option("--task", type=RegistryChoice(restore_task_names), required=True,
              cls=RegistryHelpOption, names=restore_task_summaries,
              help="What to restore.")
@click.option("--model", "model", type=RegistryChoice(restore_model_names), default=None,
              cls=RegistryHelpOption, names=restore_model_summaries,
              help="Model restoring the image [default: the first model of the task].")
@click.option("--image", "image_path", default=None,
              help="Image file (PNG, JPEG, ...): a clean image that is degraded, restored and "
                   "measured, or with --degraded the image to restore.")
@click.option("--demo", is_flag=True, help="Use the shipped held-out image (astronaut).")
@click.option("--degraded", is_flag=True,
              help="--image is already degraded: restore it as it is (no metrics).")
@click.option("--mask", "mask_path", default=None,
              help="inpaint with --degraded: mask image of the same size, white = missing.")
@click.option("--ratio", type=float, default=0.2, show_default=True, callback=finite(),
              help="inpaint: occluded area ratio.")
@click.option("--mask-kind", type=RegistryChoice(mask_kinds), default="block",
              show_default=True, help="inpaint: occlusion mask kind.")
@click.option("--sigma", type=float, default=25.0, show_default=True, callback=finite(),
              help="denoise: noise standard deviation in 8-bit levels.")
@click.option("--steps", type=int, default=None, callback=positive,
              help="Train with this many iterations instead of the default budget "
                   "(cached as a separate model).")
@click.option("--backbone-weights", default=None,
              help="Local VGG16 weights file (+ LPIPS lin layers) for LPIPS and the VGG "
                   "perceptual loss; without it LPIPS is unavailable.")
@train_dir_option
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/restore-TASK].")
@run_command(models=True, seed=True, threads="image")
def restore(run: RunContext, task, model, image_path, demo, degraded, mask_path, ratio, mask_kind,
            sigma, steps, backbone_weights, train_dir, out_dir) -> None:
    """Restore an image with a GAN next to a classical baseline.

    Writes restored.png, side_by_side.png (degraded | baseline | GAN | reference, with PSNR/SSIM)
    and, when there is a reference, metrics.csv. The task's default model ships
    with the package; any other (``--steps``, ``--train-dir``, or ``--backbone-weights`` for a
    model with a perceptual term) is trained on first use (minutes on a CPU) and cached in the
    model folder.
    """
    from commgan.vision.degradations import TaskSettings
    from commgan.vision.restore.report import method_label, write_restoration
    from commgan.vision.restore.run import DEMO_IMAGE, RestoreRequest, run_restore

    task = task.lower()
    out = check_out_dir(out_dir or f"results/restore-{task}")
    models = run.writable_models()
    settings = TaskSettings(ratio=ratio, mask=mask_kind.lower(), sigma=sigma / 255,
                            seed=run.seed)
    request = RestoreRequest(task=task, image=image_path, demo=demo, degraded=degraded,
                             mask=mask_path, settings=settings, steps=steps,
                             backbone_weights=backbone_weights, models_dir=models,
                             device=run.device, train_dir=train_dir, model=model)
    claim_output(out)
    result = run_restore(request, progress=run.progress, log=run.log)
    source = f"{DEMO_IMAGE} (demo)" if demo else Path(image_path).name
    written = write_restoration(result, out, f"{task}: {source}")
    for method, values in result.metrics.items():
        click.echo(f"{method_label(task, method, result.model)}: PSNR {values['psnr']:.2f} dB, "
                   f"SSIM {values['ssim']:.4f}, "
                   f"PSNR(Y) {values['psnr_y']:.2f} dB, SSIM(Y) {values['ssim_y']:.4f}"
                   + ("" if values["lpips"] != values["lpips"]
                      else f", LPIPS {values['lpips']:.4f}"))
    run.log("wrote " + ", ".join(str(path) for path in written))
