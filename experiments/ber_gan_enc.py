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

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from channels import get_modulation
from commgan.checkpoint import checkpoint_paths, models_dir
from commgan.sim.analysis import ebno_at_ber
from commgan.sim.config import SimulationConfig
from commgan.sim.models import LEARNED_SYSTEMS, SystemContext, build_systems, load_or_train
from commgan.sim.sweep import run_sweep

SYSTEMS = ("qam", "ae", "gan-enc", "gan-enc-naive")


@dataclass
class Experiment:
    """Budget and scope."""

    channels: tuple[str, ...] = ("awgn", "rayleigh")
    offsets_db: tuple[float, ...] = (0.0, 10.0)
    ebno_db: tuple[float, ...] = tuple(float(x) for x in range(0, 31, 3))
    target_errors: int = 1000
    max_bits: int = 4_000_000
    covert_lambda: float = 1.0
    covert_channels: tuple[str, ...] = ("rayleigh",)
    training_steps: int | None = None
    models: str | None = None
    out: str = "results/ber_gan_enc"
    seed: int = 0


def _sidecar_metrics(models: Path, name: str, channel: str) -> dict:
    from commgan.sim.models import model_stem

    _, meta = checkpoint_paths(model_stem(models, name, channel, "16qam"))
    return json.loads(meta.read_text())["metrics"]


def _train(name: str, context: SystemContext, steps: int | None, **overrides):
    training = LEARNED_SYSTEMS[name].default_training(get_modulation("16qam"))
    if steps is not None:
        training.steps, training.frame_bits = steps, 64
    for key, value in overrides.items():
        setattr(training, key, value)
    return load_or_train(name, context, training, retrain=True)


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    out = Path(experiment.out)
    rows = []
    for channel in experiment.channels:
        context = SystemContext(mod="16qam", channel=channel, models_dir=experiment.models,
                                log=log)
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
                models={n: s.fingerprint for n, s in systems.items() if hasattr(s, "fingerprint")})
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
            row[f"gan_enc_eve_ci_contains_half_offset_{offset:g}"] = bool(
                ((eve["ci_low"] <= 0.5) & (eve["ci_high"] >= 0.5)).all())
            ae_eve = table[(table["receiver"] == "eve") & (table["system"] == "ae")]
            nearest = ae_eve.iloc[(ae_eve["ebno_db"] - 10.0).abs().argmin()]
            row[f"ae_eve_ber_at_{nearest['ebno_db']:g}dB_offset_{offset:g}"] = float(
                nearest["ber"])
        models = context.models
        for name in ("gan-enc", "gan-enc-naive"):
            metrics = _sidecar_metrics(models, name, channel)
            row[f"{name}_independence_critic_acc"] = metrics["independence_critic_acc"]
            row[f"{name}_in_loop_eve_ber_10dB"] = metrics["eve_ber_at_10dB"]
            row[f"{name}_covertness_critic_acc"] = metrics["covertness_critic_acc"]
            row[f"{name}_bob_ber_10dB"] = metrics["ber_at_10dB"]
        if channel in experiment.covert_channels:
            covert_context = SystemContext(mod="16qam", channel=channel,
                                           models_dir=Path(models) / "covert", log=log)
            _train("gan-enc", covert_context, experiment.training_steps,
                   lambda_covert=experiment.covert_lambda)
            metrics = _sidecar_metrics(Path(models) / "covert", "gan-enc", channel)
            row["covert_lambda"] = experiment.covert_lambda
            row["covert_bob_ber_10dB"] = metrics["ber_at_10dB"]
            row["covert_covertness_critic_acc"] = metrics["covertness_critic_acc"]
        rows.append(row)
        log(json.dumps(row, indent=1))
    summary = pd.DataFrame(rows)
    summary.to_csv(out / "summary.csv", index=False)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny models and budget")
    parser.add_argument("--models", default=None, help="model cache folder")
    parser.add_argument("--out", default="results/ber_gan_enc")
    args = parser.parse_args()
    experiment = Experiment(models=args.models, out=args.out)
    if args.smoke:
        experiment.training_steps, experiment.max_bits = 20, 20_000
        experiment.target_errors, experiment.ebno_db = 50, (0.0, 10.0)
        experiment.channels = experiment.covert_channels = ("awgn",)
    experiment.models = str(models_dir(experiment.models))
    print(run(experiment).T.to_string())


if __name__ == "__main__":
    main()
