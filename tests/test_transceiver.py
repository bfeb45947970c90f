"""The CNN autoencoder: shapes, power, the QAM-skip start, length generalisation, training."""

import numpy as np
import pytest
import torch
from sionna.phy.mapping import Mapper

from channels import WiretapChannel, get_modulation
from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining, train_autoencoder
from commgan.comm.transceiver import TransceiverConfig, bits_to_channels, channels_to_bits
from commgan.rng import random_bits
from commgan.sim.analysis import ebno_at_ber, gap_to_theory_db
from commgan.sim.engine import simulate_point


def _system(mod="16qam", **config):
    spec = get_modulation(mod)
    return AutoencoderSystem(spec, TransceiverConfig(spec.num_bits_per_symbol, **config))


@pytest.mark.parametrize("length", [4, 32, 1000])
def test_shapes_any_multiple_of_r(length):
    system = _system(kernel_size=3).eval()
    bits = torch.randint(0, 2, (3, length)).float()
    x = system.transmit(bits)
    assert x.shape == (3, length // 4) and x.dtype == torch.complex64
    out = WiretapChannel("rayleigh")(x, 10.0, 4, eve=False).bob
    assert system.logits(out).shape == (3, length)


def test_bit_layout_round_trip():
    bits = torch.randint(0, 2, (5, 24)).float()
    features = bits_to_channels(bits, 4)
    assert features.shape == (5, 4, 6)
    assert torch.equal(channels_to_bits((features + 1) / 2), bits)


def test_starts_as_gray_qam():
    """With the QAM skip the untrained encoder is Sionna's Gray mapper (Es = 1)."""
    system = _system().eval()
    bits = torch.randint(0, 2, (8, 64)).float()
    expected = Mapper("qam", 4)(bits)
    assert torch.allclose(system.transmit(bits), expected, atol=1e-6)


def test_average_power_is_one_after_training(seeded):
    system = _system()
    train_autoencoder(system, "awgn", AutoencoderTraining(steps=30, frame_bits=64))
    x = system.transmit(random_bits([2000, 128]))
    assert x.abs().square().mean().item() == pytest.approx(1.0, rel=0.02)


@pytest.fixture(scope="module")
def trained_awgn():
    import sionna.phy

    sionna.phy.config.seed = 3
    system = _system()
    training = AutoencoderTraining(steps=400, frame_bits=128, train_ebno_db=(6.0, 6.0), seed=3)
    history = train_autoencoder(system, "awgn", training)
    return system, history


def test_training_reaches_the_baseline_neighbourhood(trained_awgn):
    """400 steps at 6 dB: loss falls and Bob's BER at 6 dB is within 0.3 dB of 16QAM theory."""
    system, history = trained_awgn
    assert history["loss"].tail(50).mean() < 0.5 * history["loss"].head(20).mean()
    point = simulate_point(system, WiretapChannel("awgn"), 6.0, frame_bits=512,
                           batch_frames=512, target_errors=1 << 40, max_bits=1 << 20, seed=1)
    gap = gap_to_theory_db([6.0], [point.receivers["bob"].ber], "16qam", "awgn")[0]
    assert gap < 0.3


def test_generalises_across_frame_lengths(trained_awgn):
    """Trained on L = 128; at L/4 = 32 and 16 L = 2048 the BER stays in the 95% interval."""
    system, _ = trained_awgn
    wiretap = WiretapChannel("awgn")
    results = {}
    for length in (128, 32, 2048):
        point = simulate_point(system, wiretap, 6.0, frame_bits=length,
                               batch_frames=max(1, (1 << 19) // length), target_errors=1 << 40,
                               max_bits=1 << 21, seed=5)
        results[length] = point.receivers["bob"]
    low, high = results[128].interval(0.95)
    for length in (32, 2048):
        assert low <= results[length].ber <= high, (length, results[length].ber, low, high)


def test_ebno_at_ber_interpolates():
    ebno = np.array([0.0, 10.0])
    assert ebno_at_ber(ebno, [1e-1, 1e-3], 1e-2) == pytest.approx(5.0)
    assert np.isnan(ebno_at_ber(ebno, [1e-1, 1e-2], 1e-4))


def test_invalid_kernel():
    with pytest.raises(ValueError, match="odd"):
        _system(kernel_size=2)
