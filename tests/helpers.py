"""What several test modules share: the ``commgan`` command run in this process, and the check
that a failed command said why in one line. Test modules import it as ``helpers`` (pytest
puts ``tests/`` on the path, as a script run from ``tests/`` has it)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from commgan.cli import cli

__all__ = ["NO_KEY", "one_error_line", "run_cli"]

NO_KEY = {"COMMGAN_KEY": ""}
"""The environment every :func:`run_cli` starts from: no shared key from the caller's."""


def run_cli(args: Iterable[object], env: Mapping[str, str | None] | None = None, *,
            cwd: Path | None = None, check: bool = False) -> Result:
    """``commgan ARGS`` in this process through click's CliRunner, each argument as ``str``.

    The environment is the caller's with :data:`NO_KEY` and ``env`` on top (a value None removes
    a variable); ``cwd``: the working directory during the run; ``check``: assert exit status 0,
    with the command and its output in the message.
    """
    args = [str(arg) for arg in args]
    place = contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext()
    with place:
        result = CliRunner().invoke(cli, args, env={**NO_KEY, **(env or {})})
    if check:
        assert result.exit_code == 0, f"commgan {' '.join(args)} failed: {result.output}"
    return result


def one_error_line(result: Result | subprocess.CompletedProcess, expected: str = "", *,
                   code: int | None = 1) -> str:
    """Assert that a command (:func:`run_cli`'s result, or a finished process with text
    output) failed in one line, and return that line: exit status ``code`` (None: any but 0),
    stderr one line ``Error: ...`` containing ``expected``, and nothing on stdout."""
    exit_code = result.exit_code if isinstance(result, Result) else result.returncode
    lines = result.stderr.strip().splitlines()
    assert exit_code != 0 if code is None else exit_code == code, (exit_code,
                                                                    result.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[-3000:]
    assert expected in lines[0], lines[0]
    assert not result.stdout.strip(), result.stdout[-3000:]
    return lines[0]
