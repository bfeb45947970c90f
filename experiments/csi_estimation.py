"""Estimated CSI on block fading: Gray 16QAM with perfect, LS and LMMSE channel estimates from
Np pilots per coherence block of N = 32 channel uses, and the Eb/N0 each loses at BER 1e-3.

Every curve charges the same pilots (their channel uses and energy, Eb/N0 per information bit),
so the loss of an estimator against perfect CSI counts estimation error only; the pilot overhead
10 log10(N / (N - Np)) dB is reported beside it. Each curve steps up in Eb/N0 from --start until
its BER's upper 95% bound is below the target (both points around the crossing measured); the
crossing is log-linear interpolation between them, its interval the crossings of the BER
intervals' bounds. Frames hold 16 coherence blocks (no partial block).

Writes, under --out (default results/csi_estimation/): points.csv (every point, 95% intervals),
losses.csv (per Np and estimator: crossing Eb/N0, its interval, loss vs perfect, the anchor's
figure for LS, 10 log10(1 + 1/Np) and the pilot overhead) and ber.png.

    python experiments/csi_estimation.py                 # Np = 1, 2, 4, 8 (minutes)
    python experiments/csi_estimation.py --pilots 2
    python experiments/csi_estimation.py --smoke         # seconds
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import matplotlib
import pandas as pd

from channels import WiretapChannel, get_modulation
from commgan.comm.classical import QAMSystem
from commgan.configfile import config_option
from commgan.sim.analysis import ebno_at_ber
from commgan.sim.engine import simulate_point

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ESTIMATORS = ("perfect", "ls", "lmmse")
ANCHOR_LS_LOSS_DB = {1: 2.8, 2: 1.5, 4: 0.8, 8: 0.5}
"""Monte Carlo LS loss vs perfect CSI for Gray 16QAM, N = 32 (issue 28)."""


@dataclass
class Experiment:
    """Scope and budget."""

    pilots: tuple[int, ...] = (1, 2, 4, 8)
    """Pilot symbols per coherence block, one set of curves each."""
    coherence: int = 32
    """Channel uses per coherence block (pilots included)."""
    target_ber: float = 1e-3
    """BER of the crossing."""
    start_db: float = 24.0
    """First Eb/N0 of every curve."""
    step_db: float = 1.0
    """Eb/N0 step."""
    stop_db: float = 40.0
    """Last Eb/N0 a curve may reach."""
    target_errors: int = 200_000
    """Bit errors per point..."""
    max_bits: int = 100_000_000
    """...or this many bits."""
    blocks_per_frame: int = 16
    """Coherence blocks per frame."""
    out: str = "results/csi_estimation"
    """Output folder."""
    seed: int = 0
    """Seed of every point."""


def channel_label(coherence: int, pilots: int, estimator: str) -> str:
    return f"rayleigh:coherence={coherence},pilots={pilots},estimator={estimator}"


def curve(experiment: Experiment, pilots: int, estimator: str, log=print) -> list[dict]:
    """One BER curve: points from ``start_db`` until the BER's upper bound is below the target
    (or ``stop_db``)."""
    label = channel_label(experiment.coherence, pilots, estimator)
    system = QAMSystem(get_modulation("16qam"))
    frame_bits = 4 * (experiment.coherence - pilots) * experiment.blocks_per_frame
    wiretap = WiretapChannel(label)
    rows, ebno = [], experiment.start_db
    while ebno <= experiment.stop_db + 1e-9:
        point = simulate_point(system, wiretap, ebno, frame_bits=frame_bits,
                               batch_frames=max(1, (1 << 18) // frame_bits),
                               target_errors=experiment.target_errors,
                               max_bits=experiment.max_bits, seed=experiment.seed)
        row = point.rows(0.95)[0]
        rows.append({"pilots": pilots, "estimator": estimator, "channel": label, **row})
        log(f"{label}: {ebno:5.1f} dB  BER {row['ber']:.3e} ({row['errors']} errors)")
        if row["ci_high"] < experiment.target_ber:
            break
        ebno = round(ebno + experiment.step_db, 6)
    return rows


def losses(points: pd.DataFrame, experiment: Experiment) -> pd.DataFrame:
    """Crossing Eb/N0 per (Np, estimator) with its interval, and the loss vs perfect CSI."""
    rows = []
    target = experiment.target_ber
    for (pilots, estimator), group in points.groupby(["pilots", "estimator"], sort=False):
        rows.append({
            "pilots": pilots, "estimator": estimator,
            "ebno_db": ebno_at_ber(group["ebno_db"], group["ber"], target),
            "ebno_low_db": ebno_at_ber(group["ebno_db"], group["ci_low"], target),
            "ebno_high_db": ebno_at_ber(group["ebno_db"], group["ci_high"], target),
        })
    table = pd.DataFrame(rows)
    perfect = table[table["estimator"] == "perfect"].set_index("pilots")["ebno_db"]
    table["loss_db"] = table["ebno_db"] - table["pilots"].map(perfect)
    table["anchor_ls_loss_db"] = [ANCHOR_LS_LOSS_DB.get(p) if e == "ls" else math.nan
                                  for p, e in zip(table["pilots"], table["estimator"],
                                                  strict=True)]
    table["ls_formula_db"] = [10 * math.log10(1 + 1 / p) for p in table["pilots"]]
    table["pilot_overhead_db"] = [
        10 * math.log10(experiment.coherence / (experiment.coherence - p))
        for p in table["pilots"]]
    return table


def plot(points: pd.DataFrame, path: Path, experiment: Experiment) -> None:
    fig, ax = plt.subplots(figsize=(7, 5))
    styles = {"perfect": "-", "ls": "--", "lmmse": ":"}
    for index, pilots in enumerate(experiment.pilots):
        color = f"C{index}"
        for estimator in ESTIMATORS:
            group = points[(points["pilots"] == pilots) & (points["estimator"] == estimator)]
            group = group[group["ber"] > 0]
            ax.semilogy(group["ebno_db"], group["ber"], styles[estimator], color=color,
                        label=f"qam Np={pilots} {estimator}")
    ax.axhline(experiment.target_ber, color="grey", linewidth=0.5)
    ax.set_xlabel("Eb/N0 (dB, per information bit, pilots charged)")
    ax.set_ylabel("BER")
    ax.set_title(f"Gray 16QAM, rayleigh block fading N = {experiment.coherence}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [row for pilots in experiment.pilots for estimator in ESTIMATORS
            for row in curve(experiment, pilots, estimator, log)]
    points = pd.DataFrame(rows)
    points.to_csv(out / "points.csv", index=False)
    table = losses(points, experiment)
    table.to_csv(out / "losses.csv", index=False)
    plot(points, out / "ber.png", experiment)
    return table


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--smoke", is_flag=True, help="Tiny budget (seconds).")
@click.option("--pilots", default="1,2,4,8", show_default=True,
              help="Comma-separated pilots per coherence block.")
@click.option("--target-errors", type=int, default=200_000, show_default=True,
              help="Bit errors per point.")
@click.option("--max-bits", type=int, default=100_000_000, show_default=True,
              help="Most bits per point.")
@click.option("--models", default=None, help="Unused (qam only); accepted like every script.")
@click.option("--out", default="results/csi_estimation", show_default=True,
              help="Output folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every point.")
def main(smoke: bool, pilots: str, target_errors: int, max_bits: int, models: str | None,
         out: str, seed: int) -> None:
    experiment = Experiment(pilots=tuple(int(p) for p in pilots.split(",") if p.strip()),
                            target_errors=target_errors, max_bits=max_bits, out=out, seed=seed)
    if smoke:
        experiment.pilots, experiment.start_db, experiment.step_db = (2,), 0.0, 10.0
        experiment.target_ber, experiment.stop_db = 1e-1, 30.0
        experiment.target_errors, experiment.max_bits = 200, 100_000
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(experiment), indent=1))
    click.echo(run(experiment, log=lambda message: click.echo(message, err=True))
               .to_string(index=False))


if __name__ == "__main__":
    main()
