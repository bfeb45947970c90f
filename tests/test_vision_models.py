"""commgan.vision.nets and .models (records, training, cache): shapes, the bicubic/identity
start, training through the shared GANTrainer (warm-up, then the D/G game), learning, the records
and the model cache."""

import json

import pytest
import torch
import torch.nn.functional as F

from commgan.checkpoint import checkpoint_paths
from commgan.errors import CommganError
from commgan.vision.baselines import biharmonic_inpaint
from commgan.vision.data import load_image
from commgan.vision.degradations import Fade, TaskSettings, degrade_colour, fade
from commgan.vision.models.cache import cache_stem, load_or_train
from commgan.vision.models.crsrgan import ColourSource, ColourTraining
from commgan.vision.models.multiloss import RestorationSource, RestorationTraining
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.srgan import SRTraining
from commgan.vision.models.training import build_problem, train_model
from commgan.vision.nets.colour import colour_statistics
from commgan.vision.nets.discriminators import ConvDiscriminator
from commgan.vision.nets.restoration import RestorationConfig, RestorationGenerator
from commgan.vision.nets.sr import ColourConfig, ColourSRGenerator, SRConfig, SRGenerator
from commgan.vision.restore.evaluate import degrade, evaluate_images, run_model
from commgan.vision.restore.tasks import VISION_TASKS
from commgan.vision.translate.tasks import TRANSLATION_TASKS

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_sr(**kw) -> SRTraining:
    return SRTraining(generator=SRConfig(channels=8, blocks=1), d_channels=8, patch=32,
                      batch_size=4, images=("rocket",), **kw)


def tiny_colour(**kw) -> ColourTraining:
    return ColourTraining(generator=ColourConfig(channels=8, blocks=1), d_channels=8, patch=32,
                          batch_size=4, images=("rocket",), context_pixels=256, **kw)


def tiny_restoration(**kw) -> RestorationTraining:
    return RestorationTraining(generator=RestorationConfig(channels=8, blocks=2), d_channels=8,
                               patch=32, batch_size=4, bank=6, images=("rocket",), **kw)


class TestModels:
    @pytest.mark.parametrize("scale", [1, 2, 4])
    def test_sr_generator_starts_as_bicubic(self, scale):
        g = SRGenerator(SRConfig(scale=scale, channels=8, blocks=2))
        x = torch.rand(2, 3, 12, 10)
        out = g(x)
        assert out.shape == (2, 3, 12 * scale, 10 * scale)
        base = x if scale == 1 else F.interpolate(x, scale_factor=scale, mode="bicubic")
        assert torch.allclose(out, base, atol=1e-6)
        with pytest.raises(ValueError, match="scale"):
            SRGenerator(SRConfig(scale=3))
        with pytest.raises(ValueError, match="ColourSRGenerator"):
            SRGenerator(SRConfig(colour=True))

    def test_colour_generator_starts_as_bicubic_and_takes_context(self):
        g = ColourSRGenerator(ColourConfig(channels=8, blocks=2))
        x = torch.rand(2, 3, 12, 10)
        base = F.interpolate(x, scale_factor=2, mode="bicubic")
        assert torch.allclose(g(x), base, atol=2e-3)  # identity colour transform (x >= 1e-3)
        torch.nn.init.normal_(g.transform.weight, std=0.1)  # a non-trivial transform
        context = torch.rand(2, 3, 12, 10)
        assert torch.equal(g(torch.cat([x, x], dim=1)), g(x))
        assert not torch.allclose(g(torch.cat([x, context], dim=1)), g(x))

    def test_colour_statistics_ignore_size_and_pixel_order(self):
        image = load_image("coffee")[None, :, :128, :128]
        stats = colour_statistics(image)
        shuffled = image.flatten(2)[..., torch.randperm(128 * 128)].view_as(image)
        assert torch.allclose(colour_statistics(shuffled), stats, atol=1e-6)
        smooth = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        tiled = smooth.repeat(1, 1, 2, 3)  # the same colour distribution, 6 times the pixels
        assert torch.allclose(colour_statistics(tiled), colour_statistics(smooth), atol=1e-2)
        assert not torch.allclose(colour_statistics(fade(image, Fade())), stats, atol=1e-2)

    def test_restoration_generator_keeps_known_pixels(self):
        g = RestorationGenerator(RestorationConfig(channels=8, blocks=2))
        torch.nn.init.normal_(g.out.weight, std=0.1)  # a non-trivial residual
        prefill = torch.rand(1, 3, 30, 27)  # odd sizes are padded and cropped
        mask = (torch.rand(1, 1, 30, 27) < 0.3).float()
        out = g(torch.cat([prefill, mask, 1 - mask], dim=1))
        assert out.shape == (1, 3, 30, 27)
        assert torch.equal(out * (1 - mask), prefill * (1 - mask))
        assert not torch.allclose(out * mask, prefill * mask)
        noisy = g(torch.cat([prefill, torch.zeros_like(mask), torch.zeros_like(mask)], dim=1))
        assert not torch.allclose(noisy, prefill)  # a noisy input is changed everywhere

    @pytest.mark.parametrize("patch, shape", [(False, (2,)), (True, (2, 1, 8, 8))])
    def test_discriminator(self, patch, shape):
        assert ConvDiscriminator(8, 3, patch=patch)(torch.rand(2, 3, 64, 64)).shape == shape


class TestTraining:
    def test_sr_problem_losses(self):
        problem = build_problem(VISION_MODELS["sr"], tiny_sr())
        target, low = problem.next_batch()
        assert target.shape == (4, 3, 32, 32) and low.shape == (4, 3, 8, 8)
        assert problem.adv_weight == 1e-3 and not problem.condition_discriminator
        loss, metrics = problem.warmup_loss((target, low))
        assert set(metrics) == {"g_content"}

    def test_colour_batches_are_faded_and_downsampled(self):
        problem = build_problem(VISION_MODELS["colour"], ColourTraining(
            generator=ColourConfig(channels=8, blocks=1), patch=32, batch_size=4,
            images=("rocket",)))
        target, low = problem.next_batch()
        assert low.shape == (4, 6, 16, 16)  # the faded patch and its region's context pixels
        assert float(low[:, :3].mean()) < float(target.mean())  # darkened on average

    def test_colour_source(self):
        training = ColourTraining(generator=ColourConfig(channels=8, blocks=1), patch=32,
                                  batch_size=4, images=("rocket",), context_pixels=256,
                                  context_min=64)
        source = ColourSource(training, [load_image("rocket")])
        target, condition = source()
        assert target.shape == (4, 3, 32, 32) and condition.shape == (4, 6, 16, 16)
        assert float(condition[:, :3].mean()) < float(target.mean())  # darkened on average
        # with a single fading, the patch is the degraded target
        training.fade_ranges = {name: (value, value) for name, value in Fade().to_dict().items()}
        target, condition = ColourSource(training, [load_image("rocket")])()
        assert torch.equal(condition[0, :3], degrade_colour(target[0], Fade(), 2))
        assert torch.equal(condition[0, 3:], fade(condition[0, 3:], Fade(0, 0, 1, 1, 0)))
        problem = build_problem(VISION_MODELS["colour"], training)
        assert isinstance(problem.generator, ColourSRGenerator)
        assert problem.next_batch()[1].shape == (4, 6, 16, 16)

    def test_restoration_source(self):
        source = RestorationSource(tiny_restoration(p_occlusion=1.0, p_block_removal=0.0),
                                   [load_image("rocket")])
        target, condition = source()
        assert target.shape == (4, 3, 32, 32) and condition.shape == (4, 5, 32, 32)
        mask = condition[:, 3:4]
        assert torch.equal(condition[:, 4:5], 1 - mask) and float(mask.mean()) > 0.04
        refill = biharmonic_inpaint(target[0] * (1 - mask[0]), mask[0])
        assert torch.allclose(condition[0, :3], refill, atol=1e-6)
        noisy = RestorationSource(tiny_restoration(p_occlusion=0.0, p_block_removal=0.0),
                                  [load_image("rocket")])
        target, condition = noisy()
        assert condition[:, 3:].abs().sum() == 0 and (condition[:, :3] != target).any()

    @pytest.mark.parametrize("name, make", [("sr", tiny_sr), ("restore", tiny_restoration),
                                            ("colour", tiny_colour)])
    def test_trains_through_the_shared_trainer(self, name, make):
        generator, history = train_model(VISION_MODELS[name], make(iterations=4, warmup=2))
        assert len(history) == 4
        assert history["loss_d"].iloc[:2].isna().all() and history["loss_d"].iloc[2:].notna().all()
        assert "g_adv" in history.columns and history["loss_g"].notna().all()
        assert not generator.training

    def test_content_warmup_beats_bicubic_on_a_held_out_crop(self):
        """Learning can fail: 60 warm-up iterations must lift PSNR(Y) above bicubic's."""
        training = SRTraining(generator=SRConfig(channels=16, blocks=2), d_channels=8,
                              patch=48, batch_size=8, iterations=60, warmup=60, lr_g=1e-3)
        generator, _ = train_model(VISION_MODELS["sr"], training)
        images = {"astronaut": load_image("astronaut")[:, 128:384, 128:384]}
        table = evaluate_images("sr", generator, images).set_index("method")
        gain = table.loc["model", "psnr_y"] - table.loc["baseline", "psnr_y"]
        assert gain > 0.05, f"gain over bicubic {gain:.3f} dB"


class TestRecords:
    def test_every_model_serves_a_task_and_records_own_their_names(self):
        served = {name for task in VISION_TASKS.values() for name in (task.model, *task.models)} | {
            key for task in TRANSLATION_TASKS.values() for key in task.models.values()}
        assert served == set(VISION_MODELS)
        for registry in (VISION_MODELS, VISION_TASKS, TRANSLATION_TASKS):
            assert all(record.name == name for name, record in registry.items())
        stems = [model.stem for model in VISION_MODELS.values()]
        assert len(set(stems)) == len(stems)  # one cache name per model

    def test_a_model_refuses_the_config_of_another(self):
        with pytest.raises(TypeError, match="RestorationTraining"):
            VISION_MODELS["restore"].config(SRTraining())
        assert isinstance(VISION_MODELS["restore"].config(), RestorationTraining)

    def test_shorter_budgets(self):
        short = RestorationTraining().with_steps(2)
        assert (short.iterations, short.warmup, short.bank) == (2, 0, 16)
        assert SRTraining().with_steps(40).warmup == 10
        smoke = RestorationTraining().smoke()
        assert (smoke.iterations, smoke.warmup, smoke.bank) == (3, 1, 4)
        assert isinstance(ColourTraining().smoke(), ColourTraining)


class TestCache:
    def test_train_save_load_and_refuse(self, tmp_path):
        training = tiny_sr(iterations=2, warmup=1)
        messages = []
        first = load_or_train("sr", tmp_path, training, log=messages.append)
        assert "training" in messages[0]
        weights, meta = checkpoint_paths(cache_stem("sr", tmp_path, training))
        assert weights.exists() and json.loads(meta.read_text())["train_seconds"] > 0
        second = load_or_train("sr", tmp_path, training, log=messages.append,
                               train_if_missing=False)
        assert "cached" in messages[-1]
        x = torch.rand(1, 3, 8, 8)
        assert torch.equal(first(x), second(x))
        other = tiny_sr(iterations=3, warmup=1)
        assert cache_stem("sr", tmp_path, other) != cache_stem("sr", tmp_path, training)
        with pytest.raises(CommganError, match="no trained"):
            load_or_train("sr", tmp_path, other, train_if_missing=False)
        weights.write_bytes(weights.read_bytes()[:-10])
        with pytest.raises(CommganError, match="corrupt or truncated"):
            load_or_train("sr", tmp_path, training)
        with pytest.raises(CommganError, match="unknown vision model 'gan'; valid: sr, "):
            cache_stem("gan", tmp_path)

    def test_default_stems_are_the_names_of_existing_caches(self, tmp_path):
        stems = {name: cache_stem(name, tmp_path).name for name in ("sr", "colour", "restore")}
        assert stems == {"sr": "srgan-x4-5da523dc2ef2", "colour": "cr-srgan-x2-5127b2a482f0",
                         "restore": "multiloss-restore-710685a75c34"}
        assert cache_stem("restore", tmp_path, vgg_perceptual=True).name == \
            "multiloss-restore-3bbe4f457629"

    def test_inpaint_model_run_keeps_known_pixels(self):
        generator, _ = train_model(VISION_MODELS["restore"],
                                   tiny_restoration(iterations=2, warmup=1))
        image = load_image("coffee")[:, :64, :64]
        settings = TaskSettings(ratio=0.2)
        reference, degraded, mask = degrade("inpaint", image, settings)
        out = run_model("inpaint", generator, degraded, mask)
        assert torch.allclose(out * (1 - mask), reference * (1 - mask), atol=0.5 / 255)
