"""Channels by name (one :class:`ChannelSpec` record each), and the wiretap pair.

Adding a channel is one file (a :class:`~channels.base.Channel` subclass and its record) and one
line in :data:`CHANNELS`. A channel of another package needs no edit here: it is found through
the entry-point group ``commgan.channels`` (``name = "package.module:ATTR"``, ATTR a
:class:`ChannelSpec`), imported when first named.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from functools import cache

import torch

from channels.awgn import AWGN
from channels.base import Channel, ChannelOutput, ChannelSpec, noise_variance
from channels.rayleigh import RAYLEIGH, RAYLEIGH_FAST

__all__ = ["CHANNELS", "ENTRY_POINT_GROUP", "ChannelSpec", "WiretapChannel", "WiretapOutput",
           "channel_names", "channel_spec", "get_channel", "plugin_channels"]


CHANNELS: dict[str, ChannelSpec] = {spec.name: spec for spec in (AWGN, RAYLEIGH, RAYLEIGH_FAST)}
"""The built-in channels."""

ENTRY_POINT_GROUP = "commgan.channels"
"""Entry-point group of channels from other packages: ``name = "package.module:ATTR"`` where
ATTR is a :class:`ChannelSpec` whose channel class has that ``name``."""


@cache
def plugin_channels() -> dict[str, str]:
    """Installed channels of other packages: entry-point name -> its ``module:attr`` value (a
    built-in name is never shadowed)."""
    points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {point.name.strip().lower(): point.value for point in points
            if point.name.strip().lower() not in CHANNELS}


def channel_names() -> list[str]:
    """Every channel name: the built-in ones, then those of installed plug-ins (not imported)."""
    return [*CHANNELS, *plugin_channels()]


def channel_spec(name: str) -> ChannelSpec:
    """The record of channel ``name``, built-in or from a plug-in; the error (ValueError) lists
    the valid names, or says why a plug-in's record cannot be loaded."""
    key = name.strip().lower()
    if key in CHANNELS:
        return CHANNELS[key]
    if key in plugin_channels():
        return _plugin_spec(key, plugin_channels()[key])
    raise ValueError(f"unknown channel {name!r}; valid: {', '.join(channel_names())}")


@cache
def _plugin_spec(name: str, path: str) -> ChannelSpec:
    """The record behind entry point ``name = "module:attr"``, checked."""
    where = f"channel {name!r} (entry point {path!r} of group {ENTRY_POINT_GROUP})"
    module_name, _, attribute = path.partition(":")
    try:
        target = importlib.import_module(module_name.strip())
    except Exception as err:  # a plug-in's import may fail in any way
        raise ValueError(f"{where}: cannot import {module_name.strip()!r}: "
                         f"{type(err).__name__}: {err}") from None
    try:
        for part in attribute.strip().split(".") if attribute.strip() else ():
            target = getattr(target, part)
    except AttributeError:
        raise ValueError(f"{where}: module {module_name.strip()!r} has no "
                         f"{attribute.strip()!r}") from None
    if not isinstance(target, ChannelSpec):
        raise ValueError(f"{where} is not a ChannelSpec but {type(target).__name__}")
    if not (isinstance(target.channel, type) and issubclass(target.channel, Channel)):
        raise ValueError(f"{where}: its channel is not a channels.Channel subclass")
    if target.name.lower() != name:
        raise ValueError(f"{where}: its channel class is named {target.name!r}; the entry "
                         "point must use the same name")
    return target


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
