"""Coded BLER with a learned constellation: ae-ldpc against the same 5G LDPC code on Gray QAM.

Setups (``--setup``): ``anchor`` is Sionna's autoencoder tutorial's: 64QAM, k=750, n=1500, AWGN,
``ae-ldpc`` against ``qam-ldpc``; ``fast`` is 16QAM, rate 1/2 (k=512, n=1024) on rayleigh-fast:
``ae-ldpc`` (learned spreading over K = 2 symbols) against signal-space diversity under the same
code (``qam-ssd-ldpc``: ``ae-ldpc``'s untrained start, rotated 16QAM whose I and Q meet different
fades, exact LLRs) and ``qam-ldpc``; ``encrypted`` is encrypt-then-code, 16QAM, rate 1/2 on AWGN:
``gan-enc-ldpc`` (gan-enc's learned modulation under the code) against ``qam-ldpc+chacha``, with
Eve's verdict. Learned models come from the model cache (``--models``;
trained with the default config on first use).

Each system is swept point by point along its Eb/N0 grid until its BLER interval lies below the
lowest target, every point to 100 block errors (or 200,000 codewords), one codeword per frame (exact
Clopper-Pearson intervals). Writes under ``--out``/SETUP: results.csv (all points, the engine's
columns), bler.png, ber.png, and crossings.csv: per system and target BLER (1e-2, 1e-3) the
Eb/N0 where the curve crosses it (log-linear interpolation between the two points around it),
the same through the curves of the interval bounds, the block errors of those two points, and
the gain over the baseline in dB (positive = needs less Eb/N0), with the range the crossings'
bounds allow (``gain_low_db``, ``gain_high_db``); with keyed systems, eve.csv: Eve's BER at every
point with Clopper-Pearson intervals at 1 - 0.05/m over all m points (a joint verdict) and
whether each lies in the secure band.

    python experiments/coded_learned.py --setup anchor
    python experiments/coded_learned.py --setup fast
    python experiments/coded_learned.py --setup encrypted
    python experiments/coded_learned.py --smoke          # seconds
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import numpy as np
import pandas as pd

from channels import get_modulation
from commgan.comm.ae_ldpc import AELDPCSystem
from commgan.comm.registry import file_label, system_choice
from commgan.comm.system import System
from commgan.comm.transceiver import TransceiverConfig
from commgan.configfile import config_option
from commgan.parallel import usable_cores
from commgan.sim.analysis import ebno_at_ber, eve_joint_verdict
from commgan.sim.config import SimulationConfig
from commgan.sim.results import plot_ber, write_csv
from commgan.sim.sweep import run_sweep
from commgan.systems import SystemContext, build_systems, load_or_train

TARGETS = (1e-2, 1e-3)
SSD_BASELINE = "qam-ssd-ldpc"
"""Label of signal-space diversity under the code: ``ae-ldpc`` with K = 2, untrained."""


@dataclass
class Setup:
    """One comparison: modulation, channel, the code's options, systems (labels) with their
    Eb/N0 grids in dB, and the baseline of the gains."""

    mod: str
    channel: str
    code: str
    systems: dict[str, tuple[float, ...]]
    baseline: str


def _grid(start: float, stop: float, step: float = 0.1) -> tuple[float, ...]:
    return tuple(round(float(x), 2) for x in np.arange(start, stop + step / 2, step))


SETUPS = {
    "anchor": Setup("64qam", "awgn", "k=750,n=1500",
                    {"qam-ldpc:k=750,n=1500": _grid(5.8, 8.0),
                     "ae-ldpc:k=750,n=1500": _grid(5.4, 8.0)},
                    baseline="qam-ldpc:k=750,n=1500"),
    "fast": Setup("16qam", "rayleigh-fast", "",
                  {"qam-ldpc": _grid(5.0, 12.0, 0.2), SSD_BASELINE: _grid(4.0, 11.0, 0.2),
                   "ae-ldpc": _grid(4.0, 11.0, 0.2)},
                  baseline=SSD_BASELINE),
    "encrypted": Setup("16qam", "awgn", "",
                       {"qam-ldpc+chacha": _grid(2.8, 6.0), "gan-enc-ldpc": _grid(2.8, 6.0)},
                       baseline="qam-ldpc+chacha"),
    "smoke": Setup("16qam", "awgn", "k=128,n=256",
                   {"qam-ldpc:k=128,n=256": (2.0, 4.0), "ae-ldpc:k=128,n=256": (2.0, 4.0)},
                   baseline="qam-ldpc:k=128,n=256"),
}


@dataclass
class Experiment:
    """Scope and budget."""

    setup: str = "anchor"
    """A key of :data:`SETUPS`."""
    target_block_errors: int = 100
    """Block errors per point..."""
    max_codewords: int = 200_000
    """...or this many codewords."""
    stop_bler: float = min(TARGETS)
    """A system's sweep ends after its first point whose BLER interval lies below this."""
    models: str | None = None
    """Model cache folder; None = the default cache."""
    out: str = "results/coded_learned"
    """Output folder (a subfolder per setup)."""
    seed: int = 0
    """Seed of every point."""
    jobs: int = 0
    """Worker processes; 0 = the usable cores."""
    smoke_steps: int | None = field(default=None, repr=False)
    """Smoke runs: train the learned system this many steps (once) instead of the default."""


def build(experiment: Experiment, setup: Setup, log) -> dict[str, System]:
    """The setup's systems: registered ones through the model cache, the SSD baseline built
    untrained."""
    context = SystemContext(mod=setup.mod, channel=setup.channel, models_dir=experiment.models,
                            key=os.urandom(32), log=log)
    systems: dict[str, System] = {}
    for label in setup.systems:
        if label == SSD_BASELINE:
            options = system_choice(f"ae-ldpc:{setup.code}" if setup.code else "ae-ldpc")
            systems[label] = AELDPCSystem(get_modulation(setup.mod), TransceiverConfig(
                get_modulation(setup.mod).num_bits_per_symbol, spread=2),
                **options.option_dict).eval()
        elif experiment.smoke_steps and system_choice(label).spec.learned is not None:
            training = system_choice(label).spec.learned.default_training(
                get_modulation(setup.mod), setup.channel)
            training.steps, training.restarts = experiment.smoke_steps, 1
            systems[label] = load_or_train(label, context, training, retrain=True).system
        else:
            systems[label] = build_systems([label], context)[label]
    return systems


def sweep_system(experiment: Experiment, setup: Setup, label: str, system: System,
                 log) -> pd.DataFrame:
    """One system along its grid, a point at a time, until its BLER is below ``stop_bler``;
    each point is resumable (its own folder)."""
    rows = []
    for ebno_db in setup.systems[label]:
        config = SimulationConfig(
            channel=setup.channel, mod=setup.mod, systems=(label,), ebno_db=(ebno_db,),
            target_errors=None, target_block_errors=experiment.target_block_errors,
            max_bits=experiment.max_codewords * system.block_bits,
            frame_bits=system.frame_multiple, batch_bits=1 << 19, seed=experiment.seed)
        folder = (Path(experiment.out) / experiment.setup / "points" / file_label(label)
                  / f"{ebno_db:g}")
        table = run_sweep(config, {label: system}, folder, log=log,
                          jobs=experiment.jobs or usable_cores())
        rows.append(table)
        bob = table[table["receiver"] == "bob"].iloc[0]
        log(f"{label} at {ebno_db:g} dB: BLER {bob['bler']:.3g}")
        if bob["bler_high"] < experiment.stop_bler:
            break
    return pd.concat(rows, ignore_index=True)


def crossings(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per system and target BLER: the crossing Eb/N0 (log-linear between the two points
    around it) of the BLER and of its interval bounds, those two points' block errors, and the
    gain over ``baseline`` in dB."""
    rows = []
    for system, points in table[table["receiver"] == "bob"].groupby("system", sort=False):
        points = points.sort_values("ebno_db")
        for target in TARGETS:
            ebno = ebno_at_ber(points["ebno_db"], points["bler"], target)
            below = points[points["bler"] <= target]
            above = points[points["bler"] > target]
            around = [int(above["block_errors"].iloc[-1]) if len(above) else None,
                      int(below["block_errors"].iloc[0]) if len(below) else None]
            rows.append({"system": system, "target_bler": target, "ebno_db": ebno,
                         "ebno_db_low": ebno_at_ber(points["ebno_db"], points["bler_low"],
                                                    target),
                         "ebno_db_high": ebno_at_ber(points["ebno_db"], points["bler_high"],
                                                     target),
                         "block_errors_above": around[0], "block_errors_below": around[1]})
    result = pd.DataFrame(rows)
    reference = result[result["system"] == baseline].set_index("target_bler")
    base = {column: result["target_bler"].map(reference[column])
            for column in ("ebno_db", "ebno_db_low", "ebno_db_high")}
    result[f"gain_over_{baseline}_db"] = base["ebno_db"] - result["ebno_db"]
    result["gain_low_db"] = base["ebno_db_low"] - result["ebno_db_high"]
    result["gain_high_db"] = base["ebno_db_high"] - result["ebno_db_low"]
    return result


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    setup = SETUPS[experiment.setup]
    out = Path(experiment.out) / experiment.setup
    out.mkdir(parents=True, exist_ok=True)
    (out / "experiment.json").write_text(json.dumps(asdict(experiment), indent=1))
    systems = build(experiment, setup, log)
    table = pd.concat([sweep_system(experiment, setup, label, system, log)
                       for label, system in systems.items()], ignore_index=True)
    write_csv(table, out / "results.csv")
    title = f"{setup.channel}, {setup.mod}, 5G LDPC {setup.code or 'k=512,n=1024'}"
    plot_ber(table, out / "bler.png", title=title, metric="bler")
    plot_ber(table, out / "ber.png", title=title)
    result = crossings(table, setup.baseline)
    result.to_csv(out / "crossings.csv", index=False)
    eve = eve_verdict(table)
    if not eve.empty:
        eve.to_csv(out / "eve.csv", index=False)
        log(f"Eve: {len(eve)} points, joint verdict "
            f"{'holds' if eve['holds'].all() else 'BROKEN'} (BER "
            f"{eve['joint_low'].min():.4f}..{eve['joint_high'].max():.4f})")
    return result


def eve_verdict(table: pd.DataFrame) -> pd.DataFrame:
    """Eve's joint verdict (:func:`commgan.sim.analysis.eve_joint_verdict`), per point."""
    return eve_joint_verdict(table)[["system", "ebno_db", "bits", "ber", "joint_low",
                                     "joint_high", "holds"]]


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--setup", type=click.Choice(["anchor", "fast", "encrypted"]), default="anchor",
              show_default=True, help="Which comparison.")
@click.option("--smoke", is_flag=True, help="Tiny code, training and budget (seconds).")
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/coded_learned", show_default=True,
              help="Output folder.")
@click.option("--jobs", type=int, default=0, show_default=True,
              help="Worker processes (0 = the usable cores).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every point.")
@click.option("--target-block-errors", type=click.IntRange(1), default=100, show_default=True,
              help="Block errors per point.")
def main(setup: str, smoke: bool, models: str | None, out: str, jobs: int, seed: int,
         target_block_errors: int) -> None:
    experiment = Experiment(setup=setup, models=models, out=out, seed=seed, jobs=jobs,
                            target_block_errors=target_block_errors)
    if smoke:
        experiment.setup, experiment.smoke_steps, experiment.jobs = "smoke", 20, 1
        experiment.target_block_errors, experiment.max_codewords = 10, 64
    click.echo(run(experiment, log=lambda message: click.echo(message, err=True))
               .to_string(index=False))


if __name__ == "__main__":
    main()
