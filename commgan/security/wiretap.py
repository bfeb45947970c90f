"""Wiretap observations as data: what Alice sent, what Bob and Eve received, frame by frame.

The attack suite trains eavesdroppers on these; ``commgan export`` writes them to disk. Each
chunk of frames is drawn under a seed derived from (seed, channel, Eb/N0, chunk start, first
nonce), so the same (seed, nonces) give the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from channels import ChannelOutput, WiretapChannel
from commgan.comm.eavesdroppers import Observations
from commgan.comm.system import System
from commgan.rng import derive_seed, random_bits, seeded

__all__ = ["CHUNK_BITS", "WiretapFrames", "chunk_frames", "noiseless_tap", "wiretap_frames"]

CHUNK_BITS = 1 << 21
"""Exports generate and read frames about this many bits at a time (bounds memory; the chunking
fixes the frame seeds, so it depends only on the frame length)."""


def chunk_frames(frame_bits: int) -> int:
    """Frames per export chunk for frames of ``frame_bits`` bits (about 2^21 bits)."""
    return max(1, CHUNK_BITS // frame_bits)


@dataclass
class WiretapFrames:
    """One batch of transmissions: ``bits`` [F, L] float {0, 1}, ``nonces`` [F] int64,
    ``x`` [F, n] complex64 (unit average energy), Bob's and Eve's channel outputs, and
    ``channel_bits`` [F, n R]: what the symbols carry of the message without the key
    (:meth:`~commgan.comm.system.System.channel_bits`: ``bits`` on uncoded links, their
    interleaved codewords on coded ones)."""

    bits: torch.Tensor
    nonces: np.ndarray
    x: torch.Tensor
    bob: ChannelOutput
    eve: ChannelOutput
    channel_bits: torch.Tensor

    def seen_by_eve(self) -> Observations:
        """Eve's channel outputs with the known plaintext's channel bits."""
        return Observations(self.channel_bits, self.eve)


def noiseless_tap(x: torch.Tensor) -> ChannelOutput:
    """An eavesdropper who sees the transmitted symbols themselves (h = 1, no noise)."""
    return ChannelOutput(x, torch.ones_like(x), torch.zeros((), device=x.device))


@torch.no_grad()
def wiretap_frames(system: System, channel: str, ebno_db: float, nonces: np.ndarray,
                   frame_bits: int, seed: int, eve_ebno_offset_db: float = 0.0,
                   chunk_frames: int = 1024, tap: bool = False) -> WiretapFrames:
    """Send ``len(nonces)`` fresh random frames of ``frame_bits`` bits through ``system`` and a
    wiretap channel: Bob at ``ebno_db`` (dB), Eve at ``ebno_db + eve_ebno_offset_db`` on her
    own realisation (or, with ``tap``, Eve sees x itself). ``chunk_frames`` frames are drawn
    per seed."""
    system.check_frame_bits(frame_bits)
    system.eval()
    wiretap = WiretapChannel(channel, eve_ebno_offset_db, device=str(system.device))
    parts: list[tuple] = []
    for start in range(0, len(nonces), chunk_frames):
        chunk = nonces[start:start + chunk_frames]
        with seeded(derive_seed(seed, channel, ebno_db, start, int(chunk[0])), system.device):
            bits = random_bits([len(chunk), frame_bits], system.device)
            x = system.transmit(bits, torch.as_tensor(chunk, device=system.device))
            out = wiretap(x, float(ebno_db), system.bits_per_channel_use, eve=not tap)
        parts.append((bits, x, out.bob, noiseless_tap(x) if tap else out.eve,
                      system.channel_bits(bits).to(bits.dtype)))
    bits, x, bob, eve, channel_bits = zip(*parts, strict=True)
    return WiretapFrames(torch.cat(bits), np.asarray(nonces, dtype=np.int64), torch.cat(x),
                         ChannelOutput.concat(bob), ChannelOutput.concat(eve),
                         torch.cat(channel_bits))
