"""pix2pix and CycleGAN on the shared GAN core (commgan.vision.nets.unet, .models.pix2pix,
.models.cyclegan, .translate) and
``commgan translate``: shapes, the U-Net's skips, the PatchGAN, a few iterations of each game
through GANTrainer, the unpaired source, and the CLI (tiny budgets, ``--steps 2``) with bad
input that ends in one error line, a non-zero exit and no output files."""

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import commgan.cli.translate  # noqa: F401  (registers the command)
from commgan.cli import cli
from commgan.errors import CommganError
from commgan.gan import AdversarialGAN
from commgan.vision.baselines import edge_colours, stretch_colours
from commgan.vision.data import TRAIN_IMAGES, folder_split, load_image, read_image, to_uint8
from commgan.vision.degradations import Fade, TaskSettings, fade
from commgan.vision.metrics import image_metrics
from commgan.vision.models.cyclegan import (
    CycleGAN,
    CycleGANTraining,
    CycleGenerators,
    UnpairedSource,
)
from commgan.vision.models.pix2pix import Pix2PixColourTraining, Pix2PixTraining
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import build_problem, train_model
from commgan.vision.nets.discriminators import PatchDiscriminator, patch_receptive_field
from commgan.vision.nets.unet import UNetConfig, UNetGenerator
from commgan.vision.translate.run import translate_image
from commgan.vision.translate.tasks import TRANSLATION_TASKS, method_name

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"generator": UNetConfig(channels=8, depth=3), "d_channels": 8, "patch": 32,
        "batch_size": 4, "images": ("rocket", "china", "flower")}


class TestNetworks:
    @pytest.mark.parametrize("size", [(64, 64), (30, 47)])
    def test_unet_keeps_the_size_and_range(self, size):
        g = UNetGenerator(UNetConfig(channels=8, depth=3))
        with torch.no_grad():
            out = g(torch.rand(2, 3, *size))
        assert out.shape == (2, 3, *size)
        assert float(out.min()) >= 0 and float(out.max()) <= 1

    @pytest.mark.parametrize("head", ["residual", "affine"])
    def test_residual_and_affine_heads_start_as_the_identity(self, head):
        g = UNetGenerator(UNetConfig(channels=8, depth=3, head=head))
        x = torch.rand(2, 3, 30, 47)
        with torch.no_grad():
            assert torch.equal(g(x), x)
            torch.nn.init.normal_(g.out.weight, std=0.1)
            assert not torch.allclose(g(x), x)
        with pytest.raises(ValueError, match=head):
            UNetGenerator(UNetConfig(in_channels=1, head=head))
        with pytest.raises(ValueError, match="unknown head"):
            UNetGenerator(UNetConfig(head="sigmoid"))

    def test_affine_head_is_a_per_pixel_colour_matrix(self):
        g = UNetGenerator(UNetConfig(channels=8, depth=3, head="affine"))
        with torch.no_grad():
            g.out.bias[:9] = torch.tensor([0.5, 0, 0, 0, 0, 0, 0, 0, -1.0])  # R x1.5, B x0
            g.out.bias[9:] = torch.tensor([0.0, 0.1, 0.0])
            x = torch.rand(1, 3, 16, 16)
            out = g(x)
        assert torch.allclose(out[0, 0], 1.5 * x[0, 0]) and torch.allclose(out[0, 2], 0 * x[0, 2])
        assert torch.allclose(out[0, 1], x[0, 1] + 0.1)
        sharp = UNetGenerator(UNetConfig(channels=8, depth=3, head="affine")).eval()
        torch.nn.init.normal_(sharp.out.weight, std=0.1)
        smooth = UNetGenerator(UNetConfig(channels=8, depth=3, head="affine", affine_grid=4))
        smooth.load_state_dict(sharp.state_dict())
        smooth.eval()
        x = torch.rand(1, 3, 32, 32)
        with torch.no_grad():
            fields = [g(x) - x for g in (sharp, smooth)]  # M x + b

        def roughness(field):
            return float((field[..., 1:] - field[..., :-1]).abs().mean())
        assert roughness(fields[1]) < 0.5 * roughness(fields[0])
        with pytest.raises(ValueError, match="affine_grid"):
            UNetGenerator(UNetConfig(depth=3, head="affine", affine_grid=16))

    @pytest.mark.parametrize("colour_context", [0, 16])
    def test_colour_context_lets_far_content_change_a_pixel(self, colour_context):
        config = UNetConfig(channels=8, depth=3, head="affine", colour_context=colour_context)
        g = UNetGenerator(config).eval()
        torch.nn.init.normal_(g.out.weight, std=0.1)
        x = torch.rand(1, 3, 32, 256, requires_grad=True)
        g(x)[..., :16].sum().backward()
        far = x.grad[..., 160:].abs().max()  # beyond the receptive field of columns 0-15
        assert (far > 0) if colour_context else (far == 0)
        assert x.grad[..., :16].abs().max() > 0

    def test_colour_context_reads_the_context_pixels(self):
        config = UNetConfig(channels=8, depth=3, head="affine", colour_context=16)
        g = UNetGenerator(config).eval()
        torch.nn.init.normal_(g.out.weight, std=0.1)
        x, context = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32, requires_grad=True)
        out = g(torch.cat([x, context], 1))
        assert out.shape == (2, 3, 32, 32)
        out.sum().backward()
        assert context.grad.abs().sum() > 0
        with torch.no_grad():
            assert torch.equal(g(torch.cat([x, x], 1)), g(x))  # default: the input's own
        with pytest.raises(ValueError, match="colour_context"):
            UNetGenerator(UNetConfig(in_channels=1, out_channels=1, colour_context=8))

    def test_unet_skips_carry_the_input_past_the_bottleneck(self):
        g = UNetGenerator(UNetConfig(channels=8, depth=3)).eval()
        x, other = torch.rand(2, 1, 3, 32, 32)
        with torch.no_grad():
            assert not torch.allclose(g(x), g(other))
            g.encoder[-1].register_forward_hook(lambda module, args, out: torch.zeros_like(out))
            assert not torch.allclose(g(x), g(other), atol=1e-4)  # only the skips are left
            widths = [m[0].in_channels for m in g.merge]
            assert widths == [16 + 16, 8 + 8, 8 + 3]  # each decoder level + its encoder level

    def test_patch_discriminator(self):
        d = PatchDiscriminator(8, layers=3, cond_channels=3)
        x, c = torch.rand(2, 2, 3, 64, 64)
        assert d(x, c).shape == (2, 1, 6, 6) and patch_receptive_field(3) == 70
        assert d.net[0][0].in_channels == 6  # scores the concatenation (input, output)
        with torch.no_grad():  # a generator's context pixels after the condition are ignored
            d.eval()  # (no power iteration of the spectral norm between the two calls)
            assert torch.equal(d(x, torch.cat([c, torch.rand_like(c)], 1)), d(x, c))
            d.train()
        with pytest.raises(ValueError, match="condition"):
            d(x)
        with pytest.raises(ValueError, match="condition"):
            PatchDiscriminator(8, layers=3)(x, c)


class TestTasks:
    def test_colour_is_the_fading_and_the_stretch_baseline(self):
        spec = TRANSLATION_TASKS["colour"]
        image = load_image("coffee")[:, :64, :96]
        degraded = spec.degrade(image, TaskSettings())
        assert torch.equal(degraded, fade(image, Fade()))
        assert torch.equal(spec.baseline(degraded), stretch_colours(degraded))

    def test_edges_and_their_baseline(self):
        spec = TRANSLATION_TASKS["edges2photo"]
        image = load_image("astronaut")[:, :128, :128]
        edges = spec.degrade(image, TaskSettings())
        assert edges.shape == image.shape and set(edges.unique().tolist()) == {0.0, 1.0}
        assert 0.01 < float((edges[0] == 0).float().mean()) < 0.3
        baseline = spec.baseline(edges)
        edge_rgb, flat_rgb = edge_colours(("rocket", "china"))
        assert len({tuple(p) for p in baseline.flatten(1).T.tolist()}) == 2
        assert edge_colours(("rocket", "china")) != edge_colours(("flower",))
        assert len(edge_rgb) == len(flat_rgb) == 3

    def test_unknown_task_and_unsupported_model(self):
        with pytest.raises(CommganError, match="unknown translation task 'deblur'; valid: "
                                               "colour, edges2photo, labels2photo"):
            TRANSLATION_TASKS["deblur"]
        with pytest.raises(CommganError, match="--model cyclegan does not support"):
            TRANSLATION_TASKS["edges2photo"].model_key("cyclegan")
        with pytest.raises(CommganError, match="unknown translation model 'vae'"):
            method_name("vae")
        for spec in TRANSLATION_TASKS.values():
            for method, key in spec.models.items():
                assert VISION_MODELS[key].display_name == method_name(method)


class TestTraining:
    def test_pix2pix_is_a_conditional_gan_with_l1_100(self):
        problem = build_problem(VISION_MODELS["pix2pix-colour"], Pix2PixColourTraining(**TINY))
        assert isinstance(problem, AdversarialGAN) and problem.condition_discriminator
        assert problem.noise_shape is None and problem.loss.mode == "nonsaturating"
        assert problem.extra_losses["l1"][0] == 100.0
        clean, condition = problem.next_batch()
        assert clean.shape == (4, 3, 32, 32) and condition.shape == (4, 6, 32, 32)
        faded, context = condition.chunk(2, dim=1)  # the patch, its region's pixel sample
        assert float(faded.mean()) < float(clean.mean())  # darkened on average
        assert not torch.equal(context, faded) and 0 <= float(context.min()) <= 1

    @pytest.mark.parametrize("name, make", [("pix2pix-colour", Pix2PixColourTraining),
                                            ("pix2pix-edges2photo", Pix2PixTraining)])
    def test_pix2pix_trains_through_the_shared_trainer(self, name, make):
        generator, history = train_model(VISION_MODELS[name], make(**TINY, iterations=3))
        assert len(history) == 3 and not generator.training
        assert np.isfinite(history[["loss_d", "loss_g", "g_l1", "g_adv"]].to_numpy()).all()

    def test_edges_batches_are_aligned_edge_maps(self):
        problem = build_problem(VISION_MODELS["pix2pix-edges2photo"], Pix2PixTraining(**TINY))
        photo, edges = problem.next_batch()
        assert photo.shape == edges.shape == (4, 3, 32, 32)
        assert set(edges.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(edges[:, 0], edges[:, 2])

    def test_cyclegan_losses_and_training(self):
        problem = build_problem(VISION_MODELS["cyclegan-colour"], CycleGANTraining(**TINY))
        assert isinstance(problem, CycleGAN)
        assert isinstance(problem.generator, CycleGenerators)
        assert set(problem.discriminator) == {"D_A", "D_B"}
        batch = problem.next_batch()
        loss, metrics = problem.generator_loss(batch)
        expected = metrics["g_adv"] + 10 * metrics["g_cycle"] + 5 * metrics["g_identity"]
        assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
        generator, history = train_model(VISION_MODELS["cyclegan-colour"],
                                         CycleGANTraining(**TINY, iterations=3))
        assert len(history) == 3 and isinstance(generator, CycleGenerators)
        columns = ["loss_d", "loss_g", "g_adv", "g_cycle", "g_identity", "d_b_fake"]
        assert np.isfinite(history[columns].to_numpy()).all()
        x = torch.rand(1, 3, 40, 40)
        assert torch.equal(generator(x), generator["G_AB"](x))

    @pytest.mark.parametrize("names", [("rocket", "china"), TINY["images"],
                                       ("rocket", "china", "flower", "retina")])
    def test_unpaired_source_never_pairs_an_image_with_itself(self, names):
        training = CycleGANTraining(**{**TINY, "images": names})
        source = UnpairedSource(training, [load_image(name) for name in names])
        seen = (set(), set())
        for _ in range(30):
            clean, degraded = source()
            assert clean.shape == degraded.shape == (4, 3, 32, 32)
            from_degraded, from_clean = source.last_images
            assert not set(from_degraded) & set(from_clean)
            seen[0].update(from_degraded)
            seen[1].update(from_clean)
        assert seen[0] == seen[1] == set(range(len(names)))  # every image serves both domains
        with pytest.raises(CommganError, match="at least 2"):
            UnpairedSource(training, [load_image("rocket")])

    def test_translate_image_rows(self):
        g = UNetGenerator(UNetConfig(channels=8, depth=3)).eval()
        result = translate_image("colour", {"pix2pix": g, "cyclegan": g},
                                 load_image("chelsea")[:, :48, :64])
        assert list(result.metrics) == ["input", "white balance + stretch", "pix2pix",
                                        "CycleGAN"]
        assert result.outputs["pix2pix"].shape == (3, 48, 64)


def translate(tmp_path, *args):
    out = tmp_path / "out"
    argv = ["translate", *args, "--models", str(tmp_path / "models"), "--out", str(out),
            "--threads", "1", "--quiet"]
    return CliRunner().invoke(cli, argv), out


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(to_uint8(load_image("chelsea")[:, 60:124, 150:246])).save(path)
    return path


@pytest.mark.parametrize("model, task, baseline", [
    ("pix2pix", "colour", "white balance + stretch"),
    ("cyclegan", "colour", "white balance + stretch"),
    ("pix2pix", "edges2photo", "edge/non-edge mean colours"),
])
def test_cli_writes_the_three_files(tmp_path, photo, model, task, baseline):
    result, out = translate(tmp_path, "--model", model, "--task", task, "--image", str(photo),
                            "--steps", "2")
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"translated.png", "side_by_side.png",
                                               "metrics.csv"}
    assert Image.open(out / "translated.png").size == (96, 64)
    table = pd.read_csv(out / "metrics.csv")
    name = {"pix2pix": "pix2pix", "cyclegan": "CycleGAN"}[model]
    assert list(table["method"]) == ["input", baseline, name]
    assert np.isfinite(table[["psnr", "ssim"]].to_numpy()).all()
    assert f"{name}: PSNR" in result.output


def test_cli_demo(tmp_path):
    result, out = translate(tmp_path, "--model", "pix2pix", "--task", "colour", "--demo",
                            "--steps", "2")
    assert result.exit_code == 0, result.output
    assert Image.open(out / "translated.png").size == (512, 512)
    table = pd.read_csv(out / "metrics.csv").set_index("method")
    assert table.loc["input", "psnr"] == pytest.approx(14.50, abs=0.01)


@pytest.mark.parametrize("args, message", [
    (["--model", "pix2pix", "--task", "colour"], "exactly one"),
    (["--model", "pix2pix", "--task", "colour", "--demo", "--image", "{photo}"], "exactly one"),
    (["--model", "pix2pix", "--task", "colour", "--image", "{missing}"], "does not exist"),
    (["--model", "pix2pix", "--task", "colour", "--image", "{text}"], "not an image"),
    (["--model", "pix2pix", "--task", "colour", "--image", "{tiny}"], "needs at least 32x32"),
    (["--model", "pix2pix", "--task", "deblur", "--demo"], "deblur"),
    (["--model", "gan", "--task", "colour", "--demo"], "gan"),
    (["--task", "colour", "--demo"], "--model"),
    (["--model", "cyclegan", "--task", "edges2photo", "--demo"], "does not support"),
    (["--model", "pix2pix", "--task", "colour", "--demo", "--steps", "0"], "positive"),
])
def test_bad_input_one_line_no_files(tmp_path, photo, args, message):
    (tmp_path / "notes.png").write_text("hello")
    Image.fromarray(np.asarray(Image.open(photo))[:20, :40]).save(tmp_path / "tiny.png")
    names = {"missing": tmp_path / "nope.png", "text": tmp_path / "notes.png",
             "tiny": tmp_path / "tiny.png", "photo": photo}
    result, out = translate(tmp_path, *[a.format(**names) for a in args])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], lines
    assert not out.exists() and not (tmp_path / "models").exists()


def write_photos(folder, size=96):
    folder.mkdir()
    crops = [("chelsea", 0, 0), ("chelsea", 100, 200), ("coffee", 50, 100),
             ("coffee", 200, 300), ("astronaut", 0, 0)]
    for index, (name, y, x) in enumerate(crops):
        crop = load_image(name)[:, y:y + size, x:x + size]
        Image.fromarray(to_uint8(crop)).save(folder / f"photo{index}.png")
    return folder


def test_cli_train_dir(tmp_path, photo):
    folder = write_photos(tmp_path / "photos")
    result, out = translate(tmp_path, "--model", "pix2pix", "--task", "edges2photo", "--image",
                            str(photo), "--steps", "2", "--train-dir", str(folder))
    assert result.exit_code == 0, result.output
    (stem,) = {path.stem for path in (tmp_path / "models").glob("pix2pix-edges2photo-*")}
    meta = (tmp_path / "models" / f"{stem}.json").read_text()
    assert "images_sha256" in meta and "photo" in meta
    table = pd.read_csv(out / "metrics.csv").set_index("method")
    reference = read_image(photo)
    spec = TRANSLATION_TASKS["edges2photo"]
    training_images = folder_split(folder)[0]
    assert edge_colours(training_images) != edge_colours(TRAIN_IMAGES)
    baseline = spec.baseline(spec.degrade(reference, TaskSettings()), training_images)
    expected = image_metrics(baseline, reference)["psnr"]
    assert table.loc["edge/non-edge mean colours", "psnr"] == pytest.approx(expected, abs=1e-9)
    result, _ = translate(tmp_path, "--model", "pix2pix", "--task", "colour", "--demo",
                          "--train-dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "does not exist" in result.output


def test_cli_train_dir_cyclegan_validates_on_pairs(tmp_path, photo):
    folder = write_photos(tmp_path / "photos")
    result, out = translate(tmp_path, "--model", "cyclegan", "--task", "colour", "--image",
                            str(photo), "--steps", "2", "--train-dir", str(folder))
    assert result.exit_code == 0, result.output


def test_translation_table_smoke(tmp_path, smoke):
    out = smoke("translation_table.py", tmp_path)
    table = pd.read_csv(out / "table.csv")
    assert set(table["image"]) == {"astronaut", "coffee", "chelsea", "grace_hopper"}
    fresh = table["images"] == "fresh"
    assert set(table.loc[fresh, "image"]) == {"grace_hopper"}
    colour = table[table["task"] == "colour"]
    assert set(colour["setting"]) == {"default", "faded-sepia", "dark"}
    assert set(colour["method"]) == {"input", "white balance + stretch", "pix2pix", "CycleGAN",
                                     "CUT"}
    edges = table[table["task"] == "edges2photo"]
    assert set(edges["method"]) == {"input", "edge/non-edge mean colours", "pix2pix"}
    assert np.isfinite(table[["psnr", "ssim"]].to_numpy()).all()
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == (~fresh).sum() // 3 + fresh.sum()
    for name in ("colour.png", "edges2photo.png", "summary.png", "config.json"):
        assert (out / name).stat().st_size > 0
