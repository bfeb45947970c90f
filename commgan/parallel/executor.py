"""Work units on local worker processes (or Ray tasks, :mod:`commgan.parallel.ray_backend`).

Parallelism comes from processes, each with the thread policy of :mod:`commgan.parallel.process`
(``--jobs``, default: the usable cores; ``--threads`` per process). Units carry their own seeds,
so the numbers do not depend on how many processes run them or in which order they finish.

Workers come from a fork server that imported torch and this process's modules of commgan once,
and never ran a parallel torch operation: forking the parent itself would copy a busy OpenMP
thread pool into the children, where the first parallel operation deadlocks (seen here). What
every unit reads (systems as recipes of class, arguments and weights, channels, config; keys in
memory only) is pickled to each worker once; the units themselves are small tuples. A command
may start the fork server before it loads its systems (:func:`start_workers`), so that the
server's imports run beside its own.

Units are read lazily from any iterable (a sweep's blocks are generated as workers free up, never
listed), and at most :data:`~commgan.parallel.schedule.WINDOW` units per process are in flight or
finished but not yet handed back in order. The fork server and its workers die with the process
that started them (:mod:`commgan.parallel.worker_init`); an interrupted pool stops its fork
server too, so no queued worker starts after the interrupt; a worker that was killed (e.g. by
the out-of-memory killer) ends the run with one :class:`~commgan.errors.CommganError` that says
what ended (:mod:`commgan.parallel.worker_deaths`).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from commgan.errors import CommganError
from commgan.parallel.backend import Backend, runs_inline
from commgan.parallel.process import configure_process
from commgan.parallel.schedule import WINDOW, in_order
from commgan.parallel.worker_deaths import death_of, settled_server_death

__all__ = ["PRELOAD", "SHUTDOWN_GRACE_S", "UnitExecutor", "preload_for", "start_workers"]

Unit = TypeVar("Unit")
PRELOAD = ("commgan.parallel.worker_init", "torch")
"""Imported first by the fork server (:func:`preload_for` adds the package's modules), so each
worker starts in milliseconds."""
_PACKAGE = __name__.partition(".")[0]

_SHARED: Any = None
_QUIET_TRACKER = "ignore:resource_tracker:UserWarning"
"""The resource tracker unlinks what killed processes left (their semaphores) without saying
so: after a kill -9 of the whole run, its count of "leaked" objects is noise."""


def preload_for(modules: Iterable[str] = ()) -> list[str]:
    """What a fork server started now imports: :data:`PRELOAD`, ``modules`` (named by a caller
    that starts the server before it imports them itself, :func:`start_workers`), then every
    module of this package that this process has imported (a command's engine, systems and
    their libraries, the units' own module among them). The floor names no module above it:
    the workers start with what the process that runs them uses. Modules from elsewhere are
    left to the workers (a test module may skip itself on import, which would end the
    server)."""
    names = [name for name, module in list(sys.modules.items())
             if module is not None and name.partition(".")[0] == _PACKAGE]
    return list(dict.fromkeys([*PRELOAD, *modules, *names]))


def start_workers(modules: Iterable[str] = ()) -> None:
    """Start the fork server of the worker processes now, importing :func:`preload_for`
    ``(modules)``, unless one runs already: it imports beside this process, which goes on
    (loading its systems, say), and the first pool finds it ready instead of waiting for its
    imports (measured in docs/results/startup.md). Where the platform has no fork server this
    does nothing."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        _worker_context(modules)


def _start_worker(threads: int, shared: Any) -> None:
    """A worker process: Ctrl-C is the parent's to handle (it stops the pool)."""
    global _SHARED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _SHARED = shared
    configure_process(threads)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now: an interrupt must not wait for the units they are running."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


SHUTDOWN_GRACE_S = 10.0
"""How long a pool's workers may take to leave after its last unit before they are killed."""


def _close(pool: ProcessPoolExecutor) -> None:
    """Shut a pool down without hanging: a worker killed while it held the task queue's lock
    (it waits there when idle) leaves the others blocked on that lock, and the standard
    ``shutdown(wait=True)`` then waits for them forever. Workers still there after
    :data:`SHUTDOWN_GRACE_S` are killed."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is None:
        return
    manager.join(SHUTDOWN_GRACE_S)
    if manager.is_alive():
        for process in processes:
            process.kill()
        manager.join(SHUTDOWN_GRACE_S)


def _stop_fork_server() -> None:
    """Kill the fork server (its workers die with it) and forget it; the next pool starts a new
    one. A worker whose start an interrupt cut short is still queued in the server and would
    otherwise start after the pool is gone, and fail loudly."""
    from multiprocessing import forkserver

    server = forkserver._forkserver
    pid = getattr(server, "_forkserver_pid", None)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    try:
        server._stop()  # closes the alive pipe, reaps the server, removes its socket
    except (AttributeError, ChildProcessError, OSError):
        server._forkserver_pid = None


def _call(fn: Callable[[Any, Any], Any], unit: Any) -> Any:
    return fn(_SHARED, unit)


def _worker_context(modules: Iterable[str] = ()) -> multiprocessing.context.BaseContext:
    """The fork server (preloaded, :func:`preload_for`, when this call starts it; its first
    import makes it and its workers ignore Ctrl-C, see :mod:`commgan.parallel.worker_init`)
    where the platform has one, else spawn.

    Workers run CPU units only and never see a GPU: Sionna initialises CUDA wherever it is
    visible (on import and on every seed), and a process forked after that cannot use CUDA
    again, so the fork server starts with ``CUDA_VISIBLE_DEVICES`` empty. It learns this
    process's pid (to die with it) from :data:`~commgan.parallel.worker_init.PARENT_ENV`; the
    kernel ties the server's life to the thread that starts it, so pools belong on one long-lived
    thread (a server whose thread ended is started again by the next pool)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload_for(modules))
    from commgan.parallel.worker_init import PARENT_ENV

    saved = {name: os.environ.get(name) for name in ("CUDA_VISIBLE_DEVICES", PARENT_ENV)}
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ[PARENT_ENV] = str(os.getpid())
    try:
        from multiprocessing import forkserver, resource_tracker

        sys.warnoptions.append(_QUIET_TRACKER)  # read once, when the tracker starts
        try:
            resource_tracker.ensure_running()
        finally:
            sys.warnoptions.remove(_QUIET_TRACKER)
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return context


class UnitExecutor:
    """Runs ``fn(shared, unit)`` for a sequence of units on ``jobs`` processes (inline when
    ``jobs`` is 1), at most ``jobs`` at a time, and yields results in the units' order.

    ``shared``: what every unit reads (systems, channels, config), handed to forked workers
    once; ``threads``: torch intra-op threads per process; ``device``: where the units compute
    (units on a GPU run inline, see :func:`runs_inline`).
    """

    def __init__(self, jobs: int = 1, threads: int = 1, shared: Any = None,
                 backend: Backend | None = None, device: str = "cpu") -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be positive, got {jobs}")
        self.jobs, self.threads, self.shared = jobs, threads, shared
        self.backend = backend or Backend()
        self.inline = runs_inline(jobs, self.backend, device)

    def ordered(self, fn: Callable[[Any, Unit], Any], units: Iterable[Unit],
                wanted: Callable[[Unit], bool] = lambda unit: True) -> Iterator[tuple[Unit, Any]]:
        """(unit, result) in the units' order. ``units`` is read lazily, when a worker is free. A
        unit is started only if ``wanted(unit)`` holds then, and yielded only if it still holds
        when its turn comes (so a result that made later units pointless, e.g. an error-free
        point, cancels them)."""
        source = iter(units)
        if self.backend.kind == "ray":
            from commgan.parallel.ray_backend import ray_ordered

            yield from ray_ordered(fn, source, wanted, self.shared, self.jobs, self.threads,
                                   self.backend.address)
            return
        head = list(itertools.islice(source, 2))
        source = itertools.chain(head, source)
        if self.inline or len(head) <= 1:  # starting workers would cost more than it saves
            import torch

            saved = torch.get_num_threads()
            configure_process(self.threads)
            try:
                for unit in source:
                    if wanted(unit):
                        yield unit, fn(self.shared, unit)
            finally:
                torch.set_num_threads(saved)
            return
        pool = ProcessPoolExecutor(self.jobs, mp_context=_worker_context(),
                                   initializer=_start_worker, initargs=(self.threads, self.shared))
        try:
            yield from in_order(source, wanted, lambda unit: _submit(pool, fn, unit),
                                Future.done, _wait_any, lambda future: _result(pool, future),
                                Future.cancel, self.jobs, WINDOW * self.jobs)
        except (KeyboardInterrupt, SystemExit):
            _terminate(pool)
            _stop_fork_server()
            raise
        except BaseException:
            _terminate(pool)
            raise
        finally:
            _close(pool)


def _broken(pool: ProcessPoolExecutor) -> CommganError:
    return CommganError(f"{death_of(pool)}; rerun with fewer --jobs or a smaller problem")


def _submit(pool: ProcessPoolExecutor, fn: Callable[[Any, Any], Any], unit: Any) -> Future:
    """Submit one unit; a pool that lost a worker or its fork server is one error line."""
    try:
        return pool.submit(_call, fn, unit)
    except BrokenProcessPool:
        raise _broken(pool) from None
    except (ConnectionError, EOFError, FileNotFoundError):
        what = settled_server_death() or "cannot be reached"
        raise CommganError(f"the fork server of the worker processes {what}; rerun the "
                           "command") from None


def _result(pool: ProcessPoolExecutor, future: Future) -> Any:
    try:
        return future.result()
    except BrokenProcessPool:
        raise _broken(pool) from None


def _wait_any(futures: list[Future]) -> None:
    wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)  # wakes for Ctrl-C, wherever it lands
