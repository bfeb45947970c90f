"""Randomness: one seed derivation for every run, and scoped seeding of the global generators.

Sionna's blocks (bit source, AWGN, fading) draw from Sionna's global generators and take no
generator argument, and torch's modules initialise their weights from torch's global generator
(constructors and ``reset_parameters`` take no generator). Code that needs them seeded does so in
a scope: ``with seeded(seed, device) as generator:`` (Sionna's generators, and through Sionna
torch's default CPU and CUDA generators) or ``with seeded_weights(seed):`` (torch's default
generators), with a seed derived by :func:`derive_seed` from the work unit (run seed, system,
Eb/N0, chunk, ...), so a unit's numbers do not depend on what ran before it. On leaving the scope
every global generator is as it was on entering (:func:`scoped_rng`): no library call or command
leaves the global random state changed by its seeding. Everything else takes an explicit
``torch.Generator`` or seed.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

__all__ = ["NonceCounter", "derive_seed", "generator", "random_bits", "scoped_rng", "seed_weights",
           "seeded", "seeded_weights", "set_torch_rng_state", "torch_rng_state", "use_seed"]


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any labels, ``sha256("p0|p1|...")``, stable across runs and platforms.

    Floats that label a unit (e.g. an Eb/N0) are passed pre-formatted by the caller so that
    0.1 + 0.2 and 0.3 name the same unit.
    """
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def use_seed(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """Seed Sionna's global generators (and, as Sionna does, torch's default CPU and CUDA
    generators) with ``seed``, and leave them so: for scripts; library code uses :func:`seeded`.

    Returns Sionna's generator of ``device``, the one its blocks draw from, for code that draws
    beside them.
    """
    import sionna.phy

    sionna.phy.config.seed = int(seed) % (1 << 64)
    return sionna.phy.config.torch_rng(str(device))


def seed_weights(seed: int) -> None:
    """Seed torch's default generators (CPU and CUDA) with ``seed``, and leave them so: for
    scripts; library code uses :func:`seeded_weights`."""
    torch.manual_seed(int(seed))


def _cuda_devices() -> list[int]:
    """The CUDA devices whose default generators a scope saves (all of them, when CUDA is
    there)."""
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def _sionna_config() -> Any:
    """Sionna's global config (``sionna.phy.config``), or None when Sionna is not imported
    (then it has no state yet)."""
    module = sys.modules.get("sionna.phy.config")
    return getattr(module, "config", None)


@contextmanager
def scoped_rng() -> Iterator[None]:
    """On exit, put every global generator a seeding writes back as it was on entry: torch's
    default CPU generator and CUDA generators (``torch.random.fork_rng``), and Sionna's seed,
    torch generators per device, NumPy and Python generators (the very objects, so a draw
    made on one of them inside the scope stays made, as it would without the scope)."""
    config = _sionna_config()
    sionna_state = None if config is None else (
        config._seed, config._torch_rngs, config._np_rng, config._py_rng)
    with torch.random.fork_rng(devices=_cuda_devices()):
        try:
            yield
        finally:
            if config is not None:
                (config._seed, config._torch_rngs, config._np_rng,
                 config._py_rng) = sionna_state


@contextmanager
def seeded(seed: int, device: str | torch.device = "cpu") -> Iterator[torch.Generator]:
    """Within the block, Sionna's global generators (and torch's default CPU and CUDA
    generators, which Sionna seeds with them) are seeded with ``seed``; on exit all are as they
    were (:func:`scoped_rng`). Yields Sionna's generator of ``device``, the one its blocks draw
    from, for code that draws beside them."""
    with scoped_rng():
        yield use_seed(seed, device)


@contextmanager
def seeded_weights(seed: int) -> Iterator[None]:
    """Within the block, torch's default generators (CPU and CUDA) are seeded with ``seed``:
    weight initialisation and the other draws of torch modules that take no generator. On exit
    they are as they were (:func:`scoped_rng`)."""
    with scoped_rng():
        seed_weights(seed)
        yield


def torch_rng_state() -> dict[str, torch.Tensor]:
    """The states of torch's default generators: ``"cpu"`` and ``"cuda:N"`` per CUDA device,
    for :func:`set_torch_rng_state` (e.g. a stream continued across scopes)."""
    state = {"cpu": torch.random.get_rng_state()}
    state.update({f"cuda:{index}": torch.cuda.get_rng_state(index) for index in _cuda_devices()})
    return state


def set_torch_rng_state(state: dict[str, torch.Tensor]) -> None:
    """Restore the states of torch's default generators saved by :func:`torch_rng_state`."""
    for name, value in state.items():
        if name == "cpu":
            torch.random.set_rng_state(value)
        else:
            torch.cuda.set_rng_state(value, int(name.split(":")[1]))


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh torch generator on ``device`` seeded with ``seed`` (nothing global is touched)."""
    return torch.Generator(device=torch.device(device)).manual_seed(int(seed) % (1 << 63))


def random_bits(shape: tuple[int, ...] | list[int], device: str | torch.device = "cpu",
                generator: torch.Generator | None = None) -> torch.Tensor:
    """The bit source: i.i.d. uniform bits, float32 {0, 1} of ``shape`` (as Sionna's
    ``BinarySource`` draws them), from ``generator`` or else Sionna's (seeded by
    :func:`seeded`)."""
    from sionna.phy.utils import randint

    return randint(0, 2, list(shape), dtype=torch.float32, device=device, generator=generator)


class NonceCounter:
    """Fresh, never repeating frame nonces of one unit: ``base + 0, 1, 2, ...``.

    ``base = (seed mod 2**31) * 2**32``: disjoint ranges for different seeds unless 2**32 frames
    are drawn from one.
    """

    def __init__(self, seed: int) -> None:
        self.next = (int(seed) & 0x7FFFFFFF) << 32

    def fresh(self, count: int) -> np.ndarray:
        """``count`` nonces [count] int64 never handed out before by this counter."""
        nonces = np.arange(self.next, self.next + count, dtype=np.int64)
        self.next += count
        return nonces
