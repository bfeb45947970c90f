"""Systems by name: one :class:`~commgan.comm.system.SystemSpec` line each, plus systems from
outside the package.

The CLI's choices and defaults, the simulation, the attack suite's reference systems, export and
the experiments read :data:`SYSTEMS`; adding a system is one file (its class and record) and one
line here. A system from another package needs no edit here: it is found through the entry-point
group ``commgan.systems`` (name -> a ``SystemSpec`` or a ``System`` subclass) or named as
``package.module:Class`` on the command line. Options follow the name:
``qam-ldpc:k=512,n=1024`` (:func:`parse_systems`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from channels import get_modulation
from channels.options import checked_options, options_label, split_options
from commgan.comm.ae_ldpc import AE_LDPC
from commgan.comm.autoencoder import AE
from commgan.comm.classical import QAM, QAM_CHACHA
from commgan.comm.coded import QAM_LDPC, QAM_LDPC_CHACHA
from commgan.comm.encryption_training import GAN_ENC, GAN_ENC_NAIVE
from commgan.comm.gan_enc_ldpc import GAN_ENC_LDPC
from commgan.comm.ssd import QAM_SSD
from commgan.comm.system import System, SystemSpec
from commgan.errors import CommganError, shown

__all__ = ["ENTRY_POINT_GROUP", "SYSTEMS", "SystemChoice", "build_system",
           "default_sweep_systems", "file_label", "learned_systems", "parse_system_names",
           "parse_systems", "plugin_systems", "system_choice", "system_spec"]

SYSTEMS: dict[str, SystemSpec] = {
    spec.name: spec for spec in (QAM, QAM_SSD, QAM_CHACHA, AE, GAN_ENC, GAN_ENC_NAIVE, QAM_LDPC,
                                 QAM_LDPC_CHACHA, AE_LDPC, GAN_ENC_LDPC)
}

ENTRY_POINT_GROUP = "commgan.systems"
"""Entry-point group of systems from other packages: ``name = "package.module:ATTR"`` where
ATTR is a :class:`SystemSpec` or a :class:`System` subclass."""


@cache
def plugin_systems() -> dict[str, str]:
    """Installed systems of other packages: entry-point name -> its ``module:attr`` value."""
    points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {point.name.strip().lower(): point.value for point in points
            if point.name.strip().lower() not in SYSTEMS}


def system_spec(name: str) -> SystemSpec:
    """The record of system ``name`` (options after a ``:`` are ignored here): a registered
    name, an installed plug-in's name, or ``package.module:Class``; the error lists the valid
    names."""
    return system_choice(name).spec


def _spec_of(target: Any, where: str) -> SystemSpec:
    """A plug-in's object as a record: a ``SystemSpec`` as is, a ``System`` subclass wrapped."""
    if isinstance(target, SystemSpec):
        return target
    if isinstance(target, type) and issubclass(target, System):
        if not target.name:
            raise CommganError(f"system class {where} sets no name (class attribute `name`)")
        summary = (target.__doc__ or target.name).strip().splitlines()[0]
        return SystemSpec(target, summary)
    raise CommganError(f"{where} is neither a commgan System subclass nor a SystemSpec")


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@cache
def _imported(path: str) -> SystemSpec:
    """The record behind ``package.module:Attr``."""
    module_name, _, attribute = path.partition(":")
    if not (_DOTTED.fullmatch(module_name) and _DOTTED.fullmatch(attribute)):
        raise CommganError(f"{shown(path)} is neither a system name nor package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise CommganError(f"cannot import system module {shown(module_name)}: "
                           f"{shown(str(err), 120)}") from None
    except Exception as err:  # a plug-in's own code failed while importing
        raise CommganError(f"importing system module {shown(module_name)} failed: "
                           f"{type(err).__name__}: {shown(str(err))}") from None
    try:
        target = module
        for part in attribute.split("."):
            target = getattr(target, part)
    except AttributeError:
        raise CommganError(f"module {shown(module_name)} has no {shown(attribute)}") from None
    return _spec_of(target, shown(path))


@dataclass(frozen=True)
class SystemChoice:
    """A system as a user names it: its record, how it was named (``source``: a registered or
    plug-in name, or ``package.module:Class``) and its checked option values (defaults
    included)."""

    spec: SystemSpec
    source: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        """The canonical name of this system in a run: ``source`` and its non-default options,
        e.g. ``qam-ldpc:k=256,n=768`` (the ``system`` column of results, resumable)."""
        defaults = self.spec.options() if self.spec.options is not None else None
        return options_label(self.source, self.options, defaults)

    @property
    def option_dict(self) -> dict[str, Any]:
        return dict(self.options)

    def build(self, modulation_name: str, key: bytes | None = None, device: str = "cpu",
              **kwargs) -> System:
        """The system for modulation ``modulation_name`` with these options."""
        return self.spec.build(get_modulation(modulation_name), key=key, device=device,
                               options=self.option_dict, **kwargs)


def system_choice(text: str, more_options: tuple[str, ...] = ()) -> SystemChoice:
    """One system with its options: ``NAME``, ``NAME:OPT=V,OPT=V`` or ``package.module:Class``
    (options then follow as ``package.module:Class:OPT=V``); ``more_options``: further
    ``OPT=V`` items."""
    text = text.strip()
    head, options = split_options(text)
    if not head:
        raise CommganError(f"no system name in {shown(text)}; valid: {', '.join(SYSTEMS)}")
    name = head.lower()
    if name in SYSTEMS:
        spec, source = SYSTEMS[name], name
    elif name in plugin_systems():
        spec, source = _imported(plugin_systems()[name]), name
    elif ":" in head:
        spec, source = _imported(head), head
    else:
        valid = [*SYSTEMS, *plugin_systems()]
        raise CommganError(f"unknown system {shown(head)}; valid: {', '.join(valid)}, or "
                           "package.module:Class")
    items = [*options.split(","), *more_options]
    return SystemChoice(spec, source, _checked_options(spec, source, items))


def _checked_options(spec: SystemSpec, source: str, items: list[str]
                     ) -> tuple[tuple[str, Any], ...]:
    """``OPT=V`` items checked against the record's options dataclass; all fields, in order."""
    try:
        return checked_options(spec.options, f"system {source}", items)
    except ValueError as err:
        raise CommganError(str(err)) from None


def parse_systems(text: str) -> list[SystemChoice]:
    """Comma-separated systems with options: ``qam,qam-ldpc:k=512,n=1024,iterations=20`` (a
    token with ``=`` continues the previous system's options). Two tokens that name the same
    system with the same options are one; the error lists the valid names."""
    groups: list[list[str]] = []
    for token in (part.strip() for part in text.split(",")):
        if not token:
            continue
        if "=" in token and ":" not in token.split("=", 1)[0]:
            if not groups:
                raise CommganError(f"option {shown(token)} comes before any system name")
            groups[-1].append(token)
        else:
            groups.append([token])
    if not groups:
        raise CommganError(f"no system given; valid: {', '.join(SYSTEMS)}")
    choices: dict[str, SystemChoice] = {}
    for head, *more in groups:
        choice = system_choice(head, tuple(more))
        choices.setdefault(choice.label, choice)
    return list(choices.values())


def parse_system_names(text: str) -> list[str]:
    """Comma-separated systems (with options), validated: their canonical labels."""
    return [choice.label for choice in parse_systems(text)]


def file_label(label: str) -> str:
    """A system label as a file-name part: ``qam-ldpc:k=256,n=768`` -> ``qam-ldpc_k256_n768``;
    ``+`` becomes ``_`` as in the model cache."""
    text = label.replace("+", "_").replace(":", "_").replace(",", "_").replace("=", "")
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def default_sweep_systems() -> tuple[str, ...]:
    """Systems ``commgan simulate`` runs without ``--system``."""
    return tuple(name for name, spec in SYSTEMS.items() if spec.default_sweep)


def learned_systems() -> tuple[str, ...]:
    """Systems whose weights come from training."""
    return tuple(name for name, spec in SYSTEMS.items() if spec.learned is not None)


def build_system(name: str, mod: str, key: bytes | None = None, device: str = "cpu") -> System:
    """Construct system ``name`` (a label, options included) for modulation ``mod``; keyed
    systems get ``key``. Learned systems come out untrained: use
    :func:`commgan.systems.build_systems`."""
    return system_choice(name).build(mod, key=key, device=device)
