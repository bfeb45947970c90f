"""Pilot-based channel estimation for flat fading: least squares and LMMSE.

A coherence block carries ``Np`` known pilot symbols p (unit energy) and its data symbols; the
receiver sees ``y_p = h p + n``, n ~ CN(0, N0), h ~ CN(0, 1) constant over the block.
"""

from __future__ import annotations

import torch

from channels.base import ChannelOutput

__all__ = ["EM_ITERATIONS", "ESTIMATORS", "PILOT", "data_aided_estimate", "em_estimate",
           "per_symbol", "pilot_estimate"]

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


def data_aided_estimate(out: ChannelOutput, symbols: torch.Tensor,
                        energy: torch.Tensor | None = None) -> ChannelOutput:
    """``out`` with h re-estimated per coherence block from its pilots and its data symbols.

    ``symbols``: [B, n] complex, the data symbols as the receiver believes them (decisions, or
    posterior means E[x]); ``energy``: [B, n] their E|x|^2 (default |symbols|^2). Per block,
    ``h = (sum y_p p* + sum y_d E[x_d]*) / (Np |p|^2 + sum E|x_d|^2)`` (the EM update; least
    squares over pilots and data when the symbols are known), shrunk as LMMSE when the channel's
    estimator is ``lmmse``; error variance ``N0 / (Np |p|^2 + sum E|x_d|^2)`` (exact for known
    symbols). Zero symbols and energies give the pilots' own estimate. Unchanged when ``out``
    carries no pilots (perfect CSI).
    """
    pilots = out.pilots
    if pilots is None:
        return out
    if energy is None:
        energy = symbols.abs().square()
    batch, num_symbols = out.y.shape
    blocks, data = pilots.y.shape[1], pilots.data_per_block

    def per_block(values: torch.Tensor) -> torch.Tensor:
        padded = torch.cat([values, values.new_zeros(batch, blocks * data - num_symbols)], 1)
        return padded.reshape(batch, blocks, data)

    y, x = per_block(out.y), per_block(symbols.to(out.y.dtype))
    correlation = (pilots.y * PILOT.conjugate()).sum(-1) + (y * x.conj()).sum(-1)
    total = pilots.y.shape[-1] * abs(PILOT) ** 2 + per_block(energy.to(y.real.dtype)).sum(-1)
    h = correlation / total
    no = out.no if out.no.dim() == 0 else out.no.reshape(-1, 1)
    error_var = no / total
    if pilots.estimator == "lmmse":
        shrink = 1.0 / (1.0 + error_var)
        h, error_var = h * shrink, error_var * shrink
    return ChannelOutput(out.y, per_symbol(h, data, num_symbols), out.no,
                         per_symbol(error_var, data, num_symbols), pilots)


EM_ITERATIONS = 8
"""EM iterations of :func:`em_estimate` (BER settles after about 8 on 16QAM, N = 32, Np = 2)."""


def em_estimate(out: ChannelOutput, points: torch.Tensor, iterations: int = EM_ITERATIONS,
                rows: int = 1024) -> ChannelOutput:
    """Semi-blind estimate of each coherence block's h: EM over the block's data symbols.

    ``points``: [M] complex, the alphabet of every data symbol (equally likely). From the pilots'
    own estimate, each iteration takes the data symbols' posteriors over ``points`` given the
    current estimate (noise ``N0 + e |c|^2``, e its error variance) and re-estimates h with
    their means and energies (:func:`data_aided_estimate`). ``rows``: frames per chunk (memory
    B x n x M). The estimate carries no gradient; ``y`` is ``out.y`` itself (gradients flow
    through it as before). Unchanged when ``out`` carries no pilots.
    """
    if out.pilots is None:
        return out
    with torch.no_grad():
        points = points.detach().reshape(-1).to(out.y.dtype)
        energies = points.abs().square()
        parts = []
        for start in range(0, out.y.shape[0], rows):
            part = out.take(slice(start, start + rows))
            zeros = torch.zeros_like(part.y)
            current = data_aided_estimate(part, zeros, zeros.real)
            noise = part.no if part.no.dim() == 0 else part.no.reshape(-1, 1)
            for _ in range(iterations):
                spread = noise.unsqueeze(-1) + current.csi_error_var.unsqueeze(-1) * energies
                distance = (part.y.unsqueeze(-1) - current.h.unsqueeze(-1) * points
                            ).abs().square()
                posterior = torch.softmax(-distance / spread - spread.log(), dim=-1)
                current = data_aided_estimate(part, (posterior * points).sum(-1),
                                              (posterior * energies).sum(-1))
            parts.append(current)
        h = torch.cat([part.h for part in parts])
        error_var = torch.cat([part.csi_error_var for part in parts])
    return ChannelOutput(out.y, h, out.no, error_var, out.pilots)


def per_symbol(per_block: torch.Tensor, data: int, num_symbols: int) -> torch.Tensor:
    """[B, K] values per block -> [B, n], each repeated over its block's ``data`` symbols."""
    if per_block.shape[1] == 1:
        return per_block.expand(per_block.shape[0], num_symbols)
    return per_block.repeat_interleave(data, dim=1)[:, :num_symbols]
