"""One run context for every command: the options that say where and how a command runs
(``--models``, ``--seed``, ``--device``, ``--jobs``, ``--backend``, ``--ray-address``,
``--threads``, ``--quiet``), added by one decorator, :func:`run_command`, and handed to the
command as a :class:`RunContext`.

The decorator checks ``--jobs`` against the machine and sets this process's thread policy before
the command starts; the device, the backend and the job count are resolved when the command
first asks for them, so a command checks its own cheap options first and a Ray address is probed
only after them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from commgan.cli.options import check_out_dir, models_option, seed_option
from commgan.cli.workers import (
    backend_options,
    check_jobs,
    device_option,
    image_threads_option,
    jobs_option,
    make_backend,
    resolve_device,
    resolve_jobs,
    threads_option,
)

if TYPE_CHECKING:
    from commgan.parallel import Backend, UnitExecutor
    from commgan.systems import SystemContext

__all__ = ["QUIET_HELP", "TABLE_QUIET_HELP", "RunContext", "run_command"]

QUIET_HELP = "No progress bar or log lines."
"""The ``--quiet`` help of a command that prints results only as files."""
TABLE_QUIET_HELP = "No progress bar or log lines; the table only."
"""The ``--quiet`` help of a command that prints a table."""


@dataclass
class RunContext:
    """Where and how one command runs, from its shared options as given: ``quiet``,
    ``device_option`` (auto, cpu or cuda), ``threads`` (torch intra-op threads per process),
    ``jobs_option`` (None: as :func:`~commgan.cli.workers.resolve_jobs` decides),
    ``backend_option`` and ``ray_address``, ``models_dir`` (None: the default cache) and
    ``seed``."""

    quiet: bool = False
    device_option: str = "auto"
    threads: int = 1
    jobs_option: int | None = None
    backend_option: str = "local"
    ray_address: str | None = None
    models_dir: str | None = None
    seed: int = 0

    def log(self, message: str) -> None:
        """One log line on stderr, unless ``--quiet``."""
        if not self.quiet:
            click.echo(message, err=True)

    @property
    def progress(self) -> bool:
        """Whether to show progress bars: not ``--quiet`` and stderr is a terminal."""
        return not self.quiet and sys.stderr.isatty()

    @cached_property
    def device(self) -> str:
        """The torch device (``cpu`` or ``cuda:N``); one error line when CUDA is asked for and
        missing."""
        return resolve_device(self.device_option)

    @property
    def jobs(self) -> int:
        """Worker processes: ``--jobs``, else 1 on a GPU and the usable cores otherwise."""
        return resolve_jobs(self.jobs_option, self.device)

    @cached_property
    def backend(self) -> Backend:
        """The executor backend; one error line when Ray is missing or does not answer at
        ``--ray-address``."""
        return make_backend(self.backend_option, self.ray_address)

    def check_device(self) -> str:
        """:attr:`device`, resolved now: a command calls this before it claims an output, so a
        missing GPU is one error line that leaves nothing behind."""
        return self.device

    def check_backend(self) -> Backend:
        """:attr:`backend`, resolved now: a command calls this before its first slow step, so
        a missing or silent Ray is one error line before any work."""
        return self.backend

    @property
    def workers(self) -> dict[str, Any]:
        """``jobs``, ``threads`` and ``backend``, as the engine's entry points take them."""
        return {"jobs": self.jobs, "threads": self.threads, "backend": self.backend}

    def start_workers(self, *modules: str) -> bool:
        """Start the fork server of this run's worker processes now, importing ``modules``
        (what the units need, :func:`commgan.parallel.executor.start_workers`), when the run
        uses local workers: :attr:`jobs` above 1 on the CPU and the local backend. The server
        then imports beside this process while it loads its systems. True when started."""
        from commgan.parallel import runs_inline

        if self.backend_option.lower() != "local" or runs_inline(self.jobs, None, self.device):
            return False
        from commgan.parallel.executor import start_workers

        start_workers(modules)
        return True

    def executor(self, shared: Any = None, jobs: int | None = None) -> UnitExecutor:
        """A :class:`~commgan.parallel.executor.UnitExecutor` of this run (``jobs`` processes,
        default :attr:`jobs`) for units that read ``shared``."""
        from commgan.parallel import UnitExecutor

        return UnitExecutor(jobs or self.jobs, self.threads, shared=shared,
                            backend=self.backend, device=self.device)

    @cached_property
    def models(self) -> Path:
        """The model cache folder (``--models``, else $COMMGAN_MODELS or the user cache)."""
        from commgan.checkpoint import models_dir

        return models_dir(self.models_dir)

    def writable_models(self) -> Path:
        """:attr:`models`, after checking that it is, or can be created as, a writable
        folder (one error line naming ``--models``)."""
        return check_out_dir(str(self.models), "--models")

    def system_context(self, mod: str, channel: str, key: bytes | None = None
                       ) -> SystemContext:
        """What building a system of this run needs (device, models, progress and log)."""
        from commgan.systems import SystemContext

        return SystemContext(mod=mod, channel=channel, device=self.device, key=key,
                             models_dir=self.models_dir, progress=self.progress, log=self.log)

    def configure(self) -> None:
        """This process's thread policy (:func:`commgan.parallel.process.configure_process`)."""
        from commgan.parallel.process import configure_process

        configure_process(self.threads)


def run_command(*, models: bool = False, seed: bool = False, workers: bool = False,
                threads: Literal["link", "image"] = "link", quiet_help: str = QUIET_HELP
                ) -> Callable[[Callable], Callable]:
    """Add the shared options to a command function and call it with a :class:`RunContext`
    as its first argument (the other options as keywords). Put it right above the function,
    below the command's own options: the shared ones come last in ``--help``, in this order:
    ``--models`` (``models``), ``--seed`` (``seed``), ``--device``, ``--jobs``, ``--backend``
    and ``--ray-address`` (``workers``, with ``--jobs`` checked against the machine before the
    command starts), ``--threads`` (``link``: default 1; ``image``: default the usable cores)
    and ``--quiet`` (help ``quiet_help``). The thread policy is set before the command runs."""
    if threads not in ("link", "image"):
        raise ValueError(f"threads must be link or image, got {threads!r}")
    shared = [
        *([models_option] if models else []),
        *([seed_option] if seed else []),
        device_option,
        *([jobs_option, backend_options] if workers else []),
        threads_option if threads == "link" else image_threads_option,
        click.option("--quiet", is_flag=True, help=quiet_help),
    ]
    added = {"quiet": "quiet", "device_option": "device",  # RunContext field: option name
             **({"models_dir": "models_dir"} if models else {}),
             **({"seed": "seed"} if seed else {}),
             **({"jobs_option": "jobs", "backend_option": "backend",
                 "ray_address": "ray_address"} if workers else {})}

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_context(**options: Any) -> Any:
            if workers:
                check_jobs(options.get("jobs"), options.get("backend"),
                           options.get("ray_address"))
            given = {name: options.pop(option) for name, option in added.items()}
            threads_given = options.pop("threads")
            if threads_given is None:  # image commands: the cores no other process keeps busy
                from commgan.parallel.process import idle_cores

                threads_given = idle_cores()
            run = RunContext(**given, threads=threads_given)
            run.configure()
            return command(run, **options)

        for option in reversed(shared):
            with_context = option(with_context)
        return with_context

    return decorate
