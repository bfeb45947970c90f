"""Convergence points of one channel-GAN training history, and their summary over seeds.

Definitions (losses in nats, as the core's BCE; eq. (2) in `commgan.comm.channelgan.variants`):

- **iteration**: one `commgan.gan.GANTrainer` iteration, ``n_critic`` D updates then one G
  update (``n_critic`` is in the config and in convergence.csv); ``seconds``: training wall time.
- **smoothed losses**: centred moving average of ``smooth`` iterations (default 9).
- **separation iteration**: first iteration at which the smoothed L_G - L_D >= ``margin``
  (0.05 nats): D has learned to tell true from generated samples. An untrained D puts both
  losses at ~ln 2 in either order, so nothing before it counts.
- **crossover iteration**: first iteration after the separation at which the smoothed
  L_G <= L_D: the G and D curves cross, the survey's "reaches the Nash equilibrium". The
  **raw crossover** is the same on the unsmoothed per-iteration losses (what one reads off a
  plot of raw curves): there batch noise makes the curves touch earlier.
- **equilibrium iteration**: first iteration, not before the separation, from which
  |L_D - ln 2| < ``eps`` and |L_G - ln 2| < ``eps`` (smoothed) hold for ``window`` consecutive
  iterations (eps = 0.05 nats, window = 50). ln 2 is the value of both at D = 1/2.

A run that never reaches a point reports it as empty (NaN) and counts it in ``reached``.
"""

from __future__ import annotations

import math

import pandas as pd

from commgan.gan import LN2, crossover_iteration, equilibrium_iteration, separation_iteration

__all__ = ["CONVERGENCE_COLUMNS", "SUMMARY_METRICS", "convergence_metrics", "summarise"]

CONVERGENCE_COLUMNS = ["model", "seed", "iterations", "n_critic", "separation_iter",
                       "crossover_iter", "crossover_raw_iter", "equilibrium_iter",
                       "seconds_to_crossover", "seconds_to_equilibrium", "seconds", "diverged_at"]
"""Columns of convergence.csv (one row per model and seed)."""

SUMMARY_METRICS = ("crossover_iter", "crossover_raw_iter", "equilibrium_iter",
                   "seconds_to_crossover", "seconds_to_equilibrium", "seconds")
"""The convergence.csv columns that summary.csv averages over seeds."""


def convergence_metrics(history: pd.DataFrame, smooth: int = 9, margin: float = 0.05,
                        eps: float = 0.05, window: int = 50) -> dict[str, float]:
    """Separation, crossover and equilibrium iterations of one training history (columns
    iteration, loss_d, loss_g, seconds), and the training seconds at each (NaN where not
    reached). margin, eps in nats; smooth, window in iterations (see the module docstring)."""
    separation = separation_iteration(history, margin, smooth)
    crossover = crossover_iteration(history, smooth, margin=margin)
    raw_crossover = crossover_iteration(history, 1, margin=margin)
    equilibrium = None
    if separation is not None:
        equilibrium = equilibrium_iteration(history, eps, window, LN2, LN2, smooth,
                                            start=separation)
    seconds = history.set_index("iteration")["seconds"] if len(history) else pd.Series()

    def at(iteration: int | None) -> float:
        return float(seconds.loc[iteration]) if iteration is not None else math.nan

    def value(iteration: int | None) -> float:
        return float(iteration) if iteration is not None else math.nan

    return {"separation_iter": value(separation), "crossover_iter": value(crossover),
            "crossover_raw_iter": value(raw_crossover), "equilibrium_iter": value(equilibrium),
            "seconds_to_crossover": at(crossover), "seconds_to_equilibrium": at(equilibrium),
            "seconds": float(seconds.iloc[-1]) if len(seconds) else math.nan}


def summarise(convergence: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean and std over seeds of each metric (over the seeds that reached it) and
    how many seeds reached it (columns ``<metric>_mean``, ``_std``, ``_reached``)."""
    rows = []
    for model, runs in convergence.groupby("model", sort=False):
        row: dict[str, object] = {"model": model, "seeds": len(runs)}
        for column in SUMMARY_METRICS:
            values = runs[column].dropna()
            row[f"{column}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{column}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
            row[f"{column}_reached"] = int(len(values))
        rows.append(row)
    return pd.DataFrame(rows)
