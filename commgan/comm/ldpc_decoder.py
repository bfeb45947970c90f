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

LLRs follow Sionna's convention: ``llr = ln P(b=1) / P(b=0)`` (positive means 1), as Sionna's
``Demapper`` emits and its decoder expects.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.sparse as sp
import torch
from sionna.phy.fec.ldpc import LDPC5GEncoder

__all__ = ["CN_UPDATES", "FastLDPC5GDecoder", "pruned_length"]

CN_UPDATES = {"boxplus": 0, "minsum": 1, "offset-minsum": 2}
"""Check-node rules: ``boxplus`` (exact sum-product, Sionna's default ``boxplus-phi``),
``minsum`` and ``offset-minsum`` (offset 0.5), as Sionna defines them."""

_PHI_MIN = 8.5e-8
_PHI_MAX = 16.635532
"""Sionna's clamp of ``phi(x) = -ln tanh(x/2)`` in float32: message magnitudes enter the check
node within [_PHI_MIN, _PHI_MAX] and leave it within the same range."""


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
        llr = np.asarray(llr)
        if llr.ndim != 2 or llr.shape[1] != self.n:
            raise ValueError(f"expected LLRs of shape [B, {self.n}], got {list(llr.shape)}")
        mother = self.mother_llrs(llr)
        post = np.empty((llr.shape[0], self.k), dtype=np.float32)
        iters = np.empty(llr.shape[0], dtype=np.int32)
        _bp_decode(mother, self._grp_deg, self._grp_cnt, self._grp_base, self._col,
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


# --- The compiled kernel ---------------------------------------------------------------------
# Single precision, as Sionna's decoder. Checks are grouped by degree; a group of C checks of
# degree d stores its edges position-major (edge j of check c at base + j * C + c), so the
# check-node loops run over contiguous memory and LLVM vectorises them (8 lanes on AVX2). exp
# and log are polynomials (no libm calls, which would keep the loops scalar), accurate to ~1e-6
# relative, as float32 libm. Every constant is a float32 global: a Python float literal would
# promote the arithmetic to float64. error_model="numpy" drops numba's zero-division checks,
# which would also keep the loops scalar (no divisor here can be zero).

_F = np.float32
_ZERO, _HALF, _ONE, _TWO = _F(0.0), _F(0.5), _F(1.0), _F(2.0)
_LN2 = _F(math.log(2.0))
_LOG2E = _F(1.0 / math.log(2.0))
_SQRT2 = _F(math.sqrt(2.0))
_EXP_C = tuple(_F(1.0 / math.factorial(i)) for i in range(8))
_LOG_C = tuple(_F(1.0 / (2 * i + 1)) for i in range(5))
_P16, _P8, _P4, _P2, _P1 = _F(2.0**16), _F(2.0**8), _F(16.0), _F(4.0), _F(2.0)
_M16, _M8, _M4, _M2 = _F(2.0**-16), _F(2.0**-8), _F(2.0**-4), _F(0.25)
_E16, _E8, _E4, _E2, _E1 = _F(16.0), _F(8.0), _F(4.0), _F(2.0), _F(1.0)
_PHI_MIN32 = _F(_PHI_MIN)
_PHI_MAX32 = _F(_PHI_MAX)
_R_MIN = _F(math.exp(_PHI_MIN))
_R_MAX = _F(math.exp(_PHI_MAX))
_SMALL = _F(0.03)
_SIXTH = _F(1.0 / 6.0)
_MIN_INIT = _F(3.0e38)
_OFFSET = _F(0.5)
_TINY = _F(1e-30)


@numba.njit(inline="always", error_model="numpy")
def _exp_neg(a):
    """exp(-a) for 0 <= a < 32: 2^-n exp(-r), r in [-ln2/2, ln2/2], degree-7 Taylor."""
    n = np.floor(a * _LOG2E + _HALF)
    r = n * _LN2 - a
    p = _EXP_C[7]
    p = p * r + _EXP_C[6]
    p = p * r + _EXP_C[5]
    p = p * r + _EXP_C[4]
    p = p * r + _EXP_C[3]
    p = p * r + _EXP_C[2]
    p = p * r + _ONE
    p = p * r + _ONE
    # times 2^-n by comparisons (an integer conversion would keep the loop scalar on AVX2)
    s = _ONE
    c = n >= _E16
    s = s * _M16 if c else s
    n = n - _E16 if c else n
    c = n >= _E8
    s = s * _M8 if c else s
    n = n - _E8 if c else n
    c = n >= _E4
    s = s * _M4 if c else s
    n = n - _E4 if c else n
    c = n >= _E2
    s = s * _M2 if c else s
    n = n - _E2 if c else n
    s = s * _HALF if n >= _E1 else s
    return p * s


@numba.njit(inline="always", error_model="numpy")
def _log(r):
    """ln r for 1 <= r < 2^32: r = 2^k m, m in [1/sqrt2, sqrt2], atanh series in
    s = (m-1)/(m+1), |s| < 0.172."""
    k = _ZERO
    c = r >= _P16
    r = r * _M16 if c else r
    k = k + _E16 if c else k
    c = r >= _P8
    r = r * _M8 if c else r
    k = k + _E8 if c else k
    c = r >= _P4
    r = r * _M4 if c else r
    k = k + _E4 if c else k
    c = r >= _P2
    r = r * _M2 if c else r
    k = k + _E2 if c else k
    c = r >= _P1
    r = r * _HALF if c else r
    k = k + _E1 if c else k
    c = r > _SQRT2
    r = r * _HALF if c else r
    k = k + _E1 if c else k
    s = (r - _ONE) / (r + _ONE)
    s2 = s * s
    p = _LOG_C[4]
    p = p * s2 + _LOG_C[3]
    p = p * s2 + _LOG_C[2]
    p = p * s2 + _LOG_C[1]
    p = p * s2 + _ONE
    return _TWO * s * p + k * _LN2


@numba.njit(inline="always", error_model="numpy")
def _cn_boxplus(v2c, c2v, num, p_num, p_den, base, deg, cnt, llr_max):
    """Exact boxplus for one group of checks, magnitudes clamped as Sionna's phi.

    ``num`` holds 1 - q per edge, q = exp(-|x|) (computed beforehand); tanh(x/2) =
    sign(x) (1 - q) / (1 + q). The extrinsic tanh of an edge is y = B / A with
    A = P_den num_e, B = P_num den_e (P: signed products over the check), and the output is
    2 atanh(y) = ln((|A| + |B|) / (|A| - |B|)) with the sign of A B: one division per edge, and
    few arrays per loop (more would exceed LLVM's budget of runtime alias checks and keep the
    loops scalar).
    """
    for c in range(cnt):
        p_num[c] = _ONE
        p_den[c] = _ONE
    for j in range(deg):
        off = base + j * cnt
        for c in range(cnt):
            ne = num[off + c]
            p_num[c] *= -ne if v2c[off + c] < _ZERO else ne
            p_den[c] *= _TWO - ne
    for j in range(deg):
        off = base + j * cnt
        for c in range(cnt):
            ne = num[off + c]
            a = p_den[c] * ne
            b = abs(p_num[c]) * (_TWO - ne)
            # a >= b up to rounding; a tie (or b > a by rounding) means |y| = 1: r = R_MAX
            r = min(max((a + b) / max(a - b, _TINY), _R_MIN), _R_MAX)
            v = min(_log(r), llr_max)
            negative = (p_num[c] < _ZERO) != (v2c[off + c] < _ZERO)
            c2v[off + c] = -v if negative else v


@numba.njit(inline="always", error_model="numpy")
def _cn_minsum(v2c, c2v, min1, min2, pos, sgn, base, deg, cnt, llr_max, offset):
    """(Offset) min-sum for one group of checks, sign(0) = +1, ties as Sionna's."""
    for c in range(cnt):
        min1[c] = _MIN_INIT
        min2[c] = _MIN_INIT
        pos[c] = -1
        sgn[c] = _ONE
    for j in range(deg):
        off = base + j * cnt
        for c in range(cnt):
            x = v2c[off + c]
            a = abs(x)
            sgn[c] = -sgn[c] if x < _ZERO else sgn[c]
            smaller = a < min1[c]
            min2[c] = min1[c] if smaller else min(min2[c], a)
            pos[c] = j if smaller else pos[c]
            min1[c] = a if smaller else min1[c]
    for j in range(deg):
        off = base + j * cnt
        for c in range(cnt):
            mag = min2[c] if pos[c] == j else min1[c]
            mag = min(max(mag - offset, _ZERO), llr_max)
            s = -sgn[c] if v2c[off + c] < _ZERO else sgn[c]
            c2v[off + c] = s * mag


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _bp_decode(llr, grp_deg, grp_cnt, grp_base, col, num_iter, method, early_stop, llr_max,
               post, iters):
    """Flooding BP per codeword. ``llr`` [B, N] float32 (ln P(0)/P(1)); checks in the grouped
    edge layout (``grp_*``, ``col``); writes the a-posteriori LLRs of the first K nodes
    ``post`` [B, K] (clipped at ``llr_max``; the decision is 1 where LLR <= 0) and the
    iterations used ``iters`` [B]."""
    num_cw, num_vn = llr.shape
    num_edges = col.shape[0]
    num_groups = grp_deg.shape[0]
    max_cnt = 0
    for g in range(num_groups):
        max_cnt = max(max_cnt, grp_cnt[g])
    lmax = _F(llr_max)
    v2c = np.empty(num_edges, dtype=np.float32)
    c2v = np.empty(num_edges, dtype=np.float32)
    num = np.empty(num_edges, dtype=np.float32)
    total = np.empty(num_vn, dtype=np.float32)
    buf1 = np.empty(max_cnt, dtype=np.float32)
    buf2 = np.empty(max_cnt, dtype=np.float32)
    pos = np.empty(max_cnt, dtype=np.int64)
    sgn = np.empty(max_cnt, dtype=np.float32)
    parity = np.empty(max_cnt, dtype=np.uint8)
    hb = np.empty(num_vn, dtype=np.uint8)
    num_out = post.shape[1]
    offset = _OFFSET if method == 2 else _ZERO
    for b in range(num_cw):
        ch = llr[b]
        for e in range(num_edges):
            v2c[e] = ch[col[e]]
        used = num_iter
        for it in range(num_iter):
            if method == 0:
                for e in range(num_edges):
                    a = min(max(abs(v2c[e]), _PHI_MIN32), _PHI_MAX32)
                    # 1 - exp(-a), by its series where the difference would cancel
                    small = a * (_ONE - a * (_HALF - a * _SIXTH))
                    num[e] = small if a < _SMALL else _ONE - _exp_neg(a)
            for g in range(num_groups):
                if method == 0:
                    _cn_boxplus(v2c, c2v, num, buf1, buf2, grp_base[g], grp_deg[g], grp_cnt[g],
                                lmax)
                else:
                    _cn_minsum(v2c, c2v, buf1, buf2, pos, sgn, grp_base[g], grp_deg[g],
                               grp_cnt[g], lmax, offset)
            for v in range(num_vn):
                total[v] = ch[v]
            for e in range(num_edges):
                total[col[e]] += c2v[e]
            for e in range(num_edges):
                v2c[e] = min(max(total[col[e]] - c2v[e], -lmax), lmax)
            for v in range(num_vn):
                hb[v] = 1 if total[v] <= _ZERO else 0
            if early_stop:
                ok = True
                for g in range(num_groups):
                    base = grp_base[g]
                    cnt = grp_cnt[g]
                    for c in range(cnt):
                        parity[c] = 0
                    for j in range(grp_deg[g]):
                        off = base + j * cnt
                        for c in range(cnt):
                            parity[c] ^= hb[col[off + c]]
                    for c in range(cnt):
                        if parity[c]:
                            ok = False
                    if not ok:
                        break
                if ok:
                    used = it + 1
                    break
        iters[b] = used
        for v in range(num_out):
            post[b, v] = min(max(total[v], -lmax), lmax)
