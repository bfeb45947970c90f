"""The per-process performance policy of every process that runs units (this one, local workers,
Ray workers): one torch intra-op thread unless told otherwise, and an allocator that keeps freed
memory.

torch's intra-op threads pay off on large tensors; on the small tensors of a link simulation they
collapse as soon as another process shares the cores (measured: a transceiver-sized training step
ran 23.4 steps/s on one thread and 5.1 on torch's default two beside other jobs), so parallelism
comes from processes, not threads.
"""

from __future__ import annotations

import ctypes
import os
import time

__all__ = ["BUSY_SAMPLE_SECONDS", "MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES",
           "configure_process", "idle_cores", "keep_freed_memory", "usable_cores"]


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


BUSY_SAMPLE_SECONDS = 0.25
"""How long :func:`idle_cores` watches the cores."""


def _cpu_ticks(cpus: set[int], stat: str = "/proc/stat") -> dict[int, tuple[int, int]]:
    """(all, idle + iowait) clock ticks so far of each CPU in ``cpus``, from ``stat``."""
    ticks = {}
    with open(stat) as lines:
        for line in lines:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                values = [int(value) for value in fields[:8]]
                ticks[int(name[3:])] = (sum(values), values[3] + values[4])
    return ticks


def idle_cores(sample_seconds: float = BUSY_SAMPLE_SECONDS) -> int:
    """The usable cores minus those other processes keep busy (niced ones included), watched
    for ``sample_seconds`` while this process sleeps; at least 1. Where the kernel's
    ``/proc/stat`` is not there, the usable cores."""
    try:
        cpus = set(os.sched_getaffinity(0))
        before = _cpu_ticks(cpus)
        time.sleep(sample_seconds)
        after = _cpu_ticks(cpus)
    except (AttributeError, OSError, ValueError):
        return usable_cores()
    busy = 0.0
    for cpu, (total, idle) in after.items():
        spent = total - before.get(cpu, (total, idle))[0]
        if spent > 0:
            busy += 1.0 - (idle - before[cpu][1]) / spent
    return max(1, len(cpus) - round(busy))


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
