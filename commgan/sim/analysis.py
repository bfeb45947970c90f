"""Reading BER curves: crossings, the Eb/N0 gap to the Gray baseline's theory, and Eve's joint
verdict over a results table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from channels import theory
from commgan.sim.stats import SECURE_BAND, clopper_pearson

__all__ = ["ebno_at_ber", "eve_joint_verdict", "gap_to_theory_db"]


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
