"""Exact theoretical bit error rates of Gray-mapped BPSK / QPSK / square QAM.

Detection is coherent, maximum-likelihood (nearest constellation point) and
hard-decision. Conventions: average symbol energy ``Es = 1``,
``Es/N0 = R * Eb/N0`` with ``R`` bits per symbol, and noise variance ``N0`` per
complex dimension (``N0/2`` per real dimension).

Square ``M``-QAM with ``sqrt(M) = 2**m`` levels per axis is two independent
Gray-mapped ``2**m``-PAM signals (one per quadrature), each carrying ``m``
bits. The exact bit error rate is the expression of Cho & Yoon, "On the
general BER expression of one- and two-dimensional amplitude modulations",
IEEE Trans. Commun. 50(7), 2002, eq. (14)-(16), a per-bit-position sum of
Q-function terms. It is rewritten here as

    BER(Eb/N0) = sum_j c_j * Q(sqrt(2 * a_j * Eb/N0)),

with constant weights ``c_j`` and SNR factors ``a_j``. BPSK (``2``-PAM) and
QPSK (``4``-QAM) are the case ``m = 1`` and have identical BER per ``Eb/N0``.

On flat Rayleigh fading with perfect CSI (``h ~ CN(0, 1)``) the instantaneous
``Eb/N0`` is exponentially distributed with mean ``gbar``; each term is
averaged in closed form,
``E[Q(sqrt(2 a g))] = 0.5 * (1 - sqrt(a gbar / (1 + a gbar)))``.
The same average BER holds for block fading and for fast (per-symbol) fading.

Which expression belongs to which channel is said by the channel's record
(:class:`channels.registry.ChannelSpec` ``theory``); a channel without one has no theory.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erfc

from channels.modulation import MODULATIONS

__all__ = [
    "MODULATION_BITS",
    "NoTheoryError",
    "ber",
    "ber_awgn",
    "ber_rayleigh",
    "gray_qam_terms",
    "has_theory",
]

MODULATION_BITS: dict[str, int] = {
    name: spec.num_bits_per_symbol for name, spec in MODULATIONS.items()
}
"""Bits per symbol of each supported modulation name (from :data:`channels.MODULATIONS`)."""



class NoTheoryError(ValueError):
    """The channel has no exact BER expression (its record's ``theory`` is None)."""


def _levels_per_axis_bits(num_bits_per_symbol: int) -> int:
    """Return ``m``, the number of Gray-PAM bits per real axis (BPSK: 1, QAM: R/2)."""
    r = int(num_bits_per_symbol)
    if r != num_bits_per_symbol or r < 1 or (r > 1 and r % 2):
        raise ValueError(
            f"num_bits_per_symbol must be 1 (BPSK) or a positive even integer "
            f"(square QAM), got {num_bits_per_symbol!r}"
        )
    return 1 if r == 1 else r // 2


@cache
def gray_qam_terms(num_bits_per_symbol: int) -> tuple[tuple[float, float], ...]:
    """Exact Gray BER as weighted Q-function terms (Cho & Yoon 2002).

    Args:
        num_bits_per_symbol: 1 (BPSK) or an even number ``2m`` (square QAM
            with ``2**m`` levels per axis).

    Returns:
        Pairs ``(c, a)`` such that ``BER = sum c * Q(sqrt(2 * a * Eb/N0))``
        with ``Eb/N0`` linear. Zero-weight terms are omitted.
    """
    m = _levels_per_axis_bits(num_bits_per_symbol)
    n_lev = 2**m  # levels per axis, sqrt(M) in Cho & Yoon
    # Cho & Yoon: P_b(k) = 1/sqrt(M) * sum_i w_{k,i} erfc((2i+1) sqrt(3 m gb / (L^2 - 1)))
    # with L = sqrt(M) and log2(M) = 2m; BER = (1/m) sum_k P_b(k); erfc(x) = 2 Q(sqrt(2) x).
    weights = np.zeros(n_lev - 1)
    for k in range(1, m + 1):
        half = 2 ** (k - 1)
        for i in range(int((1 - 2.0**-k) * n_lev)):
            q = (i * half) // n_lev
            weights[i] += (-1) ** q * (half - np.floor(i * half / n_lev + 0.5))
    scale = 2.0 / (n_lev * m)
    snr_base = 3.0 * m / (n_lev**2 - 1)
    return tuple(
        (float(scale * w), float(snr_base * (2 * i + 1) ** 2))
        for i, w in enumerate(weights)
        if w != 0
    )


def _ebno_linear(ebno_db: ArrayLike) -> np.ndarray:
    return 10.0 ** (np.asarray(ebno_db, dtype=np.float64) / 10.0)


def ber_awgn(num_bits_per_symbol: int, ebno_db: ArrayLike) -> np.ndarray:
    """Exact BER of Gray BPSK / square QAM on AWGN.

    Args:
        num_bits_per_symbol: 1 (BPSK) or even (QPSK 2, 16QAM 4, 64QAM 6, ...).
        ebno_db: Eb/N0 in dB, scalar or array.

    Returns:
        Bit error probability, float64 array with the shape of ``ebno_db``.
    """
    g = _ebno_linear(ebno_db)
    out = np.zeros_like(g)
    for c, a in gray_qam_terms(num_bits_per_symbol):
        out += c * 0.5 * erfc(np.sqrt(a * g))  # Q(sqrt(2 a g))
    return out


def ber_rayleigh(num_bits_per_symbol: int, ebno_db: ArrayLike) -> np.ndarray:
    """Exact average BER of Gray BPSK / square QAM on flat Rayleigh fading, perfect CSI.

    The fading gain is ``h ~ CN(0, 1)``, so ``ebno_db`` is the *average* Eb/N0.
    Valid for block fading and for fast (per-symbol) fading alike.

    Args:
        num_bits_per_symbol: 1 (BPSK) or even (QPSK 2, 16QAM 4, 64QAM 6, ...).
        ebno_db: average Eb/N0 in dB, scalar or array.

    Returns:
        Average bit error probability, float64 array with the shape of ``ebno_db``.
    """
    g = _ebno_linear(ebno_db)
    out = np.zeros_like(g)
    for c, a in gray_qam_terms(num_bits_per_symbol):
        x = a * g
        # 0.5 * (1 - sqrt(x / (1 + x))), written without cancellation at high SNR
        out += c * 0.5 / ((1.0 + x) * (1.0 + np.sqrt(x / (1.0 + x))))
    return out


def has_theory(channel: str) -> bool:
    """Whether the named channel (a label, options included) has an exact BER expression: its
    record carries one and its options leave it valid (no pilots: pilot overhead and estimated
    CSI are outside the closed form)."""
    from channels.registry import channel_choice

    choice = channel_choice(channel)
    return choice.spec.theory is not None and not dict(choice.options).get("pilots")


def ber(modulation: str, channel: str, ebno_db: ArrayLike) -> np.ndarray:
    """Exact BER of a named modulation on a named channel, from the channel's record.

    Args:
        modulation: one of ``"bpsk"``, ``"qpsk"``, ``"16qam"``, ``"64qam"``.
        channel: a registered channel name (``channels.CHANNELS``) or label with options.
        ebno_db: (average) Eb/N0 in dB, scalar or array.

    Returns:
        Bit error probability, float64 array with the shape of ``ebno_db``.

    Raises:
        ValueError: unknown modulation or channel name.
        NoTheoryError: the channel has no theory (never another channel's curve).
    """
    from channels.registry import channel_spec

    if modulation not in MODULATION_BITS:
        raise ValueError(f"unknown modulation {modulation!r}; valid: {', '.join(MODULATION_BITS)}")
    if not has_theory(channel):
        raise NoTheoryError(f"channel {channel!r} has no exact BER theory")
    return channel_spec(channel).theory(MODULATION_BITS[modulation], ebno_db)
