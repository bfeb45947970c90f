"""Per-point misses of 0.5 by Eve's 95% intervals: an ideal cipher next to gan-enc.

How often does a per-point interval miss 0.5 for an eavesdropper who provably learns nothing?

For ``qam+chacha`` (an ideal stream cipher: Eve's bit decisions are independent of the message)
and ``gan-enc``, the sweep of ``experiments/ber_gan_enc.py`` (Eb/N0 0:30:3 dB, 1000 errors or
4e6 bits per point, Eve at offsets 0 and +10 dB) is repeated with fresh seeds, and for each seed
the number of points whose 95% interval excludes 0.5 is counted; the miss rates of both systems
are printed side by side.

Writes --out (default results/eve_interval_calibration/): points.csv (every Eve row),
per_seed.csv (misses per seed, channel and system) and experiment.json.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import pandas as pd
from scipy.stats import binomtest

from commgan.configfile import config_option
from commgan.sim.config import SimulationConfig
from commgan.sim.results import write_csv
from commgan.sim.sweep import run_sweep
from commgan.systems import SystemContext, build_systems

SYSTEMS = ("qam+chacha", "gan-enc")
EBNO_DB = tuple(float(x) for x in range(0, 31, 3))
OFFSETS_DB = (0.0, 10.0)


@dataclass
class Calibration:
    """Seeds and budget of the calibration."""

    first_seed: int = 100
    """First seed of the range (fresh seeds, none used elsewhere)."""
    last_seed: int = 120
    """End of the seed range (excluded)."""
    channels: tuple[str, ...] = ("awgn", "rayleigh")
    """Channels to sweep."""
    max_bits: int = 4_000_000
    """Bit budget per point (or 1000 errors)."""
    models: str | None = None
    """Model cache folder; None = the default cache."""
    out: str = "results/eve_interval_calibration"
    """Output folder."""


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


def run(calibration: Calibration) -> pd.DataFrame:
    """Sweep every seed and channel; write the tables; return misses per seed."""
    points = pd.concat([eve_rows(channel, seed, calibration.max_bits, calibration.models)
                        for seed in range(calibration.first_seed, calibration.last_seed)
                        for channel in calibration.channels], ignore_index=True)
    points["misses_half"] = (points["ci_low"] > 0.5) | (points["ci_high"] < 0.5)
    per_seed = (points.groupby(["system", "channel", "seed"])["misses_half"]
                .agg(points="size", misses="sum").reset_index())
    folder = Path(calibration.out)
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(points, folder / "points.csv")
    write_csv(per_seed, folder / "per_seed.csv")
    return per_seed


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--seeds", default="100:120", show_default=True,
              help="Seed range FIRST:LAST (LAST excluded); fresh seeds, none used elsewhere.")
@click.option("--channels", default="awgn,rayleigh", show_default=True)
@click.option("--max-bits", type=int, default=4_000_000, show_default=True)
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/eve_interval_calibration", show_default=True)
def main(seeds: str, channels: str, max_bits: int, models: str | None, out: str) -> None:
    """Count per-point interval misses of Eve for an ideal cipher and for gan-enc."""
    try:
        first, last = (int(v) for v in seeds.split(":"))
    except ValueError:
        raise click.BadParameter(f"{seeds!r}: use FIRST:LAST", param_hint="--seeds") from None
    calibration = Calibration(first_seed=first, last_seed=last,
                              channels=tuple(channels.split(",")), max_bits=max_bits,
                              models=models, out=out)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(calibration), indent=1))
    per_seed = run(calibration)
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
