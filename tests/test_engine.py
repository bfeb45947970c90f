"""Monte Carlo engine against exact theory, and the classical systems against each other."""

import numpy as np
import pytest

from channels import WiretapChannel, theory
from commgan.comm.registry import build_system
from commgan.rng import random_bits
from commgan.sim.engine import point_seed, simulate_point

KEY = bytes(range(32))
EBNO = (0.0, 4.0, 8.0, 12.0)


def _point(system, channel, ebno_db, bits=2_000_000, frame_bits=512, target=1 << 40, fast=True):
    return simulate_point(system, WiretapChannel(channel), ebno_db, frame_bits=frame_bits,
                          batch_frames=1024, target_errors=target, max_bits=bits, seed=7,
                          fast=fast)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh", "rayleigh-fast"])
@pytest.mark.parametrize("mod", ["16qam", "qpsk"])
def test_theory_inside_99_percent_interval(mod, channel):
    system = build_system("qam", mod)
    for ebno_db in EBNO:
        bob = _point(system, channel, ebno_db).receivers["bob"]
        low, high = bob.interval(0.99)
        truth = float(theory.ber(mod, channel, ebno_db))
        assert low <= truth <= high, f"{mod} {channel} {ebno_db} dB: {truth} not in {low, high}"


def test_reference_values_16qam():
    awgn = theory.ber("16qam", "awgn", EBNO)
    rayleigh = theory.ber("16qam", "rayleigh", EBNO)
    np.testing.assert_allclose(awgn, [0.14098, 0.058624, 0.0092472, 1.3866e-4], rtol=2e-4)
    np.testing.assert_allclose(rayleigh, [0.19757, 0.11988, 0.061988, 0.028251], rtol=2e-4)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
@pytest.mark.parametrize("name", ["qam", "qam+chacha", "qam-ssd"])
def test_fast_link_agrees_with_sionna_bit_path(channel, name):
    """The engine's index-domain fast link and its bit path (Sionna Mapper/Demapper, key stream
    on bits) estimate the same BER for Bob and Eve: their 99% intervals overlap."""
    fast = _point(build_system(name, "16qam", key=KEY), channel, 6.0).receivers
    slow = _point(build_system(name, "16qam", key=KEY), channel, 6.0, bits=500_000,
                  fast=False).receivers
    assert set(fast) == set(slow) == ({"bob", "eve"} if name == "qam+chacha" else {"bob"})
    for receiver in fast:
        (fast_low, fast_high), (slow_low, slow_high) = (
            fast[receiver].interval(0.99), slow[receiver].interval(0.99))
        assert fast_low <= slow_high and slow_low <= fast_high, receiver


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_chacha_bob_equals_qam(channel):
    qam = _point(build_system("qam", "16qam"), channel, 8.0).receivers["bob"]
    chacha = _point(build_system("qam+chacha", "16qam", key=KEY), channel, 8.0).receivers["bob"]
    low, high = qam.interval(0.99)
    assert low <= chacha.ber <= high


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_chacha_eve_is_coin_flipping_up_to_30_db(channel):
    """Seven points judged jointly: simultaneous 95% intervals (Bonferroni) all cover 0.5."""
    system = build_system("qam+chacha", "16qam", key=KEY)
    points = range(0, 31, 5)
    for ebno_db in points:
        eve = _point(system, channel, float(ebno_db), bits=1_000_000).receivers["eve"]
        low, high = eve.interval(1 - 0.05 / len(points))
        assert low <= 0.5 <= high, f"{channel} {ebno_db} dB: Eve {eve.ber} in {low, high}"


def test_chacha_bit_path_decrypts_and_eve_sees_ciphertext():
    """Through the generic interface: Bob decrypts exactly on a clean channel; a wrong-key Bob
    and Eve are at 0.5."""
    system = build_system("qam+chacha", "16qam", key=KEY)
    bits = random_bits([64, 512])
    nonces = np.arange(64)
    out = WiretapChannel("awgn")(system.transmit(bits, nonces), 40.0, 4)
    assert (system.receive(out.bob, nonces) == bits).all()
    wrong = bytearray(KEY)
    wrong[-1] ^= 0x80
    wrong_ber = (system.receive(out.bob, nonces, key=bytes(wrong)) != bits).float().mean()
    eve_ber = (system.eavesdrop(out.eve) != bits).float().mean()
    assert abs(wrong_ber.item() - 0.5) < 0.01 and abs(eve_ber.item() - 0.5) < 0.01


def test_points_are_reproducible_and_seeds_distinct():
    system = build_system("qam", "16qam")
    a = _point(system, "rayleigh", 4.0, bits=100_000).receivers["bob"]
    b = _point(system, "rayleigh", 4.0, bits=100_000).receivers["bob"]
    assert (a.errors, a.sum_sq) == (b.errors, b.sum_sq)
    assert point_seed(0, "qam", 4.0) != point_seed(0, "qam", 6.0)
    assert point_seed(0, "qam", 4.0) != point_seed(0, "qam+chacha", 4.0)


def test_stops_at_target_errors():
    point = _point(build_system("qam", "16qam"), "awgn", 0.0, bits=10**8, target=5000)
    bob = point.receivers["bob"]
    assert bob.errors >= 5000 and bob.bits < 10**6
