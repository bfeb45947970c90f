"""Randomness: one seed derivation for every run, and the one place that seeds Sionna.

Sionna's blocks (bit source, AWGN, fading) draw from Sionna's global generator and take no
generator argument, so :func:`use_seed` is the only code in commgan that sets
``sionna.phy.config.seed``; likewise torch's modules initialise their weights from torch's global
generator (constructors and ``reset_parameters`` take no generator), so :func:`seed_weights` is
the only code that seeds it; callers pass it a seed derived with :func:`derive_seed` from the work
unit (run seed, system, Eb/N0, chunk, ...), so a unit's numbers do not depend on what ran
before it. Setting Sionna's seed also seeds torch's default CPU generator (Sionna does that).
Everything else takes an explicit ``torch.Generator`` or seed.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

__all__ = ["NonceCounter", "derive_seed", "generator", "random_bits", "seed_weights", "use_seed"]


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any labels, ``sha256("p0|p1|...")``, stable across runs and platforms.

    Floats that label a unit (e.g. an Eb/N0) are passed pre-formatted by the caller so that
    0.1 + 0.2 and 0.3 name the same unit.
    """
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def use_seed(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """Seed Sionna's global generators (and torch's default CPU generator) with ``seed``.

    Returns Sionna's generator of ``device``, the one its blocks draw from, for code that draws
    beside them. The only writer of ``sionna.phy.config.seed`` in commgan.
    """
    import sionna.phy

    sionna.phy.config.seed = int(seed) % (1 << 64)
    return sionna.phy.config.torch_rng(str(device))


def seed_weights(seed: int) -> None:
    """Seed torch's global generators (CPU and CUDA) with ``seed``: weight initialisation and
    other draws of torch modules that take no generator. The only such call in commgan."""
    torch.manual_seed(int(seed))


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh torch generator on ``device`` seeded with ``seed`` (nothing global is touched)."""
    return torch.Generator(device=torch.device(device)).manual_seed(int(seed) % (1 << 63))


def random_bits(shape: tuple[int, ...] | list[int], device: str | torch.device = "cpu",
                generator: torch.Generator | None = None) -> torch.Tensor:
    """The bit source: i.i.d. uniform bits, float32 {0, 1} of ``shape`` (as Sionna's
    ``BinarySource`` draws them), from ``generator`` or else Sionna's (seeded by
    :func:`use_seed`)."""
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
