"""The restoration tasks as records (`VISION_TASKS`): the degradation, the model that serves the
task, the classical baseline and the evaluation settings of each.

- sr: bicubic x4 down-sampling (Pillow) -> bicubic x4 up-sampling | SRGAN x4;
- inpaint: occlusion (block or free-form mask) at a ratio -> biharmonic inpainting | multi-loss GAN
  (with a reference, two more classical rows: harmonic inpainting and the self-calibrated
  harmonic/biharmonic blend);
- denoise: Gaussian noise (sigma in [0, 1] units) -> non-local means | multi-loss GAN;
- colour: fading/darkening + bicubic x2 down-sampling -> white balance + contrast stretch after
  bicubic x2 up-sampling | CR-SRGAN.

Images are float tensors [3, H, W] in [0, 1]; masks [1, H, W] with 1 = missing pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from commgan.errors import CommganError
from commgan.registry import Registry
from commgan.vision.baselines import (
    bicubic_upsample,
    biharmonic_inpaint,
    calibrated_inpaint,
    harmonic_inpaint,
    nlm_denoise,
    stretch_colours,
)
from commgan.vision.degradations import (
    TaskSettings,
    degrade_colour,
    gaussian_noise,
    make_mask,
    pil_resize,
)
from commgan.vision.models.multiloss import noise_condition, occlusion_condition

__all__ = ["VISION_TASKS", "ColourTask", "DenoiseTask", "InpaintTask", "SRTask", "VisionTask"]


@dataclass(frozen=True)
class VisionTask:
    """Spec record of one restoration task; subclasses implement its degradation, baseline and
    model input."""

    name: str
    """Task name (``commgan restore --task NAME``)."""
    model: str
    """Name of the model serving the task in `commgan.vision.models.registry.VISION_MODELS`."""
    summary: str
    """A few words (no commas) for the CLI's help."""
    baseline_name: str
    """Display name of the classical baseline."""
    scale: int = 1
    """Up-sampling factor from the degraded input to the restored image."""
    min_size: int = 32
    """Smallest side (pixels) of a clean image the task accepts."""
    needs_mask: bool = False
    """An already degraded input comes with a mask (1 = missing pixel)."""
    metrics_on_y: bool = False
    """Figure captions give PSNR/SSIM on luma Y (BT.601) instead of RGB."""
    models: tuple[str, ...] = ()
    """Other models that serve the task (``commgan restore --model NAME``; `model` by default)."""

    @property
    def border_crop(self) -> int:
        """Border (pixels) left out of the metrics: the scale when up-sampling, else 0."""
        return self.scale if self.scale > 1 else 0

    def degrade(self, reference: Tensor, settings: TaskSettings, generator: torch.Generator
                ) -> tuple[Tensor, Tensor | None]:
        """(degraded input [3, H/scale, W/scale], mask [1, H, W] or None) of a clean image
        [3, H, W] whose sides are multiples of the scale."""
        raise NotImplementedError

    def baseline(self, degraded: Tensor, mask: Tensor | None, sigma: float | None) -> Tensor:
        """The classical baseline's restoration [3, H, W] of a degraded input.

        sigma: the noise standard deviation when known ([0, 1] units), else None.
        """
        raise NotImplementedError

    def condition(self, degraded: Tensor, mask: Tensor | None, baseline: Tensor | None
                  ) -> Tensor:
        """The model's input [C, h, w] for a degraded image; ``baseline``: the baseline's
        restoration when already computed. By default the degraded image itself."""
        return degraded

    def reference_baselines(self, degraded: Tensor, mask: Tensor | None, baseline: Tensor
                            ) -> dict[str, Tensor]:
        """More classical restorations measured when a reference is given: {name: [3, H, W]}."""
        return {}


def _require_mask(mask: Tensor | None) -> Tensor:
    if mask is None:
        raise CommganError("inpainting needs a mask (1 = missing pixel)")
    return mask


@dataclass(frozen=True)
class SRTask(VisionTask):
    """x4 super-resolution of a bicubic (Pillow) down-sampling; baseline bicubic up-sampling."""

    def degrade(self, reference: Tensor, settings: TaskSettings, generator: torch.Generator
                ) -> tuple[Tensor, Tensor | None]:
        h, w = reference.shape[-2:]
        return pil_resize(reference, (h // self.scale, w // self.scale)), None

    def baseline(self, degraded: Tensor, mask: Tensor | None, sigma: float | None) -> Tensor:
        return bicubic_upsample(degraded, self.scale)


@dataclass(frozen=True)
class ColourTask(VisionTask):
    """Faded/darkened, x2 down-sampled photos; baseline white balance + contrast stretch after
    bicubic up-sampling."""

    def degrade(self, reference: Tensor, settings: TaskSettings, generator: torch.Generator
                ) -> tuple[Tensor, Tensor | None]:
        return degrade_colour(reference, settings.fade, self.scale), None

    def baseline(self, degraded: Tensor, mask: Tensor | None, sigma: float | None) -> Tensor:
        return stretch_colours(bicubic_upsample(degraded, self.scale))


@dataclass(frozen=True)
class DenoiseTask(VisionTask):
    """Additive Gaussian noise; baseline non-local means."""

    def degrade(self, reference: Tensor, settings: TaskSettings, generator: torch.Generator
                ) -> tuple[Tensor, Tensor | None]:
        return gaussian_noise(reference, settings.sigma, generator), None

    def baseline(self, degraded: Tensor, mask: Tensor | None, sigma: float | None) -> Tensor:
        return nlm_denoise(degraded, sigma)

    def condition(self, degraded: Tensor, mask: Tensor | None, baseline: Tensor | None
                  ) -> Tensor:
        return noise_condition(degraded)


@dataclass(frozen=True)
class InpaintTask(VisionTask):
    """Occluded pixels (zeroed under a mask); baseline biharmonic inpainting, which is also the
    pre-fill of the model's input."""

    def degrade(self, reference: Tensor, settings: TaskSettings, generator: torch.Generator
                ) -> tuple[Tensor, Tensor | None]:
        h, w = reference.shape[-2:]
        mask = make_mask(settings.mask, h, w, settings.ratio, generator)
        return reference * (1 - mask), mask

    def baseline(self, degraded: Tensor, mask: Tensor | None, sigma: float | None) -> Tensor:
        return biharmonic_inpaint(degraded, _require_mask(mask))

    def condition(self, degraded: Tensor, mask: Tensor | None, baseline: Tensor | None
                  ) -> Tensor:
        mask = _require_mask(mask)
        if baseline is None:
            return occlusion_condition(degraded, mask)
        return torch.cat([baseline, mask, 1 - mask])

    def reference_baselines(self, degraded: Tensor, mask: Tensor | None, baseline: Tensor
                            ) -> dict[str, Tensor]:
        harmonic = harmonic_inpaint(degraded, mask)
        return {"harmonic": harmonic, "calibrated blend": calibrated_inpaint(
            degraded, mask, biharmonic=baseline, harmonic=harmonic)}


VISION_TASKS: Registry[VisionTask] = Registry("vision task", [
    SRTask("sr", "sr", "x4 super-resolution by SRGAN", "bicubic", scale=4, min_size=64,
           metrics_on_y=True),
    InpaintTask("inpaint", "restore", "occluded pixels filled by the multi-loss GAN",
                "biharmonic", needs_mask=True, models=("gated",)),
    DenoiseTask("denoise", "restore", "Gaussian noise removed by the multi-loss GAN",
                "non-local means"),
    SRTask("sr-real", "real-esrgan", "x4 super-resolution by Real-ESRGAN trained on "
           "second-order degradations", "bicubic", scale=4, min_size=64, metrics_on_y=True),
    ColourTask("colour", "colour", "faded/dark photos restored with x2 super-resolution by "
               "CR-SRGAN", "white balance + stretch", scale=2),
])
"""Task name -> record (the tasks of ``commgan restore``)."""
