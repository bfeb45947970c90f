"""Atomic file writes: a crash leaves the old file or none, never a half-written one.

Scratch files are named ``.NAME.PID.XXXX.tmp`` next to their target, so that one killed
outright (kill -9, out of memory) is swept by the next write of the same file
(:func:`sweep_stale`) while a live process's scratch is left alone. Files get the permissions
the umask allows, like any file ``open`` creates.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_all", "json_writer", "scratch_prefix", "sweep_stale",
           "write_json"]


def scratch_prefix(path: str | os.PathLike) -> str:
    """The name prefix of this process's scratch files for ``path``: ``.NAME.PID.``."""
    return f".{Path(path).name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(path: str | os.PathLike) -> None:
    """Remove scratch files and folders of ``path`` left by processes that no longer run."""
    path = Path(path)
    prefix = f".{path.name}."
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        rest = entry.name[len(prefix):] if entry.name.startswith(prefix) else ""
        pid = rest.split(".", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
"""The process's umask, read once at import (reading it means setting it for a moment, which
must not race with other threads' file creation)."""


def _umask() -> int:
    return _UMASK


def _scratch(path: Path) -> str:
    fd, tmp = tempfile.mkstemp(prefix=scratch_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    return tmp


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Write ``path`` via a scratch file in the same folder and ``os.replace``.

    ``write(tmp_path)`` produces the content.
    """
    atomic_write_all({path: write})


def atomic_write_all(writers: dict[str | os.PathLike, Callable[[str], object]]) -> None:
    """Write several files all or none: every scratch file is complete before any is renamed."""
    paths = [Path(path) for path in writers]
    for path in paths:
        sweep_stale(path)
    done: list[tuple[str, Path]] = []
    try:
        for path, write in zip(paths, writers.values(), strict=True):
            tmp = _scratch(path)
            done.append((tmp, path))
            write(tmp)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp (and some writers) create 0600
        for tmp, path in done:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in done:
            Path(tmp).unlink(missing_ok=True)
        raise


def json_writer(data: dict) -> Callable[[str], None]:
    """A writer for :func:`atomic_write` / :func:`atomic_write_all`: ``data`` as indented JSON
    with sorted keys."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True, default=str)
            f.write("\n")

    return write


def write_json(data: dict, path: str | os.PathLike) -> None:
    """Atomic JSON write (indented, sorted keys)."""
    atomic_write(path, json_writer(data))
