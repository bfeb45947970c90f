"""``commgan converge`` and ``commgan restore``: channel GANs and image restoration."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commgan.cli.app import cli, on_interrupt
from commgan.cli.options import (
    RegistryChoice,
    RegistryHelpOption,
    channel_model_names,
    channel_option,
    check_out_dir,
    finite,
    mod_option,
    models_option,
    parse_train_ebno,
    positive,
    seed_option,
    train_dir_option,
    vision_task_names,
    vision_task_summaries,
)
from commgan.cli.workers import (
    device_option,
    make_backend,
    resolve_device,
    resolve_jobs,
    threads_check,
    worker_options,
)
from commgan.configfile import config_option
from commgan.errors import CommganError
from commgan.fileio import claim_output


@on_interrupt("results are written only when the study finishes; a rerun starts over")
@cli.command()
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
@worker_options
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/converge-CHANNEL-MOD].")
@seed_option
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar or log lines; the table only.")
def converge(channel, mod, model_names, seeds, iters, train_ebno, fidelity, ae, jobs, backend,
             ray_address, threads, out_dir, seed, device, quiet) -> None:
    """Convergence benchmark of GAN, CGAN and DCGAN channel models.

    Trains each model for each seed, reports the crossover and equilibrium iterations of the G
    and D losses (mean ± std over seeds) and the fidelity of each model, and writes
    convergence.csv, summary.csv, fidelity.csv, ae_ber.csv, histories.csv, losses.png and
    config.json to the output folder.
    """
    from commgan.channelgan_study import ConvergenceConfig, format_summary, run_convergence
    from commgan.comm.channelgan import CHANNEL_MODELS
    from commgan.sim.executor import configure_process

    model_names = ",".join(CHANNEL_MODELS) if model_names is None else model_names
    names = [name.strip().lower() for name in model_names.split(",") if name.strip()]
    unknown = [name for name in names if name not in CHANNEL_MODELS]
    if unknown or not names:
        raise CommganError(f"--models {model_names!r}: unknown model(s) "
                           f"{', '.join(unknown) or '(none)'}; valid: {', '.join(CHANNEL_MODELS)}")
    channel, mod = channel.lower(), mod.lower()
    iterations = {name: iters or CHANNEL_MODELS[name].default_iterations for name in names}
    config = ConvergenceConfig(
        channel=channel, mod=mod, models=tuple(names), seeds=seeds, seed=seed,
        iterations=iterations, train_ebno_db=parse_train_ebno(train_ebno), fidelity=fidelity,
        ae=ae, device=resolve_device(device))
    out = check_out_dir(out_dir or f"results/converge-{channel}-{mod}")
    runner = make_backend(backend, ray_address)
    claim_output(out)
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    say(f"converge: {', '.join(names)} x {seeds} seeds over {channel} with {mod} on "
        f"{config.device}")
    configure_process(threads)
    result = run_convergence(config, out, jobs=resolve_jobs(jobs, config.device), threads=threads,
                             backend=runner, progress=not quiet and sys.stderr.isatty(),
                             log=say)
    click.echo(format_summary(result.summary, result.fidelity))
    say(f"wrote convergence.csv, summary.csv, fidelity.csv, losses.png and more in {out}")



@on_interrupt("results are written only when the restoration finishes, and a model in "
              "training is not cached (a rerun trains it again)")
@cli.command()
@config_option
@click.option("--task", type=RegistryChoice(vision_task_names), required=True,
              cls=RegistryHelpOption, names=vision_task_summaries,
              help="What to restore.")
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
@click.option("--mask-kind", type=click.Choice(["block", "free-form"], case_sensitive=False),
              default="block", show_default=True, help="inpaint: occlusion mask kind.")
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
@models_option
@seed_option
@device_option
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              callback=threads_check,
              help="torch intra-op threads [default: the usable cores: image models have large "
                   "tensors, where threads pay off on an idle machine].")
@click.option("--quiet", is_flag=True, help="No progress bar or log lines.")
def restore(task, image_path, demo, degraded, mask_path, ratio, mask_kind, sigma, steps,
            backbone_weights, train_dir, out_dir, models_dir, seed, device, threads,
            quiet) -> None:
    """Restore an image with a GAN next to a classical baseline.

    Writes restored.png, side_by_side.png (degraded | baseline | GAN | reference, with PSNR/SSIM)
    and, when there is a reference, metrics.csv. The task's model is trained on first use
    (minutes on a CPU) and cached in the model folder.
    """
    from commgan.sim.executor import configure_process, usable_cores

    configure_process(threads or usable_cores())
    from commgan.checkpoint import models_dir as resolve_models_dir
    from commgan.vision.report import method_label, write_restoration
    from commgan.vision.restore import DEMO_IMAGE, RestoreRequest, run_restore
    from commgan.vision.tasks import TaskSettings

    task = task.lower()
    out = check_out_dir(out_dir or f"results/restore-{task}")
    models = resolve_models_dir(models_dir)
    check_out_dir(str(models), "--models")
    settings = TaskSettings(ratio=ratio, mask=mask_kind.lower(), sigma=sigma / 255, seed=seed)
    request = RestoreRequest(task=task, image=image_path, demo=demo, degraded=degraded,
                             mask=mask_path, settings=settings, steps=steps,
                             backbone_weights=backbone_weights, models_dir=models,
                             device=resolve_device(device), train_dir=train_dir)
    claim_output(out)
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    result = run_restore(request, progress=not quiet and sys.stderr.isatty(), log=say)
    source = f"{DEMO_IMAGE} (demo)" if demo else Path(image_path).name
    written = write_restoration(result, out, f"{task}: {source}")
    for method, values in result.metrics.items():
        click.echo(f"{method_label(task, method)}: PSNR {values['psnr']:.2f} dB, "
                   f"SSIM {values['ssim']:.4f}, "
                   f"PSNR(Y) {values['psnr_y']:.2f} dB, SSIM(Y) {values['ssim_y']:.4f}"
                   + ("" if values["lpips"] != values["lpips"]
                      else f", LPIPS {values['lpips']:.4f}"))
    say("wrote " + ", ".join(str(path) for path in written))
