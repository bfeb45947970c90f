"""The full attack suite against gan-enc on awgn and rayleigh, beside the reference systems.

The suite is ``commgan attack``'s; the reference systems are those the systems registry marks
``attack_reference``.

Writes under --out (default results/security_eval/): CHANNEL/attack.csv, attack.png,
config.json, summary.csv (every row of both channels) and experiment.json. ``--smoke`` runs a
tiny budget with tiny models (verdicts then mean nothing; it checks the plumbing).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import pandas as pd

from channels import get_modulation
from commgan.comm.eavesdroppers import EVE_SIZES, EveTraining
from commgan.comm.registry import learned_systems, system_spec
from commgan.configfile import config_option
from commgan.errors import CommganError
from commgan.security.attack import BUDGETS, AttackBudget, AttackConfig, run_attack
from commgan.security.report import format_attack_table, write_attack_results
from commgan.security.scenarios import SCENARIOS, parse_scenarios
from commgan.sim.results import write_csv
from commgan.systems import SystemContext, build_systems, load_or_train

SMOKE_BUDGET = AttackBudget(train_bits=5_120, val_bits=2_560, test_bits=5_120, restarts=1,
                            eve=EveTraining(steps=20, eval_every=10), critic_steps=20,
                            key_fit_steps=10)
"""The ``--smoke`` budget: a few thousand bits and steps per Eve."""


@dataclass
class SecurityEval:
    """Scope and budget of the evaluation."""

    channels: tuple[str, ...] = ("awgn", "rayleigh")
    """Channels, one attack run each (a fresh random key for the whole evaluation)."""
    ebno_db: tuple[float, ...] = (0.0, 10.0, 20.0)
    """Bob's Eb/N0 points in dB."""
    budget: str = "full"
    """A budget name of ``commgan.security.attack.BUDGETS``."""
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    """Scenario names of ``commgan.security.scenarios.SCENARIOS``."""
    eve_sizes: tuple[str, ...] = tuple(EVE_SIZES)
    """Known-plaintext decoder sizes."""
    models: str | None = None
    """Model cache folder; None = the default cache."""
    out: str = "results/security_eval"
    """Output folder."""
    seed: int = 0
    """Seed of every attack run."""
    device: str = "cpu"
    """Torch device."""
    smoke: bool = False
    """Tiny models and :data:`SMOKE_BUDGET` (a plumbing check)."""


def _tiny_models(context: SystemContext) -> None:
    """Train every learned system for a few steps (smoke runs only)."""
    for name in learned_systems():
        training = system_spec(name).learned.default_training(get_modulation(context.mod),
                                                               context.channel)
        training.steps, training.frame_bits = 20, 64
        load_or_train(name, context, training, retrain=True)


def run(experiment: SecurityEval) -> pd.DataFrame:
    """Attack gan-enc (and the reference systems) on every channel; return all rows."""
    key = os.urandom(32)
    rows = []
    for channel in experiment.channels:
        context = SystemContext(mod="16qam", channel=channel, device=experiment.device, key=key,
                                models_dir=experiment.models,
                                log=lambda message: click.echo(message, err=True))
        if experiment.smoke:
            _tiny_models(context)
        config = AttackConfig(systems=("gan-enc",), channel=channel,
                              scenarios=experiment.scenarios, ebno_db=experiment.ebno_db,
                              budget=SMOKE_BUDGET if experiment.smoke else experiment.budget,
                              seed=experiment.seed, eve_sizes=experiment.eve_sizes,
                              device=experiment.device)
        systems = build_systems([name for name, _ in config.attacked_systems()], context)
        config.models = systems.fingerprints()
        folder = Path(experiment.out) / channel
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / "attack.partial.csv"
        results = run_attack(config, systems, key, progress=True,
                             on_row=lambda table, path=partial: write_csv(table, path))
        write_attack_results(results, folder, config)
        partial.unlink(missing_ok=True)
        click.echo(f"\n== {channel} (budget {config.budget_name}) ==")
        click.echo(format_attack_table(results))
        rows.append(results)
    summary = pd.concat(rows, ignore_index=True)
    write_csv(summary, Path(experiment.out) / "summary.csv")
    return summary


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--channels", default="awgn,rayleigh", show_default=True,
              help="Comma-separated channels.")
@click.option("--ebno", default="0,10,20", show_default=True, help="Comma list, dB.")
@click.option("--budget", type=click.Choice(list(BUDGETS)), default="full", show_default=True)
@click.option("--scenarios", default="all", show_default=True,
              help="all, or a comma list (see commgan attack --help).")
@click.option("--eve-sizes", default=",".join(EVE_SIZES), show_default=True,
              help="Known-plaintext decoder sizes (comma list).")
@click.option("--models", default=None, help="Model cache folder.")
@click.option("--out", default="results/security_eval", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--smoke", is_flag=True, help="Tiny models and budget (plumbing check).")
def main(channels: str, ebno: str, budget: str, scenarios: str, eve_sizes: str,
         models: str | None, out: str, seed: int, device: str, smoke: bool) -> None:
    """Run the suite and print one table per channel."""
    sizes = tuple(eve_sizes.split(","))
    unknown = set(sizes) - set(EVE_SIZES)
    if unknown:
        raise click.BadParameter(f"unknown Eve size(s) {sorted(unknown)}; "
                                 f"choose from {', '.join(EVE_SIZES)}", param_hint="--eve-sizes")
    try:
        chosen = parse_scenarios(scenarios)
    except CommganError as err:
        raise click.BadParameter(str(err), param_hint="--scenarios") from None
    experiment = SecurityEval(channels=tuple(channels.split(",")),
                              ebno_db=tuple(float(v) for v in ebno.split(",")), budget=budget,
                              scenarios=chosen, eve_sizes=sizes, models=models, out=out,
                              seed=seed, device=device, smoke=smoke)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(experiment), indent=1))
    run(experiment)


if __name__ == "__main__":
    main()
