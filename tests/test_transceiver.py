"""The CNN autoencoder: shapes, power, the QAM-skip start, length generalisation, training."""

import math

import numpy as np
import pytest
import torch
from sionna.phy.mapping import Mapper

from channels import ChannelOutput, WiretapChannel, get_modulation
from commgan.comm.autoencoder import (
    AutoencoderSystem,
    AutoencoderTraining,
    default_spread,
    train_autoencoder,
)
from commgan.comm.spreading import (
    BlockDemapper,
    block_bits,
    block_labels,
    deinterleave,
    interleave,
)
from commgan.comm.transceiver import (
    TransceiverConfig,
    bits_to_channels,
    channels_to_bits,
    conv_forward,
    conv_stack,
)
from commgan.gan.precision import native_bf16, resolve_precision
from commgan.rng import random_bits
from commgan.sim.analysis import diversity_order, ebno_at_ber, gap_to_theory_db
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


def test_diversity_order_reads_the_slope_and_its_error():
    ebno = np.array([10.0, 20.0, 30.0, 40.0])
    ber = 0.1 * (10 ** (ebno / 10)) ** -2.0  # diversity 2: 1e-3, 1e-5, 1e-7, 1e-9
    z = 1.96
    low, high = ber * np.exp(-z * 0.1), ber * np.exp(z * 0.1)  # sigma(ln BER) = 0.1
    d, se, used = diversity_order(ebno, ber, low, high, window=(1e-5, 1e-3))
    assert used == 2 and d == pytest.approx(2.0)
    # two points: var(slope) = (sigma_1^2 + sigma_2^2) / dx^2, sigma in log10 units
    sigma = 0.1 / math.log(10)
    assert se == pytest.approx(math.sqrt(2 * sigma**2) / 1.0, rel=1e-3)
    d, se_all, used = diversity_order(ebno, ber, low, high, window=(1e-9, 1e-3))
    assert used == 4 and d == pytest.approx(2.0) and se_all < se
    assert np.isnan(diversity_order(ebno, ber, low, high, window=(1e-4, 1e-3))[0])


def test_invalid_kernel():
    with pytest.raises(ValueError, match="odd"):
        _system(kernel_size=2)


@pytest.mark.parametrize("norm", ["none", "batch", "spectral"])
@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_stack_paths_agree(kernel, norm):
    """The training path (channels-last rows), the chunked inference path and the plain module
    compute the same function, in training mode (batch statistics) and in evaluation mode."""
    torch.manual_seed(0)
    net = conv_stack(7, 4, TransceiverConfig(hidden=16, kernel_size=kernel, norm=norm), 3)
    features = torch.randn(300, 7, 32)  # 9600 symbols: more than one inference chunk
    for train in (True, False):
        net.train(train)
        if norm == "spectral":  # one power iteration per call in training: compare in eval
            net.eval()
        with torch.no_grad():
            plain = net(features)
            chunked = conv_forward(net, features)
        rows = conv_forward(net, features)
        if not train or norm != "batch":
            torch.testing.assert_close(chunked, plain, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(rows.detach(), plain, rtol=1e-5, atol=1e-5)
    assert rows.requires_grad


def test_precision_choices():
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "cpu") == ("bf16" if native_bf16(torch.device("cpu"))
                                                else "fp32")
    with pytest.raises(ValueError, match="CUDA"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp64", "cpu")


def test_bf16_training_keeps_an_fp32_model():
    """Mixed precision trains the fp32 weights (the model then runs in fp32); the autocast
    forward agrees with fp32 to bf16's resolution."""
    system = _system()
    train_autoencoder(system, "awgn", AutoencoderTraining(steps=30, precision="bf16"))
    assert all(p.dtype == torch.float32 for p in system.parameters())
    bits = random_bits([64, 128], "cpu")
    with torch.no_grad():
        x = system.encoder(bits)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            x_bf16 = system.encoder.raw(bits)
        assert x.dtype == x_bf16.dtype == torch.complex64
        torch.testing.assert_close(x_bf16 / system.encoder.power.running_power.sqrt(), x,
                                   rtol=0.02, atol=0.02)


def test_interleaver_and_block_labels_round_trip():
    blocks = torch.arange(2 * 6 * 3).reshape(2, 6, 3)
    frame = interleave(blocks)
    assert frame[0, :6].tolist() == blocks[0, :, 0].tolist()  # a block's symbols n/K apart
    assert torch.equal(deinterleave(frame, 3), blocks)
    bits = random_bits([4, 64], "cpu")
    labels = block_labels(bits, 8)
    assert torch.equal(block_bits(8)[labels].reshape(4, 64), bits)


def test_spreading_encoder_starts_as_signal_space_diversity():
    """Untrained, a K = 2 encoder's codebook is rotated Gray 16QAM with the quadrature
    components of each block's two points swapped (DVB-T2's 16.8 degrees)."""
    system = _system(spread=2)
    codebook = system.encoder.codebook().detach()
    points = Mapper("qam", 4)(block_bits(8)).reshape(256, 2) * torch.exp(
        torch.tensor(1j * math.radians(16.8)))
    expected = torch.stack([torch.complex(points[:, 0].real, points[:, 1].imag),
                            torch.complex(points[:, 1].real, points[:, 0].imag)], dim=-1)
    torch.testing.assert_close(codebook, expected.to(torch.complex64), atol=1e-5, rtol=0)
    assert system.frame_multiple == 8


def test_block_demapper_is_the_exact_posterior():
    """Against brute force over the 256 codewords: log P(bit = 1 | y) - log P(bit = 0 | y)."""
    torch.manual_seed(3)
    codebook = torch.randn(256, 2, dtype=torch.complex64)
    h = torch.randn(5, 8, dtype=torch.complex64)
    y = torch.randn(5, 8, dtype=torch.complex64)
    no = 0.2 + torch.rand(5, 8)  # N0 per symbol; a scalar or [B, 1] broadcasts the same way
    logits = BlockDemapper(4, 2)(ChannelOutput(y, h, no), codebook)
    blocks_y, blocks_h, blocks_no = deinterleave(y, 2), deinterleave(h, 2), deinterleave(no, 2)
    metric = -((blocks_y.unsqueeze(-2) - blocks_h.unsqueeze(-2) * codebook).abs().square()
               / blocks_no.unsqueeze(-2)).sum(-1)  # [5, 4, 256]
    bits = block_bits(8).bool()
    expected = torch.stack([
        torch.logsumexp(metric.masked_fill(~bits[:, i], -torch.inf), -1)
        - torch.logsumexp(metric.masked_fill(bits[:, i], -torch.inf), -1)
        for i in range(8)], dim=-1).reshape(5, 32)
    torch.testing.assert_close(logits, expected, atol=2e-3, rtol=1e-3)


def test_untrained_spreading_link_equals_qam_ssd_on_fast_fading():
    """SSD codebook + exact demapper = qam-ssd's ML detector (bitwise MAP vs symbol ML agree
    to well within the intervals) at 20 dB on rayleigh-fast: the 95% intervals overlap."""
    from commgan.comm.registry import build_system

    wiretap = WiretapChannel("rayleigh-fast")
    spread = _system(spread=2).eval()
    rows = [simulate_point(system, wiretap, 20.0, frame_bits=512, batch_frames=512,
                           target_errors=1 << 40, max_bits=2_097_152, seed=4)
            .receivers["bob"] for system in (spread, build_system("qam-ssd", "16qam"))]
    (low_a, high_a), (low_b, high_b) = (row.interval() for row in rows)
    assert rows[0].errors > 1500
    assert low_a <= high_b and low_b <= high_a, [row.ber for row in rows]


def test_default_spreading_follows_the_channel():
    assert default_spread(get_modulation("16qam"), "rayleigh-fast") == 2
    assert default_spread(get_modulation("16qam"), "rayleigh") == 1
    assert default_spread(get_modulation("16qam"), None) == 1
    assert default_spread(get_modulation("64qam"), "rayleigh-fast") == 1
    # block fading whose data symbols each have a fade of their own (one pilot per fade)
    sixteen = get_modulation("16qam")
    assert default_spread(sixteen, "rayleigh:coherence=2,pilots=1,estimator=ls") == 2
    assert default_spread(get_modulation("16qam"), "rayleigh:coherence=1") == 2
    assert default_spread(get_modulation("16qam"), "rayleigh:coherence=32,pilots=2") == 1
    with pytest.raises(ValueError, match="kernel_size 1"):
        _system(spread=2, kernel_size=3)
