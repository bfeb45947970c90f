"""The runtime floor (commgan.parallel) sits below the engine, with no cycle inside it; every
command gets its shared options and its run context from one decorator; the help page lists the
commands by topic."""

import ast
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from commgan.cli import cli
from commgan.cli.app import TOPICS
from commgan.cli.context import RunContext, run_command

ROOT = Path(__file__).resolve().parents[1]
PARALLEL = ROOT / "commgan" / "parallel"


def _imports(path: Path) -> list[str]:
    """Every module an import in ``path`` names, lazy ones inside functions included."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def test_parallel_imports_only_errors_and_itself():
    for path in sorted(PARALLEL.glob("*.py")):
        for name in _imports(path):
            if name.startswith(("commgan", "channels")):
                assert name == "commgan.errors" or name.startswith("commgan.parallel"), (
                    f"{path.name} imports {name}")


def test_parallel_modules_form_no_cycle():
    graph = {path.stem: {name.rpartition(".")[2] for name in _imports(path)
                         if name.startswith("commgan.parallel.")}
             for path in PARALLEL.glob("*.py") if path.stem != "__init__"}
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        assert state.get(module) != "open", f"import cycle: {' -> '.join([*trail, module])}"
        if module in state:
            return
        state[module] = "open"
        for other in graph[module]:
            visit(other, [*trail, module])
        state[module] = "done"

    for module in graph:
        visit(module, [])


def test_importing_parallel_loads_no_engine_and_no_torch():
    code = ("import sys, commgan.parallel; "
            "print(sorted(m for m in sys.modules if m.startswith(('commgan.sim', 'commgan.comm', "
            "'channels', 'torch'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout.strip()
    assert loaded == "[]"


def test_help_lists_the_commands_by_topic():
    text = CliRunner().invoke(cli, ["--help"]).output
    titles = [f"{title} commands:" for title in TOPICS.values()]
    positions = [text.find(title) for title in titles[:2]]
    assert all(position >= 0 for position in positions) and positions == sorted(positions)
    link = text[text.find("Link commands:"):text.find("Security commands:")]
    assert all(name in link for name in ("simulate", "train", "converge"))
    assert "attack" not in link


def test_an_unknown_topic_is_refused():
    with pytest.raises(ValueError, match="topic must be one of"):
        cli.command("never-registered", topic="cooking")


def _probe(**flags):
    seen: list[tuple[RunContext, dict]] = []

    @click.command()
    @click.option("--size", type=int, default=3)
    @run_command(**flags)
    def probe(run: RunContext, **options) -> None:
        seen.append((run, options))

    return probe, seen


def test_run_command_adds_the_shared_options_last_in_one_order():
    probe, _ = _probe(models=True, seed=True, workers=True)
    assert [p.name for p in probe.params] == ["size", "models_dir", "seed", "device", "jobs",
                                              "backend", "ray_address", "threads", "quiet"]
    probe, _ = _probe(threads="image")
    assert [p.name for p in probe.params] == ["size", "device", "threads", "quiet"]


def test_run_command_hands_the_context_and_keeps_the_other_options():
    probe, seen = _probe(models=True, seed=True, workers=True)
    result = CliRunner().invoke(probe, ["--size", "5", "--seed", "7", "--quiet", "--models", "m",
                                        "--jobs", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    (run, options), = seen
    assert options == {"size": 5}
    assert (run.seed, run.quiet, run.models_dir, run.jobs, run.device, run.threads) == (
        7, True, "m", 2, "cpu", 1)
    assert run.backend.kind == "local" and not run.progress
    assert run.workers == {"jobs": 2, "threads": 1, "backend": run.backend}


def test_image_threads_default_to_the_idle_cores(monkeypatch):
    import torch

    import commgan.parallel.process as process

    threads = torch.get_num_threads()
    monkeypatch.setattr(process, "idle_cores", lambda: 1)
    probe, seen = _probe(threads="image")
    try:
        assert CliRunner().invoke(probe, []).exit_code == 0
        assert seen[0][0].threads == 1 and torch.get_num_threads() == 1
        assert CliRunner().invoke(probe, ["--threads", "2"]).exit_code == 0
        assert seen[1][0].threads == 2
    finally:
        torch.set_num_threads(threads)


STAT = """cpu  900 0 300 2000 0 0 0 0 0 0
cpu0 {u0} 0 100 {i0} 10 0 0 0 0 0
cpu1 {u1} 5 100 {i1} 0 0 0 0 0 0
cpu2 0 0 0 99 0 0 0 0 0 0
intr 12345
"""


def test_cpu_ticks_read_the_cpus_of_the_affinity_mask(tmp_path):
    from commgan.parallel.process import _cpu_ticks

    stat = tmp_path / "stat"
    stat.write_text(STAT.format(u0=400, i0=500, u1=50, i1=900))
    assert _cpu_ticks({0, 1}, str(stat)) == {0: (1010, 510), 1: (1055, 900)}


@pytest.mark.parametrize("busy_ticks, expected", [((0, 0), 3), ((25, 0), 2), ((25, 25), 1),
                                                  ((12, 0), 3), ((25, 14), 1)])
def test_idle_cores_subtract_the_busy_ones(monkeypatch, busy_ticks, expected):
    """Per CPU 25 ticks pass while the process sleeps; busy ticks are all but idle + iowait."""
    import commgan.parallel.process as process

    cpus = {0, 1, 2}
    samples = iter([{cpu: (1000, 500) for cpu in cpus},
                    {cpu: (1025, 500 + 25 - (busy_ticks[cpu] if cpu < 2 else 0))
                     for cpu in cpus}])
    monkeypatch.setattr(process.os, "sched_getaffinity", lambda pid: cpus)
    monkeypatch.setattr(process, "_cpu_ticks", lambda wanted: next(samples))
    monkeypatch.setattr(process.time, "sleep", lambda seconds: None)
    assert process.idle_cores() == expected
