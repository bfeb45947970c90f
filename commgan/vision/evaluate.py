"""Restore one image with a model and a classical baseline, and measure both on held-out images.

Each task has a degradation (seeded) -> a classical baseline | a learned model:

- sr: bicubic x4 down-sampling (Pillow) -> bicubic x4 up-sampling | SRGAN x4;
- inpaint: occlusion (block or free-form mask) at a ratio -> biharmonic inpainting | multi-loss GAN
  (with a reference, two more classical rows: harmonic inpainting and the self-calibrated
  harmonic/biharmonic blend);
- denoise: Gaussian noise (sigma in [0, 1] units) -> non-local means | multi-loss GAN;
- colour: fading/darkening + bicubic x2 down-sampling -> white balance + contrast stretch after
  bicubic x2 up-sampling | CR-SRGAN.

"degraded" rows measure the input itself (for sr and colour: its bicubic up-sampling, so that
it has the target's size). Metrics follow `commgan.vision.metrics` (border crop = scale for sr
and colour), all outputs rounded to 8 bits first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import Tensor, nn

from commgan.errors import CommganError
from commgan.vision.baselines import (
    bicubic_upsample,
    biharmonic_inpaint,
    calibrated_inpaint,
    harmonic_inpaint,
    nlm_denoise,
    stretch_colours,
)
from commgan.vision.data import quantize
from commgan.vision.degradations import (
    Fade,
    crop_to_multiple,
    degrade_colour,
    gaussian_noise,
    make_mask,
    pil_resize,
)
from commgan.vision.metrics import image_metrics
from commgan.vision.training import noise_condition, occlusion_condition

__all__ = ["MAX_PIXELS", "MIN_SIZE", "TASKS", "Restoration", "TaskSettings", "check_size",
           "degrade", "evaluate_images", "restore_degraded", "run_baseline", "run_model",
           "task_model"]

TASKS: tuple[str, ...] = ("sr", "inpaint", "denoise", "colour")
"""Tasks of ``commgan restore``."""
MIN_SIZE: dict[str, int] = {"sr": 64, "inpaint": 32, "denoise": 32, "colour": 32}
"""Smallest side (pixels) of a clean image each task accepts (sr: 16 px low-resolution input)."""
MAX_PIXELS = 4_000_000
"""Largest restored image (pixels) a task produces in one piece (memory on a CPU)."""
_SCALE = {"sr": 4, "colour": 2, "inpaint": 1, "denoise": 1}


@dataclass
class TaskSettings:
    """Degradation settings of the evaluation (and of ``commgan restore``)."""

    ratio: float = 0.2
    """inpaint: occluded area ratio."""
    mask: str = "block"
    """inpaint: mask kind ("block" or "free-form")."""
    sigma: float = 25 / 255
    """denoise: noise standard deviation ([0, 1] units)."""
    fade: Fade = field(default_factory=Fade)
    """colour: the fading applied."""
    seed: int = 0
    """Seed of masks and noise."""


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


def task_model(task: str) -> str:
    """Which cached model serves a task (see `commgan.vision.training.MODELS`)."""
    if task not in TASKS:
        raise CommganError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    return {"sr": "sr", "colour": "colour"}.get(task, "restore")


def check_size(task: str, image: Tensor, degraded: bool = False) -> None:
    """CommganError when ``image`` [3, H, W] is smaller than the task needs, or its restoration
    would exceed `MAX_PIXELS`. degraded: the image is the model's input (for sr and colour, a
    low-resolution image), not a clean image to be degraded first."""
    scale = _SCALE[task]
    need = max(MIN_SIZE[task] // scale, 16) if degraded else MIN_SIZE[task]
    h, w = image.shape[-2:]
    if min(h, w) < need:
        raise CommganError(f"the image is {w}x{h} pixels; task {task} needs at least "
                           f"{need}x{need}")
    out_pixels = h * w * (scale * scale if degraded else 1)
    if out_pixels > MAX_PIXELS:
        raise CommganError(f"the image is {w}x{h} pixels; task {task} restores at most "
                           f"{MAX_PIXELS:,} output pixels in one piece: crop or shrink it")


def degrade(task: str, image: Tensor, settings: TaskSettings) -> tuple[Tensor, Tensor,
                                                                       Tensor | None]:
    """(reference, degraded input, mask or None) of a clean image for ``task``.

    The reference is the image cropped to a multiple of the task's scale.
    """
    check_size(task, image)
    scale = _SCALE[task]
    reference = crop_to_multiple(image, scale)
    h, w = reference.shape[-2:]
    generator = torch.Generator().manual_seed(settings.seed)
    if task == "sr":
        return reference, pil_resize(reference, (h // scale, w // scale)), None
    if task == "colour":
        return reference, degrade_colour(reference, settings.fade, scale), None
    if task == "denoise":
        return reference, gaussian_noise(reference, settings.sigma, generator), None
    mask = make_mask(settings.mask, h, w, settings.ratio, generator)
    return reference, reference * (1 - mask), mask


def run_model(task: str, model: nn.Module, degraded: Tensor, mask: Tensor | None = None,
              prefill: Tensor | None = None) -> Tensor:
    """The model's restoration of one degraded image [3, h, w] -> [3, H, W] (8-bit rounded).

    inpaint: ``mask`` [1, H, W] is required; ``prefill`` is the biharmonic fill of the holes
    (the generator's input), computed here when not given.
    """
    device = next(model.parameters()).device
    with torch.no_grad():
        if task in ("sr", "colour"):
            out = model(degraded.unsqueeze(0).to(device))
        elif task == "inpaint":
            if mask is None:
                raise CommganError("inpainting needs a mask (1 = missing pixel)")
            condition = (occlusion_condition(degraded, mask) if prefill is None
                         else torch.cat([prefill, mask, 1 - mask]))
            out = model(condition.unsqueeze(0).to(device))
        else:
            out = model(noise_condition(degraded).unsqueeze(0).to(device))
    return quantize(out[0].cpu())


def run_baseline(task: str, degraded: Tensor, mask: Tensor | None = None,
                 sigma: float | None = None) -> Tensor:
    """The classical baseline's restoration of one degraded image."""
    if task == "sr":
        return bicubic_upsample(degraded, 4)
    if task == "colour":
        return stretch_colours(bicubic_upsample(degraded, 2))
    if task == "denoise":
        return nlm_denoise(degraded, sigma)
    if mask is None:
        raise CommganError("inpainting needs a mask (1 = missing pixel)")
    return biharmonic_inpaint(degraded, mask)


def _as_target_size(task: str, degraded: Tensor) -> Tensor:
    return bicubic_upsample(degraded, _SCALE[task]) if _SCALE[task] > 1 else degraded


def restore_degraded(task: str, model: nn.Module, degraded: Tensor, mask: Tensor | None = None,
                     sigma: float | None = None, reference: Tensor | None = None,
                     lpips=None) -> Restoration:
    """Restore ``degraded`` with the model and the baseline; metrics when a reference is given.

    The ``degraded`` field of the result has the target's size (bicubic up-sampled for sr and
    colour) so that the three images can be shown side by side. With a reference, inpainting
    also measures the two other classical fills ("harmonic", "calibrated blend").
    """
    baseline = run_baseline(task, degraded, mask, sigma)
    prefill = baseline if task == "inpaint" else None
    extra: dict[str, Tensor] = {}
    if task == "inpaint" and reference is not None:
        harmonic = harmonic_inpaint(degraded, mask)
        extra = {"harmonic": harmonic, "calibrated blend": calibrated_inpaint(
            degraded, mask, biharmonic=baseline, harmonic=harmonic)}
    result = Restoration(task=task, reference=reference,
                         degraded=_as_target_size(task, degraded), baseline=baseline,
                         restored=run_model(task, model, degraded, mask, prefill), mask=mask)
    if reference is not None:
        crop = _SCALE[task] if _SCALE[task] > 1 else 0
        for name, image in (("degraded", result.degraded), ("baseline", result.baseline),
                            *extra.items(), ("model", result.restored)):
            result.metrics[name] = image_metrics(image, reference, crop, lpips)
    return result


def evaluate_images(task: str, model: nn.Module, images: dict[str, Tensor],
                    settings: TaskSettings | None = None, lpips=None) -> pd.DataFrame:
    """Per image and method (degraded, baseline, model): psnr, ssim, psnr_y, ssim_y, lpips."""
    settings = settings or TaskSettings()
    rows = []
    for name, image in images.items():
        reference, degraded, mask = degrade(task, image, settings)
        sigma = settings.sigma if task == "denoise" else None
        result = restore_degraded(task, model, degraded, mask, sigma, reference, lpips)
        for method, values in result.metrics.items():
            rows.append({"task": task, "image": name, "method": method, **values})
    return pd.DataFrame(rows)
