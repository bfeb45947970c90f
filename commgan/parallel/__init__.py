"""The runtime floor below the engine: work units on local worker processes or as Ray tasks, in
the units' order, and the thread policy of every process that runs them.

It imports nothing of commgan but :mod:`commgan.errors`, so every layer (the engine, the security
evaluation, the studies, vision, the CLI) may use it. Modules: :mod:`~commgan.parallel.backend`
(where units run), :mod:`~commgan.parallel.process` (threads and allocator per process),
:mod:`~commgan.parallel.schedule` (the ordering both backends share),
:mod:`~commgan.parallel.executor` (local processes), :mod:`~commgan.parallel.ray_backend` (Ray
tasks), :mod:`~commgan.parallel.worker_init` and :mod:`~commgan.parallel.worker_deaths` (the
lifetime and the deaths of worker processes).
"""

from commgan.parallel.backend import BACKENDS, Backend, runs_inline
from commgan.parallel.executor import UnitExecutor
from commgan.parallel.process import (
    configure_process,
    idle_cores,
    keep_freed_memory,
    usable_cores,
)
from commgan.parallel.schedule import WINDOW, in_order

__all__ = ["BACKENDS", "WINDOW", "Backend", "UnitExecutor", "configure_process", "idle_cores",
           "in_order", "keep_freed_memory", "runs_inline", "usable_cores"]
