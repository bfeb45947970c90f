"""Systems by name: one :class:`~commgan.comm.system.SystemSpec` line each.

The CLI's choices and defaults, the simulation, the attack suite's reference systems, export and
the experiments read :data:`SYSTEMS`; adding a system is one file (its class and record) and one
line here.
"""

from __future__ import annotations

from channels import get_modulation
from commgan.comm.autoencoder import AE
from commgan.comm.classical import QAM, QAM_CHACHA
from commgan.comm.encryption_training import GAN_ENC, GAN_ENC_NAIVE
from commgan.comm.ssd import QAM_SSD
from commgan.comm.system import System, SystemSpec
from commgan.errors import CommganError

__all__ = ["SYSTEMS", "build_system", "default_sweep_systems", "learned_systems",
           "parse_system_names", "system_spec"]

SYSTEMS: dict[str, SystemSpec] = {
    spec.name: spec for spec in (QAM, QAM_SSD, QAM_CHACHA, AE, GAN_ENC, GAN_ENC_NAIVE)
}


def system_spec(name: str) -> SystemSpec:
    """The record of system ``name``; the error lists the valid names."""
    try:
        return SYSTEMS[name.strip().lower()]
    except KeyError:
        raise CommganError(f"unknown system {name!r}; valid: {', '.join(SYSTEMS)}") from None


def default_sweep_systems() -> tuple[str, ...]:
    """Systems ``commgan simulate`` runs without ``--system``."""
    return tuple(name for name, spec in SYSTEMS.items() if spec.default_sweep)


def learned_systems() -> tuple[str, ...]:
    """Systems whose weights come from training."""
    return tuple(name for name, spec in SYSTEMS.items() if spec.learned is not None)


def parse_system_names(text: str) -> list[str]:
    """Comma-separated system names, validated; the error lists the valid names."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise CommganError(f"no system given; valid: {', '.join(SYSTEMS)}")
    for name in names:
        system_spec(name)
    return list(dict.fromkeys(names))


def build_system(name: str, mod: str, key: bytes | None = None, device: str = "cpu") -> System:
    """Construct system ``name`` for modulation ``mod``; keyed systems get ``key``.

    Learned systems come out untrained: use :func:`commgan.systems.build_systems`.
    """
    return system_spec(name).build(get_modulation(mod), key=key, device=device)
