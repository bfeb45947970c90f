"""Confidence intervals for a BER estimated from frames.

Bit errors are not independent: the bits of one symbol share its noise, and under block fading a
whole frame shares one fade. A binomial interval over bits is therefore too narrow. Frames are
the independent units, so we use the Korn & Graubard (1998) interval for clustered samples:

1. p = E / N_bits, with per-frame error fractions f_i = e_i / L, i = 1..F;
2. var(p) = s_f^2 / F (the sample variance of the f_i over F frames);
3. effective sample size n_eff = p (1 - p) / var(p), capped at N_bits, then scaled by
   (z / t_{F-1})^2 for the frame count's degrees of freedom;
4. Clopper-Pearson with x = p n_eff successes in n_eff trials (beta quantiles, non-integer ok).

With independent bits this is the ordinary Clopper-Pearson interval; with correlated bits it
widens by the design effect. With zero errors the variance is unknown, so the upper limit is the
Clopper-Pearson bound on the frame error rate (BER <= FER), which is conservative.

When few frames fail (the normal case for coded links: a failed codeword carries tens to
hundreds of bit errors, the others none), the variance in step 2 rests on the D frames with
errors, not on all F: its degrees of freedom are D - 1, not F - 1 (the t quantile in step 3
uses D - 1). With D = 1 no variance can be estimated at all; the interval is then the
compound bound [FER_low / L, FER_high] (a failed frame holds between 1 and L bit errors). The
coverage of both is measured in ``experiments/ber_interval_coverage.py`` (docs/decisions.md).
Frame error rates (FER) and block error rates (BLER) get exact Clopper-Pearson intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["SECURE_BAND", "FrameErrorStats", "ber_interval", "clopper_pearson",
           "security_verdict"]

SECURE_BAND = (0.49, 0.51)
"""An eavesdropper is held to a coin toss when her whole 95% BER interval lies in this band."""


@dataclass
class FrameErrorStats:
    """Running totals of per-frame bit and block errors: enough for the BER, FER and BLER and
    their intervals.

    ``frame_bits`` is L; ``blocks_per_frame`` C (codewords per frame, 1 = the frame is the
    block); ``errors`` = sum e_i; ``sum_sq`` = sum e_i^2; ``frames`` = F; ``frame_errors`` = D,
    the frames with at least one bit error; ``block_errors`` = sum b_i and ``block_sum_sq`` =
    sum b_i^2 over the failed blocks b_i of each frame.
    """

    frame_bits: int
    frames: int = 0
    errors: int = 0
    sum_sq: float = 0.0
    frame_errors: int = 0
    blocks_per_frame: int = 1
    block_errors: int = 0
    block_sum_sq: float = 0.0

    @property
    def bits(self) -> int:
        return self.frames * self.frame_bits

    @property
    def ber(self) -> float:
        return self.errors / self.bits if self.frames else float("nan")

    @property
    def block_bits(self) -> int:
        """Bits per block."""
        return self.frame_bits // self.blocks_per_frame

    @property
    def blocks(self) -> int:
        return self.frames * self.blocks_per_frame

    def add(self, frame_errors) -> None:
        """Add a batch of error counts: bit errors per frame [B], or per block of each frame
        [B, C] (C = ``blocks_per_frame``); any integer array or tensor."""
        values = np.asarray(frame_errors.cpu() if hasattr(frame_errors, "cpu") else frame_errors)
        per_block = values.reshape(values.shape[0], -1) if values.ndim else values.reshape(1, 1)
        if per_block.shape[1] != self.blocks_per_frame:
            raise ValueError(f"got {per_block.shape[1]} blocks per frame, expected "
                             f"{self.blocks_per_frame}")
        per_frame = per_block.sum(axis=1, dtype=np.int64)
        failed = np.count_nonzero(per_block, axis=1)
        self.frames += int(per_frame.size)
        self.errors += int(per_frame.sum())
        self.sum_sq += float(np.square(per_frame, dtype=np.float64).sum())
        self.frame_errors += int(np.count_nonzero(per_frame))
        self.block_errors += int(failed.sum())
        self.block_sum_sq += float(np.square(failed, dtype=np.float64).sum())

    def merge(self, other: FrameErrorStats) -> None:
        """Add another run's totals (same frame length and blocks) to these."""
        if (other.frame_bits, other.blocks_per_frame) != (self.frame_bits,
                                                          self.blocks_per_frame):
            raise ValueError("cannot merge statistics of different frame or block lengths")
        self.frames += other.frames
        self.errors += other.errors
        self.sum_sq += other.sum_sq
        self.frame_errors += other.frame_errors
        self.block_errors += other.block_errors
        self.block_sum_sq += other.block_sum_sq

    @property
    def fer(self) -> float:
        """Frame error rate D / F."""
        return self.frame_errors / self.frames if self.frames else float("nan")

    @property
    def bler(self) -> float:
        """Block error rate: failed blocks / blocks."""
        return self.block_errors / self.blocks if self.frames else float("nan")

    def fer_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Exact (Clopper-Pearson) ``confidence`` interval for the frame error rate."""
        return clopper_pearson(self.frame_errors, self.frames, confidence)

    def bler_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """``confidence`` interval for the block error rate: exact (Clopper-Pearson) with one
        block per frame; with C blocks per frame, whose errors may share a frame's fade, the
        clustered interval of :func:`ber_interval` with the frame as cluster of C blocks."""
        if self.blocks_per_frame == 1:
            return self.fer_interval(confidence)
        return ber_interval(self.block_errors, self.block_sum_sq, self.frames,
                            self.blocks_per_frame, confidence, frame_errors=self.frame_errors)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Two-sided ``confidence`` interval for the BER (see the module docstring)."""
        return ber_interval(self.errors, self.sum_sq, self.frames, self.frame_bits, confidence,
                            frame_errors=self.frame_errors)


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided ``confidence`` interval for a binomial proportion (0, 1 when no trial)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if trials <= 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    low = stats.beta.ppf(alpha / 2, successes, trials - successes + 1) if successes else 0.0
    high = (stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes)
            if successes < trials else 1.0)
    return float(low), float(high)


def ber_interval(
    errors: int, sum_sq: float, frames: int, frame_bits: int, confidence: float = 0.95,
    frame_errors: int | None = None,
) -> tuple[float, float]:
    """Korn-Graubard interval for a BER from F frames of L bits (``errors`` = sum e_i,
    ``sum_sq`` = sum e_i^2, ``frame_errors`` = D frames with errors; None: every frame may
    hold errors, D = F). Returns (low, high)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if frames <= 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    bits = frames * frame_bits
    if errors == 0:
        return 0.0, float(1.0 - (alpha / 2) ** (1.0 / frames))
    p = errors / bits
    if errors == bits:
        return float((alpha / 2) ** (1.0 / frames)), 1.0
    failed = frames if frame_errors is None else frame_errors
    if failed <= 1 < frames:
        fer_low, fer_high = clopper_pearson(failed, frames, confidence)
        return fer_low / frame_bits, fer_high
    mean_f = p
    var_f = max(sum_sq / frame_bits**2 / frames - mean_f**2, 0.0) * frames / max(frames - 1, 1)
    var_p = var_f / frames
    n_eff = bits if var_p <= 0 else min(p * (1 - p) / var_p, bits)
    if frames > 1:
        z = stats.norm.ppf(1 - alpha / 2)
        t = stats.t.ppf(1 - alpha / 2, min(frames, failed) - 1)
        n_eff *= (z / t) ** 2
    x = p * n_eff
    low = stats.beta.ppf(alpha / 2, x, n_eff - x + 1) if x > 0 else 0.0
    high = stats.beta.ppf(1 - alpha / 2, x + 1, n_eff - x)
    return float(low), float(high)


def security_verdict(ci_low: float, ci_high: float,
                     band: tuple[float, float] = SECURE_BAND) -> str:
    """``"holds"`` when Eve's BER interval [ci_low, ci_high] lies inside ``band``, else
    ``"broken"``: she does measurably better (or worse, which also leaks) than a coin toss."""
    return "holds" if band[0] <= ci_low and ci_high <= band[1] else "broken"
