"""The full attack suite (``commgan attack``) against gan-enc on awgn and rayleigh, with the
reference systems (ae, gan-enc-naive, qam, qam+chacha) beside it.

Writes under --out (default results/security_eval/): CHANNEL/attack.csv, attack.png,
config.json, and summary.csv (every row of both channels). ``--smoke`` runs a tiny budget
with tiny models (verdicts then mean nothing; it checks the plumbing).
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import pandas as pd

from channels import get_modulation
from commgan.comm.eavesdroppers import EVE_SIZES, EveTraining
from commgan.sim.attack import (
    AttackBudget,
    AttackConfig,
    format_attack_table,
    parse_scenarios,
    run_attack,
    write_attack_results,
)
from commgan.sim.models import LEARNED_SYSTEMS, SystemContext, build_systems, load_or_train
from commgan.sim.results import write_csv

SMOKE_BUDGET = AttackBudget(train_bits=5_120, val_bits=2_560, test_bits=5_120, restarts=1,
                            eve=EveTraining(steps=20, eval_every=10), critic_steps=20,
                            key_fit_steps=10)


def _tiny_models(context: SystemContext) -> None:
    """Train every learned system for a few steps (smoke runs only)."""
    for name, spec in LEARNED_SYSTEMS.items():
        training = spec.default_training(get_modulation(context.mod))
        training.steps, training.frame_bits = 20, 64
        load_or_train(name, context, training, retrain=True)


@click.command()
@click.option("--channels", default="awgn,rayleigh", show_default=True)
@click.option("--ebno", default="0,10,20", show_default=True, help="Comma list, dB.")
@click.option("--budget", type=click.Choice(["small", "full"]), default="full",
              show_default=True)
@click.option("--scenarios", default="all", show_default=True,
              help="all, or a comma list (see commgan attack --help).")
@click.option("--eve-sizes", default=",".join(EVE_SIZES), show_default=True,
              help="Known-plaintext decoder sizes (comma list).")
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/security_eval", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--smoke", is_flag=True, help="Tiny models and budget (plumbing check).")
def main(channels, ebno, budget, scenarios, eve_sizes, models, out, seed, device, smoke) -> None:
    """Run the suite and print one table per channel."""
    unknown = set(eve_sizes.split(",")) - set(EVE_SIZES)
    if unknown:
        raise click.BadParameter(f"unknown Eve size(s) {sorted(unknown)}; "
                                 f"choose from {', '.join(EVE_SIZES)}", param_hint="--eve-sizes")
    key = os.urandom(32)
    rows = []
    for channel in channels.split(","):
        context = SystemContext(mod="16qam", channel=channel, device=device, key=key,
                                models_dir=models, log=lambda message: click.echo(message,
                                                                                 err=True))
        if smoke:
            _tiny_models(context)
        config = AttackConfig(systems=("gan-enc",), channel=channel,
                              scenarios=parse_scenarios(scenarios),
                              ebno_db=tuple(float(v) for v in ebno.split(",")),
                              budget=SMOKE_BUDGET if smoke else budget, seed=seed,
                              eve_sizes=tuple(eve_sizes.split(",")),
                              device=device)
        systems = build_systems([name for name, _ in config.attacked_systems()], context)
        config.models = {name: s.fingerprint for name, s in systems.items()
                         if getattr(s, "fingerprint", None)}
        folder = Path(out) / channel
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / "attack.partial.csv"
        results = run_attack(config, systems, key, progress=True,
                             on_row=lambda table, path=partial: write_csv(table, path))
        write_attack_results(results, folder, config)
        (folder / "attack.partial.csv").unlink(missing_ok=True)
        click.echo(f"\n== {channel} (budget {config.budget_name}) ==")
        click.echo(format_attack_table(results))
        rows.append(results)
    write_csv(pd.concat(rows, ignore_index=True), Path(out) / "summary.csv")


if __name__ == "__main__":
    main()
