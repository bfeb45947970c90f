"""BER on fast fading (rayleigh-fast, 16QAM): qam with theory, qam-ssd (signal-space
diversity), and the learned ae and gan-enc; the Eb/N0 each needs for BER 1e-3 and 1e-4.

Writes, under --out (default results/ber_fast_fading/): results.csv and ber.png (the sweep), and
crossings.csv: per system and target BER the Eb/N0 where the curve crosses it (log-linear
interpolation between the two points around it) and the gap to qam-ssd.

    python experiments/ber_fast_fading.py                      # all four systems, 0-40 dB
    python experiments/ber_fast_fading.py --systems qam,qam-ssd --ebno 18:28:1
    python experiments/ber_fast_fading.py --smoke              # seconds
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import pandas as pd

from commgan.cli.options import parse_ebno
from commgan.configfile import config_option
from commgan.parallel import usable_cores
from commgan.sim.analysis import ebno_at_ber
from commgan.sim.config import SimulationConfig
from commgan.sim.sweep import run_sweep
from commgan.systems import SystemContext, build_systems

TARGETS = (1e-3, 1e-4)


@dataclass
class Experiment:
    """Scope and budget."""

    systems: tuple[str, ...] = ("qam", "qam-ssd", "ae", "gan-enc")
    """Systems to sweep (learned ones from the cache or the shipped defaults)."""
    ebno_db: tuple[float, ...] = tuple(float(x) for x in range(0, 41, 2))
    """Eb/N0 grid in dB."""
    target_errors: int = 2000
    """Bit errors per point and receiver..."""
    max_bits: int = 100_000_000
    """...or this many bits (resolves 1e-4 with >= 2000 errors near it)."""
    models: str | None = None
    """Model cache folder; None = the default cache (then the shipped models)."""
    out: str = "results/ber_fast_fading"
    """Output folder."""
    seed: int = 0
    """Seed of every point."""
    jobs: int = 0
    """Worker processes; 0 = the usable cores."""


def crossings(table: pd.DataFrame, reference: str = "qam-ssd") -> pd.DataFrame:
    """Eb/N0 at each target BER per system (Bob), and the gap to ``reference`` in dB."""
    rows = []
    bob = table[(table["receiver"] == "bob") & (table["errors"] > 0)]
    for system, points in bob.groupby("system", sort=False):
        for target in TARGETS:
            rows.append({"system": system, "target_ber": target,
                         "ebno_db": ebno_at_ber(points["ebno_db"], points["ber"], target)})
    theory = table.dropna(subset=["theory"]).drop_duplicates("ebno_db")
    for target in TARGETS:
        rows.append({"system": "theory (Gray 16QAM)", "target_ber": target,
                     "ebno_db": ebno_at_ber(theory["ebno_db"], theory["theory"], target)})
    result = pd.DataFrame(rows)
    ref = result[result["system"] == reference].set_index("target_ber")["ebno_db"]
    result[f"gap_to_{reference}_db"] = result["ebno_db"] - result["target_ber"].map(ref)
    return result


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    context = SystemContext(mod="16qam", channel="rayleigh-fast", models_dir=experiment.models,
                            key=os.urandom(32), log=log)
    systems = build_systems(experiment.systems, context)
    config = SimulationConfig(channel="rayleigh-fast", mod="16qam",
                              systems=tuple(experiment.systems), ebno_db=experiment.ebno_db,
                              target_errors=experiment.target_errors,
                              max_bits=experiment.max_bits, seed=experiment.seed,
                              models=systems.fingerprints())
    table = run_sweep(config, systems, experiment.out, log=log,
                      jobs=experiment.jobs or usable_cores())
    result = crossings(table) if "qam-ssd" in experiment.systems else pd.DataFrame()
    result.to_csv(Path(experiment.out) / "crossings.csv", index=False)
    return result


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--smoke", is_flag=True, help="Tiny budget (seconds).")
@click.option("--systems", default="qam,qam-ssd,ae,gan-enc", show_default=True,
              help="Comma-separated systems.")
@click.option("--ebno", default="0:40:2", show_default=True, help="Eb/N0 grid in dB.")
@click.option("--max-bits", type=int, default=100_000_000, show_default=True,
              help="Most bits per point.")
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/ber_fast_fading", show_default=True,
              help="Output folder.")
@click.option("--jobs", type=int, default=0, show_default=True,
              help="Worker processes (0 = the usable cores).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every point.")
def main(smoke: bool, systems: str, ebno: str, max_bits: int, models: str | None, out: str,
         jobs: int, seed: int) -> None:
    experiment = Experiment(systems=tuple(s.strip() for s in systems.split(",") if s.strip()),
                            ebno_db=parse_ebno(ebno), max_bits=max_bits, models=models, out=out,
                            seed=seed, jobs=jobs)
    if smoke:
        experiment.systems, experiment.ebno_db = ("qam", "qam-ssd"), (10.0, 20.0)
        experiment.target_errors, experiment.max_bits = 200, 200_000
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(experiment), indent=1))
    click.echo(run(experiment).to_string(index=False))


if __name__ == "__main__":
    main()
