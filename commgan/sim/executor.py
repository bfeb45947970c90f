"""The old path of the executor, which now lives below the engine in :mod:`commgan.parallel`;
new code imports it from there. This module only re-exports it."""

from commgan.parallel import (
    BACKENDS,
    WINDOW,
    Backend,
    UnitExecutor,
    configure_process,
    in_order,
    keep_freed_memory,
    runs_inline,
    usable_cores,
)

__all__ = ["BACKENDS", "WINDOW", "Backend", "UnitExecutor", "configure_process", "in_order",
           "keep_freed_memory", "runs_inline", "usable_cores"]
