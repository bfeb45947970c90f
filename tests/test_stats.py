"""The frame-based BER interval: reduces to Clopper-Pearson for independent bits, widens under
correlation, and covers the truth at the nominal rate on block fading (coverage test)."""

import numpy as np
import pytest
from scipy import stats

from channels import WiretapChannel, theory
from commgan.comm.registry import build_system
from commgan.sim.engine import simulate_point
from commgan.sim.stats import FrameErrorStats, ber_interval, clopper_pearson


def test_single_bit_frames_give_clopper_pearson():
    rng = np.random.default_rng(0)
    errors = rng.binomial(1, 0.02, size=20_000)
    low, high = ber_interval(errors.sum(), float(errors.sum()), errors.size, 1)
    reference = stats.binomtest(int(errors.sum()), errors.size).proportion_ci()
    # the t-vs-normal df factor moves the bounds by O(1/F) only
    assert low == pytest.approx(reference.low, rel=2e-3)
    assert high == pytest.approx(reference.high, rel=2e-3)


def test_correlated_frames_widen_the_interval():
    independent = np.full(1000, 5)  # every frame has 5 errors: no between-frame variance
    clustered = np.where(np.arange(1000) < 10, 500, 0)  # same total, 10 frames carry it all
    narrow = ber_interval(independent.sum(), float((independent**2).sum()), 1000, 1000)
    wide = ber_interval(clustered.sum(), float((clustered**2).sum()), 1000, 1000)
    assert wide[1] - wide[0] > 5 * (narrow[1] - narrow[0])


def test_zero_errors_give_frame_error_rate_bound():
    low, high = ber_interval(0, 0.0, 1000, 512, confidence=0.95)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 1000))


def test_accumulator_matches_direct_formula():
    acc = FrameErrorStats(frame_bits=64)
    acc.add(np.array([1, 0, 3]))
    acc.add(np.array([2]))
    assert (acc.frames, acc.errors, acc.sum_sq, acc.bits) == (4, 6, 14.0, 256)
    assert (acc.frame_errors, acc.fer) == (3, 0.75)
    assert acc.interval(0.9) == ber_interval(6, 14.0, 4, 64, 0.9, frame_errors=3)
    assert acc.fer_interval(0.9) == clopper_pearson(3, 4, 0.9)


def test_one_failed_frame_gives_the_compound_bound():
    """One failed frame of L bits among F: nothing is known of how many bits a failed frame
    holds, so the BER lies in [FER_low / L, FER_high]."""
    low, high = ber_interval(40, 1600.0, 4096, 1024, 0.95, frame_errors=1)
    fer_low, fer_high = clopper_pearson(1, 4096, 0.95)
    assert (low, high) == (fer_low / 1024, fer_high)
    assert high > 20 * 40 / (4096 * 1024)  # the frame-level interval gave 5.6x the estimate


def test_few_failed_frames_take_their_degrees_of_freedom():
    """Three failed frames: the variance rests on 3 frames (t with 2 degrees of freedom),
    wider than the same sums with every frame counted as informative."""
    few = ber_interval(150, 7500.0, 4096, 1024, 0.95, frame_errors=3)
    unknown = ber_interval(150, 7500.0, 4096, 1024, 0.95)
    assert few[0] < unknown[0] and few[1] > unknown[1]


def test_clopper_pearson_matches_scipy():
    reference = stats.binomtest(7, 300).proportion_ci(0.95, method="exact")
    low, high = clopper_pearson(7, 300, 0.95)
    assert low == pytest.approx(reference.low) and high == pytest.approx(reference.high)
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0


def test_invalid_confidence():
    with pytest.raises(ValueError):
        ber_interval(1, 1.0, 10, 10, confidence=1.5)


def test_coverage_on_block_rayleigh():
    """200 independent small runs of 16QAM on block Rayleigh at 10 dB (200 frames of 256 bits,
    one fade per frame): the 95% interval must cover theory in 92-98% of them."""
    system = build_system("qam", "16qam")
    wiretap = WiretapChannel("rayleigh")
    truth = float(theory.ber("16qam", "rayleigh", 10.0))
    runs, covered = 200, 0
    for run in range(runs):
        point = simulate_point(system, wiretap, 10.0, frame_bits=256, batch_frames=200,
                               target_errors=1 << 40, max_bits=200 * 256, seed=1000 + run)
        low, high = point.receivers["bob"].interval(0.95)
        covered += low <= truth <= high
    assert 0.92 <= covered / runs <= 0.98, f"coverage {covered / runs:.3f}"
