"""What ended a broken pool of worker processes, in words (a worker and the signal that killed
it, or the fork server), for the one error line of :mod:`commgan.parallel.executor`."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor

__all__ = ["death_of", "server_death", "settled_server_death", "signal_words"]


def signal_words(signum: int) -> str:
    """A signal number in words (``SIGKILL`` notes the out-of-memory killer)."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return name + (" (often the out-of-memory killer)" if signum == signal.SIGKILL else "")


def server_death() -> str | None:
    """How the fork server ended, if it did (its status is read, not reaped)."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None or not hasattr(os, "waitid"):
        return None
    try:
        status = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return None
    if status is None:
        return None
    if status.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        return f"was killed by {signal_words(status.si_status)}"
    return "ended"


def settled_server_death(settle_s: float = 2.0) -> str | None:
    """:func:`server_death`, waiting up to ``settle_s`` seconds for a server whose pipes are
    closed to become a zombie (it closes them a moment before it is one)."""
    deadline = time.monotonic() + settle_s
    while (server := server_death()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return server


def death_of(pool: ProcessPoolExecutor, settle_s: float = 2.0) -> str:
    """What ended a broken pool, in words: a worker (and the signal that killed it) or the fork
    server. Waits up to ``settle_s`` seconds for the pool's manager thread to collect the
    workers' ends (it alone reads them: a second reader would lose them), and for a killed
    server to be a zombie (it closes its pipes, which breaks the pool, a moment before)."""
    deadline = time.monotonic() + settle_s
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(settle_s)
    codes = [getattr(getattr(process, "_popen", None), "returncode", None)
             for process in list((getattr(pool, "_processes", None) or {}).values())]
    killer = next((-code for code in codes
                   if code is not None and code < 0 and -code != signal.SIGTERM), None)
    if killer is not None:
        return f"a worker process was killed by {signal_words(killer)}"
    server = settled_server_death(max(0.0, deadline - time.monotonic()))
    if server is not None:
        return f"the fork server of the worker processes {server}"
    return "a worker process ended abruptly"
