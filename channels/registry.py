"""Channels by name (one :class:`ChannelSpec` record each), and the wiretap pair.

Adding a channel is one file (a :class:`~channels.base.Channel` subclass and its record) and one
line in :data:`CHANNELS`. A channel of another package needs no edit here: it is found through
the entry-point group ``commgan.channels`` (``name = "package.module:ATTR"``, ATTR a
:class:`ChannelSpec`), imported when first named.

A channel is named with its options as one label, ``rayleigh:coherence=32,pilots=2,estimator=ls``
(:func:`channel_choice`); every function here that takes a channel name takes such a label.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch

from channels.awgn import AWGN
from channels.base import Channel, ChannelOutput, ChannelSpec, noise_variance
from channels.options import checked_options, options_label, quoted
from channels.rayleigh import RAYLEIGH, RAYLEIGH_FAST

__all__ = ["CHANNELS", "ENTRY_POINT_GROUP", "ChannelChoice", "ChannelSpec", "WiretapChannel",
           "WiretapOutput", "channel_choice", "channel_names", "channel_spec", "get_channel",
           "plugin_channels"]


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
    """The record of channel ``name`` (a label: options are checked), built-in or from a
    plug-in; the error (ValueError) lists the valid names, or says why a plug-in's record cannot
    be loaded."""
    return channel_choice(name).spec


def _named_spec(name: str) -> ChannelSpec:
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


@dataclass(frozen=True)
class ChannelChoice:
    """A channel with its checked option values (all fields of its options dataclass, in order).

    Example::

        >>> from channels import channel_choice
        >>> channel_choice("Rayleigh: pilots=2, coherence=32, estimator=LS").label
        'rayleigh:coherence=32,pilots=2,estimator=ls'
        >>> channel_choice("rayleigh:pilots=0").label
        'rayleigh'
    """

    spec: ChannelSpec
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        """The canonical text of this channel: its name and its non-default options (equal
        labels, equal channels)."""
        defaults = self.spec.options() if self.spec.options is not None else None
        return options_label(self.name, self.options, defaults)

    @property
    def changed_options(self) -> dict[str, Any]:
        """The options that differ from their defaults (empty for a plain name)."""
        defaults = self.spec.options() if self.spec.options is not None else None
        return {name: value for name, value in self.options
                if getattr(defaults, name) != value}

    @property
    def independent_fades(self) -> bool:
        """Whether every data symbol fades independently with these options (the record's
        ``independent_fades``, a bool or a function of the options instance)."""
        rule = self.spec.independent_fades
        if callable(rule):
            return bool(rule(self.spec.options(**dict(self.options))))
        return bool(rule)

    def build(self, device: str | None = None) -> Channel:
        return self.spec.channel(device=device, **dict(self.options))


def channel_choice(text: str, **options) -> ChannelChoice:
    """A channel from its label ``NAME`` or ``NAME:OPT=V,OPT=V`` (option names and values as
    its record's options dataclass declares them), plus ``options`` as keyword values (an
    option given in both must agree). The error (ValueError, one line) names what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"a channel is named by text, got {type(text).__name__}")
    head, _, items = text.partition(":")
    if not head.strip():
        raise ValueError(f"no channel name in {quoted(text)}; valid: "
                         f"{', '.join(channel_names())}")
    spec = _named_spec(head)
    return ChannelChoice(spec, checked_options(spec.options, f"channel {spec.name}",
                                               items.split(","), given=options))


def get_channel(name: str, device: str | None = None, **options) -> Channel:
    """Build a channel by name or label (``awgn``, ``rayleigh``,
    ``rayleigh:coherence=32,pilots=2,estimator=ls``, ``rayleigh-fast``, ...).

    ``options`` go to the constructor too (e.g. ``coherence`` for ``rayleigh``).
    """
    return channel_choice(name, **options).build(device=device)


@dataclass
class WiretapOutput:
    """What Bob and Eve receive from one transmission."""

    bob: ChannelOutput
    eve: ChannelOutput


class WiretapChannel(torch.nn.Module):
    """Bob's and Eve's links: two independent realisations of the same channel model.

    Eve's Eb/N0 is Bob's plus ``eve_ebno_offset_db``. Input ``x``: [B, n] complex, unit average
    energy per symbol, carrying ``bits_per_channel_use`` information bits per symbol. Pilots
    are charged: the noise is set for R times the channel's ``rate_factor(n)``.
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
        rate = float(bits_per_channel_use) * self.bob.rate_factor(x.shape[-1])
        bob = self.bob(x, noise_variance(ebno_db, rate, device=device))
        eve_out = None
        if eve:
            eve_no = noise_variance(ebno_db + self.eve_ebno_offset_db, rate, device=device)
            eve_out = self.eve(x, eve_no)
        return WiretapOutput(bob=bob, eve=eve_out)
