"""The digits StyleGAN2 (`commgan.vision.generate`): modulated convolutions and demodulation,
mapping depth, style mixing, path-length penalty, inversion, PCA edits and the command."""

from __future__ import annotations

import csv
import math

import pytest
import torch
import torch.nn.functional as F
from helpers import one_error_line, run_cli

from commgan.errors import CommganError
from commgan.rng import seeded_weights
from commgan.vision.generate.inversion import edit, invert, pca_directions, sample_w
from commgan.vision.generate.run import GENERATE_MODELS, StyleGANTraining
from commgan.vision.generate.stylegan import (
    NUM_WS,
    EqualLinear,
    MappingNetwork,
    StyleDiscriminator,
    StyleGANProblem,
    StyleGenerator,
    mix_styles,
    modulated_conv2d,
    modulated_weight,
    path_length_penalty,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_generator(seed: int = 0, **kwargs) -> StyleGenerator:
    with seeded_weights(seed):
        return StyleGenerator(z_dim=8, w_dim=8, channels=8, **kwargs)


def test_demodulated_weight_has_unit_norm_per_output_channel():
    g = torch.Generator().manual_seed(1)
    weight = torch.randn(6, 5, 3, 3, generator=g) * 3
    styles = torch.rand(4, 5, generator=g) * 5 + 0.1
    w = modulated_weight(weight, styles, demodulate=True)
    norms = w.pow(2).sum(dim=(2, 3, 4)).sqrt()
    assert w.shape == (4, 6, 5, 3, 3)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5), norms
    plain = modulated_weight(weight, styles, demodulate=False).pow(2).sum(dim=(2, 3, 4)).sqrt()
    assert not torch.allclose(plain, torch.ones_like(plain), atol=1e-2)


def test_modulated_conv_equals_a_conv_with_the_hand_scaled_weight():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 5, 5, generator=g)
    weight = torch.randn(4, 3, 3, 3, generator=g)
    styles = torch.rand(2, 3, generator=g) + 0.5
    out = modulated_conv2d(x, weight, styles, demodulate=True, padding=1)
    for b in range(2):
        scaled = weight * styles[b][None, :, None, None]
        scaled = scaled / scaled.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt()
        expected = F.conv2d(x[b:b + 1], scaled, padding=1)
        assert torch.allclose(out[b:b + 1], expected, atol=1e-5)


@pytest.mark.parametrize("layers", [8, 2])
def test_mapping_network_depth(layers):
    mapping = MappingNetwork(8, 8, layers)
    linears = [m for m in mapping.modules() if isinstance(m, EqualLinear)]
    assert len(linears) == layers
    assert mapping(torch.randn(3, 8)).shape == (3, 8)
    gen = tiny_generator(mapping_layers=layers)
    assert len([m for m in gen.mapping.modules() if isinstance(m, EqualLinear)]) == layers


def test_tiny_forward_backward_of_g_and_d():
    gen = tiny_generator()
    with seeded_weights(1):
        disc = StyleDiscriminator(channels=8)
    fake = gen(torch.randn(4, 8))
    assert fake.shape == (4, 1, 8, 8)
    score = disc(fake)
    assert score.shape == (4,)
    score.sum().backward()
    for module in (gen, disc):
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
    assert any(gr.abs().sum() > 0 for gr in (p.grad for p in gen.mapping.parameters()))


def test_style_mixing_uses_two_ws_at_the_crossover():
    w1, w2 = torch.zeros(2, 8), torch.ones(2, 8)
    for crossover in range(1, NUM_WS):
        ws = mix_styles(w1, w2, crossover)
        assert ws.shape == (2, NUM_WS, 8)
        assert (ws[:, :crossover] == 0).all() and (ws[:, crossover:] == 1).all()
    gen = tiny_generator(mixing_prob=1.0)
    with seeded_weights(3):
        ws = gen.styles(torch.randn(5, 8))
    distinct = [not torch.equal(ws[:, i], ws[:, i + 1]) for i in range(NUM_WS - 1)]
    assert sum(distinct) == 1  # exactly one crossover between two different ws
    gen.eval()
    ws = gen.styles(torch.randn(5, 8))
    assert all(torch.equal(ws[:, 0], ws[:, i]) for i in range(NUM_WS))


def test_path_length_penalty_is_finite_and_positive():
    gen = tiny_generator()
    pl_mean = torch.zeros(())
    with seeded_weights(4):
        penalty, lengths = path_length_penalty(gen, torch.randn(4, 8), pl_mean)
    assert lengths.shape == (4,) and (lengths > 0).all()
    value = float(penalty.detach())
    assert math.isfinite(value) and value > 0
    assert float(pl_mean) > 0  # the moving average moved
    penalty.backward()
    assert gen.synthesis.const.grad is not None


def test_problem_losses_with_r1_and_path_length():
    gen = tiny_generator()
    with seeded_weights(5):
        disc = StyleDiscriminator(channels=8)
        real = torch.rand(4, 1, 8, 8) * 2 - 1
        problem = StyleGANProblem(gen, disc, lambda: real, r1_gamma=0.1, pl_weight=2.0)
        loss_d, metrics_d = problem.discriminator_loss(real)
        loss_g, metrics_g = problem.generator_loss(real)
    assert metrics_d["r1"] > 0 and metrics_g["pl"] > 0
    assert math.isfinite(float(loss_d.detach())) and math.isfinite(float(loss_g.detach()))


def test_inversion_of_own_sample_reduces_error_and_w_plus_fits_at_least_as_well():
    gen = tiny_generator(6).eval()
    w = sample_w(gen, 3, seed=7)
    with torch.no_grad():
        targets = gen.synthesis(w.unsqueeze(1).expand(-1, NUM_WS, -1))
    in_w = invert(gen, targets, "w", steps=150)
    in_wp = invert(gen, targets, "w+", steps=50, lr=0.01, start=in_w.ws)
    assert (in_w.final_mse < 0.5 * in_w.start_mse).all(), (in_w.start_mse, in_w.final_mse)
    assert torch.allclose(in_wp.start_mse, in_w.final_mse, rtol=1e-4, atol=1e-9)
    assert (in_wp.final_mse <= in_w.final_mse).all()
    assert in_w.ws.shape == (3, NUM_WS, 8) and in_wp.images.shape == (3, 1, 8, 8)
    assert torch.equal(in_w.ws[:, 0], in_w.ws[:, -1])
    assert not any(p.grad is not None for p in gen.parameters())


def test_w_plus_fits_a_target_outside_the_range_better_than_w():
    gen = tiny_generator(6).eval()
    w = sample_w(gen, 3, seed=7)
    with torch.no_grad():
        targets = gen.synthesis(w.unsqueeze(1).expand(-1, NUM_WS, -1))
    targets = targets + 0.3 * torch.randn(targets.shape, generator=torch.Generator().manual_seed(8))
    in_w = invert(gen, targets, "w", steps=150)
    in_wp = invert(gen, targets, "w+", steps=150, lr=0.01, start=in_w.ws)
    assert in_wp.final_mse.mean() < 0.95 * in_w.final_mse.mean(), (in_w.final_mse,
                                                                  in_wp.final_mse)
    assert not torch.equal(in_wp.ws[:, 0], in_wp.ws[:, -1])


def test_pca_direction_has_unit_norm_and_the_edit_changes_images():
    gen = tiny_generator(8)
    directions, std = pca_directions(gen, count=500, components=3, seed=9)
    assert torch.allclose(directions.norm(dim=1), torch.ones(3), atol=1e-5)
    assert (std[:-1] >= std[1:]).all() and (std > 0).all()
    w = sample_w(gen, 4, seed=10)
    frames = edit(gen, w, directions[0], [-3 * float(std[0]), 0.0, 3 * float(std[0])])
    assert frames.shape == (3, 4, 1, 8, 8)
    with torch.no_grad():
        plain = gen.synthesis(w.unsqueeze(1).expand(-1, NUM_WS, -1))
    assert torch.allclose(frames[1], plain, atol=1e-6)
    assert (frames[0] - frames[2]).abs().amax(dim=(1, 2, 3)).min() > 1e-3


def test_the_model_is_one_record():
    assert GENERATE_MODELS.names() == ["stylegan"]
    record = GENERATE_MODELS["stylegan"]
    assert record.training == StyleGANTraining()
    assert record.training.mapping_layers == 8 and not record.training.path_length
    with pytest.raises(CommganError, match="valid: stylegan"):
        GENERATE_MODELS["biggan"]


def test_generate_command_writes_metrics_and_images(tmp_path):
    out = tmp_path / "out"
    before = torch.random.get_rng_state()
    result = run_cli(["generate", "--model", "stylegan", "--demo", "--steps", "2",
                      "--mapping-layers", "2", "--out", out, "--models", tmp_path / "m",
                      "--threads", "1", "--quiet"], check=True)
    assert torch.equal(torch.random.get_rng_state(), before)  # global RNG left alone
    names = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert {"metrics.csv", "samples.png", "inversions.png", "edit.png"} <= names
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == [
        "real", "samples", "inversion-W", "inversion-W+", "samples-untrained",
        "inversion-W-untrained", "inversion-W+-untrained", "edit", "samples-cgan"]
    assert float(rows[0]["accuracy"]) > 0.9  # the reference classifier on held-out digits
    assert 0 < float(rows[1]["confidence"]) <= 1
    assert all(math.isfinite(float(r["psnr"])) for r in rows[2:4] + rows[5:7])
    assert 0 <= float(rows[-2]["class_changed"]) <= 1
    baseline = rows[-1]  # the shipped conditional DCGAN, judged by the same classifier
    assert int(baseline["images"]) == 1000 and float(baseline["accuracy"]) > 0.9
    assert not list((tmp_path / "m").glob("digits-cgan-*"))  # shipped: nothing trained
    assert "samples:" in result.stdout
    assert list((tmp_path / "m").glob("stylegan-digits-*.safetensors"))


@pytest.mark.parametrize("args, expected, code", [
    (["--model", "stylegan", "--demo", "--steps", "0"], "--steps", 2),
    (["--model", "biggan", "--demo"], "--model", 2),
    (["--model", "stylegan"], "--demo", 1),
    (["--model", "stylegan", "--demo", "--mapping-layers", "4"], "--mapping-layers", 2),
])
def test_bad_input_is_one_error_line_and_leaves_nothing(tmp_path, args, expected, code):
    result = run_cli(["generate", *args, "--out", "o", "--models", "m"], cwd=tmp_path)
    one_error_line(result, expected, code=code)
    assert not list(tmp_path.iterdir())
