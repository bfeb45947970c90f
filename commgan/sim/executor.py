"""Work units on local worker processes, with a deliberate thread policy.

torch's intra-op threads pay off on large tensors; on the small tensors of a link simulation they
collapse as soon as another process shares the cores (measured: a transceiver-sized training step
ran 23.4 steps/s on one thread and 5.1 on torch's default two beside other jobs). The policy is
therefore one intra-op thread per process (``--threads`` overrides it) and parallelism across
processes (``--jobs``, default: the usable cores). Units carry their own seeds, so the numbers do
not depend on how many processes run them or in which order they finish.

Workers come from a fork server that imported torch, Sionna and the systems once and never ran
a parallel torch operation: forking the parent itself would copy a busy OpenMP thread pool into
the children, where the first parallel operation deadlocks (seen here). What every unit reads
(systems as recipes of class, arguments and weights, channels, config; keys in memory only) is
pickled to each worker once; the units themselves are small tuples.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["BACKENDS", "Backend", "UnitExecutor", "configure_process", "runs_inline",
           "usable_cores"]

Unit = TypeVar("Unit")
PRELOAD = ["commgan.sim.worker_init", "torch", "sionna.phy", "commgan.comm.registry",
           "commgan.sim.sweep"]
"""Imported once by the fork server, so each worker starts in milliseconds."""

_SHARED: Any = None


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def configure_process(threads: int) -> None:
    """The per-process performance policy: torch's intra-op threads, and an allocator that
    keeps freed memory (:func:`keep_freed_memory`)."""
    import torch

    if threads < 1:
        raise ValueError(f"threads must be positive, got {threads}")
    torch.set_num_threads(threads)
    keep_freed_memory()


MMAP_THRESHOLD_BYTES = 32 * 2**20
"""Blocks below this size come from malloc's heap (glibc's largest allowed threshold)."""
TRIM_THRESHOLD_BYTES = 256 * 2**20
"""Free memory at the top of the heap is returned to the kernel only above this size."""


def keep_freed_memory() -> None:
    """Tell glibc's malloc to serve blocks below :data:`MMAP_THRESHOLD_BYTES` from its heap and
    to keep up to :data:`TRIM_THRESHOLD_BYTES` of freed memory mapped (a no-op off glibc).

    By default, tensors of a few MB (a training batch's activations) are mmap-ed and unmapped on
    every allocation, and each first touch of a page is a page fault: an ae training step spent
    a third of its time in the kernel that way (see docs/decisions.md)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, MMAP_THRESHOLD_BYTES)
    mallopt(m_trim_threshold, TRIM_THRESHOLD_BYTES)


def _start_worker(threads: int, shared: Any) -> None:
    """A worker process: Ctrl-C is the parent's to handle (it stops the pool)."""
    global _SHARED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _SHARED = shared
    configure_process(threads)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now: an interrupt must not wait for the units they are running."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()


def _call(fn: Callable[[Any, Any], Any], unit: Any) -> Any:
    return fn(_SHARED, unit)


def _worker_context() -> multiprocessing.context.BaseContext:
    """The fork server (preloaded; its first import makes it and its workers ignore Ctrl-C, see
    :mod:`commgan.sim.worker_init`) where the platform has one, else spawn.

    Workers run CPU units only and never see a GPU: Sionna initialises CUDA wherever it is
    visible (on import and on every seed), and a process forked after that cannot use CUDA
    again, so the fork server starts with ``CUDA_VISIBLE_DEVICES`` empty."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        from multiprocessing import forkserver

        forkserver.ensure_running()
    finally:
        if visible is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = visible
    return context


def runs_inline(jobs: int, backend: Backend | None = None, device: str = "cpu") -> bool:
    """Whether an executor of these settings runs its units in this process: one job on the
    local backend, or units on a GPU (one process drives the card; workers see none)."""
    local = backend is None or backend.kind == "local"
    return local and (jobs == 1 or str(device).startswith("cuda"))


@dataclass(frozen=True)
class Backend:
    """Where units run: ``local`` worker processes, or ``ray`` tasks on the cluster at
    ``address`` (None: a local Ray started for the run; ``auto``: the one `ray start` made)."""

    kind: str = "local"
    address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.kind!r}")


BACKENDS = ("local", "ray")


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
        """(unit, result) in the units' order. A unit is started only if ``wanted(unit)`` holds
        when a worker is free, and yielded only if it still holds when its turn comes (so a
        result that made later units pointless, e.g. an error-free point, cancels them)."""
        units = list(units)
        if self.backend.kind == "ray":
            from commgan.sim.ray_backend import ray_ordered

            yield from ray_ordered(fn, units, wanted, self.shared, self.jobs, self.threads,
                                   self.backend.address)
            return
        if self.inline or len(units) <= 1:  # starting workers would cost more than it saves
            import torch

            saved = torch.get_num_threads()
            configure_process(self.threads)
            try:
                for unit in units:
                    if wanted(unit):
                        yield unit, fn(self.shared, unit)
            finally:
                torch.set_num_threads(saved)
            return
        pool = ProcessPoolExecutor(self.jobs, mp_context=_worker_context(),
                                   initializer=_start_worker, initargs=(self.threads, self.shared))
        try:
            yield from self._ordered_in(pool, fn, units, wanted)
        except BaseException:
            _terminate(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _ordered_in(self, pool: ProcessPoolExecutor, fn, units: list, wanted
                    ) -> Iterator[tuple[Any, Any]]:
        futures: dict[int, Future] = {}
        submitted = yielded = 0
        try:
            while yielded < len(units):
                while (submitted < len(units)
                       and sum(not f.done() for f in futures.values()) < self.jobs):
                    if wanted(units[submitted]):
                        futures[submitted] = pool.submit(_call, fn, units[submitted])
                    submitted += 1
                progressed = False
                while yielded < submitted and (yielded not in futures or futures[yielded].done()):
                    future = futures.pop(yielded, None)
                    if future is not None and wanted(units[yielded]):
                        yield units[yielded], future.result()
                    yielded += 1
                    progressed = True
                if not progressed:
                    wait([f for f in futures.values() if not f.done()], timeout=0.5,
                         return_when=FIRST_COMPLETED)  # wakes for Ctrl-C, wherever it lands
        finally:
            for future in futures.values():
                future.cancel()
