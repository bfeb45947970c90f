"""Learned links under estimated CSI: qam (perfect / LS / LMMSE, and EM over the block), ae and
gan-enc (perfect CSI and LS pilots, decoding from the block's EM estimate) on one plot.

Block fading with N = 32 channel uses per coherence block, Np = 2 pilots, 16QAM; every curve
charges the same pilots (Eb/N0 per information bit), so losses against perfect CSI count
estimation error only. Learned models come from the model cache (shipped defaults, else trained
on first use for each channel label). Crossings of BER 1e-3 by log-linear
interpolation, their intervals the crossings of the points' 95% bounds. gan-enc's Eve is judged
jointly over every point and channel: Clopper-Pearson at 1 - 0.05/m (m points) inside
[0.49, 0.51].

Writes, under --out (default results/csi_learned/): results.csv (every point, 95% intervals),
crossings.csv, eve.csv and ber.png.

    python experiments/csi_learned.py            # minutes
    python experiments/csi_learned.py --smoke    # seconds (untrained models in a scratch cache)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import matplotlib
import pandas as pd

from commgan.configfile import config_option
from commgan.sim.analysis import ebno_at_ber, eve_joint_verdict
from commgan.sim.config import SimulationConfig
from commgan.sim.sweep import run_sweep
from commgan.systems import SystemContext, build_systems

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = (1e-3,)


@dataclass
class Experiment:
    """Scope and budget."""

    coherence: int = 32
    """Channel uses per coherence block (pilots included)."""
    pilots: int = 2
    """Pilot symbols per block."""
    curves: dict[str, tuple[str, ...]] = field(default_factory=lambda: {
        "perfect": ("qam", "ae", "gan-enc"),
        "ls": ("qam", "qam:csi=em", "ae", "gan-enc"),
        "lmmse": ("qam",),
    })
    """Systems per estimator."""
    ebno_db: tuple[float, ...] = (22.0, 24.0, 26.0, 28.0, 30.0)
    """Eb/N0 grid in dB."""
    target_errors: int = 20_000
    """Bit errors per point (errors come in bursts of a faded block: intervals need many)..."""
    max_bits: int = 50_000_000
    """...or this many bits."""
    frame_bits: int = 480
    """Bits per frame: 4 whole coherence blocks of 16QAM."""
    models: str | None = None
    """Model cache folder (None: the default cache, then the shipped models)."""
    out: str = "results/csi_learned"
    """Output folder."""
    seed: int = 0
    """Seed of every point."""
    jobs: int = 1
    """Worker processes (the table is the same for any)."""


def channel_label(experiment: Experiment, estimator: str) -> str:
    return (f"rayleigh:coherence={experiment.coherence},pilots={experiment.pilots},"
            f"estimator={estimator}")


def simulate(experiment: Experiment, log=print) -> pd.DataFrame:
    """Every curve's points (Bob, and Eve for keyed systems) with 95% intervals."""
    tables = []
    for estimator, names in experiment.curves.items():
        label = channel_label(experiment, estimator)
        context = SystemContext(mod="16qam", channel=label, models_dir=experiment.models,
                                key=os.urandom(32), log=log)
        systems = build_systems(names, context)
        config = SimulationConfig(channel=label, mod="16qam", systems=tuple(systems),
                                  ebno_db=experiment.ebno_db,
                                  target_errors=experiment.target_errors,
                                  max_bits=experiment.max_bits,
                                  frame_bits=experiment.frame_bits, seed=experiment.seed,
                                  models=systems.fingerprints())
        table = run_sweep(config, systems, log=log, jobs=experiment.jobs)
        tables.append(table.assign(estimator=estimator))
        log(f"{label}: done")
    return pd.concat(tables, ignore_index=True)


def crossings(points: pd.DataFrame) -> pd.DataFrame:
    """Bob's crossing Eb/N0 per (system, estimator, target), its interval, and the loss
    against the same system with perfect CSI (and against qam with perfect CSI)."""
    rows = []
    bob = points[points["receiver"] == "bob"]
    for (system, estimator), group in bob.groupby(["system", "estimator"], sort=False):
        for target in TARGETS:
            rows.append({
                "system": system, "estimator": estimator, "target_ber": target,
                "ebno_db": ebno_at_ber(group["ebno_db"], group["ber"], target),
                "ebno_low_db": ebno_at_ber(group["ebno_db"], group["ci_low"], target),
                "ebno_high_db": ebno_at_ber(group["ebno_db"], group["ci_high"], target)})
    table = pd.DataFrame(rows)
    perfect = table[table["estimator"] == "perfect"].set_index(["system", "target_ber"])
    base = [s.split(":")[0] for s in table["system"]]
    table["loss_vs_own_perfect_db"] = [
        row.ebno_db - perfect["ebno_db"].get((name, row.target_ber), float("nan"))
        for row, name in zip(table.itertuples(), base, strict=True)]
    qam = perfect.xs("qam", level="system")["ebno_db"]
    table["gap_to_qam_perfect_db"] = table["ebno_db"] - table["target_ber"].map(qam)
    return table


def eve_verdict(points: pd.DataFrame) -> pd.DataFrame:
    """Eve's joint verdict (:func:`commgan.sim.analysis.eve_joint_verdict`), per point."""
    return eve_joint_verdict(points)[["system", "estimator", "ebno_db", "bits", "ber",
                                      "joint_low", "joint_high", "holds"]]


def plot(points: pd.DataFrame, path: Path, experiment: Experiment) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    styles = {"perfect": "-", "ls": "--", "lmmse": ":"}
    colors = {"qam": "C0", "qam:csi=em": "C3", "ae": "C1", "gan-enc": "C2"}
    bob = points[(points["receiver"] == "bob") & (points["ber"] > 0)]
    for (system, estimator), group in bob.groupby(["system", "estimator"], sort=False):
        ax.semilogy(group["ebno_db"], group["ber"], styles[estimator],
                    color=colors.get(system, "C7"), marker=".",
                    label=f"{system}, {estimator} CSI")
    ax.axhline(1e-3, color="grey", linewidth=0.5)
    ax.set_xlabel("Eb/N0 (dB, per information bit, pilots charged)")
    ax.set_ylabel("BER (Bob)")
    ax.set_title(f"16QAM, rayleigh N = {experiment.coherence}, Np = {experiment.pilots}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    points = simulate(experiment, log)
    points.to_csv(out / "results.csv", index=False)
    table = crossings(points)
    table.to_csv(out / "crossings.csv", index=False)
    eve_verdict(points).to_csv(out / "eve.csv", index=False)
    plot(points, out / "ber.png", experiment)
    return table


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--smoke", is_flag=True, help="Tiny budget (seconds).")
@click.option("--target-errors", type=int, default=20_000, show_default=True,
              help="Bit errors per point.")
@click.option("--max-bits", type=int, default=50_000_000, show_default=True,
              help="Most bits per point.")
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/csi_learned", show_default=True, help="Output folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every point.")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
              help="Worker processes.")
def main(smoke: bool, target_errors: int, max_bits: int, models: str | None, out: str,
         seed: int, jobs: int) -> None:
    experiment = Experiment(target_errors=target_errors, max_bits=max_bits, models=models,
                            out=out, seed=seed, jobs=jobs)
    if smoke:
        experiment.ebno_db, experiment.target_errors, experiment.max_bits = (0.0, 30.0), 50, 9600
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(experiment), indent=1))
    click.echo(run(experiment, log=lambda message: click.echo(message, err=True))
               .to_string(index=False))


if __name__ == "__main__":
    main()
