"""WGAN-GP vs the vanilla GAN on the 8-Gaussian ring: modes covered and sample quality.

Both kinds train the same G and D (ReLU MLPs, `commgan.gan.toys.toy_gan`) on Gulrajani et al.'s
toy (8 modes on a circle of radius 1.414, std 0.0141); they differ only in the objective and the
n_critic / Adam betas each method prescribes (`commgan.gan.toys.TOY_GAN_KINDS`). Seed s gives
both kinds the same initial G, the same data stream and the same evaluation noise.

After training, and every --measure-every iterations, G's samples are measured: a mode is
covered when at least 1% of them lie within 3 std of its centre; the high-quality share is the
share within 3 std of any centre (real data: 0.989); mode_kl is the KL (nats) of the
high-quality samples' mode shares from uniform. The same counts within 10 std give a looser
quality level. Writes, under --out (default results/wgan_gp_toy/): toy.csv (per kind and seed,
after training), trajectory.csv (per kind, seed and measured iteration), toy.png (real vs
generated samples of the first seed of each kind, a summary and the modes covered along
training) and config.json; prints a markdown table.

    python experiments/wgan_gp_toy.py            # the default budget (minutes on one core)
    python experiments/wgan_gp_toy.py --iterations 20000 --measure-every 1000 \
        --out results/wgan_gp_toy/iterations_20000    # 4x longer (about 15 min on one core)
    python experiments/wgan_gp_toy.py --smoke    # seconds: the plumbing on a tiny budget
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from commgan.cli.options import comma_list, listed  # noqa: E402
from commgan.configfile import config_option  # noqa: E402
from commgan.fileio import atomic_write, write_json  # noqa: E402
from commgan.gan import GANTrainer  # noqa: E402
from commgan.gan.toys import (  # noqa: E402
    HIGH_QUALITY_STDS,
    MIN_MODE_SHARE,
    TOY_GAN_KINDS,
    GaussianRing,
    measure,
    toy_gan,
)
from commgan.parallel import configure_process  # noqa: E402
from commgan.rng import derive_seed, generator  # noqa: E402

LOOSE_STDS = 10.0
"""The looser quality level: within 10 std (0.14 data units) of a centre; neighbouring centres
are 76 std apart, so the 10-std discs are still disjoint."""


@dataclass
class Experiment:
    """Budget, networks and where the files go (saved as config.json)."""

    seeds: int = 5
    """Training seeds per kind (0 .. seeds - 1)."""
    iterations: int = 5000
    """Generator updates per training run (WGAN-GP makes 5 critic updates per iteration)."""
    hidden: tuple[int, ...] = (64, 64, 64)
    """Hidden widths of both G and D."""
    lr: float | None = None
    """Adam learning rate of both sides; None = the kind's (1e-4, Gulrajani et al.'s toy)."""
    batch_size: int = 256
    """Real and generated samples per step."""
    eval_samples: int = 10000
    """Generated samples measured per checkpoint."""
    measure_every: int = 500
    """Measure G's samples every this many iterations (and after the last)."""
    kinds: tuple[str, ...] = tuple(TOY_GAN_KINDS)
    """Kinds of `TOY_GAN_KINDS` trained."""
    smoke: bool = False
    """Tiny budget (seconds; the numbers mean nothing)."""
    quiet: bool = False
    """No progress bar or log lines (the table is still printed)."""
    out: str = "results/wgan_gp_toy"
    """Output folder."""

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.kinds if kind not in TOY_GAN_KINDS]
        if unknown:
            raise click.BadParameter(f"unknown kind(s) {', '.join(unknown)}; valid: "
                                     f"{', '.join(TOY_GAN_KINDS)}", param_hint="--kinds")
        if not self.kinds or len(set(self.kinds)) != len(self.kinds):
            raise click.BadParameter("give each kind once", param_hint="--kinds")
        if not self.hidden or min(self.hidden) < 1:
            raise click.BadParameter("hidden widths must be positive", param_hint="--hidden")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise click.BadParameter(f"must be a positive number, got {self.lr}",
                                     param_hint="--lr")


SMOKE = {"seeds": 2, "iterations": 20, "hidden": (16, 16), "eval_samples": 800,
         "measure_every": 10}
"""Defaults of ``--smoke`` runs for the options not given."""


@dataclass
class Run:
    """One trained kind and seed: its final row, its measured checkpoints and its samples."""

    row: dict[str, object]
    trajectory: list[dict[str, object]]
    samples: torch.Tensor


def measures_row(samples: torch.Tensor, ring: GaussianRing) -> dict[str, object]:
    """The measures of samples [N, 2] at 3 std (main level) and at `LOOSE_STDS`, as columns."""
    strict = measure(samples, ring, HIGH_QUALITY_STDS, MIN_MODE_SHARE)
    loose = measure(samples, ring, LOOSE_STDS, MIN_MODE_SHARE)
    return {"modes_covered": strict.modes_covered,
            "high_quality_share": strict.high_quality_share,
            "mode_kl": strict.mode_kl,
            "modes_covered_10std": loose.modes_covered,
            "share_within_10std": loose.high_quality_share,
            **{f"count_mode_{k}": count for k, count in enumerate(strict.counts)}}


def train_one(kind: str, seed: int, experiment: Experiment, ring: GaussianRing) -> Run:
    """Train one kind with one seed, measuring G every ``measure_every`` iterations."""
    spec = TOY_GAN_KINDS[kind]
    problem = toy_gan(kind, hidden=experiment.hidden, seed=seed, ring=ring,
                      batch_size=experiment.batch_size)
    lr = experiment.lr if experiment.lr is not None else spec.lr
    config = spec.trainer_config(experiment.iterations, seed, lr_g=lr, lr_d=lr,
                                 name=f"{kind} seed {seed}")
    trainer = GANTrainer(problem, config)
    noise = torch.randn(experiment.eval_samples, *problem.noise_shape,
                        generator=generator(derive_seed("wgan_gp_toy evaluation", seed)))
    trajectory: list[dict[str, object]] = []
    samples = torch.empty(0, 2)
    while trainer.iteration < experiment.iterations:
        step = min(experiment.measure_every, experiment.iterations - trainer.iteration)
        history = trainer.fit(iterations=step)
        with torch.no_grad():
            samples = problem.generator(noise)
        trajectory.append({"kind": kind, "seed": seed, "iteration": trainer.iteration,
                           **measures_row(samples, ring)})
    last = history.iloc[-1]
    row = {"kind": kind, "seed": seed, "iterations": trainer.iteration,
           "n_critic": spec.n_critic, "lr": lr, "gp_weight": spec.gp_weight,
           **{key: value for key, value in trajectory[-1].items()
              if key not in ("kind", "seed", "iteration")},
           "loss_d": float(last["loss_d"]), "loss_g": float(last["loss_g"]),
           "seconds": float(last["seconds"])}
    return Run(row, trajectory, samples)


def _mean_std(values: pd.Series, digits: int) -> str:
    std = values.std(ddof=1) if len(values) > 1 else float("nan")
    return f"{values.mean():.{digits}f} ± {std:.{digits}f}"


def summary_table(table: pd.DataFrame, trajectory: pd.DataFrame, iterations: int) -> str:
    """The markdown table: mean ± std over seeds per kind, and counts of all-8 coverage."""
    lines = ["| kind | iterations | modes covered | seeds with all 8 | high-quality share | "
             "mode KL (nats) | modes covered (10 std) | share within 10 std | "
             "all-8 checkpoints, 2nd half | train s/seed |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    late = trajectory[trajectory["iteration"] > iterations / 2]
    for kind, rows in table.groupby("kind", sort=False):
        late_kind = late[late["kind"] == kind]
        late_all = int((late_kind["modes_covered"] == 8).sum())
        lines.append(
            f"| {kind} | {int(rows['iterations'].iloc[0])} "
            f"| {_mean_std(rows['modes_covered'], 1)} "
            f"| {int((rows['modes_covered'] == 8).sum())}/{len(rows)} "
            f"| {_mean_std(rows['high_quality_share'], 3)} "
            f"| {_mean_std(rows['mode_kl'], 3)} "
            f"| {_mean_std(rows['modes_covered_10std'], 1)} "
            f"| {_mean_std(rows['share_within_10std'], 3)} "
            f"| {late_all}/{len(late_kind)} "
            f"| {rows['seconds'].mean():.1f} |")
    return "\n".join(lines)


def _plot(runs: dict[tuple[str, int], Run], table: pd.DataFrame, trajectory: pd.DataFrame,
          ring: GaussianRing, path: Path) -> None:
    kinds = list(dict.fromkeys(table["kind"]))
    first_seed = int(table["seed"].min())
    real = ring.sample(2000, generator(derive_seed("wgan_gp_toy plot", 0)))
    colours = dict(zip(kinds, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    fig, axes = plt.subplots(1, len(kinds) + 2, figsize=(4.2 * (len(kinds) + 2), 4.2))
    span = 1.6 * ring.radius
    for ax, kind in zip(axes, kinds, strict=False):
        fake = runs[(kind, first_seed)].samples[:2000]
        row = table[(table["kind"] == kind) & (table["seed"] == first_seed)].iloc[0]
        ax.scatter(real[:, 0], real[:, 1], s=3, color="0.6", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=3, color=colours[kind], alpha=0.5, label="generated")
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
        ax.set_aspect("equal")
        ax.set_title(f"{kind}, seed {first_seed}: {row['modes_covered']} modes, "
                     f"HQ {row['high_quality_share']:.2f}", fontsize=9)
        ax.legend(loc="upper right", fontsize=7, markerscale=3)
    summary_ax = axes[len(kinds)]
    for i, kind in enumerate(kinds):
        rows = table[table["kind"] == kind]
        for j, (column, scale) in enumerate((("modes_covered", 1 / 8),
                                             ("high_quality_share", 1.0))):
            x = 2 * j + 0.4 * (i - (len(kinds) - 1) / 2)
            values = rows[column] * scale
            summary_ax.bar(x, values.mean(), width=0.35, color=colours[kind],
                           label=kind if j == 0 else None)
            summary_ax.scatter([x] * len(values), values, s=10, color="k", zorder=3)
    summary_ax.set_xticks([0, 2], ["modes covered / 8", "high-quality share"])
    summary_ax.set_ylim(0, 1.05)
    summary_ax.set_title(f"after training, {table['seed'].nunique()} seeds (dots)", fontsize=9)
    summary_ax.legend(fontsize=7)
    path_ax = axes[len(kinds) + 1]
    for (kind, _seed), rows in trajectory.groupby(["kind", "seed"], sort=False):
        path_ax.plot(rows["iteration"], rows["modes_covered"], "-", color=colours[kind],
                     alpha=0.6, label=kind if _seed == first_seed else None)
    path_ax.set_xlabel("generator iteration")
    path_ax.set_ylabel(f"modes covered (>= {MIN_MODE_SHARE:.0%} within 3 std)")
    path_ax.set_ylim(-0.3, ring.modes + 0.3)
    path_ax.grid(alpha=0.3)
    path_ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)


def run(experiment: Experiment, log: Callable[[str], None] = click.echo) -> str:
    """Train every kind and seed, write the files; returns the markdown table."""
    configure_process(1)
    ring = GaussianRing()
    jobs = [(kind, seed) for kind in experiment.kinds for seed in range(experiment.seeds)]
    runs: dict[tuple[str, int], Run] = {}
    started = time.perf_counter()
    for kind, seed in tqdm(jobs, desc="wgan_gp_toy", disable=experiment.quiet):
        result = train_one(kind, seed, experiment, ring)
        runs[(kind, seed)] = result
        if not experiment.quiet:
            log(f"{kind} seed {seed}: {result.row['modes_covered']} modes covered, "
                f"high-quality share {result.row['high_quality_share']:.3f}, "
                f"{result.row['seconds']:.1f} s")
    table = pd.DataFrame([r.row for r in runs.values()])
    trajectory = pd.DataFrame([point for r in runs.values() for point in r.trajectory])
    out = Path(experiment.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "toy.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(out / "trajectory.csv", lambda tmp: trajectory.to_csv(tmp, index=False))
    _plot(runs, table, trajectory, ring, out / "toy.png")
    write_json({"experiment": asdict(experiment), "ring": asdict(ring),
                "kinds": {kind: asdict(TOY_GAN_KINDS[kind]) for kind in experiment.kinds},
                "high_quality_stds": HIGH_QUALITY_STDS, "min_mode_share": MIN_MODE_SHARE,
                "loose_stds": LOOSE_STDS, "torch_threads": torch.get_num_threads(),
                "wall_seconds": time.perf_counter() - started}, out / "config.json")
    return summary_table(table, trajectory, experiment.iterations)


@click.command(help=__doc__.splitlines()[0])
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help=f"Training seeds per kind [default: {Experiment.seeds}; --smoke: "
                   f"{SMOKE['seeds']}].")
@click.option("--iterations", type=click.IntRange(min=1), default=None,
              help=f"Generator iterations per run [default: {Experiment.iterations}].")
@click.option("--hidden", callback=comma_list(int),
              help=f"Hidden widths of G and D (comma list) [default: "
                   f"{listed(Experiment.hidden)}].")
@click.option("--lr", type=float, default=None,
              help="Adam learning rate of both sides [default: 1e-4, the WGAN-GP toy's].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help=f"Samples per step [default: {Experiment.batch_size}].")
@click.option("--eval-samples", type=click.IntRange(min=1), default=None,
              help=f"Generated samples measured [default: {Experiment.eval_samples}].")
@click.option("--measure-every", type=click.IntRange(min=1), default=None,
              help=f"Measure every this many iterations [default: {Experiment.measure_every}].")
@click.option("--kinds", callback=comma_list(str),
              help=f"Kinds trained (comma list) [default: {listed(Experiment.kinds)}].")
@click.option("--smoke", is_flag=True, default=None,
              help="Tiny budget: seconds (checks the plumbing).")
@click.option("--quiet", is_flag=True, default=None, help="No progress bar or log lines.")
@click.option("--out", default=None, help=f"Output folder [default: {Experiment.out}].")
@config_option
def main(**options: object) -> None:
    """Build the `Experiment` (smoke defaults, then the options given), run it, print the table."""
    given = {key: value for key, value in options.items() if value is not None}
    experiment = Experiment(**{**(SMOKE if given.get("smoke") else {}), **given})
    click.echo(run(experiment))
    click.echo(f"\nA mode is covered when >= {MIN_MODE_SHARE:.0%} of {experiment.eval_samples} "
               f"generated samples lie within {HIGH_QUALITY_STDS:g} std of its centre; "
               f"high-quality share = samples within {HIGH_QUALITY_STDS:g} std of any centre "
               "(real data: 0.989). Mean ± std over seeds.")


if __name__ == "__main__":
    main()
