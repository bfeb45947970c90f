"""Coverage of the 95% BER interval when few frames fail: coded qam-ldpc next to uncoded qam.

Coded points (qam-ldpc 16QAM, 5G LDPC k=512, n=1024; frames of L = 512 bits, one codeword
each): every repetition is one engine block of F frames (block index = repetition, so its
bits, noise and fades are its own), and gets the interval with D - 1 degrees of freedom
(``frame_errors=D``, "new") and the one before it (``frame_errors=None``, "old"). The truth is a
long run of the same point on later block indices (its own interval is reported and must be far
narrower than one repetition's). Coverage is the share of repetitions whose interval holds the
truth, with a Clopper-Pearson interval over the repetitions; it is also given with the truth
moved to either end of its own interval (how much the truth's error can matter).

Uncoded points (qam, Gray 16QAM, the engine's fast link) run with the sweep's default budget
(1000 errors or 1e7 bits, L = 512, 1024-frame blocks) on the default grids; the width ratio
new / old per run and its median per point are reported.

Writes --out (default results/ber_interval_coverage/): repetitions.csv (one row per coded
repetition), coded.csv (truth and coverage per coded point), by_failures.csv (coverage by the
number D of failed frames), uncoded.csv (one row per uncoded run), uncoded_summary.csv and
experiment.json.

    flock /tmp/commgan-heavy.lock python experiments/ber_interval_coverage.py   # ~11 min
    python experiments/ber_interval_coverage.py --smoke                          # seconds
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click
import numpy as np
import pandas as pd

import channels
from commgan.comm.classical import QAMSystem
from commgan.comm.coded import QAMLDPCSystem
from commgan.configfile import config_option
from commgan.rng import derive_seed
from commgan.sim.engine import simulate_block
from commgan.sim.results import write_csv
from commgan.sim.stats import FrameErrorStats, ber_interval, clopper_pearson


@dataclass(frozen=True)
class CodedPoint:
    """One coded point: channel, Eb/N0 in dB, frames per repetition and frames of the truth."""

    channel: str
    ebno_db: float
    frames: int
    truth_frames: int


@dataclass
class Coverage:
    """Scope and budget of the study."""

    coded: tuple[CodedPoint, ...] = (
        CodedPoint("awgn", 4.25, 256, 131_072),
        CodedPoint("awgn", 3.85, 256, 32_768),
        CodedPoint("rayleigh-fast", 6.75, 256, 65_536),
    )
    """Coded points; Eb/N0 and F from a pilot (FER ~1% and ~7% on AWGN, ~1% on rayleigh-fast)."""
    repetitions: int = 300
    """Repetitions per coded point."""
    frame_bits: int = 512
    """Frame length L (the sweep's default; one codeword of k = 512 per frame)."""
    truth_block_frames: int = 4096
    """Frames per block of the truth run."""
    uncoded: dict[str, tuple[float, ...]] = field(default_factory=lambda: {
        "awgn": tuple(float(x) for x in range(0, 17, 2)),
        "rayleigh": tuple(float(x) for x in range(0, 21, 2))})
    """Uncoded grids per channel: the sweep's default 0:20:2, AWGN up to its first point
    without errors (where the sweep's early stop ends it)."""
    uncoded_repetitions: int = 10
    """Runs per uncoded point."""
    target_errors: int = 1000
    """Uncoded runs stop at this many bit errors..."""
    max_bits: int = 10_000_000
    """...or this many bits (the sweep's defaults)."""
    batch_frames: int = 1024
    """Frames per uncoded block (the sweep's 2^19 bits per batch)."""
    confidence: float = 0.95
    """Level of every interval."""
    seed: int = 27
    """Seed of every point."""
    out: str = "results/ber_interval_coverage"
    """Output folder."""


SMOKE = dict(coded=(CodedPoint("awgn", 3.85, 32, 256),), repetitions=6, truth_block_frames=128,
             uncoded={"awgn": (8.0, 14.0)}, uncoded_repetitions=2, target_errors=200,
             max_bits=200_000, batch_frames=128)


def intervals(acc: FrameErrorStats, confidence: float) -> dict[str, float]:
    """New (D - 1 degrees of freedom) and old (F - 1) intervals of one run, with widths."""
    args = (acc.errors, acc.sum_sq, acc.frames, acc.frame_bits, confidence)
    new = ber_interval(*args, frame_errors=acc.frame_errors)
    old = ber_interval(*args, frame_errors=None)
    return {"new_low": new[0], "new_high": new[1], "old_low": old[0], "old_high": old[1],
            "new_width": new[1] - new[0], "old_width": old[1] - old[0]}


def run_row(acc: FrameErrorStats, confidence: float) -> dict:
    """Counts, BER, FER and both intervals of one run."""
    return {"frames": acc.frames, "bits": acc.bits, "errors": acc.errors,
            "frame_errors": acc.frame_errors, "ber": acc.ber, **intervals(acc, confidence)}


def coded_point(point: CodedPoint, cov: Coverage) -> tuple[pd.DataFrame, dict]:
    """Repetitions (block index = repetition) and the truth (later blocks) of one point."""
    system = QAMLDPCSystem(channels.get_modulation("16qam"))
    wiretap = channels.WiretapChannel(point.channel)

    def block(index: int, frames: int) -> FrameErrorStats:
        return simulate_block(system, wiretap, point.ebno_db, index, frames,
                              frame_bits=cov.frame_bits, batch_frames=min(frames, 1024),
                              seed=cov.seed)["bob"]

    rows = [{"repetition": rep, **run_row(block(rep, point.frames), cov.confidence)}
            for rep in range(cov.repetitions)]
    truth = FrameErrorStats(cov.frame_bits)
    for start in range(0, point.truth_frames, cov.truth_block_frames):
        frames = min(cov.truth_block_frames, point.truth_frames - start)
        truth.merge(block(cov.repetitions + start // cov.truth_block_frames, frames))
    low, high = truth.interval(cov.confidence)
    fer_low, fer_high = truth.fer_interval(cov.confidence)
    label = {"channel": point.channel, "ebno_db": point.ebno_db, "frames": point.frames}
    truth_row = {**label, "truth_frames": truth.frames, "truth_frame_errors": truth.frame_errors,
                 "truth_fer": truth.fer, "truth_fer_low": fer_low, "truth_fer_high": fer_high,
                 "truth_ber": truth.ber, "truth_low": low, "truth_high": high}
    return pd.DataFrame(rows).assign(**label), truth_row


def covered(reps: pd.DataFrame, kind: str, truth: float) -> pd.Series:
    """Whether each repetition's ``kind`` (new | old) interval holds ``truth``."""
    return (reps[f"{kind}_low"] <= truth) & (truth <= reps[f"{kind}_high"])


def coverage_row(reps: pd.DataFrame, truth: dict, confidence: float) -> dict:
    """Coverage of the truth by both intervals, its Clopper-Pearson interval and the misses."""
    row = dict(truth)
    row["repetitions"] = len(reps)
    row["mean_frame_errors"] = reps["frame_errors"].mean()
    row["truth_rel_halfwidth"] = (truth["truth_high"] - truth["truth_low"]) / 2 / truth["truth_ber"]
    for kind in ("new", "old"):
        hits = int(covered(reps, kind, truth["truth_ber"]).sum())
        low, high = clopper_pearson(hits, len(reps), confidence)
        row.update({f"coverage_{kind}": hits / len(reps), f"coverage_{kind}_low": low,
                    f"coverage_{kind}_high": high,
                    f"{kind}_above_truth": int((reps[f"{kind}_low"] > truth["truth_ber"]).sum()),
                    f"{kind}_below_truth": int((reps[f"{kind}_high"] < truth["truth_ber"]).sum()),
                    f"median_{kind}_width": reps[f"{kind}_width"].median()})
        for end in ("truth_low", "truth_high"):
            row[f"coverage_{kind}_at_{end}"] = covered(reps, kind, truth[end]).mean()
    row["truth_width_over_median_new"] = ((truth["truth_high"] - truth["truth_low"])
                                          / row["median_new_width"])
    return row


def by_failures(reps: pd.DataFrame, truths: pd.DataFrame) -> pd.DataFrame:
    """Coverage of both intervals by the number D of failed frames (0, 1, 2, 3-5, 6-15, >15)."""
    table = reps.merge(truths[["channel", "ebno_db", "truth_ber"]], on=["channel", "ebno_db"])
    table["d_bin"] = pd.cut(table["frame_errors"], [-1, 0, 1, 2, 5, 15, np.inf],
                            labels=["0", "1", "2", "3-5", "6-15", ">15"])
    for kind in ("new", "old"):
        table[f"covered_{kind}"] = covered(table, kind, table["truth_ber"])
    return (table.groupby(["channel", "ebno_db", "d_bin"], observed=True)
            .agg(repetitions=("repetition", "size"), coverage_new=("covered_new", "mean"),
                 coverage_old=("covered_old", "mean")).reset_index())


def uncoded_run(system: QAMSystem, wiretap: channels.WiretapChannel, ebno_db: float,
                seed: int, cov: Coverage) -> FrameErrorStats:
    """One uncoded point with the sweep's stopping rule: blocks until the target errors or
    the bit budget."""
    acc = FrameErrorStats(cov.frame_bits)
    index = 0
    while acc.errors < cov.target_errors and acc.bits < cov.max_bits:
        frames = min(cov.batch_frames, -(-(cov.max_bits - acc.bits) // cov.frame_bits))
        acc.merge(simulate_block(system, wiretap, ebno_db, index, frames,
                                 frame_bits=cov.frame_bits, batch_frames=cov.batch_frames,
                                 seed=seed)["bob"])
        index += 1
    return acc


def uncoded(cov: Coverage) -> pd.DataFrame:
    """Every uncoded run: counts, both intervals and the width ratio new / old."""
    system = QAMSystem(channels.get_modulation("16qam"))
    rows = []
    for channel, grid in cov.uncoded.items():
        wiretap = channels.WiretapChannel(channel)
        for ebno_db in grid:
            for rep in range(cov.uncoded_repetitions):
                acc = uncoded_run(system, wiretap, ebno_db, derive_seed(cov.seed, "uncoded", rep),
                                  cov)
                rows.append({"channel": channel, "ebno_db": ebno_db, "repetition": rep,
                             **run_row(acc, cov.confidence)})
    table = pd.DataFrame(rows)
    table["width_ratio"] = table["new_width"] / table["old_width"]
    return table


def uncoded_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per uncoded point: median errors and D, and the width ratio (median, min, max)."""
    summary = (table.groupby(["channel", "ebno_db"])
               .agg(runs=("repetition", "size"), median_bits=("bits", "median"),
                    median_errors=("errors", "median"),
                    median_frame_errors=("frame_errors", "median"),
                    median_ratio=("width_ratio", "median"), min_ratio=("width_ratio", "min"),
                    max_ratio=("width_ratio", "max")).reset_index())
    summary["within_10pct"] = summary["median_ratio"].between(0.9, 1.1)
    return summary


def run(cov: Coverage) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole study; writes every table and returns (coded summary, uncoded summary)."""
    folder = Path(cov.out)
    folder.mkdir(parents=True, exist_ok=True)
    all_reps, truths, rows = [], [], []
    for point in cov.coded:
        reps, truth = coded_point(point, cov)
        all_reps.append(reps)
        truths.append(truth)
        rows.append(coverage_row(reps, truth, cov.confidence))
    reps, coded = pd.concat(all_reps, ignore_index=True), pd.DataFrame(rows)
    runs = uncoded(cov)
    summary = uncoded_summary(runs)
    write_csv(reps, folder / "repetitions.csv")
    write_csv(coded, folder / "coded.csv")
    write_csv(by_failures(reps, pd.DataFrame(truths)), folder / "by_failures.csv")
    write_csv(runs, folder / "uncoded.csv")
    write_csv(summary, folder / "uncoded_summary.csv")
    return coded, summary


def echo_tables(coded: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Print the coded coverage table and the uncoded width ratios."""
    click.echo(f"{'channel':<14}{'Eb/N0':>6}{'F':>6}{'FER':>10}{'E[D]':>6}{'truth BER':>11}"
               f"{'+-rel':>7}{'new coverage [CP]':>25}{'old coverage [CP]':>25}")
    for row in coded.itertuples():
        click.echo(f"{row.channel:<14}{row.ebno_db:>6.2f}{row.frames:>6}{row.truth_fer:>10.2e}"
                   f"{row.mean_frame_errors:>6.2f}{row.truth_ber:>11.3e}"
                   f"{row.truth_rel_halfwidth:>7.3f}"
                   f"{row.coverage_new:>9.3f} [{row.coverage_new_low:.3f}, "
                   f"{row.coverage_new_high:.3f}]{row.coverage_old:>9.3f} "
                   f"[{row.coverage_old_low:.3f}, {row.coverage_old_high:.3f}]")
    click.echo(summary.to_string(index=False))


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--smoke", is_flag=True, help="Tiny budget (seconds).")
@click.option("--repetitions", type=int, default=300, show_default=True,
              help="Repetitions per coded point.")
@click.option("--seed", type=int, default=27, show_default=True, help="Seed of every point.")
@click.option("--out", default="results/ber_interval_coverage", show_default=True,
              help="Output folder.")
def main(smoke: bool, repetitions: int, seed: int, out: str) -> None:
    """Measure the coverage of both BER intervals and the uncoded width ratios."""
    cov = Coverage(repetitions=repetitions, seed=seed, out=out)
    if smoke:
        cov = Coverage(seed=seed, out=out, **SMOKE)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "experiment.json").write_text(json.dumps(asdict(cov), indent=1))
    echo_tables(*run(cov))


if __name__ == "__main__":
    main()
