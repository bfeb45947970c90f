"""BER throughput: commgan's engine vs Sionna's own ``sim_ber``, same work, same run.

16QAM over awgn and rayleigh (block fading, one fade per frame) at Eb/N0 = 0, 4, 8, 12 dB,
a fixed number of bits per point (no early stop), on the CPU (or --device cuda).

Rows:
- ``sionna-sim_ber``: ``sim_ber`` with Sionna's BinarySource, Mapper, APP Demapper (soft
  estimates, equalised with the CSI) over the same channel objects.
- ``commgan-bits``: our engine's bit path on the ``qam`` system (Sionna Mapper, maxlog hard
  Demapper), i.e. the generic path every learned system takes.
- ``commgan-fast``: our engine's index-domain fast link on ``qam`` (nearest-point slicer,
  popcount errors), which is what ``commgan simulate`` uses for classical systems.

Usage: python benchmarks/ber_throughput.py [--bits-per-point N] [--repeats R] [--out DIR]
[--config FILE]
Prints a table of Mbit/s and the ratio to sim_ber; writes ber_throughput.csv.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd
import torch
from sionna.phy.mapping import BinarySource, Demapper, Mapper
from sionna.phy.utils import sim_ber

from channels import WiretapChannel, get_modulation, noise_variance
from commgan.comm.classical import QAMSystem
from commgan.comm.system import System
from commgan.configfile import config_option
from commgan.rng import use_seed
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


def time_sionna(channel: str, bits: int, device: str) -> float:
    mc_fun = sionna_mc_fun(channel, device)
    iters = max(1, bits // (BATCH_FRAMES * FRAME_BITS))
    start = time.perf_counter()
    sim_ber(mc_fun, torch.tensor(EBNO_DB), batch_size=BATCH_FRAMES, max_mc_iter=iters,
            soft_estimates=True, early_stop=False, verbose=False, device=device)
    _sync(device)
    return len(EBNO_DB) * iters * BATCH_FRAMES * FRAME_BITS / (time.perf_counter() - start)


def time_engine(system: System, channel: str, bits: int, device: str, fast: bool) -> float:
    wiretap = WiretapChannel(channel, device=device)
    iters = max(1, bits // (BATCH_FRAMES * FRAME_BITS))
    total = 0
    start = time.perf_counter()
    for ebno_db in EBNO_DB:
        point = simulate_point(system, wiretap, ebno_db, frame_bits=FRAME_BITS,
                               batch_frames=BATCH_FRAMES, target_errors=1 << 62,
                               max_bits=iters * BATCH_FRAMES * FRAME_BITS, seed=0, fast=fast)
        total += point.receivers["bob"].bits
    _sync(device)
    return total / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--bits-per-point", type=int, default=8 * BATCH_FRAMES * FRAME_BITS,
              show_default=True, help="Bits per Eb/N0 point.")
@click.option("--repeats", type=int, default=3, show_default=True, help="Best of R runs.")
@click.option("--device", default="cpu", show_default=True, help="Torch device.")
@click.option("--out", default="results/benchmarks", show_default=True, help="Output folder.")
def main(bits_per_point: int, repeats: int, device: str, out: str) -> None:
    use_seed(0, device)
    modulation = get_modulation("16qam")
    contenders = {
        "sionna-sim_ber": lambda ch: time_sionna(ch, bits_per_point, device),
        "commgan-bits": lambda ch: time_engine(
            QAMSystem(modulation, device=device), ch, bits_per_point, device, fast=False),
        "commgan-fast": lambda ch: time_engine(
            QAMSystem(modulation, device=device), ch, bits_per_point, device, fast=True),
    }
    rows = []
    for channel in ("awgn", "rayleigh"):
        for name, run in contenders.items():
            run(channel)
            best = max(run(channel) for _ in range(repeats))
            rows.append({"channel": channel, "engine": name, "mbit_per_s": best / 1e6})
    table = pd.DataFrame(rows)
    reference = table[table["engine"] == "sionna-sim_ber"].set_index("channel")["mbit_per_s"]
    table["ratio_vs_sim_ber"] = table["mbit_per_s"] / table["channel"].map(reference)
    table["device"] = device
    table["threads"] = torch.get_num_threads()
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "ber_throughput.csv", index=False)
    click.echo(f"wrote {folder / 'ber_throughput.csv'}")


if __name__ == "__main__":
    main()
