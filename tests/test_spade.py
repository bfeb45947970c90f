"""SPADE (commgan.vision.nets.spade, commgan.vision.models.spade) and the label maps of
labels2photo (commgan.vision.labels): SPADE's normalisation against hand-computed values, tiny
forward/backward passes, the game through GANTrainer, the diversity of styles, and
``commgan translate --model spade --task labels2photo`` on the demo image and with a user's
folder (two training steps)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from helpers import run_cli
from PIL import Image

from commgan.vision.data import load_image, quantize, to_uint8
from commgan.vision.labels import (
    CLASSES,
    PALETTE,
    class_colours,
    decode_labels,
    fit_centres,
    kmeans,
    label_image,
    label_indices,
    paint_labels,
)
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.spade import SPADEGame, SPADETraining, kl_divergence, style_diversity
from commgan.vision.models.training import build_problem, train_model
from commgan.vision.nets.spade import (
    SPADE,
    MultiScaleDiscriminator,
    SPADEConfig,
    SPADEGenerator,
    StyleEncoder,
)
from commgan.vision.translate.tasks import TRANSLATION_TASKS, method_name

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_G = SPADEConfig(channels=4, max_channels=8, levels=3, hidden=4, z_dim=3,
                     encoder_channels=4, encoder_layers=2)
TINY = {"generator": TINY_G, "d_channels": 4, "d_layers": 2, "patch": 32, "batch_size": 2,
        "images": ("rocket",)}


def random_labels(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Random RGB label maps [B, 3, H, W] (palette colours)."""
    classes = torch.randint(CLASSES, (batch, height, width),
                            generator=torch.Generator().manual_seed(seed))
    return PALETTE[classes].permute(0, 3, 1, 2)


def centre_only(conv: torch.nn.Conv2d, weights: torch.Tensor) -> None:
    """Set a 3x3 conv to the 1x1 map ``weights`` [C_out, C_in] (centre taps), no bias."""
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 1, 1] = weights
        conv.bias.zero_()


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_spade_normalisation_by_hand(norm):
    spade = SPADE(2, classes=2, hidden=2, norm=norm).double()
    gamma = torch.tensor([[0.5, -0.25], [2.0, 0.0]], dtype=torch.float64)  # [channel, class]
    beta = torch.tensor([[1.0, -1.0], [0.0, 3.0]], dtype=torch.float64)
    centre_only(spade.shared, torch.eye(2, dtype=torch.float64))  # ReLU(one-hot) = one-hot
    centre_only(spade.gamma, gamma)
    centre_only(spade.beta, beta)
    x = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    half = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)  # class 0 on the left
    labels = torch.stack([half, 1 - half]).expand(2, -1, -1, -1)  # [B, K=2, 2, 2]
    out = spade(x, labels)
    dims = (2, 3) if norm == "instance" else (0, 2, 3)
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, unbiased=False)
    normalised = (x - mean) / torch.sqrt(var + 1e-5)
    for c in range(2):
        for col in range(4):
            k = 0 if col < 2 else 1  # the 2x2 map resized to 4x4 by nearest neighbour
            expected = normalised[:, c, :, col] * (1 + gamma[c, k]) + beta[c, k]
            assert torch.allclose(out[:, c, :, col], expected, atol=1e-10)


def test_generator_shapes_styles_and_backward():
    g = SPADEGenerator(TINY_G).eval()  # eval: spectral norm keeps its power iterate
    labels = random_labels(2, 10, 18)  # not multiples of 4: padded and cropped back
    out = g(labels)
    assert out.shape == (2, 3, 10, 18) and out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, g(labels, torch.zeros(2, 3)))  # z = None is the mean style
    assert not torch.allclose(g(labels, torch.randn(2, 3) * 3), out)
    out = g.train()(labels)
    mu, logvar = g.encode(torch.rand(2, 3, 16, 16))
    assert mu.shape == logvar.shape == (2, 3)
    out.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for name, p in g.named_parameters() if not name.startswith("encoder"))
    with pytest.raises(ValueError, match="levels"):
        SPADEGenerator(SPADEConfig(levels=0))
    with pytest.raises(ValueError, match="classes"):
        SPADEGenerator(SPADEConfig(classes=4))


def test_encoder_and_kl():
    encoder = StyleEncoder(z_dim=5, channels=4, layers=2)
    photo = torch.rand(3, 3, 16, 24, requires_grad=True)
    mu, logvar = encoder(photo)
    assert mu.shape == logvar.shape == (3, 5)
    (mu.sum() + logvar.sum()).backward()
    assert photo.grad is not None and all(p.grad is not None for p in encoder.parameters())
    assert float(kl_divergence(torch.zeros(2, 5), torch.zeros(2, 5))) == 0.0
    # mu = 1, sigma = e: per dimension 1/2 (e^2 - 1 - 2 + 1) = (e^2 - 2) / 2
    kl = kl_divergence(torch.ones(2, 5), torch.full((2, 5), 2.0))
    assert float(kl) == pytest.approx(5 * (np.exp(2) - 2) / 2, rel=1e-6)


def test_multiscale_discriminator_and_features():
    d = MultiScaleDiscriminator(channels=4, layers=2, scales=2).eval()  # fixed spectral norms
    x, labels = torch.rand(2, 3, 32, 32, requires_grad=True), random_labels(2, 32, 32)
    logits = d(x, labels)
    assert [tuple(t.shape) for t in logits] == [(2, 1, 6, 6), (2, 1, 2, 2)]
    taps = d.features(x, labels)
    assert [len(t) for t in taps] == [4, 4] and torch.equal(taps[0][-1], logits[0])
    assert torch.equal(logits[0], d.nets[0](x, labels))  # scale 0 is the PatchGAN itself
    sum(t.mean() for t in logits).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_game_losses_and_training_through_the_one_loop():
    problem = build_problem(VISION_MODELS["spade-labels2photo"], SPADETraining(**TINY))
    assert isinstance(problem, SPADEGame)
    loss, metrics = problem.generator_loss(problem.next_batch())
    assert set(metrics) == {"g_adv", "g_fm", "g_l1", "g_kl"}
    expected = (metrics["g_adv"] + 10 * metrics["g_fm"] + 10 * metrics["g_l1"]
                + 0.05 * metrics["g_kl"])
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in problem.generator.parameters())
    assert problem.generator.encoder.mu.weight.grad.abs().sum() > 0
    d_loss, d_metrics = problem.discriminator_loss(problem.next_batch())
    assert torch.isfinite(d_loss) and set(d_metrics) == {"d_real", "d_fake"}
    generator, history = train_model(VISION_MODELS["spade-labels2photo"],
                                     SPADETraining(**TINY, iterations=3, warmup=1))
    assert list(history["iteration"]) == [1, 2, 3] and isinstance(generator, SPADEGenerator)
    assert np.isfinite(history[["loss_g", "g_l1", "g_kl"]].to_numpy()).all()
    assert history["loss_d"].isna().tolist() == [True, False, False]  # no D in the warm-up
    assert np.isfinite(history["loss_d"].iloc[1:]).all()
    with pytest.raises(ValueError, match="multiple of"):
        SPADETraining(patch=60)


def test_style_diversity():
    g = SPADEGenerator(TINY_G).eval()
    labels = random_labels(1, 16, 16)[0]

    def l1(a, b):
        return (a - b).abs().flatten(1).mean(1)

    assert style_diversity(g, labels, l1, styles=3) > 0
    with torch.no_grad():  # z no longer reaches the photo: every style is the same
        for module in g.modules():
            if isinstance(module, SPADE) and module.style is not None:
                module.style.weight.zero_()
    assert style_diversity(g, labels, l1, styles=3) == 0.0
    with pytest.raises(ValueError, match="2 styles"):
        style_diversity(g, labels, l1, styles=1)


def test_kmeans_finds_separated_clusters_deterministically():
    generator = torch.Generator().manual_seed(0)
    points = torch.cat([torch.randn(50, 2, generator=generator) * 0.01 + torch.tensor(c)
                        for c in ([0.0, 0.0], [5.0, 0.0], [0.0, 5.0])]).double()
    centres = kmeans(points, 3, 10, torch.Generator().manual_seed(1))
    expected = torch.stack([points[i * 50:(i + 1) * 50].mean(0) for i in range(3)])
    order = torch.cdist(expected, centres).argmin(1)
    assert sorted(order.tolist()) == [0, 1, 2]
    assert torch.allclose(centres[order], expected, atol=1e-12)


def test_label_maps_are_deterministic_with_k_classes():
    crops = [load_image("rocket")[:, :96, :96], load_image("china")[:, 100:196, 200:296]]
    first, second = fit_centres(crops), fit_centres(crops)
    assert first.shape == (CLASSES, 4) and torch.equal(first, second)
    assert torch.all(first[1:, 0] >= first[:-1, 0])  # sorted by lightness
    labels = torch.cat([label_indices(crop, first).flatten() for crop in crops])
    assert set(labels.tolist()) == set(range(CLASSES))  # every class labels a fitted pixel
    image = load_image("astronaut")[:, :64, :80]
    indices = label_indices(image)
    assert indices.shape == (64, 80) and torch.equal(indices, label_indices(image))
    rgb = label_image(image)
    assert torch.equal(quantize(rgb), rgb)  # survives 8-bit rounding
    one_hot = decode_labels(rgb.unsqueeze(0))
    assert one_hot.shape == (1, CLASSES, 64, 80)
    assert torch.equal(one_hot[0].argmax(0), indices) and torch.equal(one_hot.sum(1),
                                                                      torch.ones(1, 64, 80))


def test_baseline_paints_class_colours(tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(to_uint8(load_image("chelsea")[:, :48, :48])).save(photo)
    colours = class_colours((str(photo),))
    labels = label_indices(load_image(str(photo)))
    image = load_image(str(photo))
    for k in labels.unique().tolist():
        assert torch.allclose(colours[k], image[:, labels == k].mean(1), atol=1e-6)
    painted = paint_labels(label_image(image), (str(photo),))
    assert torch.allclose(painted, quantize(F.embedding(labels, colours).permute(2, 0, 1)))


def test_the_records_and_the_task():
    task = TRANSLATION_TASKS["labels2photo"]
    assert task.model_key("spade") == "spade-labels2photo" and method_name("spade") == "SPADE"
    assert task.model_key("pix2pix") == "pix2pix-labels2photo"
    pix2pix = VISION_MODELS["pix2pix-labels2photo"]
    assert pix2pix.batch_source is VISION_MODELS["spade-labels2photo"].batch_source
    assert pix2pix.training() == VISION_MODELS["pix2pix-edges2photo"].training()


def test_cli_demo_writes_images_and_metrics(tmp_path):
    result = run_cli(["translate", "--model", "spade", "--task", "labels2photo", "--demo",
                      "--steps", "2", "--models", tmp_path / "m", "--out", tmp_path / "o",
                      "--quiet", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"translated.png", "side_by_side.png",
                                                            "metrics.csv"}
    table = pd.read_csv(tmp_path / "o" / "metrics.csv")
    assert list(table["method"]) == ["input", "class mean colours", "SPADE"]
    assert np.isfinite(table[["psnr", "ssim"]].to_numpy()).all()


def test_cli_train_dir_round_trip(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, (name, y, x) in enumerate([("chelsea", 0, 0), ("chelsea", 100, 200),
                                          ("coffee", 50, 100), ("rocket", 0, 0)]):
        crop = to_uint8(load_image(name)[:, y:y + 80, x:x + 80])
        Image.fromarray(crop).save(photos / f"photo{index}.png")
    image = tmp_path / "photo.png"
    Image.fromarray(to_uint8(load_image("coffee")[:, 200:264, 300:396])).save(image)
    out = tmp_path / "out"
    result = run_cli(["translate", "--model", "spade", "--task", "labels2photo", "--image",
                      image, "--steps", "2", "--train-dir", photos, "--models",
                      tmp_path / "models", "--out", out, "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "metrics.csv")
    assert list(table["method"]) == ["input", "class mean colours", "SPADE"]
    (sidecar,) = (tmp_path / "models").glob("spade-labels2photo-*.json")
    identity = json.loads(sidecar.read_text())
    assert len(identity["training"]["images"]) == 3
    assert len(identity["training"]["validation"]) == 1 and "images_sha256" in identity
    assert identity["training"]["generator"]["z_dim"] == SPADEConfig().z_dim
