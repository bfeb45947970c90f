"""Real-ESRGAN's degradations and model (commgan.vision.blur_kernels, .real_degradations,
.models.real_esrgan): kernels and loss terms against hand-computed values, the second-order
pipeline's shapes, levels and seeding, the game through GANTrainer, and ``commgan restore
--task sr-real`` with a user's folder (tiny budgets)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image
from scipy.special import j1

import commgan.cli.restore  # noqa: F401  (registers the command)
from commgan.cli import cli
from commgan.vision.blur_kernels import (
    KernelRanges,
    anisotropic_kernel,
    disk_kernel,
    filter2d,
    motion_kernel,
    random_mixed_kernel,
    sinc_kernel,
)
from commgan.vision.data import load_image, to_uint8
from commgan.vision.degradations import pil_resize
from commgan.vision.metrics import psnr
from commgan.vision.models.real_esrgan import RealESRGANTraining, feature_l1
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import build_problem, train_model
from commgan.vision.nets.sr import SRConfig
from commgan.vision.real_degradations import (
    UNSEEN_DEGRADATIONS,
    FixedDegradation,
    SecondOrder,
    add_gaussian_noise,
    add_poisson_noise,
    jpeg,
    second_order,
)
from commgan.vision.restore.tasks import VISION_TASKS

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"generator": SRConfig(channels=8, blocks=1), "d_channels": 8, "d_layers": 2,
        "patch": 32, "batch_size": 3, "images": ("rocket", "china")}


def on_8_bit_grid(image):
    return torch.allclose(image * 255, (image * 255).round(), atol=1e-4)


class TestKernels:
    def test_gaussian_is_the_outer_product_of_1d_gaussians(self):
        one = torch.exp(-0.5 * (torch.arange(7.0) - 3) ** 2 / 1.5**2)
        expected = torch.outer(one, one) / torch.outer(one, one).sum()
        assert torch.allclose(anisotropic_kernel(7, 1.5, 1.5), expected, atol=1e-7)
        assert torch.allclose(anisotropic_kernel(9, 2.0, 0.5, math.pi / 2),
                              anisotropic_kernel(9, 0.5, 2.0), atol=1e-7)
        assert torch.allclose(anisotropic_kernel(9, 2.0, 1.0, 0.3, "generalized", beta=1.0),
                              anisotropic_kernel(9, 2.0, 1.0, 0.3), atol=1e-7)

    def test_plateau_by_hand(self):
        # sigma 2: Q(x, y) = (x^2 + y^2) / 4; beta 1.5: k ~ 1 / (Q^1.5 + 1)
        kernel = anisotropic_kernel(5, 2.0, 2.0, 0.0, "plateau", beta=1.5)
        ratio = (1 / ((1 / 4) ** 1.5 + 1)) / (1 / ((8 / 4) ** 1.5 + 1))  # (2, 3) vs (4, 4)
        assert kernel[2, 3] / kernel[4, 4] == pytest.approx(ratio, rel=1e-6)

    def test_sinc_by_hand(self):
        cutoff = math.pi / 2
        kernel = sinc_kernel(11, cutoff)
        assert kernel.sum().item() == pytest.approx(1.0, abs=1e-6)
        # k(r) / k(0) = (cutoff J1(cutoff r) / (2 pi r)) / (cutoff^2 / (4 pi))
        #             = 2 J1(cutoff r) / (cutoff r)
        for r, (y, x) in ((1.0, (5, 6)), (math.sqrt(8), (7, 7)), (3.0, (2, 5))):
            expected = 2 * j1(cutoff * r) / (cutoff * r)
            assert (kernel[y, x] / kernel[5, 5]).item() == pytest.approx(expected, abs=1e-6)
        assert (kernel < 0).any()  # the ringing lobes
        with pytest.raises(ValueError, match="odd"):
            sinc_kernel(10, 1.0)

    def test_disk_and_motion(self):
        disk = disk_kernel(2.0)
        assert disk.shape == (5, 5) and disk.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert disk[2, 2] == disk.max() and disk[0, 0] == 0
        streak = motion_kernel(7, 0.0)
        assert streak.sum().item() == pytest.approx(1.0, abs=1e-6)
        assert torch.allclose(streak[streak.shape[0] // 2].sum(), torch.tensor(1.0))
        assert torch.allclose(motion_kernel(7, 90.0), streak.T, atol=1e-6)

    @pytest.mark.parametrize("size", [3, 13])
    def test_filter2d_is_the_reflected_convolution(self, size):
        torch.manual_seed(0)
        image, kernel = torch.rand(2, 3, 20, 17), torch.rand(size, size)
        pad = size // 2
        padded = F.pad(image, (pad, pad, pad, pad), mode="reflect").reshape(6, 1, 20 + 2 * pad,
                                                                           17 + 2 * pad)
        expected = F.conv2d(padded, kernel[None, None]).reshape(2, 3, 20, 17)
        assert torch.allclose(filter2d(image, kernel), expected, atol=1e-4)
        impulse = torch.zeros(size, size)
        impulse[pad, pad] = 1
        assert torch.allclose(filter2d(image[0], impulse), image[0], atol=1e-5)

    def test_random_kernels_follow_the_ranges(self):
        generator = torch.Generator().manual_seed(0)
        kernels = [random_mixed_kernel(generator, KernelRanges()) for _ in range(60)]
        assert all(k.shape == (21, 21) for k in kernels)
        assert all(abs(k.sum().item() - 1) < 1e-5 for k in kernels)
        again = torch.Generator().manual_seed(0)
        assert torch.equal(random_mixed_kernel(again, KernelRanges()), kernels[0])
        sinc = [random_mixed_kernel(generator, KernelRanges(sinc_prob=1.0)) for _ in range(5)]
        assert all((k < 0).any() for k in sinc)


class TestNoiseAndJPEG:
    def test_gaussian_noise_level_and_grey(self):
        image = torch.full((3, 64, 64), 0.5)
        generator = torch.Generator().manual_seed(0)
        noisy = add_gaussian_noise(image, 10 / 255, False, generator)
        assert (noisy - image).std().item() == pytest.approx(10 / 255, rel=0.05)
        grey = add_gaussian_noise(image, 10 / 255, True, generator)
        assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])

    def test_poisson_noise_variance(self):
        # x = 128/255 on 2 levels -> v = 2: Poisson(2x)/2 - x has variance x / 2, times the
        # scale squared (0.1: nothing is clipped)
        image = torch.full((3, 128, 128), 128 / 255)
        image[:, 0, 0] = 0
        noise = add_poisson_noise(image, 0.1, False, torch.Generator().manual_seed(0)) - image
        assert noise[:, 1:].var().item() == pytest.approx(0.01 * (128 / 255) / 2, rel=0.05)
        grey = add_poisson_noise(image, 1.0, True, torch.Generator().manual_seed(1))
        assert torch.equal(grey[0], grey[1])

    def test_jpeg_quality_orders_the_error(self):
        image = load_image("chelsea")[:, :64, :96]
        high, low = jpeg(image, 95), jpeg(image, 10)
        assert high.shape == image.shape and on_8_bit_grid(high)
        assert psnr(high, image) > 40 and psnr(high, image) > psnr(low, image) + 10


class TestSecondOrder:
    def test_shape_levels_and_seed(self):
        image = load_image("rocket")[:, :80, :96]
        draws = [second_order(image, 4, SecondOrder(), torch.Generator().manual_seed(s))
                 for s in (0, 0, 1)]
        assert draws[0].shape == (3, 20, 24) and on_8_bit_grid(draws[0])
        assert float(draws[0].min()) >= 0 and float(draws[0].max()) <= 1
        assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
        with pytest.raises(ValueError, match="multiples"):
            second_order(image[:, :, :95], 4, SecondOrder(), torch.Generator())

    def test_fixed_degradations(self):
        image = load_image("coffee")[:, :64, :96]
        bicubic = FixedDegradation("bicubic")(image, 4)
        assert torch.equal(bicubic, pil_resize(image, (16, 24)))  # the sr task's input
        for degradation in UNSEEN_DEGRADATIONS:
            low = degradation(image, 4, seed=3)
            assert low.shape == (3, 16, 24) and on_8_bit_grid(low)
            assert torch.equal(low, degradation(image, 4, seed=3))
        with pytest.raises(ValueError, match="kernel"):
            FixedDegradation("x", kernel="box")


class TestModel:
    def test_batches_and_loss_terms(self):
        problem = build_problem(VISION_MODELS["real-esrgan"], RealESRGANTraining(**TINY))
        target, low = problem.next_batch()
        assert target.shape == (3, 3, 32, 32) and low.shape == (3, 3, 8, 8)
        assert on_8_bit_grid(low)
        loss, metrics = problem.generator_loss((target, low))
        expected = 0.1 * metrics["g_adv"] + metrics["g_pixel"] + metrics["g_perceptual"]
        assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
        with torch.no_grad():
            error = float((problem.generator(low) - target).abs().mean())
        assert metrics["g_pixel"] == pytest.approx(error, rel=1e-5)
        loss.backward()
        assert all(p.grad is not None for p in problem.generator.parameters())

    def test_feature_l1_by_hand(self):
        class Taps(torch.nn.Module):
            def taps(self, x):
                return [x, 2 * x[:, :1]]

        x, ref = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.25)
        # tap 1: |0 - 0.25| = 0.25; tap 2: |0 - 0.5| = 0.5; mean over the taps 0.375
        assert feature_l1(Taps(), x, ref).item() == pytest.approx(0.375)

    def test_training_and_the_bicubic_ablation(self):
        generator, history = train_model(VISION_MODELS["real-esrgan"],
                                         RealESRGANTraining(**TINY, iterations=3, warmup=1))
        assert list(history["iteration"]) == [1, 2, 3]
        assert np.isnan(history["loss_d"][0]) and np.isfinite(history["loss_d"][1:]).all()
        assert generator(torch.rand(1, 3, 10, 12)).shape == (1, 3, 40, 48)
        ablation = RealESRGANTraining(**TINY, degradation="bicubic")
        target, low = build_problem(VISION_MODELS["real-esrgan"], ablation).next_batch()
        assert low.shape == (3, 3, 8, 8)
        assert RealESRGANTraining().min_image_size == 80 and ablation.min_image_size == 32
        with pytest.raises(ValueError, match="degradation"):
            RealESRGANTraining(degradation="jpeg")
        with pytest.raises(ValueError, match="multiples"):
            RealESRGANTraining(margin=6)


def test_cli_train_dir_round_trip(tmp_path):
    assert VISION_TASKS["sr-real"].model == "real-esrgan"
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, (name, y, x) in enumerate([("chelsea", 0, 0), ("chelsea", 100, 200),
                                          ("coffee", 50, 100), ("astronaut", 0, 0)]):
        crop = to_uint8(load_image(name)[:, y:y + 96, x:x + 96])
        Image.fromarray(crop).save(photos / f"photo{index}.png")
    image = tmp_path / "photo.png"
    Image.fromarray(to_uint8(load_image("coffee")[:, 200:264, 300:396])).save(image)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "restore", "--task", "sr-real", "--image", str(image), "--steps", "2",
        "--train-dir", str(photos), "--models", str(tmp_path / "models"), "--out", str(out),
        "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "metrics.csv")
    assert list(table["method"]) == ["degraded", "bicubic", "Real-ESRGAN x4"]
    (sidecar,) = (tmp_path / "models").glob("real-esrgan-x4-*.json")
    identity = json.loads(sidecar.read_text())
    assert len(identity["training"]["images"]) == 3 and "images_sha256" in identity
    assert identity["training"]["validation"] and identity["training"]["iterations"] == 2


def test_comparison_smoke(tmp_path, smoke):
    out = smoke("real_esrgan_vs_srgan.py", tmp_path)
    table = pd.read_csv(out / "table.csv")
    assert set(table["image"]) == {"astronaut", "coffee", "chelsea", "grace_hopper"}
    assert set(table.loc[table["images"] == "fresh", "image"]) == {"grace_hopper"}
    assert set(table["method"]) == {"bicubic", "SRGAN x4", "Real-ESRGAN x4",
                                    "Real-ESRGAN x4, bicubic data"}
    assert set(table["setting"]) == {d.label for d in UNSEEN_DEGRADATIONS} | {
        "second-order draw"}
    assert np.isfinite(table[["psnr", "ssim", "psnr_y", "ssim_y"]].to_numpy()).all()
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["method"]) == ["bicubic", "SRGAN x4", "Real-ESRGAN x4",
                                       "Real-ESRGAN x4, bicubic data"]
    assert {"psnr", "ssim", "lpips"} <= set(metrics.columns)
    trainings = pd.read_csv(out / "trainings.csv")
    assert (trainings["train_seconds"] > 0).all() and (trainings["iterations"] == 3).all()
    for name in ("jpeg-15.png", "bicubic.png", "config.json"):
        assert (out / name).stat().st_size > 0
