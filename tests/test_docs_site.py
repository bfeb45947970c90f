"""The documentation site builds with ``mkdocs build --strict`` (so a broken link, a missing
anchor, a page left out of the nav or a stale API name fails), the README stays short, and every
relative link in README.md and docs/ names a file that exists."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 250
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def relative_links(text: str) -> list[str]:
    """Link targets outside code blocks and code spans that are paths, not URLs or anchors."""
    prose = CODE_SPAN.sub("", FENCE.sub("", text))
    targets = [match[1] for match in LINK.finditer(prose)]
    return [target for target in targets
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


def section(text: str, heading: str) -> str:
    """The text under a ``## heading`` up to the next heading of level 1 or 2."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^#{{1,2}} |\Z)", text, re.S | re.M)
    assert match, f"no section '## {heading}'"
    return match[1].strip()


def test_readme_is_short() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}); move detail to docs/")


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    missing = [target for target in relative_links(path.read_text())
               if not (path.parent / target.split("#", 1)[0]).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


def test_link_checker_sees_links() -> None:
    text = "[a](docs/x.md) [b](https://e.org) [c](#top) `[d](no.md)`\n```\n[e](no2.md)\n```\n"
    assert relative_links(text) == ["docs/x.md"]


def test_setup_commands_match_docs_home() -> None:
    """The docs' home page carries the README's set-up commands unchanged."""
    heading = "Set up on a fresh machine"
    assert section((DOCS / "index.md").read_text(), heading) == section(README.read_text(), heading)


def test_every_command_has_a_section() -> None:
    from commgan.cli import cli

    text = (DOCS / "commands.md").read_text()
    missing = [name for name in cli.commands
               if not re.search(rf"^## {re.escape(name)}$", text, re.M)]
    assert not missing, f"docs/commands.md has no section for: {missing}"


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    assert importlib.util.find_spec("mkdocs") is not None, (
        "mkdocs is missing: it is part of the test extra (pip install -e '.[test]')")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    cli_page = (site / "cli" / "index.html").read_text()
    assert "commgan simulate" in cli_page and "--target-block-errors" in cli_page
    assert 'id="commgan.sim.engine.simulate_point"' in (site / "api" / "index.html").read_text()
