"""Reading BER curves: crossings, the slope (diversity order), the Eb/N0 gap to the Gray
baseline's theory, and Eve's joint verdict over a results table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from channels import theory
from commgan.sim.stats import SECURE_BAND, clopper_pearson

__all__ = ["diversity_order", "ebno_at_ber", "eve_joint_verdict", "gap_to_theory_db"]


def ebno_at_ber(ebno_db, ber, target: float) -> float:
    """Eb/N0 [dB] where a decreasing BER curve crosses ``target`` (log-linear interpolation);
    NaN if the curve does not reach it."""
    ebno_db = np.asarray(ebno_db, dtype=float)
    log_ber = np.log10(np.clip(np.asarray(ber, dtype=float), 1e-300, None))
    order = np.argsort(ebno_db)
    ebno_db, log_ber = ebno_db[order], log_ber[order]
    below = np.flatnonzero(log_ber <= np.log10(target))
    if len(below) == 0 or below[0] == 0:
        return float("nan")
    i = below[0]
    x0, x1, y0, y1 = ebno_db[i - 1], ebno_db[i], log_ber[i - 1], log_ber[i]
    return float(x0 + (np.log10(target) - y0) * (x1 - x0) / (y1 - y0))


def diversity_order(ebno_db, ber, ci_low, ci_high, window: tuple[float, float] = (1e-5, 1e-3)
                    ) -> tuple[float, float, int]:
    """The slope of a BER curve as a diversity order d (BER ~ SNR^-d): -10 x the slope of
    log10 BER against Eb/N0 [dB], by weighted least squares over the points whose BER lies in
    ``window``. Each point's weight is 1 / var(ln BER), the variance read off its 95% interval
    ((ln ci_high - ln ci_low) / 3.92)^2, so bursty errors weigh as the interval says.

    Returns (d, its standard error, points used); NaNs with fewer than two points."""
    x = np.asarray(ebno_db, dtype=float) / 10.0
    p, low, high = (np.asarray(v, dtype=float) for v in (ber, ci_low, ci_high))
    use = (p >= window[0]) & (p <= window[1]) & (low > 0) & (high > low)
    if use.sum() < 2:
        return float("nan"), float("nan"), int(use.sum())
    x, y = x[use], np.log10(p[use])
    sigma = (np.log10(high[use]) - np.log10(low[use])) / 3.92
    weights = 1.0 / sigma**2
    mean_x = np.sum(weights * x) / weights.sum()
    spread = np.sum(weights * (x - mean_x) ** 2)
    slope = np.sum(weights * (x - mean_x) * y) / spread
    return float(-slope), float(np.sqrt(1.0 / spread)), int(use.sum())


def gap_to_theory_db(ebno_db, ber, mod: str, channel: str) -> np.ndarray:
    """Per point: Eb/N0 minus the Eb/N0 at which Gray ``mod`` theory reaches the same BER.

    Positive = this curve needs more energy than the baseline for its BER (worse).
    """
    grid = np.linspace(-10.0, 60.0, 7001)
    reference = np.clip(theory.ber(mod, channel, grid), 1e-300, None)
    gaps = []
    for x, p in zip(np.atleast_1d(ebno_db), np.atleast_1d(ber), strict=True):
        if not p > 0:
            gaps.append(float("nan"))
            continue
        gaps.append(float(x) - float(np.interp(-np.log10(p), -np.log10(reference), grid)))
    return np.asarray(gaps)


def eve_joint_verdict(table: pd.DataFrame) -> pd.DataFrame:
    """Eve's rows of a results table (``receiver == "eve"``) with Clopper-Pearson intervals at
    1 - 0.05/m over their bit errors (m Eve rows, so the verdict holds jointly at 95%):
    ``joint_low``, ``joint_high``, and ``holds`` where the interval lies in the secure band."""
    eve = table[table["receiver"] == "eve"].copy()
    if eve.empty:
        return eve.assign(joint_low=[], joint_high=[], holds=[])
    confidence = 1 - 0.05 / len(eve)
    bounds = [clopper_pearson(int(e), int(b), confidence)
              for e, b in zip(eve["errors"], eve["bits"], strict=True)]
    eve["joint_low"], eve["joint_high"] = zip(*bounds, strict=True)
    eve["holds"] = [SECURE_BAND[0] <= low and high <= SECURE_BAND[1] for low, high in bounds]
    return eve
