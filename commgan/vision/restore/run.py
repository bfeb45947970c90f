"""What ``commgan restore`` does, callable from Python: check every input first, then train or
load the model, restore, and only then write the files (so bad input leaves no output)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from commgan.errors import CommganError
from commgan.vision.data import TEST_IMAGES, load_image, read_image
from commgan.vision.degradations import TaskSettings
from commgan.vision.models.cache import comparison_model, load_or_train
from commgan.vision.models.record import VisionTraining
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import model_training
from commgan.vision.perceptual import LPIPS, load_backbone_state
from commgan.vision.restore.evaluate import Restoration, check_size, degrade, restore_degraded
from commgan.vision.restore.tasks import VISION_TASKS

__all__ = ["DEMO_IMAGE", "RestoreRequest", "load_mask", "prepare", "run_restore", "task_model"]

DEMO_IMAGE = TEST_IMAGES[0]
"""The shipped, held-out image used by ``--demo``."""


@dataclass
class RestoreRequest:
    """The options of ``commgan restore`` (see its help)."""

    task: str
    image: str | None = None
    demo: bool = False
    degraded: bool = False
    mask: str | None = None
    settings: TaskSettings = field(default_factory=TaskSettings)
    steps: int | None = None
    backbone_weights: str | None = None
    models_dir: str | Path = "."
    device: str = "cpu"
    train_dir: str | None = None
    model: str | None = None


@dataclass
class Prepared:
    """Checked inputs: the reference (None for an already degraded image), the degraded input,
    the mask, the LPIPS network (None = unavailable) and the backbone weights."""

    reference: Tensor | None
    degraded: Tensor
    mask: Tensor | None
    lpips: LPIPS | None
    backbone_state: dict[str, Tensor] | None
    notes: list[str]
    training: VisionTraining | None = None


def load_mask(path: str | Path, size: tuple[int, int]) -> Tensor:
    """A mask image (white = missing) as [1, H, W] in {0, 1}; CommganError if unusable or of
    another size than ``size`` = (H, W)."""
    image = read_image(path)
    if tuple(image.shape[-2:]) != tuple(size):
        raise CommganError(f"mask {str(path)!r} is {image.shape[-1]}x{image.shape[-2]} pixels, "
                           f"the image is {size[1]}x{size[0]}")
    return (image.mean(dim=0, keepdim=True) > 0.5).float()


def task_model(task: str, model: str | None = None) -> str:
    """The name of the model restoring ``task``: ``model`` (``--model``) when given, else the
    task's; CommganError when ``model`` does not serve the task."""
    spec = VISION_TASKS[task]
    if model is None:
        return spec.model
    served = (spec.model, *spec.models)
    if model.lower() not in served:
        raise CommganError(f"--model {model} does not serve --task {task}; valid: "
                           f"{', '.join(served)}")
    return model.lower()


def prepare(request: RestoreRequest) -> Prepared:
    """Check every input (one CommganError line each) and build the degraded input."""
    task = request.task
    spec = VISION_TASKS[task]
    if request.demo == (request.image is not None):
        raise CommganError("give exactly one of --image PATH and --demo")
    if request.degraded and request.image is None:
        raise CommganError("--degraded needs --image (the degraded image to restore)")
    if request.mask is not None and not (spec.needs_mask and request.degraded):
        masked = ", ".join(name for name, other in VISION_TASKS.items() if other.needs_mask)
        raise CommganError(f"--mask applies to --task {masked} with --degraded")
    if spec.needs_mask and request.degraded and request.mask is None:
        raise CommganError(f"--task {task} --degraded needs --mask PATH (white = missing)")
    name = task_model(task, request.model)
    settings = request.settings
    if not 0.0 < settings.ratio < 1.0:
        raise CommganError(f"--ratio must be in (0, 1), got {settings.ratio}")
    if not 0.0 < settings.sigma <= 1.0:
        raise CommganError(f"--sigma must be in (0, 255] 8-bit levels, got "
                           f"{settings.sigma * 255:g}")
    notes: list[str] = []
    state, lpips = None, None
    if request.backbone_weights is not None:
        state = load_backbone_state(request.backbone_weights)
        try:
            lpips = LPIPS.from_state(state)
        except CommganError as err:
            if "calibration" not in str(err):
                raise
            notes.append(f"LPIPS unavailable: {err}")
    else:
        notes.append("LPIPS unavailable (no --backbone-weights)")
    image = load_image(DEMO_IMAGE) if request.demo else read_image(request.image)
    training = model_training(VISION_MODELS[name], request.steps, request.train_dir,
                              notes)
    if request.degraded:
        check_size(task, image, degraded=True)
        mask = load_mask(request.mask, tuple(image.shape[-2:])) if request.mask else None
        if mask is not None:
            image = image * (1 - mask)
        return Prepared(None, image, mask, lpips, state, notes, training)
    reference, degraded, mask = degrade(task, image, settings)
    return Prepared(reference, degraded, mask, lpips, state, notes, training)


def run_restore(request: RestoreRequest, progress: bool = False,
                log: Callable[[str], None] = lambda message: None) -> Restoration:
    """Check the inputs, train or load the task's model, restore; returns the `Restoration`
    (with the default model, also the restoration of its `VisionModel.compare_with`)."""
    prepared = prepare(request)
    for note in prepared.notes:
        log(note)
    name = task_model(request.task, request.model)
    model = load_or_train(name, request.models_dir, prepared.training,
                          backbone_state=prepared.backbone_state, device=request.device,
                          progress=progress, log=log)
    # of an already degraded input the noise level is unknown: the baseline estimates it
    sigma = None if request.degraded else request.settings.sigma
    other = (comparison_model(name, request.models_dir, request.device, log)
             if prepared.training is None else None)
    comparisons = {VISION_MODELS[other[0]].display_name: other[1]} if other else {}
    with torch.no_grad():
        result = restore_degraded(request.task, model, prepared.degraded, prepared.mask, sigma,
                                  prepared.reference, prepared.lpips, comparisons)
    result.model = name
    return result
