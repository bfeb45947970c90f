"""Atomic file writes, output sets that appear all or none, and locked output folders.

Scratch files are named ``.NAME.PID.XXXXXXXX.tmp`` next to their target (NAME cut so that the
whole name stays within ``NAME_MAX`` = 255 bytes), so that one killed outright (kill -9, out of
memory) is swept by the next write of the same file (:func:`sweep_stale`) while a live process's
scratch is left alone. Files get the permissions the umask allows, like any file ``open``
creates.

Several files are written all or none (:func:`atomic_write_all`, :func:`output_set`): every
scratch file is complete before the first rename, the renames run with Ctrl-C and SIGTERM held
back, and a rename that fails puts the previous files back. Output folders and their locks
(:func:`claim_output`, :func:`make_folders`) live in :mod:`commgan.folders`; their names are
re-exported here.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from commgan.folders import (
    LOCK_NAME,
    NAME_MAX,
    claim_output,
    file_mode,
    fit_name,
    make_folders,
    naming,
    release_outputs,
    remove_empty,
)

__all__ = ["LOCK_NAME", "NAME_MAX", "OutputSet", "atomic_write", "atomic_write_all",
           "claim_output", "json_writer", "make_folders", "output_set", "release_outputs",
           "remove_empty", "scratch_prefix", "sweep_stale", "write_json"]

_STOPS = frozenset({signal.SIGINT, signal.SIGTERM})


def scratch_prefix(path: str | os.PathLike) -> str:
    """The name prefix of this process's scratch files for ``path``: ``.NAME.PID.``."""
    return f".{fit_name(Path(path).name)}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def sweep_stale(path: str | os.PathLike) -> None:
    """Remove scratch files and folders of ``path`` left by processes that no longer run."""
    path = Path(path)
    prefix = f".{fit_name(path.name)}."
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


_live: set[str] = set()
"""This process's scratch files that a writer is filling now: a nested atomic write to one
writes it directly (it is already a scratch file)."""


def _stage(writers: dict[Path, Callable[[str], object]]) -> list[tuple[str, Path]]:
    """Write every file to a complete scratch file beside it; (scratch, target) pairs. On an
    error, no scratch file is left and an ``OSError`` names the target."""
    staged: list[tuple[str, Path]] = []
    path = None
    token = _batch.set(None)  # a writer's own atomic writes are not part of an output set
    try:
        for path, write in writers.items():
            if path.is_dir() and not path.is_symlink():
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way", str(path))
            sweep_stale(path)
            fd, tmp = tempfile.mkstemp(prefix=scratch_prefix(path), suffix=".tmp",
                                       dir=path.parent)
            os.close(fd)
            staged.append((tmp, path))
            _live.add(tmp)
            write(tmp)
            os.chmod(tmp, file_mode())  # mkstemp (and some writers) create 0600
    except BaseException as err:
        _discard(staged)
        if isinstance(err, OSError) and path is not None:
            raise naming(err, path) from None
        raise
    finally:
        _batch.reset(token)
    return staged


def _discard(staged: Iterable[tuple[str, Path]]) -> None:
    for tmp, _ in staged:
        Path(tmp).unlink(missing_ok=True)
        _live.discard(tmp)


def _backup(path: Path) -> str | None:
    """A hard link ``.NAME.PID.XXXXXXXX.old`` to the current ``path`` (None where there is no
    file or the file system has no hard links: that file cannot be put back)."""
    if not os.path.lexists(path):
        return None
    for _ in range(100):
        backup = str(path.with_name(f"{scratch_prefix(path)}{secrets.token_hex(4)}.old"))
        try:
            os.link(path, backup, follow_symlinks=False)
            return backup
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def _commit(staged: list[tuple[str, Path]], remove: Iterable[Path] = ()) -> None:
    """Rename every scratch file onto its target and remove ``remove``, all or none: the
    renames run with Ctrl-C and SIGTERM held back; a failing one puts the old files back."""
    held: frozenset = frozenset()
    backups: dict[Path, str | None] = {}
    changed: list[Path] = []
    try:
        held = _STOPS - signal.pthread_sigmask(signal.SIG_BLOCK, ())
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
        target = None
        try:
            written = {path for _, path in staged}
            doomed = [path for path in dict.fromkeys(remove) if path not in written
                      and os.path.lexists(path) and (path.is_symlink() or not path.is_dir())]
            for target in [*written, *doomed]:
                backups[target] = _backup(target)
            for tmp, target in staged:
                os.replace(tmp, target)
                _live.discard(tmp)
                changed.append(target)
            for target in doomed:
                os.unlink(target)
                changed.append(target)
        except BaseException as err:
            for path in reversed(changed):
                try:
                    if backups.get(path):
                        os.replace(backups.pop(path), path)
                    else:
                        os.unlink(path)
                except OSError:
                    pass
            if isinstance(err, OSError) and target is not None:
                raise naming(err, target) from None
            raise
    finally:
        _discard(staged)
        for backup in backups.values():
            if backup:
                Path(backup).unlink(missing_ok=True)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Write ``path`` via a scratch file in the same folder and ``os.replace``.

    ``write(tmp_path)`` produces the content.
    """
    atomic_write_all({path: write})


def atomic_write_all(writers: dict[str | os.PathLike, Callable[[str], object]],
                     remove: Iterable[str | os.PathLike] = ()) -> None:
    """Write several files all or none: every scratch file is complete before any is renamed,
    and a failed rename puts the previous files back. ``remove``: files of the previous set that
    this one does not rewrite (removed with the renames). Inside an :func:`output_set` for the
    files' folder, the files join that set instead."""
    direct = {path: write for path, write in writers.items() if str(path) in _live}
    for path, write in direct.items():  # a writer writing its own scratch file
        write(str(path))
    paths = {Path(path): write for path, write in writers.items() if path not in direct}
    if not paths:
        return
    batch = _batch.get()
    if batch is not None and all(path.absolute().parent == batch.folder for path in paths):
        batch.add(_stage(paths), remove)
        return
    _commit(_stage(paths), [Path(path) for path in remove])


@dataclass
class OutputSet:
    """Files staged for one all-or-none commit into ``folder`` (see :func:`output_set`)."""

    folder: Path
    replaces: list[Path] = field(default_factory=list)
    staged: dict[Path, str] = field(default_factory=dict)

    def add(self, staged: list[tuple[str, Path]], remove: Iterable) -> None:
        """Stage more files (a later write of the same file replaces the earlier one)."""
        for tmp, path in staged:
            if path in self.staged:
                _discard([(self.staged[path], path)])
            self.staged[path] = tmp
        self.replaces.extend(Path(path) for path in remove)


_batch: ContextVar[OutputSet | None] = ContextVar("commgan_output_set", default=None)


@contextmanager
def output_set(folder: str | os.PathLike,
               replaces: Iterable[str | os.PathLike] = ()) -> Iterator[OutputSet]:
    """Inside the block, every atomic write of a file in ``folder`` (also by helpers that write
    one file at a time) is staged; when the block ends, all staged files appear together, and
    the files of ``replaces`` that were not rewritten are removed (a previous run's leftovers).
    ``folder`` is created if missing; an error inside the block or in the commit leaves it as it
    was (a folder created here is removed again)."""
    created = make_folders(folder)
    batch = OutputSet(Path(folder).absolute(), [Path(path) for path in replaces])
    token = _batch.set(batch)
    try:
        try:
            yield batch
        finally:
            _batch.reset(token)
        _commit([(tmp, path) for path, tmp in batch.staged.items()], batch.replaces)
    except BaseException:
        _discard((tmp, path) for path, tmp in batch.staged.items())
        remove_empty(created)
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
