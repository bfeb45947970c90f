"""Flat Rayleigh fading: block fading and fast (per-symbol) fading, from Sionna's generator."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sionna.phy.channel import GenerateFlatFadingChannel

from channels.base import Channel, ChannelSpec
from channels.theory import ber_rayleigh

__all__ = ["RAYLEIGH", "RAYLEIGH_FAST", "RayleighBlockChannel", "RayleighBlockOptions",
           "RayleighFastChannel"]


class RayleighBlockChannel(Channel):
    """Flat block fading: y = h * x + n with one h ~ CN(0, 1) per block of symbols.

    ``block_length``: symbols per fading block; ``None`` (default) means one block per frame
    (one coefficient per row of the batch). A final partial block keeps its own coefficient.

    Example::

        >>> import torch
        >>> from channels import RayleighBlockChannel
        >>> out = RayleighBlockChannel()(torch.ones(4, 16, dtype=torch.complex64), 0.01)
        >>> bool((out.h == out.h[:, :1]).all())
        True
    """

    name = "rayleigh"

    def __init__(self, block_length: int | None = None, device: str | None = None) -> None:
        super().__init__(device=device)
        if block_length is not None and block_length < 1:
            raise ValueError(f"block_length must be a positive integer, got {block_length}")
        self.block_length = block_length
        self._generate = GenerateFlatFadingChannel(num_tx_ant=1, num_rx_ant=1,
                                                    device=self.device)

    def coefficients(self, batch_size: int, num_symbols: int) -> torch.Tensor:
        block = num_symbols if self.block_length is None else self.block_length
        num_blocks = -(-num_symbols // block)
        h = self._generate(batch_size * num_blocks).reshape(batch_size, num_blocks)
        if num_blocks == 1:
            return h.expand(batch_size, num_symbols)
        return h.repeat_interleave(block, dim=1)[:, :num_symbols]


class RayleighFastChannel(RayleighBlockChannel):
    """Fast flat fading: an independent h ~ CN(0, 1) for every symbol."""

    name = "rayleigh-fast"

    def __init__(self, device: str | None = None) -> None:
        super().__init__(block_length=1, device=device)

    def coefficients(self, batch_size: int, num_symbols: int) -> torch.Tensor:
        return self._generate(batch_size * num_symbols).reshape(batch_size, num_symbols)


@dataclass
class RayleighBlockOptions:
    """Options of ``rayleigh``."""

    block_length: int | None = None
    """Symbols per fading block; None = one block per frame."""


RAYLEIGH = ChannelSpec(RayleighBlockChannel, "flat block fading, one CN(0, 1) coefficient per "
                       "frame", theory=ber_rayleigh, train_ebno_db=(0.0, 20.0),
                       options=RayleighBlockOptions)
RAYLEIGH_FAST = ChannelSpec(RayleighFastChannel, "flat fast fading, one CN(0, 1) coefficient per "
                            "symbol", theory=ber_rayleigh, train_ebno_db=(10.0, 30.0),
                            independent_fades=True)
