"""Paired image-to-image translation tasks (pix2pix, CycleGAN) as records (`TRANSLATION_TASKS`):
the model's input made from a clean photo, the classical baseline, and the models that learn the
task.

- colour: a faded/sepia/dark photo (`commgan.vision.degradations.fade`, the colour task's
  fading at scale 1) -> the clean photo; classical baseline: grey-world white balance + 1-99
  percentile contrast stretch (`commgan.vision.baselines.stretch_colours`);
- edges2photo: Canny edges (`commgan.vision.degradations.edge_map`) drawn black on white as an
  RGB image -> the photo; classical baseline: every pixel painted with the mean colour of the
  training images' edge pixels or non-edge pixels (`commgan.vision.baselines.paint_edges`).
- labels2photo: a semantic label map (8 colour/texture classes, `commgan.vision.labels`) as a
  palette RGB image -> the photo (SPADE, pix2pix); classical baseline: each class painted with
  its mean colour over the training images (`commgan.vision.labels.paint_labels`).

Images are float tensors [3, H, W] in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from commgan.errors import CommganError
from commgan.registry import Registry
from commgan.vision.baselines import paint_edges, stretch_colours
from commgan.vision.data import TRAIN_IMAGES
from commgan.vision.degradations import TaskSettings, edge_map, fade
from commgan.vision.labels import label_image, paint_labels
from commgan.vision.models.registry import VISION_MODELS

__all__ = ["TRANSLATION_TASKS", "ColourTranslation", "EdgesTranslation", "TranslationTask",
           "method_name", "translation_methods"]


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
    """``--model`` name -> name of its record in `commgan.vision.models.registry.VISION_MODELS`."""
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
        return paint_edges(degraded, tuple(images))


@dataclass(frozen=True)
class LabelsTranslation(TranslationTask):
    """Label maps (`commgan.vision.labels`) -> photos; baseline each class's mean colour."""

    def degrade(self, reference: Tensor, settings: TaskSettings) -> Tensor:
        return label_image(reference)

    def baseline(self, degraded: Tensor, images: tuple[str, ...] = TRAIN_IMAGES) -> Tensor:
        return paint_labels(degraded, tuple(images))


TRANSLATION_TASKS: Registry[TranslationTask] = Registry("translation task", [
    ColourTranslation("colour", "faded/sepia/dark photo to clean photo", "white balance + stretch",
                      models={"pix2pix": "pix2pix-colour", "cyclegan": "cyclegan-colour",
                              "cut": "cut-colour"}),
    EdgesTranslation("edges2photo", "Canny edges to photo", "edge/non-edge mean colours",
                     models={"pix2pix": "pix2pix-edges2photo"}),
    LabelsTranslation("labels2photo", "colour/texture label map to photo", "class mean colours",
                      models={"spade": "spade-labels2photo", "pix2pix": "pix2pix-labels2photo"}),
])
"""Task name -> record (the tasks of ``commgan translate``)."""


def translation_methods() -> list[str]:
    """Every ``--model`` name of ``commgan translate``, from the tasks' records."""
    return list(dict.fromkeys(method for task in TRANSLATION_TASKS.values()
                              for method in task.models))


def method_name(method: str) -> str:
    """Display name of a ``--model`` (its model record's ``display_name``); CommganError for a
    name no task takes."""
    for task in TRANSLATION_TASKS.values():
        if method in task.models:
            return VISION_MODELS[task.models[method]].display_name
    raise CommganError(f"unknown translation model {method!r}; valid: "
                       f"{', '.join(translation_methods())}")
