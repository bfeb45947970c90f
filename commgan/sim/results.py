"""Result files: atomic writes, the BER table, and the BER plot (matplotlib, Agg)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from commgan.fileio import atomic_write  # noqa: E402

__all__ = [
    "RESULT_COLUMNS",
    "format_table",
    "plot_ber",
    "write_csv",
]

RESULT_COLUMNS = [
    "system",
    "receiver",
    "channel",
    "mod",
    "ebno_db",
    "frame_bits",
    "frames",
    "bits",
    "errors",
    "ber",
    "ci_low",
    "ci_high",
    "theory",
    "seconds",
    "bits_per_s",
]


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Atomic CSV write (no index)."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


_RECEIVER_STYLE = {"bob": "-", "eve": "--"}


def plot_ber(results: pd.DataFrame, path: str | os.PathLike, title: str = "") -> None:
    """Log BER vs Eb/N0 with CI bars: Bob solid, Eve dashed, theory dotted; zero-error points
    as downward triangles at their upper bound."""
    fig, ax = plt.subplots(figsize=(7, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (system, by_system) in enumerate(results.groupby("system", sort=False)):
        colour = colours[index % len(colours)]
        for receiver, rows in by_system.groupby("receiver", sort=False):
            rows = rows.sort_values("ebno_db")
            seen = rows[rows["errors"] > 0]
            label = f"{system} ({receiver})"
            yerr = np.vstack([seen["ber"] - seen["ci_low"], seen["ci_high"] - seen["ber"]])
            ax.errorbar(
                seen["ebno_db"], seen["ber"], yerr=yerr, color=colour, capsize=2,
                linestyle=_RECEIVER_STYLE.get(receiver, "-"), marker="o", markersize=3,
                label=label,
            )
            unseen = rows[rows["errors"] == 0]
            if len(unseen):
                ax.plot(unseen["ebno_db"], unseen["ci_high"], "v", color=colour, markersize=5)
    theory = results.dropna(subset=["theory"]).drop_duplicates(subset=["ebno_db"])
    if len(theory):
        theory = theory.sort_values("ebno_db")
        mod, channel = theory["mod"].iloc[0], theory["channel"].iloc[0]
        ax.plot(theory["ebno_db"], theory["theory"], ":", color="black",
                label=f"theory {mod} ({channel})")
    elif len(results):
        ax.text(0.02, 0.02, f"no exact BER theory for channel {results['channel'].iloc[0]}",
                transform=ax.transAxes, fontsize=8, color="dimgray")
    ax.set_yscale("log")
    ax.set_xlabel("Eb/N0 [dB]")
    ax.set_ylabel("BER")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def format_table(results: pd.DataFrame) -> str:
    """A readable fixed-width table of the main columns."""
    columns = ["system", "receiver", "ebno_db", "bits", "errors", "ber", "ci_low", "ci_high",
               "theory", "bits_per_s"]
    view = results[[c for c in columns if c in results.columns]].copy()
    formatters = {
        "ebno_db": "{:.1f}".format,
        "bits": "{:.3g}".format,
        "ber": "{:.4e}".format,
        "ci_low": "{:.3e}".format,
        "ci_high": "{:.3e}".format,
        "theory": lambda v: "" if pd.isna(v) else f"{v:.4e}",
        "bits_per_s": lambda v: f"{v / 1e6:.1f}M",
    }
    return view.to_string(index=False, formatters=formatters)
