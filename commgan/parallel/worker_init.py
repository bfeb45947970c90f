"""Imported first by the fork server of :mod:`commgan.parallel.executor`, and the lifetime of the
processes it makes.

The server, and every worker forked from it, ignores Ctrl-C (SIGINT): the parent handles it, stops
the pool and reports the interrupt in one line. The server dies with the process that started it,
and each worker with the server (the kernel's parent-death signal, SIGKILL, on Linux): a parent
killed with SIGKILL or by the out-of-memory killer leaves no server and no worker behind, and none
holds its standard output open.
"""

from __future__ import annotations

import ctypes
import os
import signal

__all__ = ["PARENT_ENV", "die_with_parent"]

PARENT_ENV = "COMMGAN_FORKSERVER_PARENT"
"""Set by the executor while it starts the fork server: the pid of the process starting it. The
module acts only where it is set, so importing it elsewhere changes nothing."""

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> bool:
    """Ask the kernel to SIGKILL this process when the thread that created it ends, then exit at
    once if ``parent`` (a pid) is already gone. False where the platform has no parent-death
    signal (not Linux)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    if prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent ended before the signal was armed
        os._exit(1)
    return True


def _in_worker() -> None:
    """After each fork of the server: the new worker dies with the server."""
    die_with_parent(_SERVER)


_SERVER = os.getpid()
_parent = os.environ.pop(PARENT_ENV, "")
if _parent:  # the fork server; anywhere else (the executor reads PARENT_ENV) this does nothing
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _parent.isdigit() and die_with_parent(int(_parent)):
        os.register_at_fork(after_in_child=_in_worker)
