"""Reception over a coherence block: the re-estimate of h from pilots and data symbols (error
variance, partial blocks, LMMSE), semi-blind EM over an alphabet, the learned links using it, and
the channel output's pilots surviving subsets and concatenation."""


import pytest
import torch

from channels import ChannelOutput, get_channel, get_modulation
from channels.estimation import PILOT, data_aided_estimate, em_estimate
from commgan.comm.classical import QAMSystem
from commgan.rng import random_bits, use_seed

LS = "rayleigh:coherence=32,pilots=2,estimator=ls"


def _qam_frames(frames: int, symbols: int, seed: int = 5):
    system = QAMSystem(get_modulation("16qam"))
    generator = use_seed(seed)
    bits = random_bits([frames, 4 * symbols], "cpu", generator)
    return system, bits, system.transmit(bits)


def _true_h(label: str, x: torch.Tensor, no: float, seed: int = 9):
    use_seed(seed)
    perfect = get_channel(label.replace("estimator=ls", "estimator=perfect")
                          .replace("estimator=lmmse", "estimator=perfect"))(x, no)
    use_seed(seed)
    return perfect.h, get_channel(label)(x, no)


@pytest.mark.parametrize("no", [0.05, 0.5])
def test_error_variance_with_right_decisions(no):
    """With the true symbols as decisions, the block estimate's error is CN(0, N0 / E) with
    E = Np + sum |x_d|^2 over the block (reported as csi_error_var)."""
    _, _, x = _qam_frames(4000, 60)
    h, out = _true_h(LS, x, no)
    refined = data_aided_estimate(out, x)
    normalised = ((refined.h - h).abs().square() / refined.csi_error_var)[:, ::30]
    # 8000 blocks: the mean of 8000 unit exponentials has sd 1.1%; 5% is 4.5 sd
    assert normalised.mean().item() == pytest.approx(1.0, rel=0.05)
    energy = 2 + x.reshape(-1, 2, 30).abs().square().sum(-1)
    torch.testing.assert_close(refined.csi_error_var[:, ::30], no / energy)
    assert (refined.csi_error_var < out.csi_error_var).all()
    assert torch.equal(refined.y, out.y) and refined.pilots is out.pilots


def test_partial_last_block_and_lmmse_shrink():
    """n = 40 data symbols in blocks of 30: the second block's estimate uses its own 10 data
    symbols and 2 pilots only; LMMSE shrinks LS by 1 / (1 + error variance)."""
    _, _, x = _qam_frames(3, 40)
    labels = [LS, LS.replace("=ls", "=lmmse")]
    outs = []
    for label in labels:
        use_seed(3)
        outs.append(data_aided_estimate(get_channel(label)(x, 0.1), x))
    ls, lmmse = outs
    use_seed(3)
    raw = get_channel(LS)(x, 0.1)
    y_p = raw.pilots.y[:, 1]
    manual = ((y_p * PILOT.conjugate()).sum(-1) + (raw.y[:, 30:] * x[:, 30:].conj()).sum(-1)) / (
        2 + x[:, 30:].abs().square().sum(-1))
    torch.testing.assert_close(ls.h[:, 35], manual)
    torch.testing.assert_close(lmmse.h, ls.h / (1 + ls.csi_error_var))
    assert (ls.h[:, 30:] == ls.h[:, 30:31]).all() and not torch.equal(ls.h[:, 0], ls.h[:, 30])


def test_perfect_csi_and_no_pilots_are_left_alone():
    _, _, x = _qam_frames(2, 32)
    for label in ("rayleigh:coherence=32,pilots=2,estimator=perfect", "rayleigh", "awgn"):
        out = get_channel(label)(x, 0.1)
        assert out.pilots is None and data_aided_estimate(out, x) is out


def test_subsets_and_concatenation_keep_the_csi():
    _, _, x = _qam_frames(6, 40)
    out = get_channel(LS)(x, torch.full((6, 1), 0.1))
    joined = ChannelOutput.concat([out.take(slice(0, 2)), out.take(slice(2, 6))])
    for name in ("y", "h", "no", "csi_error_var"):
        assert torch.equal(getattr(joined, name), getattr(out, name)), name
    assert torch.equal(joined.pilots.y, out.pilots.y)
    assert (joined.pilots.data_per_block, joined.pilots.estimator) == (30, "ls")


def _ber(label: str, ebno_db: float, em: bool, frames: int = 6000) -> float:
    system, bits, x = _qam_frames(frames, 60, seed=11)
    no = 1 / (4 * (30 / 32) * 10 ** (ebno_db / 10))
    use_seed(12)
    out = get_channel(label)(x, no)
    if em:
        out = em_estimate(out, system.points)
    return ((system.llr(out) > 0).float() != bits).float().mean().item()


def test_em_recovers_most_of_the_ls_loss():
    """16QAM, N = 32, Np = 2 at 24 dB (the same fades and noise, 1.44M bits each): LS needs
    ~1.5 dB more than perfect CSI (BER ratio ~1.44 at diversity 1); EM over the block's data
    brings the ratio to ~1.19 (~0.7 dB). Bounds: 3.4 s.e. of the log-ratio (~0.035)."""
    perfect = _ber(LS.replace("=ls", "=perfect"), 24.0, em=False)
    ls = _ber(LS, 24.0, em=False)
    em = _ber(LS, 24.0, em=True)
    assert 1e-3 < perfect < 5e-3
    assert 1.3 < ls / perfect < 1.6, (ls, perfect)
    assert 1.05 < em / perfect < 1.3, (em, perfect)


def test_em_with_the_right_symbols_known_is_the_genie():
    """EM's first step from zero data is the pilots' own estimate; with a one-point alphabet
    (every data symbol known to be 1) EM is least squares over the whole block."""
    x = torch.ones(200, 60, dtype=torch.complex64)
    use_seed(4)
    out = get_channel(LS)(x, 0.3)
    torch.testing.assert_close(em_estimate(out, torch.ones(1, dtype=torch.complex64)).h,
                               data_aided_estimate(out, x).h)
    zeros = torch.zeros_like(x)
    torch.testing.assert_close(data_aided_estimate(out, zeros, zeros.real).h, out.h)
    torch.testing.assert_close(data_aided_estimate(out, zeros, zeros.real).csi_error_var,
                               out.csi_error_var)


def _decoder_inputs(system, system_name: str, labels: list[str]):
    """What the learned link's decoder (Bob's) is called with when ``system`` receives one
    batch over each channel label (the same symbols, N0 0.05), the first label's output, the
    bits and the first label's received bits."""
    seen = []
    decoder = system.decoder if system_name == "ae" else system.bob
    decoder.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    bits = random_bits([4, 128], "cpu", use_seed(1))
    nonces = torch.arange(4)
    with torch.no_grad():
        x = system.transmit(bits, nonces)
        use_seed(2)
        out = get_channel(labels[0])(x, 0.05)
        received = system.receive(out, nonces)
        for label in labels[1:]:
            system.receive(get_channel(label)(x, 0.05), nonces)
    return seen, out, bits, received


@pytest.mark.parametrize("system_name", ["ae", "gan-enc"])
def test_learned_links_decode_from_the_block_estimate(system_name):
    """ae and gan-enc (at initialisation: Gray QAM through the skip) feed their decoder the EM
    estimate when the channel output carries pilots, and the pilots' one without."""
    from commgan.comm.registry import SYSTEMS

    system = SYSTEMS[system_name].build(get_modulation("16qam"), key=b"k" * 32)
    alphabet = (system.encoder if system_name == "ae" else system.generator).alphabet()
    assert alphabet.shape == (16,)
    assert alphabet.abs().square().mean().item() == pytest.approx(1.0, rel=1e-5)
    seen, out, _, _ = _decoder_inputs(system, system_name, [LS, "rayleigh"])
    torch.testing.assert_close(seen[0].h, em_estimate(out, alphabet).h)
    assert seen[1].pilots is None


def test_gradients_flow_through_the_received_symbols():
    """The estimate carries no gradient, but y does: a learned transmitter is still trained
    through the decoder's loss when h comes from the block (a detached y freezes it)."""
    raw = torch.randn(2500, 40, 2, requires_grad=True)
    use_seed(6)
    out = get_channel(LS)(torch.view_as_complex(raw), 0.1)
    refined = em_estimate(out, torch.tensor([1 + 0j, -1 + 0j]))
    assert refined.y is out.y and not refined.h.requires_grad
    (refined.y * refined.h.conj()).real.sum().backward()
    assert raw.grad is not None and raw.grad.abs().sum() > 0


@pytest.mark.parametrize("system_name", ["ae", "gan-enc"])
def test_spreading_links_count_the_estimation_error_as_noise(system_name):
    """With one pilot per fade (every data symbol its own fade) the learned links spread over
    two symbols, and their exact block demapper gets the pilots' estimate with noise N0 + e per
    symbol (e its error variance), not an EM re-estimate over the codebook's symbols."""
    from commgan.comm.registry import SYSTEMS

    fast = "rayleigh:coherence=2,pilots=1,estimator=ls"
    spec = SYSTEMS[system_name]
    training = spec.learned.default_training(get_modulation("16qam"), fast)
    system = spec.build(get_modulation("16qam"), key=b"k" * 32, training=training)
    assert (system.config if system_name == "ae" else system.config.transceiver).spread == 2
    seen, out, bits, received = _decoder_inputs(system, system_name, [fast])
    assert out.csi_error_var.shape == out.y.shape and (out.csi_error_var > 0).all()
    assert torch.equal(seen[0].h, out.h)  # the pilots' estimate, unchanged
    torch.testing.assert_close(seen[0].no, 0.05 + out.csi_error_var)
    assert (received != bits).float().mean() < 0.2  # it decodes (chance is 0.5)
