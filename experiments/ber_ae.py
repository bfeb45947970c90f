"""ae vs Gray 16QAM (Monte Carlo and theory) on awgn and rayleigh: BER curves and Eb/N0 gaps.

Writes, under --out (default results/ber_ae/): CHANNEL/results.csv, CHANNEL/ber.png and
config.json per channel, and gaps.csv: per channel the horizontal gap of ae to 16QAM theory at
BER 1e-2 and 1e-3 and the worst per-point gap (positive = ae needs more Eb/N0).

    python experiments/ber_ae.py                # full budget (trains ae if not cached)
    python experiments/ber_ae.py --smoke        # seconds: tiny training and sweep
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import pandas as pd

from commgan.comm.autoencoder import AutoencoderTraining
from commgan.configfile import config_option
from commgan.sim.analysis import ebno_at_ber, gap_to_theory_db
from commgan.sim.config import SimulationConfig
from commgan.sim.sweep import run_sweep
from commgan.systems import SystemContext, build_systems, load_or_train

GRIDS = {"awgn": tuple(float(x) for x in range(0, 15)),
         "rayleigh": tuple(float(x) for x in range(0, 31, 2))}
# On block fading a few deep fades carry most errors, so a target error count is reached after
# few independent frames and the interval stays wide (+-25% at 2000 errors); on Rayleigh's
# shallow curve that is +-1 dB. Rayleigh points therefore get a fixed 2e7 bits (~40 000 fades).
BUDGETS = {"awgn": (2000, 100_000_000), "rayleigh": (1 << 40, 20_000_000)}


@dataclass
class Experiment:
    """Scope and budget of the experiment."""

    channels: tuple[str, ...] = ("awgn", "rayleigh")
    """Channels to sweep (each has its grid in GRIDS and budget in BUDGETS)."""
    budget_scale: float = 1.0
    """Multiplies every point's target errors and bit budget."""
    training_steps: int | None = None
    """Retrain ae with this many steps first; None = use the cached (or default) model."""
    models: str | None = None
    """Model cache folder; None = the default cache."""
    out: str = "results/ber_ae"
    """Output folder."""
    seed: int = 0
    """Seed of every point."""


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    rows = []
    for channel in experiment.channels:
        context = SystemContext(mod="16qam", channel=channel, models_dir=experiment.models,
                                log=log)
        if experiment.training_steps is not None:
            training = AutoencoderTraining(steps=experiment.training_steps, frame_bits=64)
            load_or_train("ae", context, training, retrain=True)
        systems = build_systems(["ae", "qam"], context)
        target_errors, max_bits = BUDGETS[channel]
        config = SimulationConfig(channel=channel, mod="16qam", systems=("ae", "qam"),
                                  ebno_db=GRIDS[channel],
                                  target_errors=int(target_errors * experiment.budget_scale),
                                  max_bits=int(max_bits * experiment.budget_scale),
                                  seed=experiment.seed, models=systems.fingerprints())
        table = run_sweep(config, systems, Path(experiment.out) / channel, log=log)
        ae = table[(table["system"] == "ae") & (table["errors"] > 0)]
        theory_curve = table.drop_duplicates("ebno_db").sort_values("ebno_db")
        point_gaps = gap_to_theory_db(ae["ebno_db"], ae["ber"], "16qam", channel)
        row = {"channel": channel, "max_point_gap_db": float(point_gaps.max()),
               "max_gap_at_ebno_db": float(ae["ebno_db"].iloc[point_gaps.argmax()])}
        for target in (1e-2, 1e-3):
            ae_x = ebno_at_ber(ae["ebno_db"], ae["ber"], target)
            qam_x = ebno_at_ber(theory_curve["ebno_db"], theory_curve["theory"], target)
            row[f"gap_at_{target:g}_db"] = ae_x - qam_x
        rows.append(row)
        log(f"{channel}: " + ", ".join(f"{k} {v:+.3f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in row.items() if k != "channel"))
    gaps = pd.DataFrame(rows)
    gaps.to_csv(Path(experiment.out) / "gaps.csv", index=False)
    return gaps


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--smoke", is_flag=True, help="Tiny training and sweep (seconds).")
@click.option("--channels", default="awgn,rayleigh", show_default=True,
              help="Comma-separated channels.")
@click.option("--budget-scale", type=float, default=1.0, show_default=True,
              help="Multiplies every point's target errors and bit budget.")
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/ber_ae", show_default=True, help="Output folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every point.")
def main(smoke: bool, channels: str, budget_scale: float, models: str | None, out: str,
         seed: int) -> None:
    experiment = Experiment(channels=tuple(c.strip() for c in channels.split(",") if c.strip()),
                            budget_scale=budget_scale, models=models, out=out, seed=seed)
    if smoke:
        experiment.budget_scale, experiment.training_steps = 1e-3, 30
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(experiment), indent=1))
    click.echo(run(experiment).to_string(index=False))


if __name__ == "__main__":
    main()
