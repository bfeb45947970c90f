"""BER throughput: commgan's engine vs Sionna's own ``sim_ber``, same work, same run.

16QAM over awgn and rayleigh (block fading, one fade per frame) at Eb/N0 = 0, 4, 8, 12 dB,
a fixed number of bits per point (no early stop), on the CPU (or --device cuda).

Rows:
- ``sionna-sim_ber``: ``sim_ber`` with Sionna's BinarySource, Mapper, APP Demapper (soft
  estimates, equalised with the CSI) over the same channel objects.
- ``commgan-bits``: our engine on the ``qam`` system's bit path (Sionna Mapper, maxlog hard
  Demapper), i.e. the generic path every learned system takes.
- ``commgan-fast``: our engine on ``qam``'s symbol-index fast path (nearest-point slicer,
  popcount errors), which is what ``commgan simulate`` uses for classical systems.

Usage: python benchmarks/ber_throughput.py [--bits-per-point N] [--repeats R] [--out DIR]
Prints a table of Mbit/s and the ratio to sim_ber; writes ber_throughput.csv.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import sionna.phy
import torch
from sionna.phy.mapping import BinarySource, Demapper, Mapper
from sionna.phy.utils import sim_ber

from channels import WiretapChannel, get_modulation, noise_variance
from commgan.comm.classical import QAMSystem
from commgan.comm.system import System
from commgan.sim.engine import simulate_point

EBNO_DB = (0.0, 4.0, 8.0, 12.0)
FRAME_BITS = 512
BATCH_FRAMES = 1024


def sionna_mc_fun(channel_name: str, device: str):
    """Sionna's contract: mc_fun(batch_size, ebno_db) -> (b, llr)."""
    source = BinarySource(device=device)
    mapper = Mapper("qam", 4, device=device)
    demapper = Demapper("app", "qam", 4, device=device)
    channel = WiretapChannel(channel_name, device=device).bob

    def mc_fun(batch_size, ebno_db):
        b = source([batch_size, FRAME_BITS])
        out = channel(mapper(b), noise_variance(ebno_db, 4, device=device))
        llr = demapper(out.y / out.h, out.no / out.h.abs().square())
        return b, llr

    return mc_fun


class BitPathQAM(QAMSystem):
    """``qam`` without its fast path: the generic System.frame_errors over bits."""

    frame_errors = System.frame_errors


def time_sionna(channel: str, bits: int, device: str) -> float:
    mc_fun = sionna_mc_fun(channel, device)
    iters = max(1, bits // (BATCH_FRAMES * FRAME_BITS))
    start = time.perf_counter()
    sim_ber(mc_fun, torch.tensor(EBNO_DB), batch_size=BATCH_FRAMES, max_mc_iter=iters,
            soft_estimates=True, early_stop=False, verbose=False, device=device)
    _sync(device)
    return len(EBNO_DB) * iters * BATCH_FRAMES * FRAME_BITS / (time.perf_counter() - start)


def time_engine(system: System, channel: str, bits: int, device: str) -> float:
    wiretap = WiretapChannel(channel, device=device)
    iters = max(1, bits // (BATCH_FRAMES * FRAME_BITS))
    total = 0
    start = time.perf_counter()
    for ebno_db in EBNO_DB:
        point = simulate_point(system, wiretap, ebno_db, frame_bits=FRAME_BITS,
                               batch_frames=BATCH_FRAMES, target_errors=1 << 62,
                               max_bits=iters * BATCH_FRAMES * FRAME_BITS, seed=0)
        total += point.receivers["bob"].bits
    _sync(device)
    return total / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits-per-point", type=int, default=8 * BATCH_FRAMES * FRAME_BITS)
    parser.add_argument("--repeats", type=int, default=3, help="best of R runs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="results/benchmarks")
    args = parser.parse_args()
    sionna.phy.config.seed = 0
    modulation = get_modulation("16qam")
    contenders = {
        "sionna-sim_ber": lambda ch: time_sionna(ch, args.bits_per_point, args.device),
        "commgan-bits": lambda ch: time_engine(
            BitPathQAM(modulation, device=args.device), ch, args.bits_per_point, args.device),
        "commgan-fast": lambda ch: time_engine(
            QAMSystem(modulation, device=args.device), ch, args.bits_per_point, args.device),
    }
    rows = []
    for channel in ("awgn", "rayleigh"):
        for name, run in contenders.items():
            run(channel)
            best = max(run(channel) for _ in range(args.repeats))
            rows.append({"channel": channel, "engine": name, "mbit_per_s": best / 1e6})
    table = pd.DataFrame(rows)
    reference = table[table["engine"] == "sionna-sim_ber"].set_index("channel")["mbit_per_s"]
    table["ratio_vs_sim_ber"] = table["mbit_per_s"] / table["channel"].map(reference)
    table["device"] = args.device
    table["threads"] = torch.get_num_threads()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "ber_throughput.csv", index=False)
    print(f"wrote {out / 'ber_throughput.csv'}")


if __name__ == "__main__":
    main()
