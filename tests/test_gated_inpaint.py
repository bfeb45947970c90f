"""The gated-convolution inpainting GAN (commgan.vision.nets.gated, .models.gated): the gating
and the contextual attention against hand-built cases, the two-stage generator and SN-PatchGAN
forward/backward on tiny shapes, the free-form masks, the game through GANTrainer, and
``commgan restore --task inpaint --model gated`` (demo and --train-dir, tiny budgets)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli
from PIL import Image
from torch import nn
from torch.nn.utils import parametrize

import commgan.cli.restore  # noqa: F401  (registers the command)
from commgan.vision.data import load_image, to_uint8
from commgan.vision.models.gated import (
    GatedInpaintGAN,
    GatedSource,
    GatedTraining,
    masked_condition,
    stroke_mask,
)
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import train_model
from commgan.vision.nets.gated import (
    ContextualAttention,
    GatedConfig,
    GatedConv2d,
    GatedGenerator,
    SNPatchDiscriminator,
    attention_rate,
    contextual_attention,
)
from commgan.vision.restore.tasks import VISION_TASKS

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_NET = GatedConfig(channels=4, dilations=(2,))
TINY = {"generator": TINY_NET, "d_channels": 4, "d_layers": 2, "patch": 32, "batch_size": 2,
        "images": ("rocket", "china")}


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class TestGatedConv:
    def test_gating_by_hand(self):
        layer = GatedConv2d(1, 1, kernel=1)
        with torch.no_grad():
            layer.conv.weight.copy_(torch.tensor([2.0, 3.0]).view(2, 1, 1, 1))
            layer.conv.bias.copy_(torch.tensor([-1.0, 0.5]))
        x = torch.tensor([-1.0, 0.5, 2.0]).view(1, 1, 1, 3)
        # feature 2x - 1 through ELU (e^v - 1 below 0), gate sigmoid(3x + 0.5)
        expected = [(math.exp(-3) - 1) * sigmoid(-2.5), 0.0, 3.0 * sigmoid(6.5)]
        assert layer(x).flatten().tolist() == pytest.approx(expected, abs=1e-6)

    def test_two_channels_and_another_activation(self):
        layer = GatedConv2d(2, 1, kernel=1, activation=nn.Tanh())
        with torch.no_grad():
            layer.conv.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 0.5]]).view(2, 2, 1, 1))
            layer.conv.bias.zero_()
        x = torch.tensor([0.3, 0.1]).view(1, 2, 1, 1)
        assert layer(x).item() == pytest.approx(math.tanh(0.2) * sigmoid(0.2), abs=1e-7)
        strided = GatedConv2d(3, 5, 3, stride=2, dilation=2)
        assert strided(torch.rand(1, 3, 16, 12)).shape == (1, 5, 8, 6)


class TestContextualAttention:
    def features(self) -> torch.Tensor:
        """Random features [1, 4, 16, 16], constant on 2x2 blocks (the 8x8 matching grid)."""
        small = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
        return small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)

    def test_the_hole_attends_to_its_copy_in_the_background(self):
        background = self.features()
        foreground = background.clone()
        # the foreground around the hole (matching cell (5, 5)) is the background around (2, 2)
        foreground[..., 8:14, 8:14] = background[..., 2:8, 2:8]
        mask = torch.zeros(1, 1, 16, 16)
        mask[..., 10:12, 10:12] = 1
        _, attention = contextual_attention(foreground, background, mask, rate=2, scale=10.0)
        weights = attention[0, :, 5, 5]
        assert int(weights.argmax()) == 2 * 8 + 2 and weights.max() > 0.9
        assert weights.sum().item() == pytest.approx(1.0, abs=1e-5)
        touching = [y * 8 + x for y in range(4, 7) for x in range(4, 7)]
        assert (attention[0, touching] == 0).all()  # patches holding a hole pixel get nothing

    def test_without_a_hole_the_background_is_rebuilt(self):
        background = self.features()
        out, attention = contextual_attention(background, background, torch.zeros(1, 1, 16, 16),
                                              rate=2, scale=1000.0)
        assert torch.allclose(attention[0].argmax(dim=0).flatten(), torch.arange(64))
        assert torch.allclose(out, background, atol=1e-4)  # borders included

    def test_no_valid_patch_gives_zeros_and_rates(self):
        out, attention = contextual_attention(torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8),
                                              torch.ones(1, 1, 8, 8))
        assert (out == 0).all() and (attention == 0).all()
        assert attention_rate(16, 16) == 2 and attention_rate(200, 130, 4096) == 4
        layer = ContextualAttention()
        assert layer(torch.rand(2, 3, 11, 6), torch.zeros(2, 1, 11, 6)).shape == (2, 3, 11, 6)
        with pytest.raises(ValueError, match="even"):
            contextual_attention(torch.rand(1, 1, 6, 6), torch.rand(1, 1, 6, 6),
                                 torch.zeros(1, 1, 6, 6), rate=3)


class TestNetworks:
    def condition(self) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        image = torch.rand(2, 3, 20, 26, generator=generator)
        mask = torch.zeros(2, 1, 20, 26)
        mask[0, :, 4:10, 5:15] = 1
        mask[1, :, 12:18, 2:9] = 1
        return image, mask

    def test_forward_backward_tiny(self):
        torch.manual_seed(0)
        generator, discriminator = GatedGenerator(TINY_NET), SNPatchDiscriminator(4, 2)
        image, mask = self.condition()
        condition = masked_condition(image, mask)
        coarse, refined, out = generator.stages(condition)
        assert coarse.shape == refined.shape == out.shape == (2, 3, 20, 26)
        keep = mask == 0
        assert torch.equal(out.masked_select(keep), image.masked_select(keep))
        logits = discriminator(out, mask)
        assert logits.shape == (2, 8, 5, 7)
        (coarse.mean() + refined.mean() + logits.mean()).backward()
        for module in (generator, discriminator):
            grads = [p.grad for p in module.parameters() if p.requires_grad]
            assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert all(g.abs().sum() > 0 for g in [p.grad for p in generator.parameters()])
        assert all(parametrize.is_parametrized(m, "weight") for m in discriminator.net
                   if isinstance(m, nn.Conv2d))

    def test_the_pre_fill_of_the_hole_is_ignored(self):
        generator = GatedGenerator(TINY_NET).eval()
        image, mask = self.condition()
        condition = masked_condition(image, mask)
        other = condition.clone()
        other[:, :3] += mask * torch.rand(2, 3, 20, 26)  # something else in the hole
        with torch.no_grad():
            assert torch.equal(generator(condition), generator(other))


class TestMasksAndBatches:
    def test_free_form_masks_seeded_and_in_range(self):
        masks = [stroke_mask(64, 64, (0.1, 0.3), torch.Generator().manual_seed(seed))
                 for seed in range(40)]
        again = stroke_mask(64, 64, (0.1, 0.3), torch.Generator().manual_seed(7))
        assert torch.equal(again, masks[7]) and not torch.equal(masks[7], masks[8])
        coverage = np.array([float(m.mean()) for m in masks])
        assert ((coverage >= 0.1) & (coverage <= 0.3)).all(), coverage
        assert coverage.max() - coverage.min() > 0.08  # the ratio is drawn, not fixed
        assert all(set(m.unique().tolist()) == {0.0, 1.0} for m in masks)

    def test_batches_are_seeded(self):
        images = [load_image("rocket")]
        training = GatedTraining(**{**TINY, "images": ("rocket",)})
        target, condition = GatedSource(training, images)()
        again = GatedSource(training, images)()
        assert target.shape == (2, 3, 32, 32) and condition.shape == (2, 5, 32, 32)
        assert torch.equal(condition, again[1])
        mask = condition[:, 3:4]
        assert torch.equal(condition, masked_condition(target, mask))
        with pytest.raises(ValueError, match="ratios"):
            GatedTraining(ratios=(0.3, 0.1))


class TestGame:
    def test_losses_and_training_through_the_trainer(self):
        training = GatedTraining(**TINY, iterations=3, warmup=1)
        generator, history = train_model(VISION_MODELS["gated"], training)
        assert list(history["iteration"]) == [1, 2, 3]
        assert np.isnan(history["loss_d"][0]) and np.isfinite(history["loss_d"][1:]).all()
        assert {"g_l1_coarse", "g_l1_refined", "g_adv", "d_real", "d_fake"} <= set(history)
        assert generator(torch.rand(1, 5, 24, 40)).shape == (1, 3, 24, 40)

    def test_hinge_terms_by_hand(self):
        class Constant(nn.Module):
            def forward(self, image, mask):
                return torch.full((image.shape[0], 1), 0.5)

        torch.manual_seed(0)
        target = torch.rand(2, 3, 16, 16)
        mask = torch.zeros(2, 1, 16, 16)
        mask[..., 4:8, 4:8] = 1
        game = GatedInpaintGAN(GatedGenerator(TINY_NET), Constant(), 2.0, 3.0, 0.5)
        batch = (target, masked_condition(target, mask))
        loss_d, metrics_d = game.discriminator_loss(batch)
        assert loss_d.item() == pytest.approx(0.5 + 1.5)  # relu(1 - 0.5) + relu(1 + 0.5)
        loss_g, metrics = game.generator_loss(batch)
        expected = 2.0 * metrics["g_l1_coarse"] + 3.0 * metrics["g_l1_refined"] + 0.5 * -0.5
        assert loss_g.item() == pytest.approx(expected, rel=1e-5)
        assert metrics["g_adv"] == pytest.approx(-0.5)


class TestCommand:
    def test_demo_through_the_cli(self, tmp_path):
        assert "gated" in VISION_TASKS["inpaint"].models
        out = tmp_path / "out"
        result = run_cli(["restore", "--task", "inpaint", "--model", "gated", "--demo",
                          "--mask-kind", "free-form", "--steps", "2", "--models",
                          tmp_path / "models", "--out", out, "--threads", "1", "--quiet"])
        assert result.exit_code == 0, result.output
        table = pd.read_csv(out / "metrics.csv")
        assert list(table["method"]) == ["degraded", "biharmonic", "harmonic",
                                         "calibrated blend", "gated-conv GAN"]
        assert (out / "restored.png").is_file() and (out / "side_by_side.png").is_file()
        assert list((tmp_path / "models").glob("gated-inpaint-*.safetensors"))

    def test_a_model_that_does_not_serve_the_task_is_refused(self, tmp_path):
        result = run_cli(["restore", "--task", "denoise", "--model", "gated", "--demo",
                          "--models", tmp_path / "models", "--out", tmp_path / "out"])
        assert result.exit_code != 0 and "does not serve" in result.output

    def test_train_dir_round_trip(self, tmp_path):
        photos = tmp_path / "photos"
        photos.mkdir()
        for index, (name, y, x) in enumerate([("chelsea", 0, 0), ("chelsea", 100, 200),
                                              ("coffee", 50, 100), ("astronaut", 0, 0)]):
            crop = to_uint8(load_image(name)[:, y:y + 72, x:x + 72])
            Image.fromarray(crop).save(photos / f"photo{index}.png")
        image = tmp_path / "photo.png"
        Image.fromarray(to_uint8(load_image("coffee")[:, 200:264, 300:380])).save(image)
        out = tmp_path / "out"
        result = run_cli(["restore", "--task", "inpaint", "--model", "gated", "--image", image,
                          "--mask-kind", "free-form", "--steps", "2", "--train-dir", photos,
                          "--models", tmp_path / "models", "--out", out, "--threads", "1",
                          "--quiet"])
        assert result.exit_code == 0, result.output
        table = pd.read_csv(out / "metrics.csv")
        assert table["method"].iloc[-1] == "gated-conv GAN"
        (sidecar,) = (tmp_path / "models").glob("gated-inpaint-*.json")
        identity = json.loads(sidecar.read_text())
        assert identity["model"] == "gated"
        assert len(identity["training"]["images"]) == 3 and "images_sha256" in identity
        assert identity["training"]["validation"] and identity["training"]["iterations"] == 2
