"""The compiled flooding BP kernel of :class:`commgan.comm.ldpc_decoder.FastLDPC5GDecoder`.

Single precision, as Sionna's decoder. Checks are grouped by degree; a group of C checks of
degree d stores its edges position-major (edge j of check c at base + j * C + c), so the
check-node loops run over contiguous memory and LLVM vectorises them (8 lanes on AVX2). exp
and log are polynomials (no libm calls, which would keep the loops scalar), accurate to ~1e-6
relative, as float32 libm. Every constant is a float32 global: a Python float literal would
promote the arithmetic to float64. error_model="numpy" drops numba's zero-division checks,
which would also keep the loops scalar (no divisor here can be zero).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["bp_decode"]

_PHI_MIN = 8.5e-8
_PHI_MAX = 16.635532
"""Sionna's clamp of ``phi(x) = -ln tanh(x/2)`` in float32: message magnitudes enter the check
node within [_PHI_MIN, _PHI_MAX] and leave it within the same range."""

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
def bp_decode(llr, grp_deg, grp_cnt, grp_base, col, num_iter, method, early_stop, llr_max,
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
