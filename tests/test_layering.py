"""DESIGN section 1: dependencies go one way, channels <- commgan.gan <- commgan.comm /
commgan.vision <- commgan.sim <- commgan.systems <- commgan.security <- commgan.cli /
experiments (commgan.rng, commgan.checkpoint, commgan.configfile, commgan.errors and
commgan.fileio are utilities below all of them). The channel-GAN study, commgan.channelgan_study,
sits above commgan.sim (it measures BER with the engine) and below commgan.cli / experiments."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

ABOVE_SIM = ("commgan.systems", "commgan.security", "commgan.channelgan_study", "commgan.cli")
FORBIDDEN = {
    "channels": ("commgan",),
    "commgan/gan": ("channels", "commgan.comm", "commgan.vision", "commgan.sim", *ABOVE_SIM),
    "commgan/comm": ("commgan.vision", "commgan.sim", *ABOVE_SIM),
    "commgan/vision": ("channels", "commgan.comm", "commgan.sim", *ABOVE_SIM),
    "commgan/sim": ABOVE_SIM,
    "commgan/security": ("commgan.vision", "commgan.cli"),
    "commgan/channelgan_study": ("commgan.vision", "commgan.systems", "commgan.security",
                                 "commgan.cli"),
    "commgan/systems.py": ("commgan.vision", "commgan.security", "commgan.channelgan_study",
                           "commgan.cli"),
}
UTILITIES = ("rng", "checkpoint", "configfile", "errors", "fileio")


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
    path = ROOT / package
    files = [path] if path.is_file() else sorted(path.rglob("*.py"))
    assert files
    for path in files:
        for name in imported_modules(path):
            assert not name.startswith(FORBIDDEN[package]), f"{package}/{path.name} imports {name}"


@pytest.mark.parametrize("name", UTILITIES)
def test_utilities_import_no_layer(name):
    for module in imported_modules(ROOT / "commgan" / f"{name}.py"):
        assert not module.startswith(("channels", "commgan.gan", "commgan.comm", "commgan.vision",
                                      "commgan.sim", *ABOVE_SIM)), f"{name} imports {module}"
