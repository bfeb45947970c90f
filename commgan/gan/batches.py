"""Where `GANTrainer.fit` gets its batches: a ``next() -> batch`` function from its data argument,
and moving a (nested) batch to the trainer's device."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["DataExhausted", "batch_source", "resolve_device", "to_device"]


def to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) batch to `device`."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device of a name; "auto" = "cuda" if available, else "cpu"."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class DataExhausted(Exception):
    """The one-shot batch iterator passed to fit() ran out."""


def batch_source(data: Any, problem: Any) -> Callable[[], Any]:
    """A ``next() -> batch`` function from fit()'s data argument (see `GANTrainer.fit`)."""
    if data is None:
        if not callable(getattr(problem, "next_batch", None)):
            raise TypeError("pass data to fit() or give the problem a next_batch() method")
        return problem.next_batch
    if isinstance(data, Iterator):
        def next_from_iterator() -> Any:
            try:
                return next(data)
            except StopIteration:
                raise DataExhausted from None
        return next_from_iterator
    if isinstance(data, Iterable):
        state = {"it": iter(data)}

        def next_from_iterable() -> Any:  # restarts the iterable (e.g. a DataLoader) each epoch
            try:
                return next(state["it"])
            except StopIteration:
                state["it"] = iter(data)
                try:
                    return next(state["it"])
                except StopIteration:
                    raise DataExhausted from None
        return next_from_iterable
    if callable(data):
        return data
    raise TypeError(f"fit() data must be an iterable, an iterator or a callable, got {type(data)}")

