"""Channels by name (one :class:`ChannelSpec` record each), and the wiretap pair.

Adding a channel is one file (a :class:`~channels.base.Channel` subclass and its record) and one
line in :data:`CHANNELS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from channels.awgn import AWGN
from channels.base import Channel, ChannelOutput, ChannelSpec, noise_variance
from channels.rayleigh import RAYLEIGH, RAYLEIGH_FAST

__all__ = ["CHANNELS", "ChannelSpec", "WiretapChannel", "WiretapOutput", "channel_spec",
           "get_channel"]


CHANNELS: dict[str, ChannelSpec] = {spec.name: spec for spec in (AWGN, RAYLEIGH, RAYLEIGH_FAST)}


def channel_spec(name: str) -> ChannelSpec:
    """The record of channel ``name``; the error lists the valid names."""
    try:
        return CHANNELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown channel {name!r}; valid: {', '.join(CHANNELS)}") from None


def get_channel(name: str, device: str | None = None, **options) -> Channel:
    """Build a channel by name (``awgn``, ``rayleigh``, ``rayleigh-fast``, ...).

    ``options`` go to the constructor (e.g. ``block_length`` for ``rayleigh``).
    """
    return channel_spec(name).build(device=device, **options)


@dataclass
class WiretapOutput:
    """What Bob and Eve receive from one transmission."""

    bob: ChannelOutput
    eve: ChannelOutput


class WiretapChannel(torch.nn.Module):
    """Bob's and Eve's links: two independent realisations of the same channel model.

    Eve's Eb/N0 is Bob's plus ``eve_ebno_offset_db``. Input ``x``: [B, n] complex, unit average
    energy per symbol, carrying ``bits_per_channel_use`` information bits per symbol.
    """

    def __init__(
        self, name: str, eve_ebno_offset_db: float = 0.0, device: str | None = None, **options
    ) -> None:
        super().__init__()
        self.bob = get_channel(name, device=device, **options)
        self.eve = get_channel(name, device=device, **options)
        self.eve_ebno_offset_db = float(eve_ebno_offset_db)

    def forward(
        self, x: torch.Tensor, ebno_db: float, bits_per_channel_use: float, eve: bool = True
    ) -> WiretapOutput:
        device = str(x.device)
        bob = self.bob(x, noise_variance(ebno_db, bits_per_channel_use, device=device))
        eve_out = None
        if eve:
            eve_no = noise_variance(
                ebno_db + self.eve_ebno_offset_db, bits_per_channel_use, device=device
            )
            eve_out = self.eve(x, eve_no)
        return WiretapOutput(bob=bob, eve=eve_out)
