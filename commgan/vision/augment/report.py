"""The GAN augmentation study's statistics and files (`commgan.vision.augment.study` runs it):
paired differences with Bonferroni-corrected t intervals over the sizes, the verdict on the
claimed gain, the text table, the accuracy plot and sample grids, and the output folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from commgan.fileio import atomic_write, atomic_write_all, json_writer
from commgan.vision.augment.study import BASE_METHODS, AugmentConfig, AugmentResult
from commgan.vision.digits import digits_split

__all__ = ["format_summary", "plot_accuracy", "plot_samples", "summarize", "verdicts",
           "write_augment"]


def _interval(differences: np.ndarray, level: float) -> tuple[float, float]:
    """Two-sided t interval of the mean of paired differences at confidence ``level``."""
    from scipy import stats

    if len(differences) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(differences) - 1) * differences.std(ddof=1) / (
        len(differences) ** 0.5)
    mean = differences.mean()
    return float(mean - half), float(mean + half)


def summarize(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and std of the accuracy over seeds per method and size, and the mean paired
    difference (same seed) to ``none`` and to ``classical`` with its t interval.

    The intervals are Bonferroni-corrected over the sizes: each holds at level
    1 - (1 - confidence) / (number of sizes), so that all sizes of one comparison hold together
    at ``confidence``. Columns: method, per_class, mean, std, seeds, then for BASE in none and
    classical: diff_BASE, diff_BASE_low, diff_BASE_high (accuracy units).
    """
    sizes = sorted(table["per_class"].unique())
    level = 1 - (1 - confidence) / max(len(sizes), 1)
    wide = table.pivot_table(index=["per_class", "seed"], columns="method", values="accuracy")
    methods = list(dict.fromkeys(table["method"]))
    rows = []
    for method in methods:
        for n in sizes:
            values = wide.loc[n, method].dropna()
            row: dict[str, Any] = {"method": method, "per_class": n, "mean": values.mean(),
                                   "std": values.std(ddof=1) if len(values) > 1 else np.nan,
                                   "seeds": len(values)}
            for base in BASE_METHODS:
                if base not in wide.columns:
                    continue
                diff = (wide.loc[n, method] - wide.loc[n, base]).dropna().to_numpy()
                low, high = _interval(diff, level) if method != base else (0.0, 0.0)
                row.update({f"diff_{base}": diff.mean() if len(diff) else np.nan,
                            f"diff_{base}_low": low, f"diff_{base}_high": high})
            rows.append(row)
    return pd.DataFrame(rows)


def verdicts(summary: pd.DataFrame, claim: tuple[float, float] = (0.05, 0.15)) -> list[str]:
    """One line per GAN and baseline: the mean gain at each size; where the GAN is better, worse
    or not distinguishable (the Bonferroni intervals of `summarize`); and the sizes where the
    claimed gain holds: interval above 0 and mean gain within ``claim`` (accuracy units)."""
    lines = []
    gans = [m for m in dict.fromkeys(summary["method"]) if m not in BASE_METHODS]
    for gan in gans:
        rows = summary[summary["method"] == gan].sort_values("per_class")
        for base in BASE_METHODS:
            if f"diff_{base}" not in rows:
                continue
            gains = {int(r.per_class): (getattr(r, f"diff_{base}"),
                                        getattr(r, f"diff_{base}_low"),
                                        getattr(r, f"diff_{base}_high"))
                     for r in rows.itertuples()}
            better = [n for n, (_, low, _) in gains.items() if low > 0]
            worse = [n for n, (_, _, high) in gains.items() if high < 0]
            unclear = [n for n in gains if n not in better + worse]
            held = [n for n in better if claim[0] <= gains[n][0] <= claim[1]]
            means = ", ".join(f"{100 * mean:+.2f} (N={n})" for n, (mean, _, _) in gains.items())
            parts = [f"mean gain {means} pts",
                     f"better at N={_sizes(better)}" if better else "better at no size",
                     f"worse at N={_sizes(worse)}" if worse else "",
                     f"not resolved at N={_sizes(unclear)}" if unclear else "",
                     f"claimed +{100 * claim[0]:g} to +{100 * claim[1]:g} pts holds at "
                     + (f"N={_sizes(held)}" if held else "no size")]
            lines.append(f"{gan} vs {base}: " + "; ".join(p for p in parts if p))
    return lines


def _sizes(values: list[int]) -> str:
    return ",".join(map(str, values))


def format_summary(summary: pd.DataFrame, reference_accuracy: float | None = None) -> str:
    """The summary as a text table (accuracy in %, mean ± std; differences in points with their
    Bonferroni intervals), followed by the verdict lines."""
    lines = []
    if reference_accuracy is not None:
        lines.append(f"reference (all pool digits): {100 * reference_accuracy:.2f}%")
    header = f"{'method':<10} {'N':>3}  {'accuracy %':>14}  {'vs none (pts)':>24}  " \
             f"{'vs classical (pts)':>24}"
    lines += [header, "-" * len(header)]
    for row in summary.itertuples():
        cells = []
        for base in BASE_METHODS:
            if row.method == base or not hasattr(row, f"diff_{base}"):
                cells.append(f"{'':>24}")
                continue
            diff = 100 * getattr(row, f"diff_{base}")
            low, high = 100 * getattr(row, f"diff_{base}_low"), 100 * getattr(
                row, f"diff_{base}_high")
            cells.append(f"{diff:+6.2f} [{low:+6.2f}, {high:+6.2f}]".rjust(24))
        lines.append(f"{row.method:<10} {row.per_class:>3}  "
                     f"{100 * row.mean:6.2f} ± {100 * row.std:5.2f}  {cells[0]}  {cells[1]}")
    sizes = summary["per_class"].nunique()
    lines.append(f"intervals: paired over seeds, t, 95% jointly over the {sizes} sizes "
                 "(Bonferroni)")
    return "\n".join(lines + verdicts(summary))


def plot_accuracy(table: pd.DataFrame, path: str, reference_accuracy: float | None = None
                  ) -> None:
    """Accuracy vs images per class, mean ± std over seeds per method, as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    stats = table.groupby(["method", "per_class"], sort=False)["accuracy"].agg(["mean", "std"])
    methods = list(dict.fromkeys(table["method"]))
    for i, method in enumerate(methods):
        part = stats.loc[method].sort_index()
        offset = 1 + 0.02 * (i - (len(methods) - 1) / 2)  # side by side, error bars apart
        ax.errorbar(part.index * offset, 100 * part["mean"],
                    yerr=100 * part["std"].fillna(0), marker="o", capsize=3, label=method)
    if reference_accuracy is not None:
        ax.axhline(100 * reference_accuracy, color="grey", linestyle=":",
                   label="all pool digits")
    ax.set_xscale("log")
    sizes = sorted(table["per_class"].unique())
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("training images per class")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title("digits: augmentation (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_samples(samples: dict[int, Tensor], real: dict[int, Tensor], title: str,
                 path: str) -> None:
    """One panel per size: the real training images (left) and the synthetic ones (right),
    one row per class. samples / real: size -> [10, k, 1, 8, 8] in [-1, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(samples)
    cols = min(2, len(sizes))
    rows = -(-len(sizes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 5.2 * rows), squeeze=False)
    for ax in axes.flat[len(sizes):]:
        ax.axis("off")
    for ax, n in zip(axes.flat, sizes, strict=False):
        shown = real.get(n)
        blocks = [] if shown is None else [_mosaic(shown), np.full((80, 2), np.nan)]
        ax.imshow(np.hstack([*blocks, _mosaic(samples[n])]), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"N={n}: real | synthetic", fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _mosaic(images: Tensor) -> np.ndarray:
    """[10, k, 1, 8, 8] in [-1, 1] -> ink [80, 8k] in [0, 1] (one row of images per class)."""
    classes, k = images.shape[:2]
    ink = ((images[:, :, 0] + 1) / 2).clamp(0, 1).numpy()
    return ink.transpose(0, 2, 1, 3).reshape(classes * 8, k * 8)


def write_augment(result: AugmentResult, summary: pd.DataFrame, config: AugmentConfig,
                  out: str | Path) -> list[Path]:
    """Write augment.csv, summary.csv (``summary``: `summarize` of the table), quality.csv,
    config.json, augment.png and samples-METHOD.png (one per augmenting method) into ``out``;
    returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {"augment.csv": result.table, "summary.csv": summary,
              "quality.csv": result.quality}
    writers: dict[Path, Callable[[str], object]] = {
        out / name: (lambda tmp, table=table: table.to_csv(tmp, index=False))
        for name, table in tables.items()}
    writers[out / "config.json"] = json_writer({
        **config.to_dict(), "reference_accuracy": result.reference_accuracy,
        "test_size": len(digits_split().test_labels)})
    atomic_write_all(writers)
    written = list(writers)
    plot_accuracy(result.table, str(out / "augment.png"), result.reference_accuracy)
    written.append(out / "augment.png")
    methods = [m for m in config.methods if m != "none"]
    for method in methods:
        path = out / f"samples-{method}.png"
        shown = {n: found[method] for n, found in result.samples.items() if method in found}
        if shown:
            plot_samples(shown, result.real_samples, f"{method}: real training images and "
                         "synthetic ones (first seed; one row per class)", str(path))
            written.append(path)
    return written
