"""Flat Rayleigh fading: block fading and fast (per-symbol) fading, from Sionna's generator.

Block fading may carry pilots: each coherence block of N channel uses holds Np pilot symbols and
N - Np data symbols, and the receiver gets the pilot estimate of h (:mod:`channels.estimation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from channels.base import Channel, ChannelOutput, ChannelSpec, PilotBlocks
from channels.estimation import ESTIMATORS, PILOT, per_symbol, pilot_estimate
from channels.theory import ber_rayleigh

__all__ = ["RAYLEIGH", "RAYLEIGH_FAST", "RayleighBlockChannel", "RayleighBlockOptions",
           "RayleighFastChannel", "check_block_options"]


def check_block_options(coherence: int | None, pilots: int, estimator: str) -> None:
    """Raise ValueError (one line) unless the options describe a valid block-fading channel."""
    if coherence is not None and (isinstance(coherence, bool) or not isinstance(coherence, int)
                                  or coherence < 1):
        raise ValueError(f"coherence (symbols per fading block, formerly block_length) must be "
                         f"a positive integer or none, got {coherence}")
    if isinstance(pilots, bool) or not isinstance(pilots, int) or pilots < 0:
        raise ValueError(f"pilots must be a non-negative integer, got {pilots}")
    if coherence is not None and pilots >= coherence:
        raise ValueError(f"pilots ({pilots}) must be fewer than the coherence length "
                         f"({coherence}) to leave room for data")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    if estimator != "perfect" and pilots == 0:
        raise ValueError(f"estimator {estimator} needs pilots >= 1")


class RayleighBlockChannel(Channel):
    """Flat block fading: y = h * x + n with one h ~ CN(0, 1) per coherence block.

    ``coherence``: channel uses per fading block; ``None`` (default) means one block per frame
    (one coefficient per row of the batch). ``pilots``: Np pilot symbols per block (default 0:
    no pilots, no overhead); the input's n data symbols fill blocks of ``coherence - pilots``
    (all n with ``coherence=None``), a final partial block keeping its own coefficient and its
    pilots. ``estimator``: the CSI the receiver gets, ``perfect`` (true h), ``ls`` or ``lmmse``.
    The output keeps the data symbols' shape [B, n]; pilots cost channel uses
    (:meth:`rate_factor`). Pilots are sent (and their noise drawn) whatever the estimator, so
    the estimators of one seed see the same fades and noise.

    Example::

        >>> import torch
        >>> from channels import RayleighBlockChannel
        >>> out = RayleighBlockChannel()(torch.ones(4, 16, dtype=torch.complex64), 0.01)
        >>> bool((out.h == out.h[:, :1]).all())
        True
    """

    name = "rayleigh"

    def __init__(self, coherence: int | None = None, pilots: int = 0,
                 estimator: str = "perfect", device: str | None = None) -> None:
        super().__init__(device=device)
        check_block_options(coherence, pilots, estimator)
        self.coherence, self.pilots, self.estimator = coherence, pilots, estimator
        from sionna.phy.channel import GenerateFlatFadingChannel  # lazy: see channels/base.py

        self._generate = GenerateFlatFadingChannel(num_tx_ant=1, num_rx_ant=1,
                                                    device=self.device)

    @property
    def block_length(self) -> int | None:
        """Former name of :attr:`coherence`."""
        return self.coherence

    def data_per_block(self, num_symbols: int) -> int:
        """Data symbols per coherence block of a frame of ``num_symbols`` data symbols."""
        if self.coherence is None:
            return num_symbols
        return self.coherence - self.pilots

    def rate_factor(self, num_symbols: int) -> float:
        """n / (n + K Np) for n data symbols in K blocks: (N - Np) / N when N - Np divides n."""
        if not self.pilots:
            return 1.0
        blocks = -(-num_symbols // self.data_per_block(num_symbols))
        return num_symbols / (num_symbols + blocks * self.pilots)

    def coefficients(self, batch_size: int, num_symbols: int) -> torch.Tensor:
        return per_symbol(self._fades(batch_size, num_symbols),
                           self.data_per_block(num_symbols), num_symbols)

    def _fades(self, batch_size: int, num_symbols: int) -> torch.Tensor:
        """One coefficient per block, [B, K]."""
        blocks = -(-num_symbols // self.data_per_block(num_symbols))
        return self._generate(batch_size * blocks).reshape(batch_size, blocks)

    def forward(self, x: torch.Tensor, no: float | torch.Tensor) -> ChannelOutput:
        if not self.pilots:
            return super().forward(x, no)
        self._check_input(x)
        no = torch.as_tensor(no, dtype=torch.float32, device=x.device)
        batch_noise = no if no.dim() == 0 else no.reshape(-1, 1)
        data, num_symbols = self.data_per_block(x.shape[1]), x.shape[1]
        fades = self._fades(x.shape[0], num_symbols)
        h = per_symbol(fades, data, num_symbols)
        y = self._awgn(h * x, batch_noise)
        sent = torch.full((*fades.shape, self.pilots), PILOT, dtype=x.dtype, device=x.device)
        received = self._awgn(fades.unsqueeze(-1) * sent,
                              no if no.dim() == 0 else no.reshape(-1, 1, 1))
        if self.estimator == "perfect":
            return ChannelOutput(y=y, h=h, no=no)
        estimate, error_var = pilot_estimate(received, batch_noise, self.estimator)
        return ChannelOutput(y=y, h=per_symbol(estimate, data, num_symbols), no=no,
                             csi_error_var=per_symbol(error_var, data, num_symbols),
                             pilots=PilotBlocks(received, data, self.estimator))


class RayleighFastChannel(RayleighBlockChannel):
    """Fast flat fading: an independent h ~ CN(0, 1) for every symbol."""

    name = "rayleigh-fast"

    def __init__(self, device: str | None = None) -> None:
        super().__init__(coherence=1, device=device)

    def coefficients(self, batch_size: int, num_symbols: int) -> torch.Tensor:
        return self._generate(batch_size * num_symbols).reshape(batch_size, num_symbols)


@dataclass
class RayleighBlockOptions:
    """Options of ``rayleigh``."""

    aliases: ClassVar[dict[str, str]] = {"block_length": "coherence"}

    coherence: int | None = None
    """Channel uses per fading block (pilots included); None = one block per frame."""
    pilots: int = 0
    """Pilot symbols per block; 0 = none (no overhead, only ``perfect`` CSI)."""
    estimator: str = "perfect"
    """CSI of the receiver: perfect, ls (least squares) or lmmse (knowing h ~ CN(0, 1))."""

    def __post_init__(self) -> None:
        self.estimator = self.estimator.strip().lower()
        check_block_options(self.coherence, self.pilots, self.estimator)


def one_data_symbol_per_block(options: RayleighBlockOptions) -> bool:
    """Whether each data symbol has a fading block of its own (``coherence - pilots == 1``):
    fast fading, e.g. ``rayleigh:coherence=2,pilots=1`` (one pilot per fade)."""
    return options.coherence is not None and options.coherence - options.pilots == 1


RAYLEIGH = ChannelSpec(RayleighBlockChannel, "flat block fading, one CN(0, 1) coefficient per "
                       "frame (or per coherence block; pilots and estimated CSI as options)",
                       theory=ber_rayleigh, train_ebno_db=(0.0, 20.0),
                       options=RayleighBlockOptions,
                       independent_fades=one_data_symbol_per_block)
RAYLEIGH_FAST = ChannelSpec(RayleighFastChannel, "flat fast fading, one CN(0, 1) coefficient per "
                            "symbol", theory=ber_rayleigh, train_ebno_db=(10.0, 30.0),
                            independent_fades=True)
