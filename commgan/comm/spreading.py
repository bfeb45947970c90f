"""Spreading a block of bits over several symbols: the block interleaver, the signal-space-diversity
start of a spreading encoder, and Bob's exact block demapper (see ``TransceiverConfig.spread``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from channels import ChannelOutput
from channels.estimation import em_estimate

__all__ = ["BlockDemapper", "block_bits", "block_features", "block_labels", "deinterleave",
           "interleave", "learned_receiver_csi", "matched_features", "ssd_skip"]


def learned_receiver_csi(out: ChannelOutput, alphabet: Callable[[], torch.Tensor],
                         spread: int) -> ChannelOutput:
    """The CSI a learned link's receiver decodes with when h comes from pilots (unchanged
    otherwise). A per-symbol link (``spread`` 1) re-estimates each coherence block's h by EM
    over its alphabet ``alphabet()`` [M] complex (:func:`channels.estimation.em_estimate`). A
    spreading link keeps the pilots' estimate and counts its error as noise, N0 + e per symbol
    (e the estimate's error variance, at unit average symbol energy), as the classical
    receivers do: its symbols' alphabet is the whole codebook's (2^(K R) K values), too dense
    for EM to separate and costly to search per symbol."""
    if out.pilots is None:
        return out
    if spread == 1:
        return em_estimate(out, alphabet())
    no = out.no.reshape(out.y.shape[0], -1) if out.no.dim() else out.no
    return ChannelOutput(out.y, out.h, no + out.csi_error_var, out.csi_error_var, out.pilots)


def interleave(blocks: torch.Tensor) -> torch.Tensor:
    """Block-major symbols [B, n/K, K] -> frame order [B, n]: symbol k of block j goes to
    position k n/K + j, so a block's symbols lie n/K apart (the classical block interleaver)."""
    return blocks.transpose(1, 2).reshape(blocks.shape[0], -1)


def deinterleave(values: torch.Tensor, k: int) -> torch.Tensor:
    """Inverse of :func:`interleave` for per-symbol values [B, n, ...] -> [B, n/K, K, ...]."""
    return values.reshape(values.shape[0], k, -1, *values.shape[2:]).transpose(1, 2)


def block_bits(width: int) -> torch.Tensor:
    """Every block of ``width`` bits, [2^width, width] float in {0, 1}: row m holds m's bits,
    most significant first."""
    shifts = torch.arange(width - 1, -1, -1)
    return ((torch.arange(2**width).unsqueeze(-1) >> shifts) & 1).float()


def block_labels(bits: torch.Tensor, width: int) -> torch.Tensor:
    """Bits [B, L] -> the label of each block of ``width`` bits [B, L / width] (MSB first)."""
    weights = 2 ** torch.arange(width - 1, -1, -1, device=bits.device)
    return (bits.reshape(bits.shape[0], -1, width).long() * weights).sum(-1)


class BlockDemapper(nn.Module):
    """Bob of a spreading encoder: the exact a-posteriori bit logits of each block of K symbols
    given the received (y_k, h_k) and N0, over the encoder's 2^(K R) codewords (uniform prior).

    With u_k = y_k h_k^* / N0_k and g_k = |h_k|^2 / N0_k, the log-likelihood of codeword c is
    sum_k (2 Re(u_k c_k^*) - g_k |c_k|^2) + const: two matmuls for all codewords; a bit's
    logit is log sum over the codewords with bit 1 minus log sum over those with bit 0. No
    trained parameters: it is exact for whatever constellation the encoder learns, and training
    passes gradients through it into the encoder. Input: ChannelOutput of [B, n]; codebook
    [2^(K R), K] complex; output [B, n R] logits (> 0 means bit 1).
    """

    rows_per_chunk = 4096
    """Blocks demapped at once: [4096, 256] float scores (4 MB) stay in the CPU's cache."""

    def __init__(self, r: int, spread: int) -> None:
        super().__init__()
        self.spread = spread
        self.register_buffer("blocks", block_bits(r * spread), persistent=False)

    def forward(self, out: ChannelOutput, codebook: torch.Tensor) -> torch.Tensor:
        with torch.autocast(out.y.device.type, enabled=False):  # scores need fp32's precision
            return self._logits(out, codebook.to(torch.complex64))

    def _logits(self, out: ChannelOutput, codebook: torch.Tensor) -> torch.Tensor:
        batch = out.y.shape[0]
        no = out.no.float()
        no = torch.broadcast_to(no.reshape(batch, -1) if no.dim() else no,
                                out.y.shape)  # N0 per symbol, from a scalar, [B, 1] or [B, n]
        u = deinterleave(out.y * out.h.conj() / no, self.spread).reshape(-1, self.spread)
        g = deinterleave(out.h.abs().square() / no, self.spread).reshape(-1, self.spread)
        codeword_iq = torch.cat([codebook.real, codebook.imag], dim=-1).T
        energy = codebook.abs().square().T
        bit_sets = torch.cat([self.blocks, 1.0 - self.blocks], dim=-1)
        width = self.blocks.shape[-1]
        logits = []
        for start in range(0, len(u), self.rows_per_chunk):
            part = slice(start, start + self.rows_per_chunk)
            matched = torch.cat([u[part].real, u[part].imag], dim=-1)
            score = 2 * matched @ codeword_iq - g[part] @ energy
            sums = (torch.softmax(score, dim=-1) @ bit_sets).clamp_min(1e-30)
            logits.append(torch.log(sums[:, :width]) - torch.log(sums[:, width:]))
        return torch.cat(logits).reshape(batch, -1)


def ssd_skip(points: torch.Tensor, rotation_deg: float) -> torch.Tensor:
    """Signal-space diversity of K Gray points per block [B, n/K, K] complex: rotate each by
    ``rotation_deg`` and send the quadrature component of point k with point k + 1 (mod K), so
    the two components of every point meet different fades once interleaved."""
    if points.shape[-1] == 1:
        return points
    angle = math.radians(rotation_deg)
    rotated = points * complex(math.cos(angle), math.sin(angle))
    return torch.complex(rotated.real, torch.roll(rotated.imag, shifts=1, dims=-1))


def matched_features(out: ChannelOutput) -> torch.Tensor:
    """Decoder input of a spreading decoder, [B, n, 3]: the matched-filter output y h^* (I, Q)
    and the gain |h|^2. The maximum-likelihood metric of a block, sum_k |y_k - h_k c_k|^2, is
    linear in these for every candidate block c (|y|^2 - 2 Re(c^* y h^*) + |h|^2 |c|^2), so one
    linear layer can form all candidates' metrics; from z = y / h and log |h|^2 it needs products
    the network approximates poorly (measured: 4x the ML detector's errors at 20 dB)."""
    matched = out.y * out.h.conj()
    return torch.stack([matched.real, matched.imag, out.h.abs().square()], dim=-1)


def block_features(out: ChannelOutput, k: int) -> torch.Tensor:
    """A spreading decoder's input per block of K symbols, [B, n/K, 3K + 1]: each symbol's
    :func:`matched_features` divided by the block's total gain sum_k |h_k|^2 (the ML decision is
    invariant to this scale, so the network sees scale-free inputs whatever the fades), then the
    log10 of that total (how reliable the block is)."""
    features = deinterleave(matched_features(out), k)
    total = features[..., 2].sum(dim=-1, keepdim=True).clamp_min(1e-12)
    scaled = (features / total.unsqueeze(-1)).flatten(-2)
    return torch.cat([scaled, torch.log10(total)], dim=-1)
