"""Wall clock of `commgan simulate`, start-up included, in fresh processes as a user runs it.

    python benchmarks/startup.py                           # HEAD vs the working tree, 5 rounds
    python benchmarks/startup.py --rev 27d5f4f --tree /tmp/old-copy --rounds 7

Cases, each one fresh process per tree and round:

- ``import-torch`` and ``import-sionna``: ``python -c "import torch"`` and ``import sionna.phy``,
  the floor below any simulate (the same for every tree, so run once per round);
- ``trivial``: ``commgan simulate --system qam --channel awgn --mod 16qam --ebno 5
  --max-bits 10000 --jobs 1`` (one point, 10,240 bits: nearly all start-up);
- ``sweep-j1`` and ``sweep-j2``: ``commgan simulate --system qam,ae --channel awgn --mod 16qam
  --ebno 0:15:1`` (16 points per system, 1,000 bit errors or 10^7 bits per point) with
  ``--jobs 1`` and ``--jobs 2``.

Each ``--rev`` is unpacked with ``git archive`` and each ``--tree`` is a folder holding
``channels/`` and ``commgan/``; the working tree is always the last contender. Every process
runs with ``PYTHONPATH`` = its tree (``python -P``, this virtual environment), a fresh output
folder and an empty ``--models`` folder (so ``ae`` is the shipped model), ``--quiet``. Trees
are visited in ABBA order and the two sweeps swap places every other round, so a drifting load
hits all alike. Ratios are taken within a round: ``sweep-j1 / sweep-j2`` of one tree (the
speed-up of ``--jobs 2``) and each case of a tree against the first tree. The 1-minute load
average is recorded before and after each process.

Writes ``startup.csv`` (one row per process) and ``startup.md`` (the summary) under ``--out``.
Run it alone: ``flock /tmp/commgan-heavy.lock python benchmarks/startup.py``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import pandas as pd
from compare_commits import REPO, WORKTREE, revision, unpack

SIMULATE = ("simulate", "--channel", "awgn", "--mod", "16qam", "--quiet")
SWEEP = (*SIMULATE, "--system", "qam,ae", "--ebno", "0:15:1")
CASES = {
    "trivial": (*SIMULATE, "--system", "qam", "--ebno", "5", "--max-bits", "10000",
                "--jobs", "1"),
    "sweep-j1": (*SWEEP, "--jobs", "1"),
    "sweep-j2": (*SWEEP, "--jobs", "2"),
}
"""The ``commgan`` arguments of each command case (``--out`` and ``--models`` are added)."""
IMPORTS = {"import-torch": "import torch", "import-sionna": "import sionna.phy"}
"""The import floors, ``python -c`` code."""
RUN_CLI = ("import sys; from commgan.cli import main; sys.argv[0] = 'commgan'; "
           "import commgan; print(commgan.__file__, file=sys.stderr); sys.exit(main())")


def run_case(tree: Path, case: str, scratch: Path) -> dict:
    """One fresh process of ``case`` on ``tree``'s code: its wall-clock seconds and the load
    average around it. A failed process, or one that imported commgan from elsewhere, is an
    error."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if case in IMPORTS:
        command = [sys.executable, "-P", "-c", IMPORTS[case]]
    else:
        work = Path(tempfile.mkdtemp(dir=scratch))
        command = [sys.executable, "-P", "-c", RUN_CLI, *CASES[case],
                   "--out", str(work / "out"), "--models", str(work / "models")]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise click.ClickException(f"{case} on {tree} failed:\n{done.stderr[-2000:]}")
    if case not in IMPORTS:
        imported = Path(done.stderr.splitlines()[0].strip())
        if not imported.resolve().is_relative_to(tree.resolve()):
            raise click.ClickException(f"{case} on {tree} imported {imported}")
    return {"case": case, "wall_s": wall, "load_before": load_before,
            "load_after": os.getloadavg()[0]}


def spread(values: pd.Series) -> str:
    """``median [min, max]`` of ``values``."""
    return f"{values.median():.2f} [{values.min():.2f}, {values.max():.2f}]"


def summarize(table: pd.DataFrame, trees: list[str], labels: dict[str, str]) -> str:
    """The markdown summary: median seconds per case and tree, the within-round ratios, and
    the import floors."""
    wide = table.pivot_table(index=["round", "case"], columns="tree", values="wall_s")
    head = ["case", *[f"{labels[t]} s" for t in trees],
            *[f"{labels[t]} / {labels[trees[0]]}" for t in trees[1:]], "load (median)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in CASES:
        rows = wide.xs(case, level="case")
        load = table.loc[table["case"] == case, "load_before"].median()
        cells = [case, *[spread(rows[t]) for t in trees],
                 *[spread(rows[t] / rows[trees[0]]) for t in trees[1:]], f"{load:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    speedup = wide.xs("sweep-j1", level="case") / wide.xs("sweep-j2", level="case")
    cells = ["speed-up: sweep-j1 / sweep-j2", *[spread(speedup[t]) for t in trees],
             *["" for _ in trees[1:]], ""]
    lines.append("| " + " | ".join(cells) + " |")
    floors = "; ".join(f"`{IMPORTS[case]}` {spread(wide.xs(case, level='case')[WORKTREE])} s"
                       for case in IMPORTS)
    return "\n".join(lines) + f"\n\nImport floors (any tree, this environment): {floors}."


@click.command(help=__doc__.splitlines()[0])
@click.option("--rev", "revs", multiple=True, default=["HEAD"], show_default=True,
              help="Git revision to compare (repeatable); the first contender is the base of "
                   "the ratios.")
@click.option("--tree", "folders", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="A folder with channels/ and commgan/ to compare (repeatable), after the "
                   "revisions.")
@click.option("--rounds", type=click.IntRange(1), default=5, show_default=True,
              help="Rounds; each runs every case on every tree once.")
@click.option("--out", default="results/benchmarks", show_default=True, help="Output folder.")
def main(revs: tuple[str, ...], folders: tuple[str, ...], rounds: int, out: str) -> None:
    dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                                capture_output=True, text=True).stdout.strip())
    labels = {rev: f"{rev} ({revision(rev)})" if revision(rev) != rev else rev for rev in revs}
    labels.update({folder: Path(folder).name for folder in folders})
    labels[WORKTREE] = f"working tree ({revision('HEAD')}{' + changes' if dirty else ''})"
    rows = []
    with tempfile.TemporaryDirectory(prefix="startup.") as scratch:
        paths = {rev: unpack(rev, Path(scratch)) for rev in revs}
        paths.update({folder: Path(folder) for folder in folders})
        paths[WORKTREE] = REPO
        trees = list(paths)
        for index in range(rounds):
            for case in IMPORTS:
                rows.append({"round": index, "tree": WORKTREE,
                             **run_case(REPO, case, Path(scratch))})
            cases = list(CASES) if index % 2 == 0 else ["trivial", "sweep-j2", "sweep-j1"]
            for tree in trees if index % 2 == 0 else trees[::-1]:
                for case in cases:
                    row = run_case(paths[tree], case, Path(scratch))
                    rows.append({"round": index, "tree": tree, **row})
                    click.echo(f"round {index} {labels[tree]}: {case} {row['wall_s']:.2f} s "
                               f"(load {row['load_before']:.2f})")
    table = pd.DataFrame(rows)
    table["label"] = table["tree"].map(labels)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "startup.csv", index=False)
    note = (f"Wall-clock seconds of one fresh process, median [min, max] over {rounds} rounds; "
            f"ratios within a round. {os.cpu_count()} cores "
            f"({platform.processor() or platform.machine()}); 1-minute load average before "
            f"the processes: median {table['load_before'].median():.2f}, range "
            f"{table['load_before'].min():.2f} to {table['load_before'].max():.2f}.")
    text = note + "\n\n" + summarize(table, trees, labels) + "\n"
    (folder / "startup.md").write_text(text)
    click.echo(text)
    click.echo(f"wrote {folder / 'startup.csv'} and {folder / 'startup.md'}")


if __name__ == "__main__":
    main()
