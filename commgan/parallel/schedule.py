"""The scheduling both backends share: units pulled lazily, a bounded window of them in flight,
results handed back in the units' order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["WINDOW", "in_order"]

WINDOW = 4
"""Units per process that may be in flight or waiting to be handed back in order."""
_END = object()

Unit = TypeVar("Unit")
H = TypeVar("H")


def in_order(units: Iterable[Unit], wanted: Callable[[Unit], bool],
             submit: Callable[[Unit], H], done: Callable[[H], bool],
             wait_any: Callable[[list[H]], None], result: Callable[[H], Any],
             cancel: Callable[[H], Any], slots: int, window: int
             ) -> Iterator[tuple[Unit, Any]]:
    """The scheduling of :meth:`~commgan.parallel.executor.UnitExecutor.ordered` over handles of
    any kind (futures, Ray object refs): units are pulled from ``units`` while fewer than
    ``slots`` run and fewer than ``window`` are held, ``submit``-ted if ``wanted``, and their
    ``result``s yielded in the units' order if still ``wanted``; ``wait_any`` blocks until one
    handle is ``done`` (or a short while). Handles whose unit is no longer wanted, or not yet
    yielded when the iteration ends, are ``cancel``-led.

    Finished results are handed back before the next units are pulled, so a result that makes
    later units pointless (a sweep point that reached its errors) stops them before they are
    submitted: pulling first started the next block of a point that had just finished, and
    more than half of the workers' time in a 16-point sweep went to such blocks."""
    source = iter(units)
    pending: deque[tuple[Unit, H]] = deque()
    exhausted = False
    try:
        while True:
            while pending and done(pending[0][1]):
                unit, handle = pending.popleft()
                if wanted(unit):
                    yield unit, result(handle)
                else:
                    cancel(handle)
            while (not exhausted and len(pending) < window
                   and sum(not done(handle) for _, handle in pending) < slots):
                unit = next(source, _END)
                if unit is _END:
                    exhausted = True
                elif wanted(unit):
                    pending.append((unit, submit(unit)))
            if not pending:
                return
            if not done(pending[0][1]):
                wait_any([handle for _, handle in pending if not done(handle)])
    finally:
        for _, handle in pending:
            cancel(handle)
