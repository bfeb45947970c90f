"""docs/extending.md runs: its python blocks in order in one namespace (a block marked
``<!-- file: NAME.py -->`` is written to NAME.py and imported), and the ``$`` lines of its
console blocks marked ``<!-- run -->`` in a shell, all in a fresh working folder."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from channels import CHANNELS
from commgan.comm.registry import SYSTEMS
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.restore.tasks import VISION_TASKS

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"(?:<!--\s*(?P<mark>[^>]*?)\s*-->\s*\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```$",
                   re.S | re.M)
REGISTRIES = (CHANNELS, SYSTEMS, VISION_MODELS, VISION_TASKS)


def blocks() -> list[tuple[str, str, str]]:
    """(mark, language, body) of every fenced block of the page, in order."""
    return [(match["mark"] or "", match["lang"], match["body"])
            for match in BLOCK.finditer(DOC.read_text())]


def file_blocks() -> dict[str, str]:
    return {mark.split(":", 1)[1].strip(): body for mark, lang, body in blocks()
            if lang == "python" and mark.startswith("file:")}


def write_files(folder: Path) -> None:
    for name, body in file_blocks().items():
        (folder / name).write_text(body)


def commands() -> list[str]:
    """The ``$`` lines of the console blocks marked to run (``\\`` continues a line)."""
    found = []
    for mark, lang, body in blocks():
        if lang == "console" and mark == "run":
            text = body.replace("\\\n", " ")
            found += [line[2:].strip() for line in text.splitlines() if line.startswith("$ ")]
    return found


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working folder on sys.path; the registries and modules the page adds are
    removed afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    saved = [dict(registry) for registry in REGISTRIES]
    modules = set(sys.modules)
    yield tmp_path
    for registry, before in zip(REGISTRIES, saved, strict=True):
        registry.clear()
        registry.update(before)
    for name in set(sys.modules) - modules:
        if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def test_the_page_has_what_the_test_runs():
    languages = [lang for _, lang, _ in blocks()]
    assert languages.count("python") >= 5 and "ldpc_link.py" in file_blocks()
    assert commands() and all(re.match(r"(\w+=\S+ )*commgan ", line) for line in commands())


def test_python_blocks_run_in_order(workdir):
    namespace: dict = {"__name__": "extending_md"}
    for index, (mark, lang, body) in enumerate(blocks()):
        if lang != "python":
            continue
        if mark.startswith("file:"):
            name = mark.split(":", 1)[1].strip()
            (workdir / name).write_text(body)
            exec(f"from {Path(name).stem} import *", namespace)
        else:
            exec(compile(body, f"{DOC.name}, block {index}", "exec"), namespace)
    assert "RICIAN_FAST" in namespace and "generator" in namespace


def test_marked_console_blocks_run(tmp_path):
    write_files(tmp_path)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "COMMGAN_KEY": ""}
    for line in commands():
        result = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, (line, result.stdout[-2000:], result.stderr[-3000:])
        assert "Traceback" not in result.stderr, (line, result.stderr[-3000:])
