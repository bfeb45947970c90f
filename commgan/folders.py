"""Output folders: created with their missing parents (and removed again while empty), and
locked for the duration of a run.

A run locks its output folder (:func:`claim_output`): ``flock`` on ``FOLDER/.commgan.lock``
(``.NAME.lock`` beside an output file), which the kernel drops when the process dies, so a
killed run never blocks the next one. :mod:`commgan.fileio` re-exports these names.
"""

from __future__ import annotations

import atexit
import fcntl
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from commgan.errors import CommganError

__all__ = ["LOCK_NAME", "NAME_MAX", "SCRATCH_ROOM", "claim_output", "file_mode", "fit_name",
           "make_folders", "naming", "release_outputs", "remove_empty"]

NAME_MAX = 255
"""Longest file name in bytes (Linux, macOS and the usual file systems)."""
LOCK_NAME = ".commgan.lock"
"""The lock file of an output folder, present only while a run holds the folder."""
SCRATCH_ROOM = 25
"""Bytes a scratch name adds to NAME: ``.`` + ``.PID`` (up to 10 digits) + ``.`` + 8
random characters + ``.tmp``."""


def fit_name(name: str) -> str:
    """``name`` cut at a character boundary so that :data:`SCRATCH_ROOM` more bytes fit in
    :data:`NAME_MAX`."""
    budget = NAME_MAX - SCRATCH_ROOM
    if len(os.fsencode(name)) <= budget:
        return name
    used = 0
    for index, char in enumerate(name):
        used += len(os.fsencode(char))
        if used > budget:
            return name[:index]
    return name


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
"""The process's umask, read once at import (reading it means setting it for a moment, which
must not race with other threads' file creation)."""


def file_mode() -> int:
    """Permission bits of a new file under the process's umask (what ``open`` gives)."""
    return 0o666 & ~_UMASK


def naming(err: OSError, path: Path) -> OSError:
    """``err`` naming the target ``path`` (not a hidden scratch file)."""
    return OSError(err.errno, err.strerror or str(err), str(path))


def make_folders(folder: str | os.PathLike) -> list[Path]:
    """Create ``folder`` and its missing parents; return the folders created here, outermost
    first (for :func:`remove_empty`)."""
    missing: list[Path] = []
    path = Path(folder).absolute()
    while not os.path.lexists(path):
        missing.append(path)
        path = path.parent
    created = []
    for path in reversed(missing):
        try:
            path.mkdir()
            created.append(path)
        except FileExistsError:
            continue
        except OSError as err:
            remove_empty(created)
            raise naming(err, path) from None
    return created


def remove_empty(created: Iterable[Path]) -> None:
    """Remove the folders of :func:`make_folders` that are still empty, innermost first."""
    for path in reversed(list(created)):
        try:
            path.rmdir()
        except OSError:
            return


@dataclass
class _Claim:
    lock: Path
    fd: int
    created: list[Path]
    inode: tuple[int, int]
    owner: int = field(default_factory=os.getpid)


_claims: list[_Claim] = []


def _shown(path: str | os.PathLike, limit: int = 80) -> str:
    text = str(path)
    return repr(text if len(text) <= limit else "..." + text[-(limit - 3):])


def claim_output(path: str | os.PathLike, option: str = "--out", file: bool = False) -> Path:
    """Lock the output folder ``path`` (with ``file``, the output file ``path``) for the rest of
    this run; return ``path``. Creates the folder (and missing parents); :func:`release_outputs`
    unlocks, removes the lock file and the created folders left empty. Another run holding it is
    one :class:`CommganError` at once, naming ``option``; a killed holder never blocks."""
    path = Path(path)
    folder = path.parent if file else path
    lock = folder / (f".{fit_name(path.name)}.lock" if file else LOCK_NAME)
    try:
        held = os.stat(lock)
        if any(claim.owner == os.getpid() and claim.inode == (held.st_dev, held.st_ino)
               for claim in _claims):
            return path  # this process holds it already
    except OSError:
        pass
    created = make_folders(folder)
    try:
        fd = _lock(lock, folder, created)
    except BaseException:
        remove_empty(created)
        raise
    if fd is None:
        remove_empty(created)
        raise CommganError(f"{option} {_shown(path)} is in use by another commgan run; wait for "
                           f"it to finish or choose another {option}")
    if not _claims:
        atexit.unregister(release_outputs)
        atexit.register(release_outputs)
    opened = os.fstat(fd)
    _claims.append(_Claim(lock, fd, created, (opened.st_dev, opened.st_ino)))
    return path


def _lock(lock: Path, folder: Path, created: list[Path]) -> int | None:
    """An open, exclusively locked descriptor of the file ``lock``; None while another process
    holds it."""
    for _ in range(100):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, file_mode())
        except FileNotFoundError:  # its previous holder removed the folder it had made
            created.extend(make_folders(folder))
            continue
        except OSError as err:
            raise naming(err, lock) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        opened = os.fstat(fd)
        try:
            now = os.stat(lock)
            if (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino):
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # its previous holder removed it meanwhile: lock the current file
    raise CommganError(f"cannot lock {_shown(folder)}: its lock file keeps changing")


def release_outputs() -> None:
    """Unlock this process's output folders: remove each lock file, then the folders that
    :func:`claim_output` created and that stayed empty."""
    while _claims:
        claim = _claims.pop()
        if claim.owner != os.getpid():
            continue  # a forked child leaves its parent's locks alone
        claim.lock.unlink(missing_ok=True)
        os.close(claim.fd)
        remove_empty(claim.created)
