"""Translating and measuring images with the models of a translation task (what
``commgan translate`` does, callable from Python).

Metrics as `commgan.vision.metrics` (RGB and Y, no border crop), every output rounded to 8 bits
first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import Tensor, nn

from commgan.errors import CommganError
from commgan.vision.data import TRAIN_IMAGES, quantize
from commgan.vision.degradations import TaskSettings
from commgan.vision.metrics import image_metrics
from commgan.vision.translate.tasks import TRANSLATION_TASKS, method_name

__all__ = ["MAX_PIXELS", "Translation", "check_image", "evaluate_translation", "run_generator",
           "translate_image"]

MAX_PIXELS = 4_000_000
"""Largest image (pixels) translated in one piece (memory on a CPU)."""


@dataclass
class Translation:
    """One translated image: the reference, the model's input, the baseline, each model's
    output ([3, H, W]) and, per method, psnr, ssim, psnr_y, ssim_y, lpips (NaN)."""

    task: str
    reference: Tensor
    degraded: Tensor
    baseline: Tensor
    outputs: dict[str, Tensor]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def check_image(task: str, image: Tensor) -> None:
    """CommganError when ``image`` [3, H, W] is too small or too large for ``task``."""
    need = TRANSLATION_TASKS[task].min_size
    h, w = image.shape[-2:]
    if min(h, w) < need:
        raise CommganError(f"the image is {w}x{h} pixels; task {task} needs at least "
                           f"{need}x{need}")
    if h * w > MAX_PIXELS:
        raise CommganError(f"the image is {w}x{h} pixels; task {task} translates at most "
                           f"{MAX_PIXELS:,} pixels in one piece: crop or shrink it")


def run_generator(model: nn.Module, condition: Tensor) -> Tensor:
    """G(condition [3, H, W]) -> [3, H, W], 8-bit rounded."""
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model(condition.unsqueeze(0).to(device))
    return quantize(out[0].cpu())


def translate_image(task: str, models: dict[str, nn.Module], image: Tensor,
                    settings: TaskSettings | None = None,
                    baseline_images: tuple[str, ...] | None = None) -> Translation:
    """Degrade a clean image [3, H, W], translate it with each model ({method: generator}) and
    the baseline, and measure every output (and the input) against the image.

    baseline_images: the training images a baseline is estimated on (default `TRAIN_IMAGES`).
    """
    spec = TRANSLATION_TASKS[task]
    check_image(task, image)
    settings = settings or TaskSettings()
    degraded = spec.degrade(image, settings)
    baseline = spec.baseline(degraded, baseline_images or TRAIN_IMAGES)
    result = Translation(task, image, degraded, baseline,
                         {method: run_generator(model, degraded)
                          for method, model in models.items()})
    rows = [("input", degraded), (spec.baseline_name, result.baseline),
            *((method_name(m), out) for m, out in result.outputs.items())]
    for name, output in rows:
        result.metrics[name] = image_metrics(output, image)
    return result


def evaluate_translation(task: str, models: dict[str, nn.Module], images: dict[str, Tensor],
                         settings: TaskSettings | None = None) -> pd.DataFrame:
    """Per image and method (input, baseline, models): psnr, ssim, psnr_y, ssim_y, lpips."""
    rows = []
    for name, image in images.items():
        result = translate_image(task, models, image, settings)
        for method, values in result.metrics.items():
            rows.append({"task": task, "image": name, "method": method, **values})
    return pd.DataFrame(rows)
