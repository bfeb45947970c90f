"""Work units as Ray tasks: the `--backend ray` of :class:`~commgan.sim.executor.UnitExecutor`.

What every unit reads (``shared``: systems as recipes, channels, config) goes to the object store
once and is deserialised once per worker process; each unit is one task with the same unit
seeds as on the local backend, so the numbers are the same. A task whose worker or node dies is
retried (same unit, same seed). Results come back in the units' order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ray_ordered"]

_SHARED: dict[str, Any] = {}
RETRIES = 3
"""Retries of a unit whose worker process or node died."""


def _connect(address: str | None, jobs: int) -> None:
    """Join the cluster at ``address`` (``auto``: the one `ray start` made here), or start a
    local Ray with ``jobs`` CPUs."""
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False,
                 object_store_memory=256 * 2**20)


def _unit(fn: Callable[[Any, Any], Any], shared: list, unit: Any, threads: int) -> Any:
    """One unit in a Ray worker: the shared object (passed by reference inside a list, so that
    Ray does not resolve it per task) is fetched once per process."""
    import ray

    from commgan.sim.executor import configure_process

    key = shared[0].hex()
    if key not in _SHARED:
        _SHARED.clear()
        _SHARED[key] = ray.get(shared[0])
        configure_process(threads)
    return fn(_SHARED[key], unit)


def ray_ordered(fn: Callable[[Any, Any], Any], units: list, wanted: Callable[[Any], bool],
                shared: Any, jobs: int, threads: int, address: str | None
                ) -> Iterator[tuple[Any, Any]]:
    """(unit, result) in the units' order, as :meth:`UnitExecutor.ordered`; at most as many
    units in flight as the cluster has CPUs."""
    import ray

    _connect(address, jobs)
    task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(_unit)
    shared_ref = ray.put(shared)
    slots = max(1, int(ray.cluster_resources().get("CPU", jobs)))
    pending: dict[int, Any] = {}
    ready: set[int] = set()
    submitted = yielded = 0
    try:
        while yielded < len(units):
            while (submitted < len(units)
                   and sum(index not in ready for index in pending) < slots):
                if wanted(units[submitted]):
                    pending[submitted] = task.remote(fn, [shared_ref], units[submitted], threads)
                submitted += 1
            progressed = False
            while yielded < submitted and (yielded not in pending or yielded in ready):
                ref = pending.pop(yielded, None)
                ready.discard(yielded)
                if ref is not None and wanted(units[yielded]):
                    yield units[yielded], ray.get(ref)
                yielded += 1
                progressed = True
            if not progressed:
                waiting = {ref: index for index, ref in pending.items() if index not in ready}
                done, _ = ray.wait(list(waiting), num_returns=1, timeout=0.5)
                ready.update(waiting[ref] for ref in done)
    finally:
        for ref in pending.values():
            ray.cancel(ref, force=True)
