"""The survey's claims for the DCGAN-encrypted link (seed 003, section 3.2), on awgn and rayleigh:

1. Bob's BER on gan-enc is similar to traditional 16QAM (and to the plain ae);
2. an eavesdropper is worse off against gan-enc than against the plain ae (Eve on ae runs the
   public decoder on her own channel, Kerckhoffs), at Eve Eb/N0 offsets 0 and +10 dB, 0-30 dB.

Also gan-enc-naive (continuous key mixing: its in-loop Eve and independence critic) and one
lambda_covert > 0 model (BER cost against the covertness critic's accuracy).

Writes under --out (default results/ber_gan_enc/): CHANNEL/offset_X/results.csv + ber.png and
summary.csv. ``--smoke`` runs in about a minute with tiny models.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import pandas as pd
from scipy import stats

from channels import get_modulation
from commgan.checkpoint import models_dir
from commgan.comm.registry import system_spec
from commgan.configfile import config_option
from commgan.sim.analysis import ebno_at_ber
from commgan.sim.config import SimulationConfig
from commgan.sim.sweep import run_sweep
from commgan.systems import SystemContext, build_systems, load_or_train

SYSTEMS = ("qam", "ae", "gan-enc", "gan-enc-naive")


@dataclass
class Experiment:
    """Scope and budget."""

    channels: tuple[str, ...] = ("awgn", "rayleigh")
    """Channels to sweep."""
    offsets_db: tuple[float, ...] = (0.0, 10.0)
    """Eve's Eb/N0 minus Bob's, one sweep each."""
    ebno_db: tuple[float, ...] = tuple(float(x) for x in range(0, 31, 3))
    """Bob's Eb/N0 grid in dB."""
    target_errors: int = 1000
    """Bit errors per point and receiver."""
    max_bits: int = 4_000_000
    """Most bits per point."""
    covert_lambda: float = 1.0
    """Covertness weight of the extra gan-enc model."""
    covert_channels: tuple[str, ...] = ("rayleigh",)
    """Channels on which the covert model is trained and measured."""
    training_steps: int | None = None
    """Retrain the learned systems with this many steps first; None = cached models."""
    models: str | None = None
    """Model cache folder; None = the default cache."""
    out: str = "results/ber_gan_enc"
    """Output folder."""
    seed: int = 0
    """Seed of the first sweep (each offset adds one)."""
    seeded_key: bool = False
    """Derive the key from ``seed`` (smoke runs: the same numbers every run, so their check of
    Eve's joint interval is not a 5% coin toss); False = a fresh random key."""


def joint_covers_half(rows: pd.DataFrame, confidence: float = 0.95) -> bool:
    """Whether simultaneous ``confidence`` intervals of all ``rows`` (Bonferroni over the points)
    contain 0.5. Each row's 95% interval is widened about its estimate by z(1 - a/2N) / z(1 -
    a/2): at a BER near 0.5 the intervals are symmetric and normal to within rounding."""
    alpha = 1.0 - confidence
    widen = stats.norm.ppf(1 - alpha / (2 * len(rows))) / stats.norm.ppf(1 - alpha / 2)
    low = rows["ber"] - (rows["ber"] - rows["ci_low"]) * widen
    high = rows["ber"] + (rows["ci_high"] - rows["ber"]) * widen
    return bool(((low <= 0.5) & (high >= 0.5)).all())


def _sidecar_metrics(name: str, context: SystemContext) -> dict:
    return load_or_train(name, context).model.sidecar["metrics"]


def _train(name: str, context: SystemContext, steps: int | None, **overrides):
    training = system_spec(name).learned.default_training(get_modulation("16qam"),
                                                          context.channel)
    if steps is not None:
        training.steps, training.frame_bits = steps, 64
    for key, value in overrides.items():
        setattr(training, key, value)
    return load_or_train(name, context, training, retrain=True)


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    out = Path(experiment.out)
    rows = []
    for channel in experiment.channels:
        key = (hashlib.sha256(f"ber_gan_enc-{experiment.seed}".encode()).digest()
               if experiment.seeded_key else os.urandom(32))
        context = SystemContext(mod="16qam", channel=channel, models_dir=experiment.models,
                                key=key, log=log)
        if experiment.training_steps is not None:
            for name in ("ae", "gan-enc", "gan-enc-naive"):
                _train(name, context, experiment.training_steps)
        systems = build_systems(list(SYSTEMS), context)
        tables = {}
        for index, offset in enumerate(experiment.offsets_db):
            config = SimulationConfig(
                channel=channel, mod="16qam", systems=SYSTEMS, ebno_db=experiment.ebno_db,
                target_errors=experiment.target_errors, max_bits=experiment.max_bits,
                eve_ebno_offset_db=offset, eve_for_all=True, early_stop=False,
                seed=experiment.seed + index,  # own seed, so frame nonces never repeat
                models=systems.fingerprints())
            tables[offset] = run_sweep(config, systems, out / channel / f"offset_{offset:g}",
                                       log=log)
        row = {"channel": channel}
        base = tables[experiment.offsets_db[0]]
        bob = base[base["receiver"] == "bob"]
        for target in (1e-2, 1e-3):
            at = {name: ebno_at_ber(rows_["ebno_db"], rows_["ber"], target)
                  for name, rows_ in bob.groupby("system")}
            row[f"gan_enc_minus_ae_db_at_{target:g}"] = at["gan-enc"] - at["ae"]
            row[f"gan_enc_minus_qam_db_at_{target:g}"] = at["gan-enc"] - at["qam"]
        for offset, table in tables.items():
            eve = table[(table["receiver"] == "eve") & (table["system"] == "gan-enc")]
            row[f"gan_enc_eve_ber_min_offset_{offset:g}"] = float(eve["ber"].min())
            row[f"gan_enc_eve_ber_max_offset_{offset:g}"] = float(eve["ber"].max())
            row[f"gan_enc_eve_joint_ci_contains_half_offset_{offset:g}"] = joint_covers_half(eve)
            ae_eve = table[(table["receiver"] == "eve") & (table["system"] == "ae")]
            nearest = ae_eve.iloc[(ae_eve["ebno_db"] - 10.0).abs().argmin()]
            row[f"ae_eve_ber_at_{nearest['ebno_db']:g}dB_offset_{offset:g}"] = float(
                nearest["ber"])
        models = context.models
        for name in ("gan-enc", "gan-enc-naive"):
            metrics = _sidecar_metrics(name, context)
            row[f"{name}_independence_critic_acc"] = metrics["independence_critic_acc"]
            row[f"{name}_in_loop_eve_ber_10dB"] = metrics["eve_ber_at_10dB"]
            row[f"{name}_covertness_critic_acc"] = metrics["covertness_critic_acc"]
            row[f"{name}_bob_ber_10dB"] = metrics["ber_at_10dB"]
        if channel in experiment.covert_channels:
            covert_context = SystemContext(mod="16qam", channel=channel,
                                           models_dir=Path(models) / "covert", key=key, log=log)
            _train("gan-enc", covert_context, experiment.training_steps,
                   lambda_covert=experiment.covert_lambda)
            metrics = _sidecar_metrics("gan-enc", covert_context)
            row["covert_lambda"] = experiment.covert_lambda
            row["covert_bob_ber_10dB"] = metrics["ber_at_10dB"]
            row["covert_covertness_critic_acc"] = metrics["covertness_critic_acc"]
        rows.append(row)
        log(json.dumps(row, indent=1))
    summary = pd.DataFrame(rows)
    summary.to_csv(out / "summary.csv", index=False)
    return summary


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--smoke", is_flag=True, help="Tiny models and budget (about a minute).")
@click.option("--channels", default="awgn,rayleigh", show_default=True,
              help="Comma-separated channels.")
@click.option("--max-bits", type=int, default=4_000_000, show_default=True,
              help="Most bits per point.")
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/ber_gan_enc", show_default=True, help="Output folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the first sweep.")
def main(smoke: bool, channels: str, max_bits: int, models: str | None, out: str,
         seed: int) -> None:
    experiment = Experiment(channels=tuple(c.strip() for c in channels.split(",") if c.strip()),
                            max_bits=max_bits, models=models, out=out, seed=seed)
    if smoke:
        experiment.training_steps, experiment.max_bits = 20, 20_000
        experiment.target_errors, experiment.ebno_db = 50, (0.0, 10.0)
        experiment.channels = experiment.covert_channels = ("awgn",)
        experiment.seeded_key = True
    experiment.models = str(models_dir(experiment.models))
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(experiment), indent=1))
    click.echo(run(experiment).T.to_string())


if __name__ == "__main__":
    main()
