"""gan-enc: the key stream on the bits makes the signal independent of the message; Bob decrypts
with the key, a wrong key or no key gives coin flips. gan-enc-naive leaks (critic)."""

import numpy as np
import pytest
import torch

from channels import WiretapChannel, get_modulation
from commgan.comm.encryption import GanEncNaiveSystem, GanEncSystem, flip_logits
from commgan.comm.encryption_training import (
    EncryptedLinkProblem,
    GanEncTraining,
    evaluate_critics,
    train_encrypted_link,
)
from commgan.comm.keys import NonceReuseError
from commgan.gan import GANProblem
from commgan.rng import random_bits

KEY = bytes(range(32))


def test_flip_logits_removes_the_key_stream():
    logits_v = torch.tensor([[2.0, -3.0, 0.5, -0.1]])
    z = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    m_hat = (flip_logits(logits_v, z) > 0).float()
    v_hat = (logits_v > 0).float()
    assert torch.equal(m_hat, torch.remainder(v_hat + z, 2.0))


def test_problem_is_a_gan_problem():
    system = GanEncSystem(get_modulation("16qam"), key=KEY)
    problem = EncryptedLinkProblem(system, "awgn", GanEncTraining(batch_frames=4))
    assert isinstance(problem, GANProblem)
    generator = {id(p) for p in problem.generator.parameters()}
    adversaries = {id(p) for p in problem.discriminator.parameters()}
    assert generator and adversaries and not generator & adversaries


def test_signal_depends_only_on_encrypted_bits():
    """x = G(m XOR z): two messages with the same v give the same signal."""
    system = GanEncSystem(get_modulation("16qam"), key=KEY).eval()
    m = torch.randint(0, 2, (4, 64)).float()
    nonces = np.arange(4)
    z = system.key_bits(nonces, 64, encrypt=False)
    x = system.transmit(m, nonces)
    assert torch.allclose(x, system.modulate(torch.remainder(m + z, 2.0)))


def test_transmit_refuses_nonce_reuse():
    system = GanEncSystem(get_modulation("16qam"), key=KEY).eval()
    m = torch.zeros(2, 64)
    system.transmit(m, np.array([10, 11]))
    with pytest.raises(NonceReuseError):
        system.transmit(m, np.array([11, 12]))


@pytest.fixture(scope="module")
def trained():
    """A short training (150 steps) on AWGN at 10 dB: enough for Bob to decode."""
    system = GanEncSystem(get_modulation("16qam"), key=KEY)
    training = GanEncTraining(steps=150, batch_frames=128, frame_bits=64,
                              train_ebno_db=(10.0, 10.0), seed=1)
    history = train_encrypted_link(system, "awgn", training)
    return system, training, history


def test_history_records_every_player(trained):
    _, _, history = trained
    for column in ("loss_d", "loss_g", "bob_ber", "eve_ber", "independence_acc", "covert_acc"):
        assert column in history.columns
    assert len(history) == 150


def _ber(system, receiver, first_nonce, key=None, frames=2000, ebno=12.0):
    bits = random_bits([frames, 64])
    nonces = np.arange(first_nonce, first_nonce + frames)
    with torch.no_grad():
        out = WiretapChannel("awgn")(system.transmit(bits, nonces), ebno, 4)
        if receiver == "bob":
            estimate = system.receive(out.bob, nonces, key=key)
        else:
            estimate = system.eavesdrop(out.eve)
    return (estimate != bits).float().mean().item()


def test_bob_decodes_wrong_key_and_eve_do_not(trained):
    system, _, _ = trained
    assert _ber(system, "bob", 10**6) < 0.02
    wrong = bytearray(KEY)
    wrong[5] ^= 0x10
    # 128 000 bits each: 0.5 +- 0.005 is a 3.6-sigma band for a fair coin
    assert abs(_ber(system, "bob", 2 * 10**6, key=bytes(wrong)) - 0.5) < 0.005
    assert abs(_ber(system, "eve", 3 * 10**6) - 0.5) < 0.005


def test_independence_critic_cannot_tell(trained):
    system, training, _ = trained
    accuracy = evaluate_critics(system, "awgn", training, batches=10)["independence_critic_acc"]
    assert abs(accuracy - 0.5) < 0.02


def test_naive_variant_mixes_the_key_continuously():
    system = GanEncNaiveSystem(get_modulation("16qam"), key=KEY).eval()
    m = torch.randint(0, 2, (3, 64)).float()
    z = torch.randint(0, 2, (3, 64)).float()
    assert system.modulate(m, z).shape == (3, 16)
    assert system.generator.net[0][0].in_channels == 8  # R message + R key channels


def test_spreading_gan_enc_trains_and_keeps_the_key_on_the_bits():
    """The rayleigh-fast default spreads blocks over 2 symbols; a short training still leaves
    Bob (exact demapper of G's codebook, key stream flipped out) far better than a coin, and a
    wrong key or the in-loop Eve at coin flips."""
    from commgan.comm.encryption import GanEncConfig, generator_config
    from commgan.sim.engine import simulate_point

    config = GanEncConfig(transceiver=generator_config(4, spread=2))
    system = GanEncSystem(get_modulation("16qam"), config, key=KEY)
    train_encrypted_link(system, "rayleigh-fast", GanEncTraining(steps=60, architecture=config))
    system.eval()
    assert system.frame_multiple == 8
    point = simulate_point(system, WiretapChannel("rayleigh-fast"), 25.0, frame_bits=256,
                           batch_frames=256, target_errors=1 << 40, max_bits=262_144, seed=1)
    assert point.receivers["bob"].ber < 0.01
    low, high = point.receivers["eve"].interval()
    assert low < 0.5 < high
    bits = random_bits([64, 256], "cpu")
    out = WiretapChannel("rayleigh-fast")(system.transmit(bits, np.arange(100, 164)), 30.0, 4).bob
    right = system.receive(out, np.arange(100, 164))
    wrong = system.receive(out, np.arange(100, 164), key=bytes(32))
    assert (right != bits).float().mean().item() < 0.01
    assert 0.47 < (wrong != bits).float().mean().item() < 0.53


def test_training_is_reproducible_whatever_ran_before():
    """Training reseeds every layer, the critics' spectral-norm weights and power-iteration
    vectors included: two systems built from different RNG states train to the same weights."""
    states = []
    for before in (1, 2):
        torch.manual_seed(before)
        system = GanEncSystem(get_modulation("16qam"), key=KEY)
        train_encrypted_link(system, "awgn", GanEncTraining(steps=3, batch_frames=16))
        states.append(system.state_dict())
    for name, tensor in states[0].items():
        assert torch.equal(tensor, states[1][name]), name
