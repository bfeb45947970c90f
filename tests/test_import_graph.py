"""The import graph of every module of ``commgan`` and ``channels`` (issue 29): no cycles, and the
layers of DESIGN section 1 in one direction.

Every ``import`` counts, at module level or inside a function (or under ``TYPE_CHECKING``): an
import deferred into a function is still a dependency, so a cycle cannot hide behind one.
``from package import name`` depends on ``package.name`` when that is a module, else on
``package``; importing a submodule does not count as depending on its parent packages'
``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("commgan", "channels")

KNOWN_CYCLES: dict[tuple[str, str], str] = {
    # (importer, imported): the import that closes a cycle found before issue 29, and who
    # removes it. Every other cycle fails the test; an entry whose import is gone fails it too,
    # so the list only shrinks.
    ("channels.theory", "channels.registry"):
        "channels <- theory <- awgn/rayleigh <- registry: issue 29, owner of channels/",
    ("commgan.comm.channelgan.sampler", "commgan.comm.channelgan.config"):
        "config <- variants <- sampler: issue 29, owner of commgan/comm/",
    ("commgan.comm.channelgan.variants", "commgan.comm.channelgan.config"):
        "config <- variants: issue 29, owner of commgan/comm/",
    ("commgan.security.scenarios", "commgan.security.attack"):
        "attack <-> scenarios: issue 29, owner of commgan/security/",
}
"""Imports left out of the graph until their owners remove the cycle; never one of vision."""


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of `PACKAGES` (a package is its
    ``__init__.py``)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of `PACKAGES` that ``name`` (at ``path``) imports anywhere in its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    found.add(f"{source}.{alias.name}")
                elif source in modules:
                    found.add(source)
    found.discard(name)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(start: str) -> None:
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` depends on, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_graph_sees_function_level_imports(graph):
    # commgan.cli.translate imports the vision package only inside its functions
    assert "commgan.vision.translate.tasks" in graph["commgan.cli.translate"]
    assert "commgan.vision.models.registry" in graph["commgan.vision.models.cache"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles(graph):
    pruned = {name: {target for target in targets if (name, target) not in KNOWN_CYCLES}
              for name, targets in graph.items()}
    assert cycles(pruned) == []


def test_known_cycles_are_still_there(graph):
    """An allow-list entry whose import is gone must be deleted."""
    for (importer, imported), who in KNOWN_CYCLES.items():
        assert imported in graph.get(importer, set()), f"remove {importer} -> {imported} ({who})"
        assert importer in reachable(graph, imported), (importer, imported, who)


def test_vision_has_no_cycle_and_no_allowance(graph):
    assert not [key for key in KNOWN_CYCLES if "vision" in key[0] or "vision" in key[1]]
    vision = {name: {t for t in targets if t.startswith("commgan.vision")}
              for name, targets in graph.items() if name.startswith("commgan.vision")}
    assert cycles(vision) == []


VISION_JOBS = ("restore", "translate", "augment", "generate")


@pytest.mark.parametrize("job", VISION_JOBS)
def test_vision_jobs_import_no_other_job(graph, job):
    others = tuple(f"commgan.vision.{other}" for other in VISION_JOBS if other != job)
    for name in graph:
        if name.startswith(f"commgan.vision.{job}"):
            assert not reachable(graph, name) & {m for m in graph if m.startswith(others)}, name


def test_vision_models_and_nets_import_no_job(graph):
    jobs = tuple(f"commgan.vision.{job}" for job in VISION_JOBS)
    for name in graph:
        if name.startswith(("commgan.vision.models", "commgan.vision.nets")):
            assert not [m for m in reachable(graph, name) if m.startswith(jobs)], name


def test_figures_is_a_leaf_of_vision(graph):
    below = {m for m in reachable(graph, "commgan.vision.figures") if "vision" in m}
    assert below == {"commgan.vision.data", "commgan.vision.imagefile"}


@pytest.mark.parametrize("layer, forbidden", [
    ("channels", ("commgan",)),
    ("commgan.gan", ("channels", "commgan.comm", "commgan.vision", "commgan.sim",
                     "commgan.cli")),
    ("commgan.vision", ("channels", "commgan.comm", "commgan.sim", "commgan.security",
                        "commgan.cli")),
])
def test_layers_point_one_way(graph, layer, forbidden):
    """DESIGN section 1, through every import: `channels` never imports commgan, the GAN core
    neither the link, the images, the engine nor the CLI; vision none of the link's layers."""
    for name in graph:
        if name == layer or name.startswith(layer + "."):
            bad = sorted(m for m in reachable(graph, name) if m.startswith(forbidden))
            assert not bad, f"{name} depends on {bad}"
