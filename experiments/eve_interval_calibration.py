"""How often does a per-point 95% interval miss 0.5 for an eavesdropper who provably learns
nothing? Calibrates issue 4's per-point criterion ("Eve's 95% interval contains 0.5 at every
Eb/N0 in 0-30 dB, offsets 0 and +10 dB").

For ``qam+chacha`` (an ideal stream cipher: Eve's bit decisions are independent of the message)
and ``gan-enc``, the sweep of ``experiments/ber_gan_enc.py`` (Eb/N0 0:30:3 dB, 1000 errors or
4e6 bits per point, Eve at offsets 0 and +10 dB) is repeated with fresh seeds, and for each seed
the number of points whose 95% interval excludes 0.5 is counted. With 22 points per channel and
95% intervals, an ideal cipher passes "every point" with probability about 0.95^22 = 0.32 per
channel (0.10 for both channels); the measured rates of both systems are printed side by side.

Writes --out (default results/eve_interval_calibration/): points.csv (every Eve row) and
per_seed.csv (misses per seed, channel and system).
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import pandas as pd
from scipy.stats import binomtest

from commgan.sim.config import SimulationConfig
from commgan.sim.models import SystemContext, build_systems
from commgan.sim.results import write_csv
from commgan.sim.sweep import run_sweep

SYSTEMS = ("qam+chacha", "gan-enc")
EBNO_DB = tuple(float(x) for x in range(0, 31, 3))
OFFSETS_DB = (0.0, 10.0)


def eve_rows(channel: str, seed: int, max_bits: int, models: str | None) -> pd.DataFrame:
    """Eve's rows of both systems at every Eb/N0 and offset for one seed."""
    context = SystemContext(mod="16qam", channel=channel, models_dir=models, key=os.urandom(32))
    systems = build_systems(list(SYSTEMS), context)
    tables = []
    for index, offset in enumerate(OFFSETS_DB):
        config = SimulationConfig(
            channel=channel, mod="16qam", systems=SYSTEMS, ebno_db=EBNO_DB,
            target_errors=1000, max_bits=max_bits, eve_ebno_offset_db=offset,
            early_stop=False, seed=seed * len(OFFSETS_DB) + index)
        table = run_sweep(config, systems)
        tables.append(table[table["receiver"] == "eve"].assign(offset_db=offset, seed=seed))
    return pd.concat(tables, ignore_index=True)


@click.command()
@click.option("--seeds", default="100:120", show_default=True,
              help="Seed range FIRST:LAST (LAST excluded); fresh seeds, none used elsewhere.")
@click.option("--channels", default="awgn,rayleigh", show_default=True)
@click.option("--max-bits", type=int, default=4_000_000, show_default=True)
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/eve_interval_calibration", show_default=True)
def main(seeds: str, channels: str, max_bits: int, models: str | None, out: str) -> None:
    """Count per-point interval misses of Eve for an ideal cipher and for gan-enc."""
    first, last = (int(v) for v in seeds.split(":"))
    points = pd.concat([eve_rows(channel, seed, max_bits, models)
                        for seed in range(first, last) for channel in channels.split(",")],
                       ignore_index=True)
    points["misses_half"] = (points["ci_low"] > 0.5) | (points["ci_high"] < 0.5)
    per_seed = (points.groupby(["system", "channel", "seed"])["misses_half"]
                .agg(points="size", misses="sum").reset_index())
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(points, folder / "points.csv")
    write_csv(per_seed, folder / "per_seed.csv")
    click.echo(f"{'system':<12}{'channel':<10}{'points':>8}{'miss rate [95% CI]':>28}"
               f"{'seeds with 0 misses':>22}")
    for (system, channel), group in per_seed.groupby(["system", "channel"]):
        total, missed = int(group["points"].sum()), int(group["misses"].sum())
        low, high = binomtest(missed, total).proportion_ci(0.95)
        clean = int((group["misses"] == 0).sum())
        click.echo(f"{system:<12}{channel:<10}{total:>8}{missed / total:>10.3f} "
                   f"[{low:.3f}, {high:.3f}]{clean:>12} of {len(group)}")


if __name__ == "__main__":
    main()
