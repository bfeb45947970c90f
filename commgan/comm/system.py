"""The one interface every link implements; the simulator, CLI and attacks talk only to it.

Sionna's ``sim_ber`` contract is ``mc_fun(batch_size, ebno_db) -> (b, b_hat)``. Ours is the same
idea with two additions the security evaluation needs: one transmission is received by Bob and,
for keyed systems, by Eve over her own channel realisation; and errors are counted per frame so
that confidence intervals can treat frames (not bits) as the independent units.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from sionna.phy.mapping import BinarySource

from channels import ChannelOutput, ModulationSpec, WiretapChannel
from commgan.comm.keys import KeyStream
from commgan.errors import CommganError

__all__ = ["System", "frame_bit_errors"]


def frame_bit_errors(bits: torch.Tensor, bits_hat: torch.Tensor) -> torch.Tensor:
    """Bit errors per frame: ``bits``, ``bits_hat`` [B, L] in {0, 1} -> [B] int64."""
    return (bits != bits_hat).sum(dim=-1, dtype=torch.int64)


class System(ABC, torch.nn.Module):
    """A transmitter, Bob's receiver and (for keyed systems) the keyless receiver Eve ships with.

    ``bits_per_channel_use`` is R (k information bits per n complex channel uses); frames of
    L bits become L / R symbols, so L must be a multiple of ``frame_multiple``.
    Keyed systems hold the 256-bit shared key of Alice and Bob as a :class:`KeyStream`.
    """

    name: str = ""
    keyed: bool = False

    def __init__(self, modulation: ModulationSpec, key: bytes | None = None, device=None) -> None:
        super().__init__()
        self.modulation = modulation
        self.device = torch.device(device or "cpu")
        if self.keyed and key is None:
            raise CommganError(f"system {self.name!r} needs a 256-bit key")
        self.keystream = KeyStream(key) if self.keyed else None
        self._source = BinarySource(device=str(self.device))

    @property
    def bits_per_channel_use(self) -> float:
        """R, information bits per complex channel use."""
        return float(self.modulation.num_bits_per_symbol)

    @property
    def frame_multiple(self) -> int:
        """Frame lengths L must be multiples of this many bits."""
        return self.modulation.num_bits_per_symbol

    def check_frame_bits(self, frame_bits: int) -> None:
        """Raise a clear error unless ``frame_bits`` is a positive multiple of frame_multiple."""
        if frame_bits <= 0 or frame_bits % self.frame_multiple:
            raise CommganError(
                f"frame length L={frame_bits} must be a positive multiple of "
                f"{self.frame_multiple} bits for system {self.name!r} with {self.modulation.name}"
            )

    def keystream_for(self, key: bytes | None) -> KeyStream:
        """Alice/Bob's key stream, or the one of another key (e.g. a wrong-key Bob)."""
        if self.keystream is None:
            raise CommganError(f"system {self.name!r} has no key")
        return self.keystream if key is None else KeyStream(key)

    @abstractmethod
    def transmit(self, bits: torch.Tensor, nonces: torch.Tensor | None = None) -> torch.Tensor:
        """Alice: bits [B, L] float in {0, 1} -> unit-energy symbols [B, L / R] complex64."""

    @abstractmethod
    def receive(
        self, out: ChannelOutput, nonces: torch.Tensor | None = None, key: bytes | None = None
    ) -> torch.Tensor:
        """Bob: channel output (y, h, no) -> hard bits [B, L] float in {0, 1}.

        Keyed systems use Alice's key unless ``key`` is given (a wrong-key Bob).
        """

    def bob_logits(self, out: ChannelOutput, z: torch.Tensor) -> torch.Tensor:
        """Keyed systems: Bob's message-bit logits [B, L] given key-stream bits ``z`` [B, L].

        ``z`` may be relaxed to real values in [0, 1] (the nonce-reuse attack fits it by
        gradient descent, with every weight public by Kerckhoffs' principle).
        """
        raise CommganError(f"system {self.name!r} has no key stream")

    def eavesdrop(self, out: ChannelOutput) -> torch.Tensor:
        """Eve's receiver without the key: channel output -> hard bits [B, L].

        Unkeyed systems hide nothing, and by Kerckhoffs' principle Eve knows every weight: her
        receiver is Bob's. Keyed systems override this.
        """
        return self.receive(out)

    def frame_errors(
        self,
        batch_size: int,
        frame_bits: int,
        wiretap: WiretapChannel,
        ebno_db: float,
        nonces: np.ndarray,
        eve: bool | None = None,
    ) -> dict[str, torch.Tensor]:
        """One Monte Carlo batch: bit errors per frame, ``{"bob": [B], "eve": [B]}``.

        ``nonces`` [B] are fresh frame nonces (used by keyed systems). ``eve``: also count Eve's
        errors on her own channel realisation; None = only for keyed systems.
        """
        eve = self.keyed if eve is None else eve
        bits = self._source([batch_size, frame_bits])
        nonce_tensor = torch.as_tensor(nonces, device=self.device)
        x = self.transmit(bits, nonce_tensor)
        out = wiretap(x, ebno_db, self.bits_per_channel_use, eve=eve)
        errors = {"bob": frame_bit_errors(bits, self.receive(out.bob, nonce_tensor))}
        if eve:
            errors["eve"] = frame_bit_errors(bits, self.eavesdrop(out.eve))
        return errors
