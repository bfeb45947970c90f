"""Tests of commgan.comm.channelgan: the true-channel sampler, the GAN/CGAN/DCGAN models on
the shared core, the learned-channel hook and training through it."""

import math

import pytest
import torch

from channels import ChannelOutput, get_modulation, noise_variance
from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining, train_autoencoder
from commgan.comm.channelgan import (
    CHANNEL_MODELS,
    PILOT,
    BlockGenerator,
    BlockSampler,
    ChannelGAN,
    ChannelModelConfig,
    LearnedChannel,
    build_channel_model,
    ebno_condition,
    equalised,
    estimate_fading,
    nominal_noise_std,
    referenced_features,
    train_channel_model,
)
from commgan.gan import GANDivergenceError, GANProblem
from commgan.rng import use_seed

pytestmark = pytest.mark.usefixtures("one_thread")


def seed(value: int = 0) -> None:
    use_seed(value)


class TestConfig:
    def test_defaults_and_block_length(self):
        config = ChannelModelConfig()
        assert config.block_length == config.pilot_symbols + config.data_symbols == 16
        assert config.num_bits_per_symbol == 4
        assert config.to_dict()["train_ebno_db"] == [0.0, 20.0]

    @pytest.mark.parametrize("kwargs, match", [
        ({"model": "vae"}, "unknown channel model"),
        ({"mod": "8psk"}, "unknown modulation"),
        ({"channel": "rician"}, "unknown channel"),
        ({"pilot_symbols": 0}, "at least one"),
        ({"model": "dcgan", "data_symbols": 13}, "multiple of 4"),
        ({"batch_blocks": 0}, "batch_blocks"),
        ({"train_ebno_db": (20.0, 0.0)}, "low <= high"),
    ])
    def test_invalid_arguments_raise(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            ChannelModelConfig(**kwargs)

    def test_per_symbol_models_take_any_block_length(self):
        assert ChannelModelConfig(model="gan", data_symbols=13).block_length == 15


def test_registry_records_name_their_model_class():
    for name, spec in CHANNEL_MODELS.items():
        assert spec.name == name and issubclass(spec.model_class, ChannelGAN)
        assert spec.default_iterations >= 1 and spec.summary


class TestBlockSampler:
    def test_shapes_pilots_and_one_fade_per_block(self):
        seed()
        sampler = BlockSampler(ChannelModelConfig())
        batch = sampler.draw(64, ebno_db=90.0)  # practically noiseless
        assert batch["index"].shape == (64, 14) and batch["index"].dtype == torch.int64
        assert batch["x"].shape == batch["y"].shape == (64, 16)
        assert batch["x"].dtype == torch.complex64
        assert (batch["x"][:, :2] == PILOT).all()
        assert batch["ebno_db"].shape == (64, 1) and (batch["ebno_db"] == 90.0).all()
        h = batch["y"] / batch["x"]
        assert torch.allclose(h, h[:, :1].expand_as(h), atol=1e-3)  # one fade per block
        assert h[:, 0].abs().square().mean() == pytest.approx(1.0, abs=0.35)

    def test_noise_power_and_training_range(self):
        seed()
        sampler = BlockSampler(ChannelModelConfig(train_ebno_db=(5.0, 15.0)))
        ebno = sampler.ebno(20000)
        assert ebno.min() >= 5.0 and ebno.max() <= 15.0
        assert ebno.mean().item() == pytest.approx(10.0, abs=0.1)
        batch = sampler.draw(4000, ebno_db=10.0)
        h = estimate_fading(batch["y"][:, :2], sampler.pilots)
        # N0 = 1 / (R Eb/N0) = 0.025; the residual of the data around the pilots' estimate has
        # variance N0 (1 + |x|^2 / 2) on average = 0.025 * 1.5 (E|x|^2 = 1).
        residual = batch["y"][:, 2:] - h * batch["x"][:, 2:]
        assert residual.abs().square().mean().item() == pytest.approx(0.0375, rel=0.05)


def test_estimate_fading_and_equalised_are_exact_without_noise():
    h = torch.tensor([[0.3 - 0.4j], [2.0 + 1.0j]], dtype=torch.complex64)
    pilots = torch.tensor([1.0, 1j, -1.0], dtype=torch.complex64)
    assert torch.allclose(estimate_fading(h * pilots, pilots), h)
    x = torch.tensor([[0.3 + 0.9j, -0.9 - 0.3j]], dtype=torch.complex64)
    assert torch.allclose(equalised(h[:1] * x, x), h[:1].expand(1, 2), atol=1e-6)
    features = referenced_features(equalised(h[:1] * x, x), h[:1].expand(1, 2), dim=1)
    assert features.shape == (1, 8, 2)
    assert torch.allclose(features[:, 4:6], torch.zeros(1, 2, 2), atol=1e-6)  # z - ref = 0
    assert torch.allclose(features[:, 7], torch.full((1, 2), -6.0))  # log10(0 + 1e-6)


def test_nominal_noise_std_is_the_conditions_noise_std():
    ebno = torch.tensor([0.0, 7.5, 10.0, 20.0])
    assert torch.allclose(nominal_noise_std(ebno_condition(ebno), 4).square(),
                          noise_variance(ebno, 4), rtol=1e-5)


def test_dcgan_gain_from_the_block_latent_and_head():
    """One gain a per block, from the block latent only (the same for other symbols and
    Eb/N0); y = a x + sigma(c) (s w + b)."""
    seed()
    generator = BlockGenerator(latent=4, hidden=8, rate=4)
    for p in generator.parameters():  # away from the near-zero DCGAN initialisation
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(6, 16, dtype=torch.complex64)
    condition = torch.cat([torch.stack([x.real, x.imag], 1),
                           torch.full((6, 1, 16), 0.5)], dim=1)
    noise = generator.sample_noise(condition)
    out = generator.head_output(noise, condition)
    a = torch.complex(out[:, 0], out[:, 1])
    assert torch.allclose(a, a[:, :1].expand_as(a), atol=1e-6)
    other = condition.clone()
    other[:, :2] = other[:, :2].flip(-1)  # other symbols
    other[:, 2] = -1.0  # other Eb/N0
    a_other = generator.head_output(noise, other)[:, :2]
    assert torch.allclose(a_other, out[:, :2], atol=1e-6)
    w = torch.complex(noise[:, -2], noise[:, -1]) / math.sqrt(2.0)
    b = torch.complex(out[:, 3], out[:, 4])
    expected = a * x + nominal_noise_std(condition[:, 2], 4) * (out[:, 2] * w + b)
    y = generator(noise, condition)
    assert torch.allclose(torch.complex(y[:, 0], y[:, 1]), expected, atol=1e-5)


def test_dcgan_discriminator_sees_the_noise_on_one_scale():
    """The residual channels of D's input: y - ref x in units of sqrt(N0), for true blocks about
    unit power at 0 dB and at 20 dB alike (the raw y spans 100x in noise power)."""
    seed()
    gan = build_channel_model(ChannelModelConfig(model="dcgan"))
    powers = []
    for ebno_db in (0.0, 20.0):
        real, condition = gan.as_training_batch(gan.sampler_blocks.draw(2000, ebno_db))
        features = gan.discriminator.features(real, condition)
        assert features.shape == (2000, 15, 16)
        powers.append(features[:, 13:].square().sum(1).mean().item())
    assert 0.9 < powers[0] < 1.5 and 0.9 < powers[1] < 1.5
    assert powers[1] == pytest.approx(powers[0], rel=0.05)


@pytest.mark.parametrize("model", CHANNEL_MODELS)
class TestModels:
    def test_layout_shapes_and_protocol(self, model):
        seed()
        gan = build_channel_model(ChannelModelConfig(model=model, batch_blocks=8))
        assert isinstance(gan, GANProblem) and gan.name == model
        assert type(gan) is CHANNEL_MODELS[model].model_class
        real, condition = gan.next_batch()
        expected = {"gan": (8 * 16, 2), "cgan": (8 * 14, 2), "dcgan": (8, 2, 16)}[model]
        assert tuple(real.shape) == expected
        assert condition.shape[0] == real.shape[0]
        fake = gan.generate(0, condition)
        assert fake.shape == real.shape
        logits = gan.discriminator(real, condition)
        assert logits.shape[0] == real.shape[0] and torch.isfinite(logits).all()
        loss_d, metrics = gan.discriminator_loss((real, condition))
        assert loss_d.item() == pytest.approx(math.log(2), abs=0.1)  # untrained D: ~1/2
        assert set(metrics) == {"d_real", "d_fake"}

    def test_sample_blocks(self, model):
        seed()
        gan = build_channel_model(ChannelModelConfig(model=model))
        blocks = gan.sampler_blocks.draw(32, ebno_db=10.0)
        y = gan.sample(blocks["x"], blocks["ebno_db"], blocks["y"][:, :2])
        assert y.shape == (32, 16) and y.dtype == torch.complex64
        assert gan.generator.training  # sampling restores the mode
        if model == "cgan":  # the pilots are the measured ones it is conditioned on
            assert torch.equal(y[:, :2], blocks["y"][:, :2])
        if model == "cgan":
            with pytest.raises(ValueError, match="y_pilots"):
                gan.sample(blocks["x"], blocks["ebno_db"])

    def test_training_history_and_determinism(self, model):
        config = ChannelModelConfig(model=model, iterations=4, batch_blocks=16, seed=3)
        first, history = train_channel_model(config)
        assert list(history["iteration"]) == [1, 2, 3, 4]
        assert {"loss_d", "loss_g", "d_real", "d_fake", "seconds"} <= set(history.columns)
        assert not first.generator.training
        _, again = train_channel_model(config)
        assert again["loss_d"].tolist() == history["loss_d"].tolist()

    def test_learned_channel_has_the_true_channels_signature(self, model):
        seed()
        gan = build_channel_model(ChannelModelConfig(model=model))
        before = {k: v.clone() for k, v in gan.generator.state_dict().items()}
        link = LearnedChannel(gan)
        x = (torch.randn(6, 28, dtype=torch.complex64)).requires_grad_(True)
        out = link(x, torch.full((6, 1), 0.025))
        assert isinstance(out, ChannelOutput)
        assert out.y.shape == out.h.shape == (6, 28)
        assert torch.equal(out.h[:, :14], out.h[:, :1].expand(6, 14))  # one estimate per block
        out.y.abs().square().sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
        assert all(not p.requires_grad for p in link.model.generator.parameters())
        for k, v in gan.generator.state_dict().items():
            assert torch.equal(v, before[k])
        with pytest.raises(ValueError, match="multiple"):
            link(torch.zeros(2, 15, dtype=torch.complex64), 0.1)


def test_divergence_names_the_iteration(monkeypatch):
    config = ChannelModelConfig(model="gan", iterations=20, batch_blocks=8)
    original = ChannelGAN.generator_loss
    calls = {"n": 0}

    def poisoned(self, batch):
        calls["n"] += 1
        loss, metrics = original(self, batch)
        return (loss * math.nan if calls["n"] == 7 else loss), metrics

    monkeypatch.setattr(ChannelGAN, "generator_loss", poisoned)
    with pytest.raises(GANDivergenceError) as info:
        train_channel_model(config)
    assert info.value.iteration == 7 and info.value.loss == "loss_g"
    assert len(info.value.history) == 6
    assert "gan seed 0" in str(info.value)


def test_dcgan_learns_the_fade_and_noise_at_10db():
    """A short DCGAN training moves the generated blocks from y ~ 0 towards the channel: the
    block power and the residual around the pilots' estimate approach the truth.

    Measured (150 iterations at 10 dB, batch 64, training seeds 0-2): block power 0.00 ->
    0.94-0.97 (true 1.01), residual variance of the data symbols 0.047-0.063 (true 0.0375).
    """
    config = ChannelModelConfig(model="dcgan", iterations=150, batch_blocks=64,
                                train_ebno_db=(10.0, 10.0), lr_g=1e-3, lr_d=1e-3)
    seed(0)
    untrained = build_channel_model(config)
    blocks = untrained.sampler_blocks.draw(2000, ebno_db=10.0)
    before = untrained.sample(blocks["x"], blocks["ebno_db"])
    assert before.abs().square().mean() < 0.05  # DCGAN initialisation: outputs near 0
    model, _ = train_channel_model(config)
    after = model.sample(blocks["x"], blocks["ebno_db"])
    true = blocks["y"]
    assert after.abs().square().mean().item() == pytest.approx(
        true.abs().square().mean().item(), rel=0.3)
    h = estimate_fading(after[:, :2], model.sampler_blocks.pilots)
    residual = (after[:, 2:] - h * blocks["x"][:, 2:]).abs().square().mean().item()
    assert 0.02 < residual < 0.1  # true: 0.0375; an untrained G: ~0


def test_ae_trains_through_a_learned_channel():
    """The hook of train_autoencoder: any link with the true channel's call signature."""
    seed()
    model, _ = train_channel_model(ChannelModelConfig(model="dcgan", iterations=5))
    system = AutoencoderSystem(get_modulation("16qam"))
    history = train_autoencoder(system, "rayleigh", AutoencoderTraining(steps=5, frame_bits=56),
                                link=LearnedChannel(model))
    assert len(history) == 5 and history["loss"].notna().all()
