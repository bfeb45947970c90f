"""The issues' targets, on the held-out images with the default (cached) models. Slow: the first
run trains the models (minutes each on a CPU); later runs reuse the model cache
(``$COMMGAN_MODELS`` or ``~/.cache/commgan/models``)."""

import pytest

from commgan.checkpoint import default_models_dir
from commgan.vision.data import TEST_IMAGES, load_image
from commgan.vision.degradations import Fade, TaskSettings
from commgan.vision.models.cache import load_or_train
from commgan.vision.restore.evaluate import evaluate_images
from commgan.vision.translate.run import evaluate_translation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images():
    return {name: load_image(name) for name in TEST_IMAGES}


def _means(task, name, images, settings=None):
    model = load_or_train(name, default_models_dir())
    table = evaluate_images(task, model, images, settings or TaskSettings())
    return table, table.groupby("method")[["psnr", "ssim", "psnr_y", "ssim_y"]].mean()


def test_srgan_x4_beats_bicubic_by_1db_on_y(images):
    table, means = _means("sr", "sr", images)
    gain = means.loc["model", "psnr_y"] - means.loc["baseline", "psnr_y"]
    per_image = table.pivot(index="image", columns="method", values="psnr_y")
    assert gain >= 1.0, f"mean PSNR(Y) gain {gain:.2f} dB; per image:\n{per_image}"
    assert means.loc["model", "ssim_y"] > means.loc["baseline", "ssim_y"]


@pytest.mark.parametrize("fade", [
    Fade(),  # the CLI's fading
    Fade(desaturation=0.3, sepia=0.2, gamma=2.0, brightness=0.55, lift=0.02),  # dark
    Fade(desaturation=0.6, sepia=0.7, gamma=1.3, brightness=0.8, lift=0.15),  # faded-sepia
], ids=["default", "dark", "faded-sepia"])
def test_colour_restoration_gains_3db_over_the_degraded_input(images, fade):
    _, means = _means("colour", "colour", images, TaskSettings(fade=fade))
    gain = means.loc["model", "psnr"] - means.loc["degraded", "psnr"]
    assert gain >= 3.0, f"colour restoration gains {gain:.2f} dB over the degraded input"


@pytest.mark.xfail(strict=True, reason="target not met: the multi-loss GAN measured +0.02 dB "
                   "over biharmonic at 10-30% block occlusion (README, Image restoration)")
@pytest.mark.parametrize("ratio", [0.1, 0.2, 0.3])
def test_multiloss_gan_beats_biharmonic_by_1db(images, ratio):
    _, means = _means("inpaint", "restore", images, TaskSettings(ratio=ratio, mask="block"))
    gain = means.loc["model", "psnr"] - means.loc["baseline", "psnr"]
    assert gain >= 1.0, f"inpainting at {ratio:.0%} gains {gain:.2f} dB over biharmonic"
    assert means.loc["model", "ssim"] > means.loc["baseline", "ssim"]


def test_pix2pix_beats_the_colour_baseline_in_psnr_and_ssim(images):
    """Issue 20's target on the held-out images under the task's fading: measured +3.43 dB and
    +0.003 SSIM over white balance + stretch (README, Image-to-image translation)."""
    model = load_or_train("pix2pix-colour", default_models_dir())
    table = evaluate_translation("colour", {"pix2pix": model}, images)
    means = table.groupby("method")[["psnr", "ssim"]].mean()
    model_row, baseline = means.loc["pix2pix"], means.loc["white balance + stretch"]
    per_image = table.pivot(index="image", columns="method", values=["psnr", "ssim"])
    assert model_row["psnr"] > baseline["psnr"], per_image
    assert model_row["ssim"] > baseline["ssim"], per_image
