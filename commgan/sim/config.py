"""The simulation config: the single source of truth, saved as JSON next to the results."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["SimulationConfig"]


def _default_sweep() -> tuple[str, ...]:
    """The registry's default sweep (records marked ``default_sweep``)."""
    from commgan.comm.registry import default_sweep_systems

    return default_sweep_systems()


@dataclass
class SimulationConfig:
    """Everything that determines a BER sweep's numbers (the key is not part of it)."""

    channel: str = "rayleigh"
    """Channel model, a name of ``channels.CHANNELS`` (awgn, rayleigh, rayleigh-fast, ...)."""
    mod: str = "16qam"
    """Modulation of the classical baseline; sets R = bits per channel use."""
    systems: tuple[str, ...] = field(default_factory=lambda: _default_sweep())
    """Systems to simulate, by label: name and non-default options (``qam-ldpc:k=256,n=768``)."""
    ebno_db: tuple[float, ...] = tuple(float(v) for v in range(0, 21, 2))
    """Eb/N0 grid in dB."""
    target_errors: int | None = 1000
    """Stop a point once every receiver has this many bit errors (None: off)..."""
    target_block_errors: int | None = None
    """...or this many block errors (codewords; frames for a system without blocks; None:
    off)..."""
    max_bits: int = 10_000_000
    """...or once this many bits were sent (per point)."""
    frame_bits: int = 512
    """Frame length L in bits; frames are the independent units of the intervals."""
    batch_bits: int = 1 << 19
    """Bits per Monte Carlo batch (rounded to whole frames)."""
    channel_options: dict[str, Any] = field(default_factory=dict)
    """Options of the channel (its record's options dataclass, e.g. ``block_length`` of
    ``rayleigh``); empty = the channel's defaults."""
    eve_ebno_offset_db: float = 0.0
    """Eve's Eb/N0 minus Bob's, in dB."""
    eve_for_all: bool = False
    """Also report Eve for unkeyed systems (her receiver is Bob's, by Kerckhoffs' principle)."""
    early_stop: bool = True
    """Stop a system's sweep after the first Eb/N0 at which Bob sees no bit error."""
    confidence: float = 0.95
    """Level of the reported intervals."""
    seed: int = 0
    """Seed of every random draw (per point: derived from seed, system and Eb/N0)."""
    device: str = "cpu"
    """Torch device the simulation runs on."""
    models: dict[str, str] = field(default_factory=dict)
    """Fingerprints of learned models used (system -> checkpoint hash)."""

    @property
    def batch_frames(self) -> int:
        return max(1, self.batch_bits // self.frame_bits)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["systems"] = list(self.systems)
        data["ebno_db"] = list(self.ebno_db)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SimulationConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("systems", "ebno_db"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def fingerprint(self) -> str:
        """Hash of everything that changes the numbers (to resume only a matching sweep)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
