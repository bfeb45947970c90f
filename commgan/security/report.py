"""The attack suite's output: a readable table, a plot, and the result files."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from commgan.fileio import atomic_write, atomic_write_all, json_writer, output_set  # noqa: E402
from commgan.security.attack import AttackConfig  # noqa: E402
from commgan.sim.stats import SECURE_BAND  # noqa: E402

__all__ = ["format_attack_table", "plot_attack", "write_attack_results"]


def format_attack_table(results: pd.DataFrame) -> str:
    """A readable table: one line per Eve, BER with its 95% interval, Bob's BER, verdict."""
    width = max([14, *(len(str(name)) + 2 for name in results["system"])])
    lines = [f"{'system':<{width}}{'scenario':<17}{'eve':<52}{'Eb/N0':>6}  "
             f"{'Eve BER [95% CI]':<27}{'Bob BER':>9}  verdict"]
    for row in results.itertuples():
        if row.scenario == "leakage":
            value = (f"{row.leakage_bits:+.4f} bit/bit [{row.ci_low:+.4f}, {row.ci_high:+.4f}]"
                     if not math.isnan(row.ci_low) else
                     f"{row.leakage_bits:+.4f} bit/bit (null {row.leakage_null_bits:.4f})")
            lines.append(f"{row.system:<{width}}{row.scenario:<17}{row.eve_model:<52}{'-':>6}  "
                         f"{value:<36}{row.verdict}")
            continue
        verdict = row.verdict if row.verdict == "holds" else f"broken (Eve BER {row.ber:.4f})"
        lines.append(f"{row.system:<{width}}{row.scenario:<17}{row.eve_model:<52}"
                     f"{row.ebno_db:>6g}  "
                     f"{row.ber:.4f} [{row.ci_low:.4f}, {row.ci_high:.4f}]  "
                     f"{row.bob_ber:>9.4f}  {verdict}")
    return "\n".join(lines)


def plot_attack(results: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Eve's BER with 95% intervals per attack (one panel per system), the holds band shaded."""
    ber_rows = results[results["scenario"] != "leakage"]
    names = list(dict.fromkeys(ber_rows["system"]))
    fig, axes = plt.subplots(max(len(names), 1), 1, figsize=(10, 1.0 + 2.6 * max(len(names), 1)),
                             squeeze=False)
    try:
        _draw_attacks(axes, ber_rows, names, title, fig)
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)


def _draw_attacks(axes: np.ndarray, ber_rows: pd.DataFrame, names: list[str], title: str,
                  fig: plt.Figure) -> None:
    if not names:
        axes[0, 0].text(0.5, 0.5, "no BER rows (leakage estimates only: see attack.csv)",
                        ha="center", va="center")
        axes[0, 0].set_axis_off()
        return
    grid = sorted(ber_rows["ebno_db"].unique())
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes[:, 0], names, strict=True):
        rows = ber_rows[ber_rows["system"] == name]
        labels = list(dict.fromkeys(rows["scenario"] + ": " + rows["eve_model"]))
        ax.axhspan(*SECURE_BAND, color="tab:green", alpha=0.2, lw=0)
        ax.axhline(0.5, color="tab:green", lw=0.8)
        for index, ebno_db in enumerate(grid):
            at = rows[rows["ebno_db"] == ebno_db]
            where = [labels.index(s + ": " + m) + (index - (len(grid) - 1) / 2) * 0.15
                     for s, m in zip(at["scenario"], at["eve_model"], strict=True)]
            errors = np.vstack([at["ber"] - at["ci_low"], at["ci_high"] - at["ber"]])
            ax.errorbar(where, at["ber"], yerr=errors, fmt="o", ms=4, capsize=2,
                        color=colours[index % len(colours)], label=f"Eve, {ebno_db:g} dB")
            ax.plot(where, at["bob_ber"], "_", ms=9, color=colours[index % len(colours)])
        ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=7)
        ax.set_ylim(0, 0.56)
        ax.set_ylabel("BER")
        ax.set_title(f"{name}  (band: holds; dashes: Bob)", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()


def write_attack_results(results: pd.DataFrame, out: Path, config: AttackConfig,
                         extra: dict | None = None) -> None:
    """attack.csv, attack.png and config.json (the config plus ``extra``) in ``out``
    (created here), all three or none."""
    title = (f"{', '.join(config.systems)} on {config.channel} / {config.mod}, "
             f"budget {config.budget_name}")
    with output_set(out):
        atomic_write_all({
            out / "attack.csv": lambda tmp: results.to_csv(tmp, index=False),
            out / "attack.png": lambda tmp: plot_attack(results, tmp, title),
            out / "config.json": json_writer({"config": config.to_dict(), **(extra or {})}),
        })
