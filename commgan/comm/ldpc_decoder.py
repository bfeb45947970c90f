"""A fast CPU belief-propagation decoder for Sionna's 5G NR LDPC codes.

:class:`FastLDPC5GDecoder` decodes what :class:`sionna.phy.fec.ldpc.LDPC5GEncoder` encodes, on
the same parity-check matrix and with the same rate recovery as Sionna's
:class:`~sionna.phy.fec.ldpc.LDPC5GDecoder` (read off that decoder's source and the encoder's
attributes): the first 2Z systematic bits are punctured (LLR 0), the filler bits are known zeros
(LLR ``llr_max``), the n received LLRs fill the compressed circular buffer, the parity bits
beyond it are punctured, and the punctured degree-1 parity nodes are pruned with their checks
(exact: such a check only ever sends 0). Flooding BP with Sionna's update rules in single
precision, as Sionna's: the exact boxplus (Sionna's default ``boxplus-phi``, computed by the
tanh rule with the same clamping of message magnitudes to [8.5e-8, 16.635532]) or (offset)
min-sum, VN messages and CN outputs clipped at ``llr_max``, hard decision ``LLR <= 0 -> 1``.
Before early stopping can act, its messages equal Sionna's up to float32 rounding.

What differs from Sionna is speed: the BP loop is compiled with numba and runs per codeword with
early stopping (a codeword stops at the first iteration whose hard decisions satisfy every
check), so a typical codeword at a useful SNR costs a few iterations rather than ``num_iter``.
Sionna's decoder always runs ``num_iter`` iterations on the whole batch. The two give the same
block-error rate within Monte Carlo intervals (tests/test_ldpc.py,
benchmarks/ldpc_decoder.py); they can differ on a codeword that meets every check and leaves
the code in a later iteration, or where rounding tips a failing decoding one way or the other
(rare: none in 480 waterfall codewords of the test).

The compiled BP loop is :func:`commgan.comm.ldpc_kernel.bp_decode`. LLRs follow Sionna's
convention: ``llr = ln P(b=1) / P(b=0)`` (positive means 1), as Sionna's
``Demapper`` emits and its decoder expects.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sionna.phy.fec.ldpc import LDPC5GEncoder

__all__ = ["CN_UPDATES", "FastLDPC5GDecoder", "pruned_length"]

CN_UPDATES = {"boxplus": 0, "minsum": 1, "offset-minsum": 2}
"""Check-node rules: ``boxplus`` (exact sum-product, Sionna's default ``boxplus-phi``),
``minsum`` and ``offset-minsum`` (offset 0.5), as Sionna defines them."""

def pruned_length(encoder: LDPC5GEncoder) -> int:
    """Length of the mother codeword after pruning the punctured degree-1 parity nodes, as
    :class:`sionna.phy.fec.ldpc.LDPC5GDecoder` computes it for the flooding schedule."""
    dv = np.asarray(encoder.pcm.sum(axis=0)).ravel()
    last_pos = encoder.n_ldpc
    for idx in range(encoder.n_ldpc - 1, 0, -1):
        if dv[idx] == 1:
            last_pos = idx
        else:
            break
    nb_punc_bits = (encoder.n_ldpc - encoder.k_filler) - encoder.n - 2 * encoder.z
    return int(max(last_pos, encoder.n_ldpc - nb_punc_bits))


class FastLDPC5GDecoder:
    """Flooding BP decoder for one :class:`~sionna.phy.fec.ldpc.LDPC5GEncoder`, on the CPU.

    ``cn_update``: ``"boxplus"`` (default; Sionna's default), ``"minsum"`` or
    ``"offset-minsum"``; ``num_iter``: maximum BP iterations (Sionna's default 20);
    ``early_stop``: stop a codeword once its hard decisions satisfy every check;
    ``llr_max``: clipping of channel LLRs and messages (Sionna's default 20).

    Calling it maps channel LLRs ``[..., n]`` (Sionna's sign convention) to hard information
    bits ``[..., k]`` float32 in {0, 1}, like ``LDPC5GDecoder(encoder)(llr)``; :meth:`decode`
    is the numpy form that also gives the iterations each codeword used.
    """

    def __init__(self, encoder: LDPC5GEncoder, cn_update: str = "boxplus", num_iter: int = 20,
                 early_stop: bool = True, llr_max: float = 20.0) -> None:
        if not isinstance(encoder, LDPC5GEncoder):
            raise TypeError("encoder must be a sionna.phy.fec.ldpc.LDPC5GEncoder")
        if cn_update not in CN_UPDATES:
            raise ValueError(f"cn_update must be one of {', '.join(CN_UPDATES)}, "
                             f"not {cn_update!r}")
        if int(num_iter) != num_iter or num_iter < 1:
            raise ValueError(f"num_iter must be a positive integer, not {num_iter!r}")
        self.encoder = encoder
        self.cn_update = cn_update
        self.num_iter = int(num_iter)
        self.early_stop = bool(early_stop)
        self.llr_max = float(llr_max)
        self.k, self.n, self.z = encoder.k, encoder.n, encoder.z
        self.n_pruned = pruned_length(encoder)
        nb_pruned = encoder.n_ldpc - self.n_pruned
        # The received n bits fill the compressed buffer [2Z .. k) ++ [k_ldpc .. n_pruned).
        self.buf_len = encoder.n_cb_comp - nb_pruned
        if self.buf_len < self.n:
            raise ArithmeticError("internal error: pruned buffer shorter than n")
        # Sionna drops one check per pruned (degree-1) node: the last nb_pruned rows and columns.
        pcm = sp.csr_matrix(encoder.pcm, dtype=np.int8)[: encoder.pcm.shape[0] - nb_pruned,
                                                         : self.n_pruned]
        pcm.sort_indices()
        self.num_checks = pcm.shape[0]
        self.num_edges = pcm.nnz
        self._grp_deg, self._grp_cnt, self._grp_base, self._col = _group_checks(pcm)
        # Positions in the pruned mother codeword of the n channel LLRs (after Sionna's
        # output de-interleaver when the encoder has one).
        n_sys = self.k - 2 * self.z
        positions = np.concatenate([
            np.arange(2 * self.z, self.k),
            np.arange(encoder.k_ldpc, encoder.k_ldpc + self.n - n_sys),
        ])
        if encoder.num_bits_per_symbol is not None:
            # Sionna reads llr[:, out_int_inv] into the buffer: buffer j <- llr[out_int_inv[j]],
            # so channel position out_int_inv[j] lands on buffer position j.
            inv = encoder.out_int_inv.cpu().numpy().astype(np.int64)
            positions_by_channel = np.empty_like(positions)
            positions_by_channel[inv] = positions
            positions = positions_by_channel
        self._positions = positions.astype(np.int64)
        self._filler = np.arange(self.k, encoder.k_ldpc, dtype=np.int64)
        self.last_num_iter: np.ndarray | None = None

    def __repr__(self) -> str:
        return (f"FastLDPC5GDecoder(k={self.k}, n={self.n}, cn_update={self.cn_update!r}, "
                f"num_iter={self.num_iter}, early_stop={self.early_stop})")

    def mother_llrs(self, llr: np.ndarray) -> np.ndarray:
        """Channel LLRs [B, n] (Sionna's convention) -> BP input [B, n_pruned] float32 in
        the decoder's convention (ln P(0)/P(1)), rate recovery included."""
        llr = np.clip(np.asarray(llr, dtype=np.float32), -self.llr_max, self.llr_max)
        out = np.zeros((llr.shape[0], self.n_pruned), dtype=np.float32)
        out[:, self._positions] = -llr
        out[:, self._filler] = self.llr_max
        return out

    def decode(self, llr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Channel LLRs [B, n] -> (information bits uint8 [B, k], iterations int32 [B])."""
        post, iters = self.decode_soft(llr)
        return (post >= 0).astype(np.uint8), iters

    def decode_soft(self, llr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Channel LLRs [B, n] -> (a-posteriori logits of the information bits float32
        [B, k], Sionna's convention and clipping at ``llr_max``; iterations int32 [B])."""
        from commgan.comm.ldpc_kernel import bp_decode  # lazy: numba only for coded links

        llr = np.asarray(llr)
        if llr.ndim != 2 or llr.shape[1] != self.n:
            raise ValueError(f"expected LLRs of shape [B, {self.n}], got {list(llr.shape)}")
        mother = self.mother_llrs(llr)
        post = np.empty((llr.shape[0], self.k), dtype=np.float32)
        iters = np.empty(llr.shape[0], dtype=np.int32)
        bp_decode(mother, self._grp_deg, self._grp_cnt, self._grp_base, self._col,
                   self.num_iter, CN_UPDATES[self.cn_update], self.early_stop, self.llr_max,
                   post, iters)
        self.last_num_iter = iters
        return -post, iters

    def __call__(self, llr_ch: torch.Tensor, hard_out: bool = True) -> torch.Tensor:
        """Channel LLRs [..., n] -> hard information bits [..., k] float32 (Sionna's layout),
        or with ``hard_out=False`` their a-posteriori logits."""
        shape = list(llr_ch.shape)
        if shape[-1] != self.n:
            raise ValueError(f"last dimension must be n={self.n}, got {shape[-1]}")
        flat = llr_ch.detach().reshape(-1, self.n).to("cpu", torch.float32).numpy()
        out = self.decode(flat)[0] if hard_out else self.decode_soft(flat)[0]
        return torch.from_numpy(out).to(llr_ch.device, torch.float32).reshape(
            shape[:-1] + [self.k])


def _group_checks(pcm: sp.csr_matrix):
    """Checks grouped by degree, edges position-major within a group: (degree, count, first
    edge) per group and the variable node of every edge."""
    degrees = np.diff(pcm.indptr)
    grp_deg, grp_cnt, grp_base, cols = [], [], [], []
    base = 0
    for degree in np.unique(degrees):
        checks = np.flatnonzero(degrees == degree)
        starts = pcm.indptr[checks]
        # [degree, count]: edge j of check c
        cols.append(pcm.indices[starts[None, :] + np.arange(degree)[:, None]].ravel())
        grp_deg.append(degree)
        grp_cnt.append(len(checks))
        grp_base.append(base)
        base += degree * len(checks)
    return (np.array(grp_deg, dtype=np.int64), np.array(grp_cnt, dtype=np.int64),
            np.array(grp_base, dtype=np.int64), np.concatenate(cols).astype(np.int64))
