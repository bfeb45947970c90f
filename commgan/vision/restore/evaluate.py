"""Restore one image with a model and a classical baseline, and measure both on held-out images.

What each task degrades, which baseline and which model restore it:
`commgan.vision.restore.tasks`.
"degraded" rows measure the input itself (for up-sampling tasks: its bicubic up-sampling, so that
it has the target's size). Metrics follow `commgan.vision.metrics` (border crop = the task's
scale when it up-samples), all outputs rounded to 8 bits first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import Tensor, nn

from commgan.errors import CommganError
from commgan.vision.baselines import bicubic_upsample
from commgan.vision.data import quantize
from commgan.vision.degradations import TaskSettings, crop_to_multiple
from commgan.vision.metrics import image_metrics
from commgan.vision.perceptual import LPIPS
from commgan.vision.restore.tasks import VISION_TASKS

__all__ = ["MAX_PIXELS", "Restoration", "check_size", "degrade", "evaluate_images",
           "restore_degraded", "run_baseline", "run_model"]

MAX_PIXELS = 4_000_000
"""Largest restored image (pixels) a task produces in one piece (memory on a CPU)."""


@dataclass
class Restoration:
    """One restored image: the images [3, H, W] and the metrics of each method."""

    task: str
    reference: Tensor | None
    degraded: Tensor
    baseline: Tensor
    restored: Tensor
    mask: Tensor | None = None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    model: str | None = None
    """Name of the model that restored (`VISION_MODELS`); None = the task's `VisionTask.model`."""
    comparisons: dict[str, Tensor] = field(default_factory=dict)
    """Other models' restorations [3, H, W] by display name (the model's `compare_with`)."""


def check_size(task: str, image: Tensor, degraded: bool = False) -> None:
    """CommganError when ``image`` [3, H, W] is smaller than the task needs, or its restoration
    would exceed `MAX_PIXELS`. degraded: the image is the model's input (for up-sampling tasks,
    a low-resolution image), not a clean image to be degraded first."""
    spec = VISION_TASKS[task]
    need = max(spec.min_size // spec.scale, 16) if degraded else spec.min_size
    h, w = image.shape[-2:]
    if min(h, w) < need:
        raise CommganError(f"the image is {w}x{h} pixels; task {task} needs at least "
                           f"{need}x{need}")
    out_pixels = h * w * (spec.scale * spec.scale if degraded else 1)
    if out_pixels > MAX_PIXELS:
        raise CommganError(f"the image is {w}x{h} pixels; task {task} restores at most "
                           f"{MAX_PIXELS:,} output pixels in one piece: crop or shrink it")


def degrade(task: str, image: Tensor, settings: TaskSettings) -> tuple[Tensor, Tensor,
                                                                       Tensor | None]:
    """(reference, degraded input, mask or None) of a clean image for ``task``.

    The reference is the image cropped to a multiple of the task's scale.
    """
    check_size(task, image)
    spec = VISION_TASKS[task]
    reference = crop_to_multiple(image, spec.scale)
    generator = torch.Generator().manual_seed(settings.seed)
    degraded, mask = spec.degrade(reference, settings, generator)
    return reference, degraded, mask


def run_model(task: str, model: nn.Module, degraded: Tensor, mask: Tensor | None = None,
              prefill: Tensor | None = None) -> Tensor:
    """The model's restoration of one degraded image [3, h, w] -> [3, H, W] (8-bit rounded).

    inpaint: ``mask`` [1, H, W] is required; ``prefill`` is the biharmonic fill of the holes
    (the generator's input), computed here when not given.
    """
    device = next(model.parameters()).device
    condition = VISION_TASKS[task].condition(degraded, mask, prefill)
    with torch.no_grad():
        out = model(condition.unsqueeze(0).to(device))
    return quantize(out[0].cpu())


def run_baseline(task: str, degraded: Tensor, mask: Tensor | None = None,
                 sigma: float | None = None) -> Tensor:
    """The classical baseline's restoration of one degraded image (sigma: the noise level when
    known, [0, 1] units; used by denoise)."""
    return VISION_TASKS[task].baseline(degraded, mask, sigma)


def restore_degraded(task: str, model: nn.Module, degraded: Tensor, mask: Tensor | None = None,
                     sigma: float | None = None, reference: Tensor | None = None,
                     lpips: LPIPS | None = None,
                     comparisons: dict[str, nn.Module] | None = None) -> Restoration:
    """Restore ``degraded`` with the model and the baseline (and ``comparisons``: other models
    of the task by display name); metrics when a reference is given.

    The ``degraded`` field of the result has the target's size (bicubic up-sampled for
    up-sampling tasks) so that the images can be shown side by side. With a reference,
    the task's `VisionTask.reference_baselines` are measured too.
    """
    spec = VISION_TASKS[task]
    baseline = spec.baseline(degraded, mask, sigma)
    extra = spec.reference_baselines(degraded, mask, baseline) if reference is not None else {}
    enlarged = bicubic_upsample(degraded, spec.scale) if spec.scale > 1 else degraded
    result = Restoration(task=task, reference=reference, degraded=enlarged, baseline=baseline,
                         restored=run_model(task, model, degraded, mask, baseline), mask=mask,
                         comparisons={name: run_model(task, other, degraded, mask, baseline)
                                      for name, other in (comparisons or {}).items()})
    if reference is not None:
        for name, image in (("degraded", result.degraded), ("baseline", result.baseline),
                            *extra.items(), ("model", result.restored),
                            *result.comparisons.items()):
            result.metrics[name] = image_metrics(image, reference, spec.border_crop, lpips)
    return result


def evaluate_images(task: str, model: nn.Module, images: dict[str, Tensor],
                    settings: TaskSettings | None = None, lpips: LPIPS | None = None
                    ) -> pd.DataFrame:
    """Per image and method (degraded, baseline, model): psnr, ssim, psnr_y, ssim_y, lpips."""
    settings = settings or TaskSettings()
    rows = []
    for name, image in images.items():
        reference, degraded, mask = degrade(task, image, settings)
        result = restore_degraded(task, model, degraded, mask, settings.sigma, reference, lpips)
        for method, values in result.metrics.items():
            rows.append({"task": task, "image": name, "method": method, **values})
    return pd.DataFrame(rows)
