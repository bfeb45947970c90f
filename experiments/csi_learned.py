"""Learned links under estimated CSI: qam (perfect / LS / LMMSE, and EM over the block), ae and
gan-enc (perfect CSI and LS pilots, decoding from the block's EM estimate) on one plot.

``--setup block`` (default): block fading with N = 32 channel uses per coherence block, Np = 2
pilots, 16QAM; learned models from the model cache (shipped defaults, else trained on first use
for each channel label). ``--setup fast``: fast fading with one pilot per fade
(``rayleigh:coherence=2,pilots=1``: every data symbol its own fade), where the learned links
spread each block of bits over two symbols; against ``qam-ssd`` (signal-space diversity), with
the curves' slopes as diversity orders (`commgan.sim.analysis.diversity_order`, BER window
1e-5..1e-3); learned models trained with Eb/N0 ``FAST_TRAIN_EBNO`` into ``--models`` (default
OUT/models) unless there. Every curve charges the same pilots (Eb/N0 per information bit), so
losses against perfect CSI count estimation error only. Crossings by log-linear
interpolation, their intervals the crossings of the points' 95% bounds. gan-enc's Eve is judged
jointly over every point and channel: Clopper-Pearson at 1 - 0.05/m (m points) inside
[0.49, 0.51].

Writes, under --out (default results/csi_learned/, results/csi_learned_fast/): results.csv
(every point, 95% intervals), crossings.csv, eve.csv, ber.png; fast: diversity.csv.

    python experiments/csi_learned.py                 # minutes
    python experiments/csi_learned.py --setup fast    # trains 4 links first
    python experiments/csi_learned.py --smoke         # seconds (untrained models, scratch cache)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import click
import matplotlib
import pandas as pd
from scipy.stats import norm

from channels import get_modulation
from commgan.comm.registry import system_spec
from commgan.configfile import config_option
from commgan.sim.analysis import diversity_order, ebno_at_ber, eve_joint_verdict
from commgan.sim.config import SimulationConfig
from commgan.sim.sweep import run_sweep
from commgan.systems import SystemContext, build_systems, load_or_train

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FAST_TRAIN_EBNO = (10.0, 40.0)
"""Training Eb/N0 range [dB] of the fast setup's learned links (around its BER 1e-3..1e-5)."""
DIVERSITY_WINDOW = (1e-5, 1e-3)
"""BER range whose points give a curve's slope."""


@dataclass
class Experiment:
    """Scope and budget."""

    setup: str = "block"
    """``block`` (N = 32, Np = 2) or ``fast`` (N = 2, Np = 1; see the module docstring)."""
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
    targets: tuple[float, ...] = (1e-3,)
    """BERs whose crossing Eb/N0 is reported."""
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
    train_steps: int | None = None
    """Fast setup: training steps of the learned links (None: their defaults)."""


def fast_setup(experiment: Experiment) -> Experiment:
    """The ``fast`` setup's channel, curves, grid and targets on ``experiment``'s budget."""
    return replace(experiment, setup="fast", coherence=2, pilots=1, curves={
        "perfect": ("qam", "qam-ssd", "ae", "gan-enc"), "ls": ("qam-ssd", "ae", "gan-enc")},
        ebno_db=(16.0, 20.0, 24.0, 28.0, 32.0, 36.0, 40.0), targets=(1e-3, 1e-4),
        frame_bits=960)


def train_fast_links(experiment: Experiment, log=print) -> pd.DataFrame:
    """The fast setup's learned links in ``experiment.models``: trained there with
    `FAST_TRAIN_EBNO` unless present; one row per model with its training range and time."""
    rows = []
    for estimator, names in experiment.curves.items():
        label = channel_label(experiment, estimator)
        for name in (n for n in names if system_spec(n).learned is not None):
            context = SystemContext(mod="16qam", channel=label, models_dir=experiment.models,
                                    log=log)
            training = replace(system_spec(name).learned.default_training(
                get_modulation("16qam"), label), train_ebno_db=FAST_TRAIN_EBNO)
            if experiment.train_steps is not None:
                training = replace(training, steps=experiment.train_steps)
            loaded = load_or_train(name, context, training=training)
            sidecar = loaded.model.sidecar
            architecture = sidecar.get("architecture", {})
            rows.append({"system": name, "channel": label, "trained_now": loaded.model.trained,
                         "train_ebno_db": sidecar.get("training", {}).get("train_ebno_db"),
                         "spread": architecture.get("transceiver", architecture).get("spread"),
                         "train_seconds": sidecar.get("metrics", {}).get("train_seconds")})
    return pd.DataFrame(rows)


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


def crossings(points: pd.DataFrame, targets: tuple[float, ...]) -> pd.DataFrame:
    """Bob's crossing Eb/N0 per (system, estimator, target), its interval, and the loss
    against the same system with perfect CSI (and against qam with perfect CSI)."""
    rows = []
    bob = points[points["receiver"] == "bob"]
    for (system, estimator), group in bob.groupby(["system", "estimator"], sort=False):
        for target in targets:
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


def diversity(points: pd.DataFrame) -> pd.DataFrame:
    """Each Bob curve's diversity order in `DIVERSITY_WINDOW` with its 95% interval, and its
    difference to ``qam-ssd`` under the same CSI with intervals that hold jointly (Bonferroni
    over the m differences; each curve's error taken as independent of qam-ssd's, though they
    share their random draws)."""
    rows = []
    bob = points[points["receiver"] == "bob"]
    for (system, estimator), group in bob.groupby(["system", "estimator"], sort=False):
        d, se, used = diversity_order(group["ebno_db"], group["ber"], group["ci_low"],
                                      group["ci_high"], DIVERSITY_WINDOW)
        rows.append({"system": system, "estimator": estimator, "diversity": d, "se": se,
                     "points": used, "low": d - 1.96 * se, "high": d + 1.96 * se})
    table = pd.DataFrame(rows)
    reference = table[table["system"] == "qam-ssd"].set_index("estimator")
    compared = (table["system"] != "qam-ssd") & table["estimator"].isin(reference.index)
    z = norm.ppf(1 - 0.025 / max(int(compared.sum()), 1))
    for column in ("vs_ssd", "vs_ssd_low", "vs_ssd_high"):
        table[column] = float("nan")
    for index in table.index[compared]:
        row, ssd = table.loc[index], reference.loc[table.loc[index, "estimator"]]
        difference, spread = row["diversity"] - ssd["diversity"], math.hypot(row["se"], ssd["se"])
        table.loc[index, ["vs_ssd", "vs_ssd_low", "vs_ssd_high"]] = (
            difference, difference - z * spread, difference + z * spread)
    return table


def eve_verdict(points: pd.DataFrame) -> pd.DataFrame:
    """Eve's joint verdict (:func:`commgan.sim.analysis.eve_joint_verdict`), per point."""
    return eve_joint_verdict(points)[["system", "estimator", "ebno_db", "bits", "ber",
                                      "joint_low", "joint_high", "holds"]]


def plot(points: pd.DataFrame, path: Path, experiment: Experiment) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    styles = {"perfect": "-", "ls": "--", "lmmse": ":"}
    colors = {"qam": "C0", "qam:csi=em": "C3", "ae": "C1", "gan-enc": "C2", "qam-ssd": "C4"}
    bob = points[(points["receiver"] == "bob") & (points["ber"] > 0)]
    for (system, estimator), group in bob.groupby(["system", "estimator"], sort=False):
        ax.semilogy(group["ebno_db"], group["ber"], styles[estimator],
                    color=colors.get(system, "C7"), marker=".",
                    label=f"{system}, {estimator} CSI")
    for target in experiment.targets:
        ax.axhline(target, color="grey", linewidth=0.5)
    ax.set_xlabel("Eb/N0 (dB, per information bit, pilots charged)")
    ax.set_ylabel("BER (Bob)")
    ax.set_title(f"16QAM, rayleigh N = {experiment.coherence}, Np = {experiment.pilots}"
                 + (" (every data symbol its own fade)" if experiment.setup == "fast" else ""))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    if experiment.setup == "fast":
        train_fast_links(experiment, log).to_csv(out / "models.csv", index=False)
    points = simulate(experiment, log)
    points.to_csv(out / "results.csv", index=False)
    table = crossings(points, experiment.targets)
    table.to_csv(out / "crossings.csv", index=False)
    if experiment.setup == "fast":
        diversity(points).to_csv(out / "diversity.csv", index=False)
    eve_verdict(points).to_csv(out / "eve.csv", index=False)
    plot(points, out / "ber.png", experiment)
    return table


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--setup", type=click.Choice(["block", "fast"]), default="block", show_default=True,
              help="block: N = 32, Np = 2; fast: one pilot per fade, learned spreading vs "
                   "qam-ssd.")
@click.option("--smoke", is_flag=True, help="Tiny budget (seconds).")
@click.option("--target-errors", type=int, default=20_000, show_default=True,
              help="Bit errors per point.")
@click.option("--max-bits", type=int, default=50_000_000, show_default=True,
              help="Most bits per point.")
@click.option("--models", default=None, help="Model cache folder [default: the default cache "
              "(block), OUT/models (fast)].")
@click.option("--out", default=None, help="Output folder [default: results/csi_learned, "
              "results/csi_learned_fast].")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every point.")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
              help="Worker processes.")
def main(setup: str, smoke: bool, target_errors: int, max_bits: int, models: str | None,
         out: str | None, seed: int, jobs: int) -> None:
    out = out or ("results/csi_learned" if setup == "block" else "results/csi_learned_fast")
    if setup == "fast" and models is None:
        models = str(Path(out) / "models")
    experiment = Experiment(target_errors=target_errors, max_bits=max_bits, models=models,
                            out=out, seed=seed, jobs=jobs)
    if setup == "fast":
        experiment = fast_setup(experiment)
    if smoke:
        experiment.ebno_db, experiment.target_errors, experiment.max_bits = (0.0, 30.0), 50, 9600
        experiment.train_steps = 4
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(experiment), indent=1))
    click.echo(run(experiment, log=lambda message: click.echo(message, err=True))
               .to_string(index=False))


if __name__ == "__main__":
    main()
