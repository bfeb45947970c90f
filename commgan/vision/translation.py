"""Paired image-to-image translation tasks (pix2pix, CycleGAN) as records, their batch sources,
and translating and measuring one image.

- colour: a faded/sepia/dark photo (`commgan.vision.degradations.fade`, the colour task's
  fading at scale 1) -> the clean photo; classical baseline: grey-world white balance + 1-99
  percentile contrast stretch (`stretch_colours`);
- edges2photo: Canny edges (scikit-image, Gaussian sigma `EDGE_SIGMA` on the luma, default
  hysteresis thresholds), drawn black on white as an RGB image -> the photo; classical baseline:
  the per-pixel conditional mean given the edge bit, i.e. every pixel painted with the mean
  colour of the training images' edge pixels or non-edge pixels (`edge_colours`).

Images are float tensors [3, H, W] in [0, 1]. Metrics as `commgan.vision.metrics` (RGB and Y,
no border crop), every output rounded to 8 bits first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch
from torch import Tensor, nn

from commgan.errors import CommganError
from commgan.fileio import atomic_write
from commgan.vision.baselines import stretch_colours
from commgan.vision.data import TRAIN_IMAGES, PatchSampler, load_image, quantize, to_numpy
from commgan.vision.degradations import fade, random_fade
from commgan.vision.tasks import TaskSettings

if TYPE_CHECKING:
    from commgan.vision.configs import CycleGANTraining, Pix2PixTraining

__all__ = ["EDGE_SIGMA", "MAX_PIXELS", "TRANSLATION_TASKS", "ColourTranslation",
           "EdgesTranslation", "FadedPairs", "Translation", "TranslationTask", "edge_colours",
           "edge_map", "edges_source", "evaluate_translation", "method_name", "translate_image",
           "translation_methods", "translation_task", "write_translation"]

EDGE_SIGMA = 2.0
"""Gaussian sigma (pixels) of the Canny edge detector of edges2photo."""
MAX_PIXELS = 4_000_000
"""Largest image (pixels) translated in one piece (memory on a CPU)."""


@dataclass(frozen=True)
class TranslationTask:
    """Spec record of one paired translation task; subclasses implement its degradation (the
    model's input) and classical baseline."""

    name: str
    """Task name (``commgan translate --task NAME``)."""
    summary: str
    """A few words (no commas) for the CLI's help."""
    baseline_name: str
    """Display name of the classical baseline."""
    models: dict[str, str] = field(default_factory=dict)
    """``--model`` name -> key of its record in `commgan.vision.training.VISION_MODELS`."""
    min_size: int = 32
    """Smallest side (pixels) of an image the task accepts."""

    def degrade(self, reference: Tensor, settings: TaskSettings) -> Tensor:
        """The model's input [3, H, W] made from a clean image [3, H, W]."""
        raise NotImplementedError

    def baseline(self, degraded: Tensor, images: tuple[str, ...] = TRAIN_IMAGES) -> Tensor:
        """The classical baseline's output [3, H, W] for an input [3, H, W]; ``images``: the
        training images (shipped names or file paths) of a baseline estimated on them."""
        raise NotImplementedError

    def model_key(self, method: str) -> str:
        """The `VISION_MODELS` key of ``method`` on this task; CommganError if it has none."""
        if method not in self.models:
            raise CommganError(f"--model {method} does not support --task {self.name}; "
                               f"--task {self.name} takes --model {' or '.join(self.models)}")
        return self.models[method]


@dataclass(frozen=True)
class ColourTranslation(TranslationTask):
    """Faded/sepia/dark photos at full resolution; baseline white balance + contrast stretch."""

    def degrade(self, reference: Tensor, settings: TaskSettings) -> Tensor:
        return fade(reference, settings.fade)

    def baseline(self, degraded: Tensor, images: tuple[str, ...] = TRAIN_IMAGES) -> Tensor:
        return stretch_colours(degraded)


@dataclass(frozen=True)
class EdgesTranslation(TranslationTask):
    """Canny edge maps (black on white) -> photos; baseline the edge/non-edge mean colours."""

    def degrade(self, reference: Tensor, settings: TaskSettings) -> Tensor:
        return edge_map(reference)

    def baseline(self, degraded: Tensor, images: tuple[str, ...] = TRAIN_IMAGES) -> Tensor:
        edge, flat = (torch.tensor(c, dtype=torch.float32).view(3, 1, 1)
                      for c in edge_colours(tuple(images)))
        is_edge = degraded.mean(dim=0, keepdim=True) < 0.5
        return quantize(torch.where(is_edge, edge, flat))


TRANSLATION_TASKS: dict[str, TranslationTask] = {
    "colour": ColourTranslation(
        "colour", "faded/sepia/dark photo to clean photo", "white balance + stretch",
        models={"pix2pix": "pix2pix-colour", "cyclegan": "cyclegan-colour"}),
    "edges2photo": EdgesTranslation(
        "edges2photo", "Canny edges to photo", "edge/non-edge mean colours",
        models={"pix2pix": "pix2pix-edges2photo"}),
}
"""Task name -> spec record (the tasks of ``commgan translate``)."""


def translation_methods() -> list[str]:
    """Every ``--model`` name of ``commgan translate``, from the tasks' records."""
    return list(dict.fromkeys(method for task in TRANSLATION_TASKS.values()
                              for method in task.models))


def method_name(method: str) -> str:
    """Display name of a ``--model`` (its model record's ``display_name``)."""
    from commgan.vision.training import VISION_MODELS

    task = next(task for task in TRANSLATION_TASKS.values() if method in task.models)
    return VISION_MODELS[task.models[method]].display_name


def translation_task(name: str) -> TranslationTask:
    """The record of task ``name``; CommganError naming the valid tasks if there is none."""
    if name not in TRANSLATION_TASKS:
        raise CommganError(f"unknown task {name!r}; valid: {', '.join(TRANSLATION_TASKS)}")
    return TRANSLATION_TASKS[name]


def edge_map(image: Tensor, sigma: float = EDGE_SIGMA) -> Tensor:
    """Canny edges of the luma of [3, H, W] (scikit-image, Gaussian ``sigma`` pixels, default
    hysteresis thresholds) as RGB [3, H, W]: 0 (black) on edges, 1 (white) elsewhere."""
    from skimage.color import rgb2gray
    from skimage.feature import canny

    edges = canny(rgb2gray(to_numpy(image)), sigma=sigma)
    return torch.from_numpy(~edges).float().expand(3, -1, -1).contiguous()


@cache
def edge_colours(images: tuple[str, ...], sigma: float = EDGE_SIGMA
                 ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean RGB of the edge pixels, mean RGB of the other pixels) of ``images``: each image's
    means, averaged over the images with equal weights."""
    edge, flat = [], []
    for name in images:
        image = load_image(name)
        is_edge = edge_map(image, sigma)[0] < 0.5
        pixels = image.flatten(1)
        mask = is_edge.flatten()
        edge.append(pixels[:, mask].mean(1) if mask.any() else pixels.mean(1))
        flat.append(pixels[:, ~mask].mean(1))
    return (tuple(torch.stack(edge).mean(0).tolist()), tuple(torch.stack(flat).mean(0).tolist()))


class FadedPairs:
    """Paired colour batches for CycleGAN's validation: ``() -> (clean [B, 3, P, P], faded
    [B, 3, P, P])``, each patch under its own random `Fade` (parameters uniform in
    ``training.fade_ranges``), with random flips and 90-degree rotations."""

    def __init__(self, training: CycleGANTraining, images: list[Tensor]) -> None:
        self.patches = PatchSampler(images, training.patch, training.batch_size,
                                    seed=training.seed)
        self.ranges = training.fade_ranges

    def __call__(self) -> tuple[Tensor, Tensor]:
        clean = self.patches.sample()[0]
        generator = self.patches.generator
        faded = torch.stack([fade(patch, random_fade(generator, self.ranges)) for patch in clean])
        return clean, faded


def edges_source(training: Pix2PixTraining, images: list[Tensor]) -> PatchSampler:
    """pix2pix edges2photo batches: ``() -> (photo [B, 3, P, P], edges [B, 3, P, P])``, the
    edges detected on each whole image once, patches aligned, random flips and rotations."""
    pairs = [(edge_map(image), image) for image in images]
    return PatchSampler(pairs, training.patch, training.batch_size, seed=training.seed)


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
    need = translation_task(task).min_size
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
    from commgan.vision.metrics import image_metrics

    spec = translation_task(task)
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


def side_by_side(result: Translation, path: str | Path, title: str = "") -> None:
    """PNG: input | baseline | each model | reference, titled with PSNR / SSIM."""
    from commgan.vision.report import save_panels

    spec = translation_task(result.task)
    panels = [("input", result.degraded), (spec.baseline_name, result.baseline),
              *((method_name(m), out) for m, out in result.outputs.items()),
              ("reference", result.reference)]
    def caption(name: str) -> str:
        values = result.metrics.get(name)
        return name + (f"\nPSNR {values['psnr']:.2f} dB  SSIM {values['ssim']:.3f}"
                       if values else "")

    save_panels([(caption(name), image) for name, image in panels], path, title)


def write_translation(result: Translation, out: str | Path, title: str = "") -> list[Path]:
    """Write translated.png (the first model's output), side_by_side.png and metrics.csv
    (``method, psnr, ssim, psnr_y, ssim_y, lpips``) into ``out``."""
    from commgan.vision.report import save_png

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "translated.png", out / "side_by_side.png", out / "metrics.csv"]
    save_png(next(iter(result.outputs.values())), written[0])
    side_by_side(result, written[1], title)
    table = pd.DataFrame([{"method": k, **v} for k, v in result.metrics.items()])
    atomic_write(written[2], lambda tmp: table.to_csv(tmp, index=False))
    return written
