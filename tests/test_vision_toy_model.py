"""Adding a vision model is one record (and a task that names it): a toy model and task defined
and registered inside this test, no other file edited, run through ``commgan restore`` and
``commgan translate`` (two training steps, seconds): trained, cached under its own stem, named
in the tables and figures by its records."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from helpers import run_cli
from torch import Tensor, nn

from commgan.vision.data import PatchSampler, quantize
from commgan.vision.degradations import TaskSettings
from commgan.vision.models.record import VisionModel, VisionTraining
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.nets.discriminators import ConvDiscriminator
from commgan.vision.restore.tasks import VISION_TASKS, VisionTask
from commgan.vision.translate.tasks import TRANSLATION_TASKS, TranslationTask

pytestmark = pytest.mark.usefixtures("one_thread")


def darken(image: Tensor) -> Tensor:
    """The toy degradation: half the brightness, 8-bit rounded."""
    return quantize(0.5 * image)


@dataclass
class ToyTraining(VisionTraining):
    """A 1x1-conv generator against a two-layer discriminator on 16-pixel patches."""

    patch: int = 16
    batch_size: int = 2
    iterations: int = 50
    warmup: int = 10
    adv_weight: float = 1e-3
    lr_g: float = 1e-2
    lr_d: float = 1e-3
    seed: int = 0
    images: tuple[str, ...] = ("rocket",)
    validation: tuple[str, ...] = ()


def toy_source(training: ToyTraining, images: list[Tensor]) -> PatchSampler:
    """``() -> (clean patches, darkened patches)``."""
    return PatchSampler(images, training.patch, training.batch_size, seed=training.seed,
                        transform=lambda target, generator: (target, darken(target)))


TOY = VisionModel(
    "toy-brighten", "toy brightener", "toy-brighten", ToyTraining,
    make_generator=lambda training: nn.Conv2d(3, 3, 1),
    make_discriminator=lambda training: ConvDiscriminator(4, layers=2),
    extra_losses=lambda training, perceptual: {
        "l1": (1.0, lambda fake, batch: F.l1_loss(fake, batch[0]))},
    batch_source=toy_source)


@dataclass(frozen=True)
class DarkenTask(VisionTask):
    """Darkened photos; baseline a gain of 2."""

    def degrade(self, reference: Tensor, settings: TaskSettings, generator: torch.Generator
                ) -> tuple[Tensor, Tensor | None]:
        return darken(reference), None

    def baseline(self, degraded: Tensor, mask: Tensor | None, sigma: float | None) -> Tensor:
        return quantize(2 * degraded)


@dataclass(frozen=True)
class DarkenTranslation(TranslationTask):
    """The same, as a translation task."""

    def degrade(self, reference: Tensor, settings: TaskSettings) -> Tensor:
        return darken(reference)

    def baseline(self, degraded: Tensor, images: tuple[str, ...] = ()) -> Tensor:
        return quantize(2 * degraded)


@pytest.fixture
def toy():
    """The toy model, a restoration task and a translation task it serves, registered for the
    length of one test."""
    VISION_MODELS.register("toy-brighten", TOY)
    VISION_TASKS.register("darken", DarkenTask(
        "darken", "toy-brighten", "darkened photo brightened by a toy GAN", "gain x2"))
    TRANSLATION_TASKS.register("darken", DarkenTranslation(
        "darken", "darkened photo to photo", "gain x2", models={"toy": "toy-brighten"}))
    yield
    del VISION_MODELS["toy-brighten"], VISION_TASKS["darken"], TRANSLATION_TASKS["darken"]


def test_toy_model_restores_through_the_command(toy, tmp_path):
    assert "darken (darkened photo brightened by a toy GAN)" in " ".join(
        run_cli(["restore", "--help"]).output.split())
    args = ["restore", "--task", "darken", "--demo", "--steps", "2", "--models",
            str(tmp_path / "m"), "--out", str(tmp_path / "o"), "--threads", "1"]
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    assert "toy-brighten: training 2 iterations" in result.output
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"restored.png", "side_by_side.png",
                                                            "metrics.csv"}
    table = pd.read_csv(tmp_path / "o" / "metrics.csv").set_index("method")
    assert list(table.index) == ["degraded", "gain x2", "toy brightener"]
    assert table.loc["gain x2", "psnr"] > table.loc["degraded", "psnr"] + 3
    (weights,) = (tmp_path / "m").glob("toy-brighten-*.safetensors")
    again = run_cli(args)
    assert again.exit_code == 0 and "toy-brighten: using cached model" in again.output
    assert list((tmp_path / "m").glob("*.safetensors")) == [weights]


def test_toy_model_translates_through_the_command(toy, tmp_path):
    result = run_cli(["translate", "--model", "toy", "--task", "darken", "--demo", "--steps", "2",
                      "--models", str(tmp_path / "m"), "--out", str(tmp_path / "o"), "--quiet",
                      "--threads", "1"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "o" / "metrics.csv").set_index("method")
    assert list(table.index) == ["input", "gain x2", "toy brightener"]
    result = run_cli(["translate", "--model", "toy", "--task", "colour", "--demo", "--models",
                      str(tmp_path / "m"), "--out", str(tmp_path / "other"), "--threads", "1"])
    assert result.exit_code == 1 and "--model toy does not support --task colour" in result.output
