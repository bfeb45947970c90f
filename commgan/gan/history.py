"""Convergence points of a `GANTrainer` loss history: separation, crossover and equilibrium.

The history is a DataFrame with columns iteration, loss_d and loss_g (nats); warm-up rows, where
loss_d is NaN, are ignored.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["LN2", "crossover_iteration", "equilibrium_iteration", "separation_iteration"]

LN2 = math.log(2.0)
"""ln 2: value of L_D (mean BCE) and of the non-saturating L_G at the equilibrium D = 1/2."""


def _smoothed(series: pd.Series, smooth: int) -> pd.Series:
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    return series.astype(float).rolling(smooth, center=True, min_periods=1).mean()


def separation_iteration(history: pd.DataFrame, margin: float, smooth: int = 1) -> int | None:
    """First iteration at which the smoothed loss_g - loss_d reaches ``margin`` (nats).

    With the BCE losses, L_G - L_D > 0 to first order exactly when D scores real samples above
    generated ones, so this is where D has learned to tell them apart (an untrained D gives
    both losses ~ln 2). history, smooth: as in `crossover_iteration`. None if never.
    """
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    history = history.dropna(subset=["loss_d"])  # warm-up rows have no L_D
    if len(history) == 0:
        return None
    diff = _smoothed(history["loss_g"] - history["loss_d"], smooth).to_numpy()
    ahead = np.flatnonzero(diff >= margin)
    return int(history["iteration"].iloc[ahead[0]]) if len(ahead) else None


def crossover_iteration(history: pd.DataFrame, smooth: int = 1,
                        margin: float | None = None) -> int | None:
    """First iteration at which the smoothed loss_g - loss_d changes sign (or reaches 0).

    history: a `GANTrainer` history (columns iteration, loss_d, loss_g). smooth: width of a
    centred moving average (1 = none). margin: if given (nats), only the crossing of the
    survey's Figs. 8-10 counts: L_G must first exceed L_D by ``margin`` (D ahead, see
    `separation_iteration`), and the crossover is the first later iteration at which the
    smoothed L_G - L_D is <= 0 (G caught up); sign changes of the first iterations, where an
    untrained D puts both losses near ln 2 in either order, are ignored. Returns the
    iteration number, or None if never.
    """
    history = history.dropna(subset=["loss_d"])  # warm-up rows have no L_D
    if len(history) == 0:
        return None
    diff = _smoothed(history["loss_g"] - history["loss_d"], smooth).to_numpy()
    if margin is not None:
        if margin <= 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        ahead = np.flatnonzero(diff >= margin)
        if len(ahead) == 0:
            return None
        caught = np.flatnonzero(diff[ahead[0]:] <= 0)
        return int(history["iteration"].iloc[ahead[0] + caught[0]]) if len(caught) else None
    signs = np.sign(diff)
    nonzero = np.flatnonzero(signs != 0)
    if len(nonzero) == 0:
        return None
    first = nonzero[0]
    changed = np.flatnonzero(signs[first:] != signs[first])
    if len(changed) == 0:
        return None
    return int(history["iteration"].iloc[first + changed[0]])


def equilibrium_iteration(
    history: pd.DataFrame,
    eps: float = 0.05,
    window: int = 50,
    target_d: float = LN2,
    target_g: float = LN2,
    smooth: int = 1,
    start: int | None = None,
) -> int | None:
    """First iteration from which |loss_d - target_d| < eps and |loss_g - target_g| < eps hold
    for `window` consecutive iterations (ln 2 = the BCE losses at D = 1/2; use target_g = -ln 2
    for the minimax L_G). smooth: centred moving-average width. start: only windows that begin
    at this iteration or later count (e.g. the `separation_iteration`, so that the first
    iterations of an untrained D, at ln 2 by construction, are not taken for an equilibrium).
    Returns None if never reached.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    history = history.dropna(subset=["loss_d"])  # warm-up rows have no L_D
    if len(history) < window:
        return None
    d = _smoothed(history["loss_d"], smooth)
    g = _smoothed(history["loss_g"], smooth)
    ok = (((d - target_d).abs() < eps) & ((g - target_g).abs() < eps)).astype(float)
    full = np.flatnonzero(ok.rolling(window).sum().to_numpy() >= window)
    begins = history["iteration"].to_numpy()[full - window + 1]
    if start is not None:
        begins = begins[begins >= start]
    return int(begins[0]) if len(begins) else None
