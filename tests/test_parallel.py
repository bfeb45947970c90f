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


def test_image_threads_default_to_the_usable_cores():
    from commgan.parallel import usable_cores

    probe, seen = _probe(threads="image")
    assert CliRunner().invoke(probe, []).exit_code == 0
    assert seen[0][0].threads == usable_cores()
