"""Systems by name: the factory the CLI, the simulator and the attacks use."""

from __future__ import annotations

from collections.abc import Callable

from channels import get_modulation
from commgan.comm.autoencoder import AutoencoderSystem
from commgan.comm.classical import QAMChaChaSystem, QAMSystem
from commgan.comm.encryption import GanEncNaiveSystem, GanEncSystem
from commgan.comm.system import System
from commgan.errors import CommganError

__all__ = ["LEARNED", "SYSTEMS", "build_system", "parse_system_names"]

SYSTEMS: dict[str, Callable[..., System]] = {
    "qam": QAMSystem,
    "qam+chacha": QAMChaChaSystem,
    "ae": AutoencoderSystem,
    "gan-enc": GanEncSystem,
    "gan-enc-naive": GanEncNaiveSystem,
}
LEARNED = frozenset({"ae", "gan-enc", "gan-enc-naive"})
"""Systems whose weights come from training (see commgan.sim.models)."""


def parse_system_names(text: str) -> list[str]:
    """Comma-separated system names, validated; the error lists the valid names."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise CommganError(f"no system given; valid: {', '.join(SYSTEMS)}")
    unknown = [name for name in names if name not in SYSTEMS]
    if unknown:
        raise CommganError(f"unknown system {unknown[0]!r}; valid: {', '.join(SYSTEMS)}")
    return list(dict.fromkeys(names))


def build_system(name: str, mod: str, key: bytes | None = None, device: str = "cpu") -> System:
    """Construct system ``name`` for modulation ``mod``; keyed systems get ``key``.

    Learned systems come out untrained: use :func:`commgan.sim.models.build_systems`.
    """
    factory = SYSTEMS[parse_system_names(name)[0]]
    return factory(get_modulation(mod), key=key, device=device)
