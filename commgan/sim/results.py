"""Result files: atomic writes, the BER table, and the BER plot (matplotlib, Agg)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from commgan.fileio import atomic_write  # noqa: E402

__all__ = ["METRICS", "RESULT_COLUMNS", "format_table", "plot_ber", "write_csv"]

RESULT_COLUMNS = [
    "system", "receiver", "channel", "mod", "ebno_db", "rate", "options",
    "frame_bits", "frames", "bits", "errors", "ber", "ci_low", "ci_high",
    "frame_errors", "fer", "fer_low", "fer_high",
    "block_bits", "blocks", "block_errors", "bler", "bler_low", "bler_high",
    "theory", "seconds", "bits_per_s",
]
"""Columns of results.csv, one row per (system, receiver, Eb/N0): ``rate`` is R in information
bits per channel use; ``options`` the system's options (``k=512,n=1024,...``); ``ci_*``, ``fer_*``,
``bler_*`` the intervals of the BER, frame error rate and block error rate; ``theory`` Bob's
reference BER where the system has one (uncoded Gray QAM at the same R), else empty."""


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Atomic CSV write (no index)."""
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


_RECEIVER_STYLE = {"bob": "-", "eve": "--"}

METRICS = {"ber": ("ber", "ci_low", "ci_high", "errors", "BER"),
           "bler": ("bler", "bler_low", "bler_high", "block_errors", "BLER")}
"""Plottable metrics: (value, interval low, interval high, error count column, axis label)."""


def plot_ber(results: pd.DataFrame, path: str | os.PathLike, title: str = "",
             metric: str = "ber") -> None:
    """Log BER (or BLER, ``metric="bler"``) vs Eb/N0 with interval bars: Bob solid, Eve dashed,
    zero-error points as downward triangles at their upper bound; the theory line (BER only) of
    the systems that have one, labelled as the uncoded reference it is."""
    value, low, high, count, label = METRICS[metric]
    fig, ax = plt.subplots(figsize=(7, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (system, by_system) in enumerate(results.groupby("system", sort=False)):
        colour = colours[index % len(colours)]
        for receiver, rows in by_system.groupby("receiver", sort=False):
            rows = rows.sort_values("ebno_db")
            seen = rows[rows[count] > 0]
            yerr = np.vstack([seen[value] - seen[low], seen[high] - seen[value]])
            ax.errorbar(
                seen["ebno_db"], seen[value], yerr=yerr, color=colour, capsize=2,
                linestyle=_RECEIVER_STYLE.get(receiver, "-"), marker="o", markersize=3,
                label=f"{system} ({receiver})",
            )
            unseen = rows[rows[count] == 0]
            if len(unseen):
                ax.plot(unseen["ebno_db"], unseen[high], "v", color=colour, markersize=5)
    theory = results.dropna(subset=["theory"]).drop_duplicates(subset=["ebno_db"])
    if metric == "ber" and len(theory):
        theory = theory.sort_values("ebno_db")
        mod, channel = theory["mod"].iloc[0], theory["channel"].iloc[0]
        ax.plot(theory["ebno_db"], theory["theory"], ":", color="black",
                label=f"theory: uncoded Gray {mod} ({channel})")
    elif metric == "ber" and len(results):
        ax.text(0.02, 0.02, "no exact BER theory for these systems on "
                f"{results['channel'].iloc[0]}", transform=ax.transAxes, fontsize=8,
                color="dimgray")
    ax.set_yscale("log")
    ax.set_xlabel("Eb/N0 [dB]")
    ax.set_ylabel(label)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def format_table(results: pd.DataFrame, metric: str = "ber", intervals: bool = False) -> str:
    """The terminal table: Eb/N0 rows x one column per system (Bob) and per Eve receiver, of
    ``metric`` (``ber`` | ``bler``); a point with no error shows its upper bound as ``<x``;
    ``intervals`` adds each value's interval. The BER table ends with the theory column."""
    value, low, high, count, _ = METRICS[metric]
    if not len(results):
        return "(no points)"
    table: dict[str, dict[float, str]] = {}
    for (system, receiver), rows in results.groupby(["system", "receiver"], sort=False):
        column = table.setdefault(system if receiver == "bob" else f"{system} ({receiver})", {})
        for row in rows.itertuples(index=False):
            row = row._asdict()
            text = (f"{row[value]:.3e}" if row[count] > 0 else f"<{row[high]:.1e}")
            if intervals and row[count] > 0:
                text += f" [{row[low]:.2e}, {row[high]:.2e}]"
            column[float(row["ebno_db"])] = text
    theory = results.dropna(subset=["theory"]).drop_duplicates(subset=["ebno_db"])
    if metric == "ber" and len(theory):
        table["theory (uncoded)"] = {float(e): f"{t:.3e}"
                                     for e, t in zip(theory["ebno_db"], theory["theory"],
                                                     strict=True)}
    grid = sorted({ebno for column in table.values() for ebno in column})
    frame = pd.DataFrame({name: [column.get(ebno, "") for ebno in grid]
                          for name, column in table.items()},
                         index=pd.Index([f"{ebno:g}" for ebno in grid], name="Eb/N0 dB"))
    return f"{metric.upper()} (Bob unless marked)\n" + frame.to_string()
