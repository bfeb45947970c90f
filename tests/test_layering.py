"""DESIGN section 1: dependencies go one way, channels <- commgan.gan <- commgan.comm /
commgan.vision <- commgan.sim <- commgan.cli / experiments."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "channels": ("commgan",),
    "commgan/gan": ("channels", "commgan.comm", "commgan.vision", "commgan.sim", "commgan.cli"),
    "commgan/comm": ("commgan.vision", "commgan.sim", "commgan.cli"),
    "commgan/vision": ("channels", "commgan.comm", "commgan.sim", "commgan.cli"),
    "commgan/sim": ("commgan.cli",),
}


def imported_modules(path: Path) -> list[str]:
    """Every module name an ``import`` or ``from ... import`` in ``path`` names."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_the_layers_below(package):
    files = sorted((ROOT / package).glob("*.py"))
    assert files
    for path in files:
        for name in imported_modules(path):
            assert not name.startswith(FORBIDDEN[package]), f"{package}/{path.name} imports {name}"
