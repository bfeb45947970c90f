"""`ae-ldpc`: a learned constellation under qam-ldpc's 5G LDPC code (BICM). Shapes, the recipe
and options, LLRs and BLER equal to qam-ldpc's at the Gray start, the Eb/N0 normalisation of the
bit-metric rate, the signal-space-diversity start of K = 2, a short training, the experiment."""

from __future__ import annotations

import math
import pickle

import pandas as pd
import pytest
import torch

from channels import WiretapChannel, get_channel, get_modulation, noise_variance
from commgan.comm.ae_ldpc import (
    AELDPCSystem,
    bit_metric_rate,
    coded_train_ebno,
    default_ae_ldpc_training,
    held_out_rate,
    train_ae_ldpc,
)
from commgan.comm.registry import SYSTEMS, learned_systems, system_choice
from commgan.comm.ssd import QAMSSDSystem
from commgan.comm.transceiver import TransceiverConfig
from commgan.errors import CommganError
from commgan.rng import seeded
from commgan.sim.engine import check_symbols, simulate_point

pytestmark = pytest.mark.usefixtures("one_thread")


def _bits(frames: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 2, (frames, length), generator=torch.Generator().manual_seed(seed)
                         ).float()


@pytest.mark.parametrize("mod, spread, options, frame_multiple", [
    ("16qam", 1, "k=256,n=512", 256), ("64qam", 1, "k=750,n=1500", 750),
    ("16qam", 2, "k=256,n=512", 256), ("16qam", 2, "k=750,n=1500", 1500),
])
def test_forward_shapes(mod, spread, options, frame_multiple):
    """Symbols [F, L / R] with R = log2 M k / n; one LLR per code bit; L hard bits back.
    K R-bit blocks may straddle codewords: frames then hold several (1500 * 2 / 8 blocks)."""
    modulation = get_modulation(mod)
    system = AELDPCSystem(modulation, TransceiverConfig(modulation.num_bits_per_symbol,
                                                        spread=spread),
                          **system_choice(f"ae-ldpc:{options}").option_dict)
    assert system.frame_multiple == frame_multiple
    frame_bits = 2 * frame_multiple
    bits = _bits(3, frame_bits)
    with torch.no_grad():
        symbols = system.transmit(bits)
        check_symbols(system, symbols, 3, frame_bits)
        out = get_channel("awgn")(symbols, noise_variance(8.0, system.bits_per_channel_use))
        assert system.logits(out).shape == (3, frame_bits * system.n // system.k)
        assert system.receive(out).shape == (3, frame_bits)
    with pytest.raises(CommganError, match="must be a positive multiple of"):
        system.transmit(_bits(1, frame_multiple + system.k // 2))


def test_record_options_and_recipe_round_trip():
    assert "ae-ldpc" in SYSTEMS and "ae-ldpc" in learned_systems()
    choice = system_choice("ae-ldpc:n=768,k=256,iterations=5,cn_update=minsum")
    assert choice.label == "ae-ldpc:k=256,n=768,iterations=5,cn_update=minsum"
    system = choice.build("16qam")
    assert (system.k, system.n, system.options.iterations) == (256, 768, 5)
    assert system.bits_per_channel_use == pytest.approx(4 * 256 / 768)
    assert system.block_bits == 256 and system.theory_ber("awgn", [0.0]) is None
    assert system.option_values() == {"k": 256, "n": 768, "decoder": "fast", "iterations": 5,
                                      "cn_update": "minsum"}
    system.check_recipe()
    with torch.no_grad():  # a trained-looking codebook, so the weights must travel too
        system.encoder.net[-1].bias.fill_(0.05)
    rebuilt = pickle.loads(pickle.dumps(system))
    assert rebuilt.init_args() == system.init_args()
    bits = _bits(2, 512)
    with torch.no_grad():
        symbols = system.transmit(bits)
        torch.testing.assert_close(rebuilt.transmit(bits), symbols)
        out = get_channel("awgn")(symbols, noise_variance(5.0, system.bits_per_channel_use))
        assert torch.equal(rebuilt.receive(out), system.receive(out))
    with pytest.raises(CommganError, match="has no option x"):
        system_choice("ae-ldpc:x=1")


@pytest.mark.parametrize("mod, channel", [("16qam", "awgn"), ("64qam", "awgn"),
                                          ("16qam", "rayleigh-fast")])
def test_gray_start_sends_and_demaps_as_qam_ldpc(mod, channel):
    """Untrained (K = 1): the same symbols as qam-ldpc and its LLRs (ln P(1)/P(0), Sionna's
    APP demapper) up to float rounding, where the decoder uses them (|LLR| <= 20)."""
    options = system_choice("ae-ldpc:k=750,n=1500").option_dict
    modulation = get_modulation(mod)
    learned = AELDPCSystem(modulation, TransceiverConfig(modulation.num_bits_per_symbol),
                           **options)
    gray = system_choice("qam-ldpc:k=750,n=1500").build(mod)
    bits = _bits(4, 1500)
    with torch.no_grad():
        symbols = gray.transmit(bits)
        torch.testing.assert_close(learned.transmit(bits), symbols, atol=1e-6, rtol=0)
        out = get_channel(channel)(symbols, noise_variance(6.0, gray.bits_per_channel_use))
        reference = gray._llr(out).clamp(-20, 20)
        llr = learned.code.deinterleave(learned.logits(out)).clamp(-20, 20)
        torch.testing.assert_close(llr, reference, atol=2e-3, rtol=1e-4)
        clean = get_channel(channel)(symbols, noise_variance(30.0, gray.bits_per_channel_use))
        signs = learned.code.deinterleave(learned.logits(clean)) > 0
    coded = learned.code.deinterleave(learned.code.encode(bits))
    assert (signs.float() == coded).float().mean() > 0.99, "positive LLR means bit 1"


def test_gray_start_has_qam_ldpc_bler():
    """The Eb/N0 normalisation: the untrained ae-ldpc and qam-ldpc, on independent noise, have
    BLERs whose simultaneous (97.5% each) intervals overlap at a waterfall point."""
    options = system_choice("ae-ldpc:k=256,n=512").option_dict
    learned = AELDPCSystem(get_modulation("16qam"), TransceiverConfig(4), **options)
    gray = system_choice("qam-ldpc:k=256,n=512").build("16qam")
    intervals = []
    for seed, system in ((3, learned), (4, gray)):
        stats = simulate_point(system, WiretapChannel("awgn"), 3.5, frame_bits=256,
                               batch_frames=500, target_errors=None, max_bits=256 * 2000,
                               seed=seed).receivers["bob"]
        assert 0.05 < stats.bler < 0.6, stats.bler
        intervals.append(stats.bler_interval(0.975))
    (low_a, high_a), (low_b, high_b) = intervals
    assert low_a <= high_b and low_b <= high_a, intervals


def test_bit_metric_rate_meets_the_binary_shannon_limit():
    """Gray QPSK under a rate-1/2 code is two BPSK channels at the code's Eb/N0: its bit-metric
    rate reaches R = 1 at the binary-input AWGN limit of rate 1/2, Eb/N0 = 0.187 dB."""
    system = system_choice("ae-ldpc:k=256,n=512").build("qpsk")
    assert bit_metric_rate(system, "awgn", 0.187, symbols=1 << 18) == pytest.approx(1.0, abs=0.01)
    assert bit_metric_rate(system, "awgn", 30.0) == pytest.approx(2.0, abs=1e-4)
    low, high = coded_train_ebno(system, "awgn")
    assert 1.1 <= low <= 1.3 and high == pytest.approx(low + 2.0)


def test_spreading_start_is_signal_space_diversity():
    """K = 2 starts as qam-ssd's rotated 16QAM with the quadrature components of a block's two
    points exchanged: block (a, b) sends Re r_a + j Im r_b and Re r_b + j Im r_a."""
    system = AELDPCSystem(get_modulation("16qam"), TransceiverConfig(4, spread=2))
    rotated = QAMSSDSystem(get_modulation("16qam")).rotated
    with torch.no_grad():
        codebook = system.encoder.codebook()
    labels = torch.arange(256)
    first, second = rotated[labels // 16], rotated[labels % 16]
    torch.testing.assert_close(codebook[:, 0], torch.complex(first.real, second.imag))
    torch.testing.assert_close(codebook[:, 1], torch.complex(second.real, first.imag))
    assert codebook.abs().square().mean().item() == pytest.approx(1.0, abs=1e-6)


def test_a_short_training_moves_the_codebook_and_keeps_the_best_run():
    training = default_ae_ldpc_training(get_modulation("16qam"), "awgn")
    training.steps, training.batch_frames, training.frame_bits, training.restarts = 8, 8, 96, 2
    system = system_choice("ae-ldpc:k=256,n=512").spec.build(
        get_modulation("16qam"), training=training,
        options=system_choice("ae-ldpc:k=256,n=512").option_dict)
    with torch.no_grad():
        start = system.encoder.codebook().clone()
    history = train_ae_ldpc(system, "awgn", training)
    assert training.train_ebno_db == coded_train_ebno(system, "awgn")
    assert list(history["restart"].unique()) in ([0, 1], [1, 0])
    assert history["loss"].map(math.isfinite).all()
    assert history["seconds"].iloc[-1] == history["seconds"].max()
    with torch.no_grad():
        trained = system.encoder.codebook()
    assert (trained - start).abs().max() > 1e-3
    kept = held_out_rate(system, "awgn", training.train_ebno_db)
    rates = []
    for restart in (0, 1):  # each run again, from its own seed
        again = dict(training.__dict__)
        again.update(seed=restart, restarts=1, train_ebno_db=training.train_ebno_db)
        rerun = type(training)(**again)
        train_ae_ldpc(system, "awgn", rerun)
        rates.append(held_out_rate(system, "awgn", training.train_ebno_db))
    assert kept == pytest.approx(max(rates), abs=1e-6)


def test_experiment_smoke(tmp_path, smoke):
    out = smoke("coded_learned.py", tmp_path) / "smoke"
    table = pd.read_csv(out / "results.csv")
    assert set(table["system"]) == {"qam-ldpc:k=128,n=256", "ae-ldpc:k=128,n=256"}
    assert table["block_bits"].eq(128).all()
    crossings = pd.read_csv(out / "crossings.csv")
    assert {"system", "target_bler", "ebno_db", "ebno_db_low", "ebno_db_high",
            "gain_over_qam-ldpc:k=128,n=256_db"} <= set(crossings.columns)
    assert (out / "bler.png").stat().st_size > 0


def test_bit_metric_rate_is_a_function_of_its_seed():
    """The training range and the choice among restarts are reproducible: the rate's bits,
    fades and noise come from its seed, not from whatever the global generators hold."""
    system = system_choice("ae-ldpc:k=256,n=512").build("16qam")
    rates = []
    for global_seed in (1, 2):
        with seeded(global_seed):
            rates.append(bit_metric_rate(system, "rayleigh", 5.0, seed=7, symbols=1 << 12))
    assert rates[0] == rates[1]
    assert bit_metric_rate(system, "rayleigh", 5.0, seed=8, symbols=1 << 12) != rates[0]
