"""Pilot-based channel estimation for flat fading: least squares and LMMSE.

A coherence block carries ``Np`` known pilot symbols p (unit energy) and its data symbols; the
receiver sees ``y_p = h p + n``, n ~ CN(0, N0), h ~ CN(0, 1) constant over the block.
"""

from __future__ import annotations

import torch

__all__ = ["ESTIMATORS", "PILOT", "pilot_estimate"]

ESTIMATORS = ("perfect", "ls", "lmmse")
"""``perfect``: the true h (no error); ``ls``: mean of y_p / p over the block's pilots, error
variance N0 / Np; ``lmmse``: the LS estimate shrunk by 1 / (1 + N0 / Np), knowing h ~ CN(0, 1)
(error variance (N0 / Np) / (1 + N0 / Np))."""

PILOT = complex(1.0, 0.0)
"""The known pilot symbol (unit energy)."""


def pilot_estimate(y_pilots: torch.Tensor, no: torch.Tensor, estimator: str
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimate of h per block from its received pilots, and the estimate's error variance.

    ``y_pilots``: [B, K, Np] complex (K blocks of Np pilots, each sent as :data:`PILOT`);
    ``no``: noise variance, scalar or [B, 1]; ``estimator``: ``ls`` or ``lmmse``.
    Returns ``h_hat`` [B, K] complex and ``error_var`` [B, K] (E|h - h_hat|^2).
    """
    num_pilots = y_pilots.shape[-1]
    h_ls = (y_pilots / PILOT).mean(dim=-1)
    ls_var = (no / num_pilots).to(h_ls.real.dtype).expand(h_ls.shape)
    if estimator == "ls":
        return h_ls, ls_var
    if estimator == "lmmse":
        shrink = 1.0 / (1.0 + ls_var)
        return h_ls * shrink, ls_var * shrink
    raise ValueError(f"unknown estimator {estimator!r}; valid: ls, lmmse (or perfect: no "
                     "estimate)")
