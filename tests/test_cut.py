"""CUT (commgan.vision.nets.cut, commgan.vision.models.cut) on the shared core: the PatchNCE
loss against hand-computed values, the generator's features and heads, the game through
GANTrainer, and ``commgan translate --model cut`` with a user's folder (tiny budgets)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

import commgan.cli.translate  # noqa: F401  (registers the command)
from commgan.cli import cli
from commgan.vision.data import load_image, to_uint8
from commgan.vision.models.cut import CUT, CUTTraining, patch_nce_loss
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import build_problem, train_model
from commgan.vision.nets.cut import CUTGenerator
from commgan.vision.nets.unet import UNetConfig
from commgan.vision.translate.tasks import TRANSLATION_TASKS, method_name, translation_methods

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"generator": UNetConfig(channels=8, depth=3), "nce_layers": (0, 1, 2, 3),
        "num_patches": 16, "projection": 16, "d_channels": 8, "patch": 32, "batch_size": 2,
        "images": ("rocket", "china", "flower")}


class TestPatchNCE:
    def test_two_patches_by_hand(self):
        # one image, two positions: q1 = (1, 0), q2 = (0, 1); k1 = (0.6, 0.8), k2 = (0, 1)
        query = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
        key = torch.tensor([[[0.6, 0.8], [0.0, 1.0]]], dtype=torch.float64)
        t = 0.07
        # l_n = -log(exp(q_n.k_n / t) / sum_j exp(q_n.k_j / t))
        first = -math.log(math.exp(0.6 / t) / (math.exp(0.6 / t) + math.exp(0.0 / t)))
        second = -math.log(math.exp(1.0 / t) / (math.exp(0.8 / t) + math.exp(1.0 / t)))
        loss = patch_nce_loss(query, key, t)
        assert loss.shape == (1, 2)
        assert loss[0, 0].item() == pytest.approx(first, rel=1e-9)
        assert loss[0, 1].item() == pytest.approx(second, rel=1e-9)

    def test_equals_cut_s_positive_first_form(self):
        # CUT: logits (l_pos, l_neg with the diagonal set to -10) / t, class 0
        torch.manual_seed(0)
        query = F.normalize(torch.randn(3, 5, 8), dim=-1)
        key = F.normalize(torch.randn(3, 5, 8), dim=-1)
        positive = (query * key).sum(-1, keepdim=True)
        negative = torch.bmm(query, key.transpose(1, 2))
        negative = negative.masked_fill(torch.eye(5, dtype=torch.bool), -10.0)
        logits = torch.cat([positive, negative], dim=-1).flatten(0, 1) / 0.07
        expected = F.cross_entropy(logits, torch.zeros(15, dtype=torch.long), reduction="none")
        assert torch.allclose(patch_nce_loss(query, key), expected.view(3, 5), atol=1e-5)

    def test_negatives_come_from_the_same_image_and_keys_get_no_gradient(self):
        torch.manual_seed(1)
        query = F.normalize(torch.randn(2, 4, 6), dim=-1).requires_grad_()
        key = F.normalize(torch.randn(2, 4, 6), dim=-1).requires_grad_()
        loss = patch_nce_loss(query, key)
        other = key.detach().clone()
        other[1] = F.normalize(torch.randn(4, 6), dim=-1)
        assert torch.equal(patch_nce_loss(query, other)[0], loss[0])
        loss.sum().backward()
        assert query.grad is not None and key.grad is None
        with pytest.raises(ValueError, match="B, N, C"):
            patch_nce_loss(query[0], key[0])

    def test_aligned_features_score_below_shuffled_ones(self):
        torch.manual_seed(2)
        key = F.normalize(torch.randn(1, 64, 16), dim=-1)
        aligned = patch_nce_loss(key, key).mean()
        shuffled = patch_nce_loss(key[:, torch.randperm(64)], key).mean()
        assert aligned < 0.01 < math.log(64) - 1 < shuffled


class TestGenerator:
    def test_shapes_features_and_heads(self):
        g = CUTGenerator(UNetConfig(channels=8, depth=3), layers=(0, 1, 3), projection=16)
        x = torch.rand(2, 3, 32, 40)
        assert g(x).shape == (2, 3, 32, 40) and torch.equal(g(x), g.net(x))
        features = g.encode(x)
        assert [tuple(f.shape) for f in features] == [(2, 3, 32, 40), (2, 8, 16, 20),
                                                      (2, 32, 4, 5)]
        positions = g.sample_positions(features, 50, torch.Generator().manual_seed(0))
        assert [len(p) for p in positions] == [50, 50, 20]  # all 20 of the 4x5 layer
        assert all(len(set(p.tolist())) == len(p) for p in positions)
        embeddings = g.project(features, positions)
        assert [tuple(e.shape) for e in embeddings] == [(2, 50, 16), (2, 50, 16), (2, 20, 16)]
        assert torch.allclose(embeddings[1].norm(dim=-1), torch.ones(2, 50), atol=1e-5)
        with pytest.raises(ValueError, match="multiples of 8"):
            g.encode(torch.rand(1, 3, 30, 40))
        with pytest.raises(ValueError, match="layers"):
            CUTGenerator(UNetConfig(depth=3), layers=(0, 4))

    def test_forward_backward_reaches_generator_and_heads(self):
        problem = build_problem(VISION_MODELS["cut-colour"], CUTTraining(**TINY))
        assert isinstance(problem, CUT)
        loss, metrics = problem.generator_loss(problem.next_batch())
        assert set(metrics) == {"g_adv", "g_nce", "g_nce_identity"}
        expected = metrics["g_adv"] + 0.5 * (metrics["g_nce"] + metrics["g_nce_identity"])
        assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
        loss.backward()
        g = problem.generator
        assert all(p.grad is not None and torch.isfinite(p.grad).all()
                   for p in g.parameters())
        assert g.heads[-1][2].weight.grad.abs().sum() > 0
        d_loss, d_metrics = problem.discriminator_loss(problem.next_batch())
        assert torch.isfinite(d_loss) and set(d_metrics) == {"d_real", "d_fake"}


def test_fastcut_leaves_out_the_identity_term():
    problem = build_problem(VISION_MODELS["cut-colour"],
                            CUTTraining(**TINY, nce_identity=False, nce_weight=10.0))
    loss, metrics = problem.generator_loss(problem.next_batch())
    assert set(metrics) == {"g_adv", "g_nce"}
    assert float(loss.detach()) == pytest.approx(metrics["g_adv"] + 10 * metrics["g_nce"],
                                                 rel=1e-5)


def test_training_through_the_one_loop():
    generator, history = train_model(VISION_MODELS["cut-colour"],
                                     CUTTraining(**TINY, iterations=3))
    assert list(history["iteration"]) == [1, 2, 3] and isinstance(generator, CUTGenerator)
    columns = ["loss_d", "loss_g", "g_adv", "g_nce", "g_nce_identity", "d_real", "d_fake"]
    assert np.isfinite(history[columns].to_numpy()).all()
    with pytest.raises(ValueError, match="multiple of 2"):
        CUTTraining(patch=60)


def test_the_record_and_the_task():
    assert "cut" in translation_methods() and method_name("cut") == "CUT"
    assert TRANSLATION_TASKS["colour"].model_key("cut") == "cut-colour"
    default = CUTTraining()
    cyclegan = VISION_MODELS["cyclegan-colour"].training()
    for name in ("generator", "d_channels", "d_layers", "patch", "batch_size", "iterations",
                 "lr_g", "lr_d", "images", "fade_ranges"):
        assert getattr(default, name) == getattr(cyclegan, name), name


def test_cli_train_dir_round_trip(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, (name, y, x) in enumerate([("chelsea", 0, 0), ("chelsea", 100, 200),
                                          ("coffee", 50, 100), ("astronaut", 0, 0)]):
        crop = to_uint8(load_image(name)[:, y:y + 80, x:x + 80])
        Image.fromarray(crop).save(photos / f"photo{index}.png")
    image = tmp_path / "photo.png"
    Image.fromarray(to_uint8(load_image("coffee")[:, 200:264, 300:396])).save(image)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "translate", "--model", "cut", "--task", "colour", "--image", str(image),
        "--steps", "2", "--train-dir", str(photos), "--models", str(tmp_path / "models"),
        "--out", str(out), "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"translated.png", "side_by_side.png",
                                               "metrics.csv"}
    table = pd.read_csv(out / "metrics.csv")
    assert list(table["method"]) == ["input", "white balance + stretch", "CUT"]
    (sidecar,) = (tmp_path / "models").glob("cut-colour-*.json")
    identity = json.loads(sidecar.read_text())
    assert len(identity["training"]["images"]) == 3
    assert len(identity["training"]["validation"]) == 1 and "images_sha256" in identity


def test_comparison_smoke(tmp_path, smoke):
    out = smoke("cut_vs_cyclegan.py", tmp_path)
    table = pd.read_csv(out / "table.csv")
    assert set(table["image"]) == {"astronaut", "coffee", "chelsea", "grace_hopper"}
    assert set(table.loc[table["images"] == "fresh", "image"]) == {"grace_hopper"}
    assert set(table["setting"]) == {"default", "faded-sepia", "dark"}
    assert np.isfinite(table[["psnr", "ssim", "psnr_y", "ssim_y"]].to_numpy()).all()
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["method"]) == ["input", "white balance + stretch", "CycleGAN", "CUT"]
    assert {"psnr", "ssim", "lpips"} <= set(metrics.columns)
    timing = pd.read_csv(out / "timing.csv")
    assert set(timing["method"]) == {"CycleGAN", "CUT"}
    assert (timing["seconds_per_iteration"] > 0).all()
    trainings = pd.read_csv(out / "trainings.csv")
    assert (trainings["train_seconds"] > 0).all()
    for name in ("colour.png", "fresh.png", "config.json"):
        assert (out / name).stat().st_size > 0
