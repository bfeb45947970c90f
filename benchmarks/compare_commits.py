"""BER throughput of two or more code trees, measured alternately in one run.

    python benchmarks/compare_commits.py                       # 91f19ce vs the working tree
    python benchmarks/compare_commits.py --rev 91f19ce --rev HEAD --rounds 5

Each ``--rev`` is unpacked with ``git archive`` into a scratch folder (no worktree, the checkout
is untouched); the working tree is always the last contender. Every round runs one fresh process
per tree (``PYTHONPATH`` = that tree, ``python -P``, the same virtual environment), in ABBA order
(reversed every other round) so that drifting machine load hits all trees alike. Each process
times the same code, :mod:`ber_throughput`'s ``time_engine`` / ``time_sionna`` (this checkout's
copy), on its tree's ``channels`` and ``commgan``: a warm-up, then the best of ``--repeats``.
Each process first applies its tree's per-process policy, as ``commgan simulate`` does
(``configure_process``: ``--threads`` torch threads and an allocator that keeps freed memory;
without it, page faults per batch varied from 0 to 2,000 between identical runs).

The ratio of a tree to the first ``--rev`` is taken within each round and summarised by its
median and range over the rounds. Sionna's ``sim_ber`` runs no project code except the channel
objects, so its ratio shows how far the machine's noise alone moves the numbers.

Throughput is taken per wall-clock second (as :mod:`ber_throughput`) and per CPU second of the
worker process (its own CPU time, which other processes on the cores disturb less; with one
torch thread the two agree on an idle machine). Writes ``compare_commits.csv`` (one row per
round, tree, channel and engine) and ``compare_commits.md`` (both summary tables) under
``--out``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import click
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
ENGINES = ("sionna-sim_ber", "commgan-bits", "commgan-fast")
"""The contenders of :mod:`ber_throughput` (see its docstring)."""
WORKTREE = "worktree"


def measure(channels: list[str], engines: list[str], bits_per_point: int, repeats: int,
            threads: int) -> dict:
    """In a worker process (``PYTHONPATH`` = one tree): Mbit/s of each (channel, engine), best
    of ``repeats`` after a warm-up, and the file ``commgan`` was imported from. The process
    takes its tree's own per-process policy (threads and allocator, as ``commgan simulate``)."""
    import ber_throughput as bench
    import torch

    import commgan
    from channels import get_modulation
    from commgan.comm.classical import QAMSystem
    from commgan.rng import use_seed

    try:
        from commgan.parallel import configure_process, keep_freed_memory
    except ImportError:  # a tree from before commgan.parallel
        from commgan.sim.executor import configure_process, keep_freed_memory

    if threads:
        configure_process(threads)
    else:
        keep_freed_memory()
    use_seed(0, "cpu")
    modulation = get_modulation("16qam")
    def engine(fast: bool):
        return lambda ch: bench.time_engine(QAMSystem(modulation, device="cpu"), ch,
                                            bits_per_point, "cpu", fast=fast)

    runs = {"sionna-sim_ber": lambda ch: bench.time_sionna(ch, bits_per_point, "cpu"),
            "commgan-bits": engine(False), "commgan-fast": engine(True)}
    blocks = max(1, bits_per_point // (bench.BATCH_FRAMES * bench.FRAME_BITS))
    bits = len(bench.EBNO_DB) * blocks * bench.BATCH_FRAMES * bench.FRAME_BITS
    rows = []
    for channel in channels:
        for engine in engines:
            runs[engine](channel)
            wall, cpu = [], []
            for _ in range(repeats):
                start = time.process_time()
                wall.append(runs[engine](channel))
                cpu.append(bits / (time.process_time() - start))
            rows.append({"channel": channel, "engine": engine, "mbit_per_s": max(wall) / 1e6,
                         "cpu_mbit_per_s": max(cpu) / 1e6})
    return {"commgan": commgan.__file__, "threads": torch.get_num_threads(), "rows": rows}


def unpack(rev: str, folder: Path) -> Path:
    """``git archive REV`` extracted into ``folder / REV``; returns that folder."""
    target = folder / rev.replace("/", "_")
    target.mkdir()
    with (subprocess.Popen(["git", "-C", str(REPO), "archive", rev],
                           stdout=subprocess.PIPE) as git,
          tarfile.open(fileobj=git.stdout, mode="r|") as archive):
        archive.extractall(target, filter="data")
    if git.returncode:
        raise click.ClickException(f"git archive {rev} failed ({git.returncode})")
    return target


def run_worker(tree: Path, scratch: Path, args: dict) -> dict:
    """:func:`measure` in a fresh process on ``tree``'s code."""
    code = ("import json, sys; from compare_commits import measure; "
            f"json.dump(measure(**{args!r}), sys.stdout)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), str(REPO / "benchmarks")])}
    done = subprocess.run([sys.executable, "-P", "-c", code], cwd=scratch, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise click.ClickException(f"worker on {tree} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    if not Path(result["commgan"]).resolve().is_relative_to(tree.resolve()):
        raise click.ClickException(f"worker on {tree} imported {result['commgan']}")
    return result


def revision(rev: str) -> str:
    """The commit hash of ``rev`` (short)."""
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev],
                          capture_output=True, text=True, check=True).stdout.strip()


def summarize(table: pd.DataFrame, base: str, metric: str = "mbit_per_s") -> pd.DataFrame:
    """Per (channel, engine, tree): median ``metric`` and its ratio to ``base`` within each
    round (median, min, max)."""
    wide = table.pivot_table(index=["round", "channel", "engine"], columns="tree",
                             values=metric)
    rows = []
    for (channel, engine), group in wide.groupby(level=["channel", "engine"], sort=False):
        for tree in group.columns:
            ratio = group[tree] / group[base]
            rows.append({"channel": channel, "engine": engine, "tree": tree,
                         "median_mbit_per_s": group[tree].median(),
                         "median_ratio": ratio.median(), "min_ratio": ratio.min(),
                         "max_ratio": ratio.max(), "rounds": len(ratio)})
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, labels: dict[str, str], base: str, note: str) -> str:
    """The summary as a markdown table, one row per (channel, engine)."""
    trees = list(labels)
    head = ["channel", "engine", *[f"{labels[t]} Mbit/s" for t in trees],
            *[f"{labels[t]} / {labels[base]} median [min, max]" for t in trees if t != base]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (channel, engine), group in summary.groupby(["channel", "engine"], sort=False):
        by_tree = group.set_index("tree")
        cells = [channel, engine,
                 *[f"{by_tree.loc[t, 'median_mbit_per_s']:.1f}" for t in trees]]
        cells += [f"{by_tree.loc[t, 'median_ratio']:.3f} [{by_tree.loc[t, 'min_ratio']:.3f}, "
                  f"{by_tree.loc[t, 'max_ratio']:.3f}]" for t in trees if t != base]
        lines.append("| " + " | ".join(cells) + " |")
    return note + "\n\n" + "\n".join(lines) + "\n"


@click.command(help=__doc__.splitlines()[0])
@click.option("--rev", "revs", multiple=True, default=["91f19ce"], show_default=True,
              help="Git revision to compare (repeatable); the first is the base of the ratios.")
@click.option("--rounds", type=click.IntRange(1), default=5, show_default=True,
              help="Rounds; each runs every tree once.")
@click.option("--repeats", type=click.IntRange(1), default=3, show_default=True,
              help="Timed runs per (channel, engine) in a worker, best kept.")
@click.option("--bits-per-point", type=click.IntRange(1), default=8 * 1024 * 512,
              show_default=True, help="Bits per Eb/N0 point (ber_throughput's default).")
@click.option("--channels", default="awgn,rayleigh", show_default=True)
@click.option("--engines", default=",".join(ENGINES), show_default=True)
@click.option("--threads", type=click.IntRange(0), default=1, show_default=True,
              help="torch threads per worker (1: the engine's policy, see "
                   "commgan.parallel.configure_process; 0: torch's default).")
@click.option("--out", default="results/benchmarks", show_default=True, help="Output folder.")
def main(revs: tuple[str, ...], rounds: int, repeats: int, bits_per_point: int, channels: str,
         engines: str, threads: int, out: str) -> None:
    args = {"channels": channels.split(","), "engines": engines.split(","),
            "bits_per_point": bits_per_point, "repeats": repeats, "threads": threads}
    unknown = set(args["engines"]) - set(ENGINES)
    if unknown:
        raise click.BadParameter(f"unknown engines {sorted(unknown)}; valid: {ENGINES}")
    dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                                capture_output=True, text=True).stdout.strip())
    labels = {rev: f"{rev} ({revision(rev)})" if revision(rev) != rev else rev for rev in revs}
    labels[WORKTREE] = f"working tree ({revision('HEAD')}{' + changes' if dirty else ''})"
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="compare_commits.") as scratch:
        trees = {rev: unpack(rev, Path(scratch)) for rev in revs}
        trees[WORKTREE] = REPO
        order = list(trees)
        for index in range(rounds):
            for name in order if index % 2 == 0 else order[::-1]:
                result = run_worker(trees[name], Path(scratch), args)
                for row in result["rows"]:
                    rows.append({"round": index, "tree": name, **row,
                                 "threads": result["threads"]})
                    click.echo(f"round {index} {labels[name]}: {row['channel']} "
                               f"{row['engine']} {row['mbit_per_s']:.2f} Mbit/s")
    load_after = os.getloadavg()
    table = pd.DataFrame(rows)
    table["cpu"] = platform.processor() or platform.machine()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "compare_commits.csv", index=False)
    note = (f"16QAM, Eb/N0 0/4/8/12 dB, {bits_per_point:,} bits per point, no early stop "
            f"(`benchmarks/ber_throughput.py`'s work); {rounds} rounds, trees alternated in ABBA "
            f"order, one fresh process per tree and round, best of {repeats} after a warm-up; "
            f"torch threads {table['threads'].iloc[0]}; {os.cpu_count()} cores, load average "
            f"{load_before[0]:.2f} before, {load_after[0]:.2f} after. Mbit/s: median over "
            f"rounds; ratios: per round, median [min, max].")
    text = "\n".join(
        markdown(summarize(table, revs[0], metric), labels, revs[0], f"{title}\n\n{note}")
        for metric, title in (("mbit_per_s", "Wall-clock throughput"),
                              ("cpu_mbit_per_s", "Per CPU second of the worker (less "
                                                 "sensitive to other processes on the cores)")))
    (folder / "compare_commits.md").write_text(text)
    click.echo(text)
    click.echo(f"wrote {folder / 'compare_commits.csv'} and {folder / 'compare_commits.md'}")


if __name__ == "__main__":
    main()
