"""The lock of one cached model's pair of files (:mod:`commgan.checkpoint`): ``ROOT/.STEM.lock``,
``flock``-ed exclusive to write the pair and shared to read it."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from commgan.errors import CommganError

__all__ = ["model_lock"]


@contextmanager
def model_lock(stem: Path, exclusive: bool) -> Iterator[None]:
    """Hold ``ROOT/.STEM.lock``: exclusive to write a model's pair of files, shared to read it.

    Writers create the lock file; a reader never does (so a shipped or read-only folder stays
    untouched) and reads unlocked where no writer ever was. A writer that created the lock file
    and then fails removes it again; whoever waited on the removed file locks anew. A lock file
    left by a process that died holds no lock (``flock`` ends with its holder).
    """
    lock = stem.with_name(f".{stem.name}.lock")
    while True:
        fd, created = _open_lock(lock, exclusive)
        if fd is None:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            if _still_named(fd, lock):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    except BaseException:
        if created:
            with suppress(OSError):
                lock.unlink()
        raise
    finally:
        os.close(fd)


def _open_lock(lock: Path, exclusive: bool) -> tuple[int | None, bool]:
    """(descriptor, created now) of a lock file; (None, False) for a reader where there is none.

    Opened read-only and non-blocking: a lock file someone made read-only still locks, and a
    FIFO in its place cannot hang the run (it is refused, like any other non-regular file).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    while True:
        created = False
        try:
            if exclusive:
                try:
                    fd = os.open(lock, flags | os.O_CREAT | os.O_EXCL, 0o666)
                    created = True
                except FileExistsError:
                    fd = os.open(lock, flags)
            else:
                fd = os.open(lock, flags)
        except FileNotFoundError:
            if exclusive and not os.path.islink(lock):
                continue  # removed between the two opens by a failing writer
            if exclusive:
                raise CommganError(f"lock file {str(lock)!r} is a dangling link; "
                                   "delete it") from None
            return None, False
        except OSError as err:
            if not exclusive:
                return None, False
            if err.errno in (errno.EISDIR, errno.ELOOP):
                raise CommganError(f"lock file {str(lock)!r} is not a regular file; "
                                   "delete it") from None
            raise CommganError(f"model cache {str(lock.parent)!r} is not writable: "
                               f"{err.strerror}") from None
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd, created
        os.close(fd)
        raise CommganError(f"lock file {str(lock)!r} is not a regular file; delete it")


def _still_named(fd: int, lock: Path) -> bool:
    """Whether ``lock`` still names the file open as ``fd`` (a failing writer may have removed
    it while this process waited)."""
    try:
        named = os.stat(lock)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)
