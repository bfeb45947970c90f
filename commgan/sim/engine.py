"""Monte Carlo BER over an Eb/N0 grid for any :class:`~commgan.comm.system.System`.

Per point: batches of frames until every receiver has ``target_errors`` bit errors or
``max_bits`` bits were sent; intervals over frames (:mod:`commgan.sim.stats`). A system's sweep
stops early after the first point where Bob sees no error (as Sionna's ``sim_ber`` does).
Every point is seeded from (seed, system, Eb/N0), so a resumed sweep gives the same numbers as
an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sionna.phy
import torch

from channels import WiretapChannel
from commgan.comm.system import System
from commgan.sim.stats import FrameErrorStats

__all__ = ["PointResult", "point_seed", "simulate_point"]


@dataclass
class PointResult:
    """One Eb/N0 point of one system: error statistics per receiver and the wall time."""

    system: str
    ebno_db: float
    receivers: dict[str, FrameErrorStats]
    seconds: float

    def rows(self, confidence: float) -> list[dict]:
        """Tidy rows, one per receiver (bits, errors, ber, ci_low, ci_high, bits_per_s, ...)."""
        rows = []
        for receiver, acc in self.receivers.items():
            low, high = acc.interval(confidence)
            rows.append(
                {
                    "system": self.system,
                    "receiver": receiver,
                    "ebno_db": self.ebno_db,
                    "frame_bits": acc.frame_bits,
                    "frames": acc.frames,
                    "bits": acc.bits,
                    "errors": acc.errors,
                    "ber": acc.ber,
                    "ci_low": low,
                    "ci_high": high,
                    "seconds": self.seconds,
                    "bits_per_s": acc.bits / self.seconds if self.seconds > 0 else float("nan"),
                }
            )
        return rows


def point_seed(seed: int, system: str, ebno_db: float) -> int:
    """A 63-bit seed for one (system, Eb/N0) point, stable across runs and platforms."""
    digest = hashlib.sha256(f"{seed}|{system}|{float(ebno_db):.6f}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def simulate_point(
    system: System,
    wiretap: WiretapChannel,
    ebno_db: float,
    *,
    frame_bits: int,
    batch_frames: int,
    target_errors: int,
    max_bits: int,
    seed: int,
    eve: bool | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> PointResult:
    """Simulate one Eb/N0 point of ``system`` over ``wiretap`` (Bob, and Eve if keyed).

    Frame nonces are ``(seed_hash mod 2**31) * 2**32 + frame counter``: unique within the point,
    and a nonce can only repeat across points or runs when the same seed re-creates the same
    message, so no two different messages are encrypted under one (key, nonce).
    ``eve``: also count Eve's errors (None = keyed systems only).
    ``on_batch(bits_so_far)`` is called after each batch (progress bars).
    """
    system.check_frame_bits(frame_bits)
    this_seed = point_seed(seed, system.name, ebno_db)
    sionna.phy.config.seed = this_seed
    nonce_base = (this_seed & 0x7FFFFFFF) << 32
    receivers: dict[str, FrameErrorStats] = {}
    start = time.perf_counter()
    sent_frames = 0
    with torch.inference_mode():
        while True:
            frames_left = -(-(max_bits - sent_frames * frame_bits) // frame_bits)
            frames = min(batch_frames, max(1, frames_left))
            nonces = np.arange(nonce_base + sent_frames, nonce_base + sent_frames + frames)
            errors = system.frame_errors(frames, frame_bits, wiretap, float(ebno_db), nonces,
                                         eve=eve)
            sent_frames += frames
            for receiver, frame_errors in errors.items():
                receivers.setdefault(receiver, FrameErrorStats(frame_bits)).add(frame_errors)
            if on_batch is not None:
                on_batch(sent_frames * frame_bits)
            enough_errors = all(acc.errors >= target_errors for acc in receivers.values())
            if enough_errors or sent_frames * frame_bits >= max_bits:
                break
    return PointResult(system.name, float(ebno_db), receivers, time.perf_counter() - start)
