"""Tests for channels.theory: exact Gray BPSK/QPSK/QAM BER on AWGN and Rayleigh."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erfc
from scipy.stats import beta

from channels import CHANNELS
from channels.theory import MODULATION_BITS, ber, ber_awgn, ber_rayleigh

EBNO_DB = np.array([0.0, 4.0, 8.0, 12.0])


def _q(x: np.ndarray) -> np.ndarray:
    return 0.5 * erfc(x / np.sqrt(2.0))


def test_16qam_reference_values() -> None:
    awgn = [0.14098, 0.058624, 0.0092472, 1.3866e-4]
    rayleigh = [0.19757, 0.11988, 0.061988, 0.028251]
    np.testing.assert_allclose(ber("16qam", "awgn", EBNO_DB), awgn, rtol=2e-4)
    np.testing.assert_allclose(ber("16qam", "rayleigh", EBNO_DB), rayleigh, rtol=2e-4)
    np.testing.assert_allclose(ber("16qam", "rayleigh-fast", EBNO_DB), rayleigh, rtol=2e-4)


def test_64qam_textbook_closed_form() -> None:
    # BER = (7Q(d) + 6Q(3d) - Q(5d) + Q(9d) - Q(13d)) / 12, d = sqrt(2 Eb/N0 / 7)
    d = np.sqrt(2.0 * 10.0 ** (EBNO_DB / 10.0) / 7.0)
    expected = (7 * _q(d) + 6 * _q(3 * d) - _q(5 * d) + _q(9 * d) - _q(13 * d)) / 12.0
    np.testing.assert_allclose(ber("64qam", "awgn", EBNO_DB), expected, rtol=1e-12)


def test_bpsk_and_qpsk_closed_forms() -> None:
    ebno_db = np.linspace(-5.0, 20.0, 26)
    g = 10.0 ** (ebno_db / 10.0)
    awgn = _q(np.sqrt(2.0 * g))
    rayleigh = 0.5 * (1.0 - np.sqrt(g / (1.0 + g)))
    for mod in ("bpsk", "qpsk"):
        np.testing.assert_allclose(ber(mod, "awgn", ebno_db), awgn, rtol=1e-12)
        np.testing.assert_allclose(ber(mod, "rayleigh", ebno_db), rayleigh, rtol=1e-9)
        np.testing.assert_allclose(ber(mod, "rayleigh-fast", ebno_db), rayleigh, rtol=1e-9)


def _gray_pam_ber_direct(m: int, ebno_db: float) -> float:
    """Independent check: Gray 2**m-PAM BER by enumerating decision intervals.

    Each axis of square QAM (or BPSK itself) is a 2**m-PAM carrying m bits,
    with (axis energy)/(N0/2) = 2 m Eb/N0.
    """
    n_lev = 2**m
    levels = np.arange(n_lev) * 2.0 - (n_lev - 1)  # spacing 2, energy (L^2-1)/3
    sigma = np.sqrt((n_lev**2 - 1) / 3.0 / (2.0 * m * 10.0 ** (ebno_db / 10.0)))
    gray = np.arange(n_lev) ^ (np.arange(n_lev) >> 1)
    edges = np.concatenate(([-np.inf], (levels[:-1] + levels[1:]) / 2.0, [np.inf]))
    errors = 0.0
    for t in range(n_lev):
        z = (edges - levels[t]) / sigma
        # Probability of each decision region, computed on the tail side away from
        # the transmitted level so that tiny probabilities keep full precision.
        above = _q(z[:-1]) - _q(z[1:])
        below = _q(-z[1:]) - _q(-z[:-1])
        p_region = np.where(np.arange(n_lev) > t, above, below)
        for bit in range(m):
            wrong = ((gray >> bit) & 1) != ((gray[t] >> bit) & 1)
            errors += p_region[wrong].sum()
    return errors / (n_lev * m)


@pytest.mark.parametrize("bits", [1, 2, 4, 6, 8])
def test_generic_formula_matches_direct_enumeration(bits: int) -> None:
    m = 1 if bits == 1 else bits // 2
    for ebno_db in (-2.0, 3.0, 9.0, 15.0):
        direct = _gray_pam_ber_direct(m, ebno_db)
        assert ber_awgn(bits, ebno_db) == pytest.approx(direct, rel=1e-9, abs=1e-300)


def test_rayleigh_high_snr_is_stable_and_monotone() -> None:
    ebno_db = np.linspace(-10.0, 80.0, 91)
    for bits in MODULATION_BITS.values():
        p = ber_rayleigh(bits, ebno_db)
        assert np.all(p > 0.0)
        assert np.all(np.diff(p) < 0.0)
        # Diversity order one: BER ~ const / (Eb/N0) at high SNR.
        assert p[-1] / p[-11] == pytest.approx(0.1, rel=1e-3)


def test_shapes_and_dtype() -> None:
    assert ber("64qam", "awgn", 7.0).shape == ()
    out = ber("16qam", "rayleigh", np.zeros((2, 3)))
    assert out.shape == (2, 3)
    assert out.dtype == np.float64
    assert ber_awgn(4, [0.0, 1.0]).shape == (2,)


def test_bad_names_raise() -> None:
    with pytest.raises(ValueError) as exc:
        ber("8psk", "awgn", 0.0)
    for name in MODULATION_BITS:
        assert name in str(exc.value)
    with pytest.raises(ValueError) as exc:
        ber("qpsk", "rician", 0.0)
    for name in CHANNELS:
        assert name in str(exc.value)
    with pytest.raises(ValueError):
        ber_awgn(3, 0.0)
    with pytest.raises(ValueError):
        ber_rayleigh(0, 0.0)


def _binomial_interval(errors: int, n: int, conf: float) -> tuple[float, float]:
    """Clopper-Pearson interval for a binomial proportion."""
    a = 1.0 - conf
    lo = beta.ppf(a / 2, errors, n - errors + 1) if errors > 0 else 0.0
    hi = beta.ppf(1 - a / 2, errors + 1, n - errors) if errors < n else 1.0
    return float(lo), float(hi)


@pytest.mark.parametrize(
    ("modulation", "channel", "ebno_db"),
    [
        ("16qam", "awgn", 4.0),
        ("16qam", "awgn", 10.0),
        ("64qam", "awgn", 6.0),
        ("64qam", "awgn", 12.0),
        ("16qam", "rayleigh-fast", 6.0),
        ("16qam", "rayleigh-fast", 16.0),
        ("64qam", "rayleigh-fast", 8.0),
        ("64qam", "rayleigh-fast", 18.0),
    ],
)
def test_monte_carlo_against_sionna(modulation: str, channel: str, ebno_db: float) -> None:
    torch = pytest.importorskip("torch")
    sionna_phy = pytest.importorskip("sionna.phy")
    from sionna.phy.channel import AWGN
    from sionna.phy.mapping import BinarySource, Demapper, Mapper
    from sionna.phy.utils import ebnodb2no

    sionna_phy.config.seed = 1234
    bits_per_symbol = MODULATION_BITS[modulation]
    num_symbols = 200_000
    source = BinarySource()
    mapper = Mapper("qam", bits_per_symbol)
    # max-log hard decisions are the bits of the nearest constellation point.
    demapper = Demapper("maxlog", "qam", bits_per_symbol, hard_out=True)
    awgn = AWGN()
    no = ebnodb2no(ebno_db, bits_per_symbol, coderate=1.0)

    bits = source([1, num_symbols * bits_per_symbol])
    x = mapper(bits)
    if channel == "awgn":
        y = awgn(x, no)
        no_eff = no * torch.ones_like(y.real)
    else:
        # One CN(0, 1) gain per symbol (fast fading), so bits of different symbols
        # are independent; perfect CSI: equalise by dividing by h.
        rng = sionna_phy.config.torch_rng()
        h = torch.complex(
            torch.randn(x.shape, generator=rng), torch.randn(x.shape, generator=rng)
        ) / math.sqrt(2.0)
        y = awgn(h * x, no) / h
        no_eff = no / h.abs().square()
    bits_hat = demapper(y, no_eff)

    n = bits.numel()
    errors = int((bits_hat != bits).sum())
    lo, hi = _binomial_interval(errors, n, conf=0.999)
    # Bits within one symbol share its noise (and fading), so they are not fully
    # independent; widen the interval by sqrt(bits_per_symbol) around the estimate
    # to be safe about this within-symbol correlation.
    p_hat = errors / n
    widen = math.sqrt(bits_per_symbol)
    lo, hi = p_hat - widen * (p_hat - lo), p_hat + widen * (hi - p_hat)
    theory = float(ber(modulation, channel, ebno_db))
    assert errors > 500, "too few errors for a meaningful check"
    assert lo <= theory <= hi, f"theory {theory:.5g} outside MC interval [{lo:.5g}, {hi:.5g}]"
