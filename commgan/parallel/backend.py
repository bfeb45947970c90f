"""Where units run: the backend record both executors read (local worker processes or Ray)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BACKENDS", "Backend", "runs_inline"]

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Backend:
    """Where units run: ``local`` worker processes, or ``ray`` tasks on the cluster at
    ``address`` (None: a local Ray started for the run; ``auto``: the one `ray start` made)."""

    kind: str = "local"
    address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.kind!r}")


def runs_inline(jobs: int, backend: Backend | None = None, device: str = "cpu") -> bool:
    """Whether an executor of these settings runs its units in this process: one job on the
    local backend, or units on a GPU (one process drives the card; workers see none)."""
    local = backend is None or backend.kind == "local"
    return local and (jobs == 1 or str(device).startswith("cuda"))
