"""Randomness is scoped: a seeded library call or command leaves every global generator (torch's,
Sionna's seed and generators, NumPy's, Python's) as it found it, while the numbers inside a seeded
block are those of seeding the globals directly."""

import random

import numpy as np
import pytest
import sionna.phy
import torch
from click.testing import CliRunner

from channels import WiretapChannel, get_modulation
from commgan.channelgan_study.config import ConvergenceConfig
from commgan.channelgan_study.fidelity import ber_fidelity
from commgan.cli import cli
from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining, train_autoencoder
from commgan.comm.channelgan import train_channel_model
from commgan.comm.eavesdroppers import EveTraining, dv_lower_bound, make_eve, train_eve
from commgan.comm.encryption import GanEncSystem
from commgan.comm.encryption_training import GanEncTraining, train_encrypted_link
from commgan.comm.registry import build_system
from commgan.gan import GANTrainer
from commgan.gan.toys import TOY_GAN_KINDS, toy_gan
from commgan.rng import (
    NonceCounter,
    random_bits,
    scoped_rng,
    seed_weights,
    seeded,
    seeded_weights,
    use_seed,
)
from commgan.security.wiretap import wiretap_frames
from commgan.sim.engine import simulate_point
from commgan.vision.classifier import ClassifierTraining, train_classifier
from commgan.vision.digits import draw_per_class
from commgan.vision.digits_gans import gan_training, train_digits_gan
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.srgan import SRTraining
from commgan.vision.models.training import train_model
from commgan.vision.nets.sr import SRConfig

pytestmark = pytest.mark.usefixtures("one_thread")

KEY = bytes(range(32))


def global_rng() -> dict[str, object]:
    """Every global generator's state, as comparable values (tensors as bytes)."""
    config = sionna.phy.config
    state: dict[str, object] = {
        "torch cpu": torch.random.get_rng_state().numpy().tobytes(),
        "sionna seed": config.seed,
        "sionna numpy": repr(config.np_rng.bit_generator.state),
        "sionna python": config.py_rng.getstate(),
        "numpy": repr(np.random.get_state()),
        "python": random.getstate(),
    }
    for device in config.available_devices:
        state[f"sionna {device}"] = config.torch_rng(device).get_state().cpu().numpy().tobytes()
    for index in range(torch.cuda.device_count()):
        state[f"torch cuda:{index}"] = torch.cuda.get_rng_state(index).numpy().tobytes()
    return state


def changed(call) -> list[str]:
    """The generators ``call()`` leaves changed."""
    before = global_rng()
    call()
    after = global_rng()
    return [name for name in before if before[name] != after[name]]


def test_the_check_sees_a_global_seeding():
    with scoped_rng():
        assert {"torch cpu", "sionna seed", "sionna cpu"} <= set(changed(lambda: use_seed(5)))
        assert "torch cpu" in changed(lambda: seed_weights(6))
        assert changed(lambda: torch.rand(1)) == ["torch cpu"]
        assert changed(lambda: random_bits([2, 4])) == ["sionna cpu"]


def test_seeded_blocks_draw_what_global_seeding_draws_and_restore_it():
    def torch_draws() -> list[torch.Tensor]:
        return [torch.rand(8), torch.nn.Linear(3, 2).weight.detach()]

    def draws() -> list[torch.Tensor]:
        return [random_bits([4, 16]), *torch_draws()]

    with scoped_rng():
        use_seed(11)
        expected = draws()
        seed_weights(12)
        expected_weights = torch_draws()

    def inside():
        with seeded(11) as generator:
            assert generator is sionna.phy.config.torch_rng("cpu")
            assert all(torch.equal(a, b) for a, b in zip(draws(), expected, strict=True))
        with seeded_weights(12):
            assert all(torch.equal(a, b)
                       for a, b in zip(torch_draws(), expected_weights, strict=True))
        with seeded(1), seeded(2):  # nested
            random_bits([3])

    assert changed(inside) == []


def test_a_scope_restores_on_an_exception_and_keeps_outer_draws():
    outer = sionna.phy.config.torch_rng("cpu")

    def failing():
        with pytest.raises(RuntimeError), seeded(3):
            outer.seed()  # a draw on the generator of the outer stream stays made
            raise RuntimeError

    assert changed(failing) == ["sionna cpu"]
    assert sionna.phy.config.torch_rng("cpu") is outer


def test_chunked_fit_equals_one_fit_and_restores():
    def trained(chunks: list[int]) -> list[torch.Tensor]:
        problem = toy_gan("wgan-gp", hidden=(8, 8), seed=5, batch_size=16)
        trainer = GANTrainer(problem, TOY_GAN_KINDS["wgan-gp"].trainer_config(6, 5))
        for iterations in chunks:
            trainer.fit(iterations=iterations)
            torch.rand(3)  # a draw between fits does not change the trainer's stream
        return [p.detach().clone() for p in problem.generator.parameters()]

    results = []
    assert changed(lambda: results.append(trained([6]))) == ["torch cpu"]
    assert changed(lambda: results.append(trained([2, 4]))) == ["torch cpu"]
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))


def _qam_point():
    system = build_system("qam", "16qam")
    return lambda: simulate_point(system, WiretapChannel("rayleigh"), 6.0, frame_bits=256,
                                  batch_frames=32, target_errors=10, max_bits=256 * 64, seed=1)


def _ae_training():
    system = AutoencoderSystem(get_modulation("16qam"))
    training = AutoencoderTraining(steps=2, batch_frames=16, frame_bits=64)
    return lambda: train_autoencoder(system, "awgn", training)


def _gan_enc_training():
    system = GanEncSystem(get_modulation("16qam"), key=KEY)
    return lambda: train_encrypted_link(system, "awgn", GanEncTraining(steps=2, batch_frames=16))


def _channel_model():
    config = ConvergenceConfig(models=("cgan",), seeds=1, iterations={"cgan": 2}, batch_blocks=16,
                               fidelity_ebno_db=(10.0,), fidelity_blocks=64, swd_samples=16)

    def call():
        model, _ = train_channel_model(config.model_config("cgan", 1))
        ber_fidelity(model, config)

    return call


def _eavesdroppers():
    system = build_system("qam", "16qam")

    def call():
        frames = wiretap_frames(system, "awgn", 10.0, NonceCounter(1).fresh(96), 64, seed=2)
        seen = frames.seen_by_eve()
        train_eve(lambda: make_eve(system, "bob-arch", "cpu"), seen.take(slice(0, 48)),
                  seen.take(slice(48, 96)), EveTraining(steps=2, batch_frames=16, eval_every=1),
                  restarts=2, seed=3)
        dv_lower_bound(frames.bits[:48], frames.x[:48], frames.bits[48:], frames.x[48:], 4,
                       steps=2, seed=4, bootstrap=4)

    return call


def _digits():
    images, labels = draw_per_class(2, seed=0)

    def call():
        train_digits_gan(gan_training("cgan", iterations=2), images, labels, seed=5)
        train_classifier((images, labels), None, ClassifierTraining(steps=2), init_seed=1,
                         batch_seed=2)

    return call


def _vision_model():
    training = SRTraining(generator=SRConfig(channels=8, blocks=1), d_channels=8, patch=32,
                          batch_size=2, images=("rocket",), iterations=2, warmup=1)
    return lambda: train_model(VISION_MODELS["sr"], training)


@pytest.mark.parametrize("make_call", [_qam_point, _ae_training, _gan_enc_training,
                                       _channel_model, _eavesdroppers, _digits, _vision_model],
                         ids=lambda make_call: make_call.__name__.strip("_"))
def test_library_calls_leave_the_global_generators_alone(make_call):
    """Each call seeds what it draws from (engine points, trainings, wiretap chunks, Eve's
    restarts, the digits and vision GANs) and leaves the global state as it was."""
    assert changed(make_call()) == []


MODELS, JOBS = ["--models", "models"], ["--jobs", "1"]
COMMANDS = {
    "simulate": ["simulate", "--channel", "rayleigh", "--system", "qam,qam+chacha", "--ebno",
                 "4", "--max-bits", "20000", *MODELS, *JOBS],
    "attack": ["attack", "--system", "qam+chacha", "--channel", "awgn", "--scenarios",
               "wrong-key", "--ebno", "10", *MODELS, *JOBS],
    "export": ["export", "--system", "qam+chacha", "--channel", "awgn", "--frames", "8",
               "--frame-bits", "64", "--ebno", "10", "--out", "out.npz", *MODELS, *JOBS],
    "converge": ["converge", "--channel", "rayleigh", "--models", "gan,cgan", "--seeds", "1",
                 "--iters", "2", "--no-fidelity", *JOBS],
    "train": ["train", "--system", "ae", "--channel", "awgn", "--steps", "20", *MODELS],
    "simulate-learned": ["simulate", "--channel", "awgn", "--system", "ae,gan-enc", "--ebno", "4",
                         "--max-bits", "20000", *MODELS, *JOBS],
    "restore": ["restore", "--task", "denoise", "--demo", "--steps", "1", "--threads", "1",
                *MODELS],
    "translate": ["translate", "--model", "pix2pix", "--task", "colour", "--demo", "--steps", "1",
                  "--threads", "1", *MODELS],
    "augment": ["augment", "--per-class", "2", "--seeds", "1", "--gans", "cgan", "--gan-iters",
                "2", "--classifier-steps", "2", "--synthetic", "4", *JOBS],
    "generate": ["generate", "--model", "stylegan", "--demo", "--steps", "2", "--threads", "1",
                 *MODELS],
}


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_commands_leave_the_global_generators_alone(args, tmp_path, monkeypatch):
    """Tiny runs in this process (``--jobs 1``): every seeded step of a command is scoped."""
    monkeypatch.chdir(tmp_path)  # results under the default output folders
    results = []
    left_changed = changed(lambda: results.append(CliRunner().invoke(
        cli, [*args, "--quiet"], env={"COMMGAN_KEY": KEY.hex()})))
    assert results[0].exit_code == 0, results[0].output
    assert left_changed == []
