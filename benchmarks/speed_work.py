"""The measured work and the timing helpers of :mod:`speed`: one batch of a Sionna hand loop or
of commgan's engine per call, busy-loop processes, a rate meter, the matmul roofline."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from pathlib import Path

import click
import pandas as pd
import torch
from sionna.phy.mapping import Mapper
from torch import nn

from channels import WiretapChannel, noise_variance
from commgan.comm.registry import build_system
from commgan.rng import random_bits
from commgan.sim.engine import simulate_point

FRAME_BITS = 512
BATCH_FRAMES = 1024
EBNO_DB = 10.0


def _busy() -> None:
    while True:
        pass


@contextmanager
def busy_loops(count: int):
    """``count`` processes spinning on a core each, for as long as the block runs."""
    context = multiprocessing.get_context("fork")
    loops = [context.Process(target=_busy, daemon=True) for _ in range(count)]
    for loop in loops:
        loop.start()
    try:
        time.sleep(0.5 if count else 0)
        yield
    finally:
        for loop in loops:
            loop.terminate()
            loop.join()


def rate(work: Callable[[], int], seconds: float) -> float:
    """Units per second of ``work()`` (which returns the units it did), over >= ``seconds``."""
    work()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += work()
    return done / (time.perf_counter() - start)


class NeuralDemapper(nn.Module):
    """The Sionna autoencoder tutorial's neural demapper: per symbol [Re y, Im y, log10 N0] ->
    Dense 128 -> Dense 128 -> R LLRs (ReLU)."""

    def __init__(self, r: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                                 nn.Linear(128, r))

    def forward(self, y: torch.Tensor, no: torch.Tensor) -> torch.Tensor:
        features = torch.stack([y.real, y.imag, torch.log10(no).expand_as(y.real)], dim=-1)
        return self.net(features).flatten(-2)


def sionna_neural_loop(channel: str) -> Callable[[], int]:
    """A hand loop as the Sionna tutorial writes it: bits, Mapper, channel, neural demapper,
    hard decisions, error count; one batch per call, returns the bits sent."""
    mapper, demapper = Mapper("qam", 4), NeuralDemapper(4)
    link = WiretapChannel(channel).bob
    no = noise_variance(EBNO_DB, 4)

    @torch.inference_mode()
    def batch() -> int:
        bits = random_bits([BATCH_FRAMES, FRAME_BITS])
        out = link(mapper(bits), no)
        decided = (demapper(out.y / out.h, no / out.h.abs().square()) > 0).float()
        (decided != bits).sum().item()
        return bits.numel()

    return batch


@contextmanager
def previous_paths(system: torch.nn.Module):
    """The transceiver as it ran before the speed work: whole-batch convolutions in [B, C, n]
    (no per-symbol matmuls, no cache-sized chunks)."""
    from commgan.comm import transceiver

    nets = [m for m in system.modules() if hasattr(m, "pointwise")]
    saved = transceiver.INFERENCE_ROWS, [m.pointwise for m in nets]
    transceiver.INFERENCE_ROWS = 1 << 40
    for module in nets:
        module.pointwise = False
    try:
        yield
    finally:
        transceiver.INFERENCE_ROWS = saved[0]
        for module, pointwise in zip(nets, saved[1], strict=True):
            module.pointwise = pointwise


def engine_loop(system_name: str, channel: str, previous: bool = False) -> Callable[[], int]:
    """commgan's engine on one system: one batch per call (Bob, and Eve for keyed systems);
    ``previous``: with the transceiver's previous paths (:func:`previous_paths`)."""
    system = build_system(system_name, "16qam", key=os.urandom(32))
    system.eval()
    wiretap = WiretapChannel(channel)
    seed = iter(range(1 << 30))

    def batch() -> int:
        with previous_paths(system) if previous else nullcontext():
            point = simulate_point(system, wiretap, EBNO_DB, frame_bits=FRAME_BITS,
                                   batch_frames=BATCH_FRAMES, target_errors=1 << 62,
                                   max_bits=BATCH_FRAMES * FRAME_BITS, seed=next(seed))
        return point.receivers["bob"].bits

    return batch


def matmul_roofline(rows: int = 131_072, width: int = 64) -> float:
    """GFLOP/s of a [rows x width] x [width x width] fp32 matmul (the issue's roofline)."""
    a, b = torch.randn(rows, width), torch.randn(width, width)
    return rate(lambda: (a @ b, 1)[1], 2.0) * 2 * rows * width * width / 1e9


def ae_flop_per_bit() -> float:
    """Multiply-adds x 2 of ae's encoder and decoder per message bit."""
    system = build_system("ae", "16qam")
    weights = [m.weight for m in system.modules() if isinstance(m, nn.Conv1d)]
    return 2 * sum(w.shape[0] * w.shape[1] * w.shape[2] for w in weights) / 4


def write_table(rows: list[dict], out: Path, name: str) -> None:
    """``rows`` as ``OUT/NAME.csv``, echoed as a table."""
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{name}.csv", index=False)
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    click.echo(f"wrote {out / f'{name}.csv'}")
