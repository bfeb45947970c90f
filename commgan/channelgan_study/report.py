"""The study's outputs: the printed summary table, losses.png, fidelity.png and the result
files of the output folder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from commgan.channelgan_study.config import ConvergenceConfig  # noqa: E402
from commgan.fileio import atomic_write, output_set, write_json  # noqa: E402
from commgan.gan import LN2  # noqa: E402
from commgan.sim.results import write_csv  # noqa: E402
from commgan.sim.sweep import package_versions  # noqa: E402

__all__ = ["RESULT_FILES", "ConvergenceResult", "format_summary", "history_rows",
           "plot_fidelity", "plot_losses", "write_results"]

RESULT_FILES = ("convergence.csv", "summary.csv", "fidelity.csv", "ae_ber.csv", "histories.csv",
                "losses.png", "fidelity.png", "config.json")
"""What a full run writes into its output folder."""


@dataclass
class ConvergenceResult:
    """Tables of one study run (the CSV files of the output folder)."""

    convergence: pd.DataFrame
    """One row per model and seed (`CONVERGENCE_COLUMNS`)."""
    summary: pd.DataFrame
    """One row per model (`summarise`)."""
    fidelity: pd.DataFrame
    """One row per model and Eb/N0 (`ber_fidelity`, with the ae gap); empty without fidelity."""
    ae_ber: pd.DataFrame
    """The ae BER curves (`ae_curve` rows); empty without them."""
    histories: pd.DataFrame
    """Every training history (`history_rows`)."""


HISTORY_COLUMNS = ("iteration", "loss_d", "loss_g", "d_real", "d_fake", "seconds")
"""Columns of a training history kept in histories.csv (after model and seed)."""


def _mean_std(row: pd.Series, column: str, digits: int = 0) -> str:
    mean, std, reached = row[f"{column}_mean"], row[f"{column}_std"], row[f"{column}_reached"]
    if reached == 0:
        return f"never (0/{row['seeds']})"
    text = f"{mean:.{digits}f}" + ("" if math.isnan(std) else f" ± {std:.{digits}f}")
    return text + ("" if reached == row["seeds"] else f" ({reached}/{row['seeds']})")


def format_summary(summary: pd.DataFrame, fidelity: pd.DataFrame | None = None) -> str:
    """The table printed by ``commgan converge``: convergence (mean ± std over seeds, from
    `summarise`) and, when computed, fidelity per model (`ber_fidelity` rows)."""
    lines = []
    for _, row in summary.iterrows():
        line = {"model": row["model"],
                "crossover iter": _mean_std(row, "crossover_iter"),
                "raw crossover": _mean_std(row, "crossover_raw_iter"),
                "equilibrium iter": _mean_std(row, "equilibrium_iter"),
                "s to crossover": _mean_std(row, "seconds_to_crossover", 1),
                "s to equilibrium": _mean_std(row, "seconds_to_equilibrium", 1),
                "s total": _mean_std(row, "seconds", 1)}
        if fidelity is not None and len(fidelity):
            rows = fidelity[fidelity["model"] == row["model"]]
            for _, point in rows.iterrows():
                line[f"BER {point['ebno_db']:g} dB gen/true"] = (
                    f"{point['ber_generated']:.3g}/{point['ber_true']:.3g}")
            if len(rows):
                line["SWD (floor)"] = (f"{rows['swd'].mean():.3f} "
                                       f"({rows['swd_floor'].mean():.3f})")
                if "ae_gap_db" in rows:
                    line["ae gap @1e-2 dB"] = f"{rows['ae_gap_db'].iloc[0]:+.2f}"
        lines.append(line)
    return pd.DataFrame(lines).to_string(index=False)


def _mark_convergence(ax, convergence: pd.DataFrame, model: str, seed: int) -> str:
    """Draw one run's crossover and equilibrium lines; return the panel title's tail."""
    metrics = convergence[(convergence["model"] == model) & (convergence["seed"] == seed)]
    if not len(metrics):
        return ""
    crossover = metrics["crossover_iter"].iloc[0]
    equilibrium = metrics["equilibrium_iter"].iloc[0]
    if not math.isnan(crossover):
        ax.axvline(crossover, color="tab:green", linewidth=1.2,
                   label=f"crossover {crossover:.0f}")
    if not math.isnan(equilibrium):
        ax.axvline(equilibrium, color="tab:purple", linestyle="--", linewidth=1.2,
                   label=f"equilibrium {equilibrium:.0f}")
    all_seeds = convergence[convergence["model"] == model]["crossover_iter"].dropna()
    if len(all_seeds) > 1:
        return f"; crossover {all_seeds.mean():.0f} ± {all_seeds.std(ddof=1):.0f}"
    return f"; crossover {all_seeds.iloc[0]:.0f}" if len(all_seeds) else ""


def plot_losses(histories: pd.DataFrame, convergence: pd.DataFrame, path: str | Path,
                smooth: int = 9, seed: int | None = None) -> None:
    """losses.png: one panel per model (as the survey's Figs. 8-10): L_G and L_D in nats of one
    seed (raw, faint; smoothed over ``smooth`` iterations, bold), ln 2, and the crossover and
    equilibrium iterations marked. seed: the run shown (None: each model's first)."""
    models = list(dict.fromkeys(histories["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        runs = histories[histories["model"] == model]
        shown = runs["seed"].min() if seed is None else seed
        run = runs[runs["seed"] == shown]
        for column, colour, label in (("loss_g", "tab:red", "G loss"),
                                      ("loss_d", "tab:blue", "D loss")):
            ax.plot(run["iteration"], run[column], color=colour, alpha=0.25, linewidth=0.8)
            smoothed = run[column].rolling(smooth, center=True, min_periods=1).mean()
            ax.plot(run["iteration"], smoothed, color=colour, linewidth=1.6, label=label)
        ax.axhline(LN2, color="black", linestyle=":", linewidth=1, label="ln 2")
        title = f"{model.upper()} (seed {shown})" + _mark_convergence(ax, convergence, model,
                                                                       shown)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("iteration (one G update)")
        ax.set_ylabel("loss [nats]")
        ax.set_ylim(0, max(2.5, float(np.nanpercentile(run[["loss_g", "loss_d"]], 99))))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_fidelity(fidelity: pd.DataFrame, ae_ber: pd.DataFrame, path: str | Path) -> None:
    """fidelity.png: left, the coherent receiver's BER on true and on generated blocks per model
    (95% intervals); right, BER on the true channel of the ae trained through each learned
    channel and through the true one, with the 1e-2 line of the gap."""
    panels = 2 if len(ae_ber) else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5), squeeze=False)
    ax = axes[0][0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    first = fidelity.drop_duplicates("ebno_db").sort_values("ebno_db")
    ax.errorbar(first["ebno_db"], first["ber_true"],
                yerr=[first["ber_true"] - first["ber_true_low"],
                      first["ber_true_high"] - first["ber_true"]],
                color="black", marker="o", capsize=3, label="true channel")
    for index, (model, rows) in enumerate(fidelity.groupby("model", sort=False)):
        rows = rows.sort_values("ebno_db")
        ax.errorbar(rows["ebno_db"] + 0.3 * (index + 1), rows["ber_generated"],
                    yerr=[rows["ber_generated"] - rows["ber_generated_low"],
                          rows["ber_generated_high"] - rows["ber_generated"]],
                    color=colours[index % len(colours)], marker="s", linestyle="--",
                    capsize=3, label=f"{model} (generated)")
    ax.set_yscale("log")
    ax.set_xlabel("Eb/N0 [dB]")
    ax.set_ylabel("BER, pilot-based coherent receiver")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if panels == 2:
        ax = axes[0][1]
        for index, (link, rows) in enumerate(ae_ber.groupby("link", sort=False)):
            colour = "black" if link == "true" else colours[(index - 1) % len(colours)]
            ax.plot(rows["ebno_db"], rows["ber"].where(rows["ber"] > 0), marker="o",
                    color=colour, label=f"ae trained through {link}")
        ax.axhline(1e-2, color="grey", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("Eb/N0 [dB]")
        ax.set_ylabel("BER on the true channel")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def history_rows(model: str, seed: int, history: pd.DataFrame) -> pd.DataFrame:
    """One training history as histories.csv rows: model, seed, then `HISTORY_COLUMNS`."""
    frame = history[[c for c in HISTORY_COLUMNS if c in history.columns]].copy()
    frame.insert(0, "seed", seed)
    frame.insert(0, "model", model)
    return frame


def write_results(out: Path, config: ConvergenceConfig, result: ConvergenceResult,
                  extra: dict) -> None:
    """Write ``result``'s tables that have rows as CSV, the plots, and config.json
    (``{"config": ..., "versions": ..., **extra}``) into ``out``, all together or none; files
    of `RESULT_FILES` that an earlier run wrote and this one does not are removed."""
    with output_set(out, replaces=[out / name for name in RESULT_FILES]):
        write_csv(result.convergence, out / "convergence.csv")
        write_csv(result.summary, out / "summary.csv")
        write_csv(result.histories, out / "histories.csv")
        if len(result.fidelity):
            write_csv(result.fidelity, out / "fidelity.csv")
            plot_fidelity(result.fidelity, result.ae_ber, out / "fidelity.png")
        if len(result.ae_ber):
            write_csv(result.ae_ber, out / "ae_ber.csv")
        if len(result.histories):
            plot_losses(result.histories, result.convergence, out / "losses.png",
                        config.smooth, config.seed)
        write_json({"config": config.to_dict(), "versions": package_versions(), **extra},
                   out / "config.json")
