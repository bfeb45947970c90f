"""The Monte Carlo engine: BER of any :class:`~commgan.comm.system.System` at one Eb/N0 point.

The contract is Sionna's ``sim_ber(mc_fun)``: the system transmits and receives; the engine owns
the bit source, the frame nonces, the wiretap channel and the error counting
(:func:`bit_path_errors`). Systems with a per-symbol Gray labelling and a nearest-point receiver
may run the one fast link, :func:`index_domain_errors`, which draws symbol labels instead of bits
(statistically identical: uniform i.i.d. bits are uniform labels; tested equal to the bit path).

Per point: blocks of frames (:func:`point_blocks`: 1, 1, 2, 4, then 8 batches) until every
receiver has ``target_errors`` bit errors (or ``target_block_errors`` block errors: codewords of
a system that declares ``block_bits``, else frames) or ``max_bits`` bits were sent; intervals
over frames (:mod:`commgan.sim.stats`). Every block is seeded from (seed, system, Eb/N0, block
index) and the stopping rule is checked after whole blocks, so a point gives the same numbers
whether its blocks run in one process, one after the other (:func:`simulate_point`), or spread
over worker processes (the sweep), and a resumed sweep gives the same numbers as an
uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from channels import WiretapChannel, bit_errors_between_indices
from commgan.comm.system import LabelledConstellation, System, frame_bit_errors
from commgan.errors import CommganError
from commgan.rng import NonceCounter, derive_seed, random_bits, seeded
from commgan.sim.stats import FrameErrorStats

__all__ = ["BLOCK_BATCHES", "MAX_BITS", "PointBlocks", "PointResult", "bit_path_errors",
           "check_max_bits", "check_symbols", "index_domain_errors", "merge_block", "point_blocks",
           "point_finished", "point_seed", "simulate_block", "simulate_point"]


@dataclass
class PointResult:
    """One Eb/N0 point of one system: error statistics per receiver and the wall time."""

    system: str
    ebno_db: float
    receivers: dict[str, FrameErrorStats]
    seconds: float

    def rows(self, confidence: float) -> list[dict]:
        """Tidy rows, one per receiver: bits, errors, ber and its interval (ci_low, ci_high);
        frame_errors, fer (fer_low, fer_high); block_bits, blocks, block_errors, bler
        (bler_low, bler_high); seconds, bits_per_s."""
        rows = []
        for receiver, acc in self.receivers.items():
            low, high = acc.interval(confidence)
            fer_low, fer_high = acc.fer_interval(confidence)
            bler_low, bler_high = acc.bler_interval(confidence)
            rows.append({
                "system": self.system, "receiver": receiver, "ebno_db": self.ebno_db,
                "frame_bits": acc.frame_bits, "frames": acc.frames, "bits": acc.bits,
                "errors": acc.errors, "ber": acc.ber, "ci_low": low, "ci_high": high,
                "frame_errors": acc.frame_errors, "fer": acc.fer, "fer_low": fer_low,
                "fer_high": fer_high, "block_bits": acc.block_bits, "blocks": acc.blocks,
                "block_errors": acc.block_errors, "bler": acc.bler, "bler_low": bler_low,
                "bler_high": bler_high, "seconds": self.seconds,
                "bits_per_s": acc.bits / self.seconds if self.seconds > 0 else float("nan"),
            })
        return rows


def point_seed(seed: int, system: str, ebno_db: float) -> int:
    """The seed of one (system, Eb/N0) point, stable across runs and platforms."""
    return derive_seed(seed, system, f"{float(ebno_db):.6f}")


def bit_path_errors(system: System, wiretap: WiretapChannel, frames: int, frame_bits: int,
                    ebno_db: float, nonces: np.ndarray, eve: bool,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """One batch through the system: bit errors per block of each frame,
    ``{"bob": [F, C], "eve": [F, C]}`` (C = ``system.blocks_per_frame(L)``).

    Fresh bits [F, L] from the engine's bit source, ``nonces`` [F] per frame, Bob (and, with
    ``eve``, Eve on her own channel realisation) decide, the engine counts.
    """
    bits = random_bits([frames, frame_bits], system.device, generator)
    nonce_tensor = torch.as_tensor(nonces, device=system.device)
    symbols = system.transmit(bits, nonce_tensor)
    check_symbols(system, symbols, frames, frame_bits)
    out = wiretap(symbols, ebno_db, system.bits_per_channel_use, eve=eve)
    blocks = system.blocks_per_frame(frame_bits)
    errors = {"bob": _block_errors(bits, _decided(system, "receive", bits,
                                                  system.receive(out.bob, nonce_tensor)), blocks)}
    if eve:
        errors["eve"] = _block_errors(bits, _decided(system, "eavesdrop", bits,
                                                     system.eavesdrop(out.eve)), blocks)
    return errors


def _block_errors(bits: torch.Tensor, decided: torch.Tensor, blocks: int) -> torch.Tensor:
    """Bit errors per block: [F, L] and [F, L] -> [F, C]."""
    frames, frame_bits = bits.shape
    return frame_bit_errors(bits.reshape(frames, blocks, frame_bits // blocks),
                            decided.reshape(frames, blocks, frame_bits // blocks))


def check_symbols(system: System, symbols: torch.Tensor, frames: int, frame_bits: int) -> None:
    """Raise a clear error unless ``transmit`` gave [F, L / R] complex symbols: Eb/N0 is per
    information bit only when R (``bits_per_channel_use``, the code rate included) is what the
    system really sends (a coded link that left R at log2 M would be 10 log10(n/k) dB off)."""
    rate = float(system.bits_per_channel_use)
    expected = frame_bits / rate
    shape = tuple(symbols.shape)
    if shape != (frames, round(expected)) or abs(expected - round(expected)) > 1e-9 * expected:
        raise CommganError(
            f"system {system.name!r}: transmit returned symbols of shape {list(shape)} for "
            f"{frames} frames of {frame_bits} bits, but R = {rate:g} bits per channel use needs "
            f"[{frames}, {expected:g}]; declare the rate (bits_per_channel_use = "
            "log2(M) * k / n, overhead included) or fix transmit")
    if not symbols.is_complex():
        raise CommganError(f"system {system.name!r}: transmit must return complex symbols, got "
                           f"{symbols.dtype}")


def _decided(system: System, method: str, bits: torch.Tensor, decided: torch.Tensor
             ) -> torch.Tensor:
    """``decided`` if it has the shape of the sent ``bits``, else one clear error."""
    if tuple(decided.shape) != tuple(bits.shape):
        raise CommganError(f"system {system.name!r}: {method} returned shape "
                           f"{list(decided.shape)} for sent bits of shape {list(bits.shape)}")
    return decided


def index_domain_errors(system: System, wiretap: WiretapChannel, frames: int, frame_bits: int,
                        ebno_db: float, nonces: np.ndarray, eve: bool,
                        generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The fast link: uniform symbol labels instead of bits, the key stream XORed onto labels, the
    system's label detector and popcount errors. Same statistics as :func:`bit_path_errors`."""
    labelling: LabelledConstellation = system.fast_link()
    num_symbols = frame_bits // system.modulation.num_bits_per_symbol
    message = torch.randint(0, labelling.num_labels, (frames, num_symbols), device=system.device,
                            generator=generator)
    sent = message if labelling.encrypt is None else torch.bitwise_xor(
        message, labelling.encrypt(nonces, frame_bits))
    out = wiretap(labelling.modulate(sent), ebno_db, system.bits_per_channel_use, eve=eve)
    bob = labelling.detect(out.bob)
    if labelling.decrypt is not None:
        bob = torch.bitwise_xor(bob, labelling.decrypt(nonces, frame_bits))
    errors = {"bob": bit_errors_between_indices(message, bob)}
    if eve:
        errors["eve"] = bit_errors_between_indices(message, labelling.detect(out.eve))
    return errors


def simulate_point(
    system: System,
    wiretap: WiretapChannel,
    ebno_db: float,
    *,
    frame_bits: int,
    batch_frames: int,
    target_errors: int | None,
    max_bits: int,
    seed: int,
    target_block_errors: int | None = None,
    eve: bool | None = None,
    fast: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> PointResult:
    """Simulate one Eb/N0 point of ``system`` over ``wiretap`` (Bob, and Eve if keyed).

    Frame nonces come from a counter seeded by each block (unique within it; a nonce repeats
    across blocks, points or runs only where the same seed re-creates the same message, so no
    two different messages meet one (key, nonce)). ``eve``: also count Eve's errors (None =
    keyed systems only). ``fast``: use :func:`index_domain_errors` where the system offers a
    labelling. ``on_batch(bits_so_far)`` is called after each block (progress bars). The point
    stops when every receiver has ``target_errors`` bit errors or ``target_block_errors`` block
    errors (None: that target is off), or after ``max_bits`` bits.
    """
    system.check_frame_bits(frame_bits)
    check_max_bits(max_bits)
    receivers: dict[str, FrameErrorStats] = {}
    start = time.perf_counter()
    for index, frames in enumerate(point_blocks(frame_bits, batch_frames, max_bits)):
        block = simulate_block(system, wiretap, ebno_db, index, frames, frame_bits=frame_bits,
                               batch_frames=batch_frames, seed=seed, eve=eve, fast=fast)
        merge_block(receivers, block)
        if on_batch is not None:
            on_batch(next(iter(receivers.values())).bits)
        if point_finished(receivers, target_errors, target_block_errors):
            break
    return PointResult(system.name, float(ebno_db), receivers, time.perf_counter() - start)


BLOCK_BATCHES = (1, 1, 2, 4, 8)
"""Batches in the blocks of a point, in order (the last repeats): a point that needs one batch
wastes little beside it when its blocks run in parallel, a long one gets large units."""


MAX_BITS = 2**53
"""Most bits per point (about 9.0e15): bit, frame and block counts stay exact as float64 (in
results.csv, JSON and the interval arithmetic). Blocks are generated lazily, so a large bound
costs nothing until its frames are simulated."""


def check_max_bits(max_bits: int) -> None:
    """Refuse a bit budget outside [1, :data:`MAX_BITS`] with one line that names the bound."""
    if not 0 < max_bits <= MAX_BITS:
        raise CommganError(f"--max-bits must be in [1, 2^53 = {MAX_BITS:.2e}] bits per point, "
                           f"got {max_bits:.3g}")


class PointBlocks(Sequence[int]):
    """Frames of each block of one point, in order, until ``max_bits`` bits: a sequence computed
    by arithmetic, never listed (a budget of 1e14 bits is millions of blocks)."""

    def __init__(self, frame_bits: int, batch_frames: int, max_bits: int) -> None:
        self.total = max(1, -(-max_bits // frame_bits))
        """Frames of the whole point."""
        sizes = [batches * batch_frames for batches in BLOCK_BATCHES]
        self._head: list[int] = []
        sent = 0
        for size in sizes[:-1]:
            if sent >= self.total:
                break
            self._head.append(min(size, self.total - sent))
            sent += self._head[-1]
        self._head_frames, self._tail = sent, sizes[-1]
        self._count = len(self._head) + -(-(self.total - sent) // self._tail)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int | slice) -> int | list[int]:
        """Frames of block ``index`` (negative counts from the end), or a list for a slice."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("block index out of range")
        if index < len(self._head):
            return self._head[index]
        start = self._head_frames + (index - len(self._head)) * self._tail
        return min(self._tail, self.total - start)

    def __iter__(self) -> Iterator[int]:
        return (self[index] for index in range(self._count))


def point_blocks(frame_bits: int, batch_frames: int, max_bits: int) -> PointBlocks:
    """Frames of each block of one point, in order, until ``max_bits`` bits (a lazy sequence)."""
    return PointBlocks(frame_bits, batch_frames, max_bits)


def simulate_block(system: System, wiretap: WiretapChannel, ebno_db: float, index: int,
                   frames: int, *, frame_bits: int, batch_frames: int, seed: int,
                   eve: bool | None = None, fast: bool = True) -> dict[str, FrameErrorStats]:
    """Block ``index`` of a point (``frames`` frames in batches of ``batch_frames``): error
    statistics per receiver. Its bits, fades, noise and nonces come from a seed of (seed,
    system, Eb/N0, index) alone (block 0: the point's seed)."""
    unit_seed = point_seed(seed, system.name, ebno_db)
    if index:
        unit_seed = derive_seed(unit_seed, "block", index)
    with seeded(unit_seed, system.device) as generator:
        nonces = NonceCounter(unit_seed)
        eve = system.keyed if eve is None else eve
        blocks = system.blocks_per_frame(frame_bits)
        errors_of = (index_domain_errors if fast and blocks == 1
                     and system.fast_link() is not None else bit_path_errors)
        receivers: dict[str, FrameErrorStats] = {}
        with torch.inference_mode():
            for start in range(0, frames, batch_frames):
                count = min(batch_frames, frames - start)
                errors = errors_of(system, wiretap, count, frame_bits, float(ebno_db),
                                   nonces.fresh(count), eve, generator)
                for receiver, frame_errors in errors.items():
                    receivers.setdefault(receiver, FrameErrorStats(
                        frame_bits, blocks_per_frame=blocks)).add(frame_errors)
    return receivers


def merge_block(receivers: dict[str, FrameErrorStats],
                block: dict[str, FrameErrorStats]) -> None:
    """Add a block's statistics to a point's (in place)."""
    for receiver, stats in block.items():
        receivers.setdefault(receiver, FrameErrorStats(
            stats.frame_bits, blocks_per_frame=stats.blocks_per_frame)).merge(stats)


def point_finished(receivers: dict[str, FrameErrorStats], target_errors: int | None,
                   target_block_errors: int | None = None) -> bool:
    """Whether every receiver of a point has met a target: ``target_errors`` bit errors or
    ``target_block_errors`` block errors (None: that target is off)."""
    def met(stats: FrameErrorStats) -> bool:
        return ((target_errors is not None and stats.errors >= target_errors)
                or (target_block_errors is not None and stats.block_errors >= target_block_errors))

    return bool(receivers) and all(met(stats) for stats in receivers.values())
