"""Where and how a command runs: ``--device``, ``--precision``, ``--jobs``, ``--threads``,
``--backend`` and ``--ray-address``, each checked against the machine before any work."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import click

from commgan.errors import CommganError


def resolve_device(name: str) -> str:
    """``auto`` -> cuda if available else cpu; ``cuda`` without a GPU is an error."""
    import torch

    name = name.lower()
    if name == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CommganError("--device cuda: no CUDA device is available; use --device cpu")
        return "cuda:0" if name == "cuda" else name
    return "cpu"


def check_precision(precision: str, device: str) -> str:
    """``--precision`` as given, after checking that ``--device`` can run it (fp16 needs CUDA):
    one error line before any model is built."""
    from commgan.gan.precision import resolve_precision

    resolve_precision(precision.lower(), resolve_device(device))
    return precision.lower()


MAX_OPTION_WORKERS = 1024
"""Upper bound of ``--jobs`` and ``--threads`` whatever the machine (a Ray cluster's --jobs)."""
JOBS_PER_CORE = 2
"""Local ``--jobs`` is at most this many worker processes per usable core (at least 4)."""


def usable_cores() -> int:
    """CPU cores this process may run on (:func:`commgan.parallel.process.usable_cores`)."""
    from commgan.parallel.process import usable_cores as cores

    return cores()


def max_local_jobs() -> int:
    """The most worker processes ``--jobs`` may start on this machine."""
    return max(4, JOBS_PER_CORE * usable_cores())


def thread_start_failure(count: int) -> str | None:
    """Why this process cannot run ``count`` threads at once (None when it can): ``count - 1``
    threads are started together, as torch's thread pool would be, and stopped again."""
    release = threading.Event()
    started: list[threading.Thread] = []
    try:
        for _ in range(count - 1):
            thread = threading.Thread(target=release.wait, daemon=True)
            thread.start()
            started.append(thread)
    except (RuntimeError, MemoryError) as err:
        return str(err) or type(err).__name__
    finally:
        release.set()
        for thread in started:
            thread.join()
    return None


def threads_check(ctx: click.Context, param: click.Parameter,
                  value: int | None) -> int | None:
    """Click callback: ``--threads`` in [1, usable cores] (more intra-op threads than cores only
    slow a run down), and this process must be able to start that many threads."""
    if value is None:
        return None
    cap = usable_cores()
    if not 1 <= value <= cap:
        raise click.BadParameter(f"must be in [1, {cap}] (the CPU cores this process may use), "
                                 f"got {value}")
    failure = thread_start_failure(value)
    if failure:
        raise click.BadParameter(f"cannot start {value} threads here ({failure}: a limit on "
                                 "memory or processes); use fewer")
    return value


def check_jobs(jobs: int | None, backend: str | None = "local",
               ray_address: str | None = None) -> None:
    """``--jobs`` on this machine is at most :func:`max_local_jobs`; a Ray cluster joined by
    ``--ray-address`` may take up to MAX_OPTION_WORKERS."""
    remote = (backend or "local").lower() == "ray" and bool(ray_address)
    cap = MAX_OPTION_WORKERS if remote else max_local_jobs()
    if jobs is not None and jobs > cap:
        where = "a Ray cluster" if remote else (
            f"{JOBS_PER_CORE} per usable CPU core (at least 4) on this machine")
        raise click.BadParameter(f"at most {cap} worker processes ({where}), got {jobs}",
                                 param_hint="'--jobs'")


jobs_option = click.option(
    "--jobs", type=click.IntRange(1, MAX_OPTION_WORKERS), default=None,
    help="Worker processes [default: the usable CPU cores; 1 with --device cuda; at most 2 per "
         "core]; the numbers do not depend on it.")


def resolve_jobs(jobs: int | None, device: str) -> int:
    """``--jobs``, else one process on a GPU (workers would each hold a CUDA context on the same
    card) and the usable CPU cores otherwise."""
    if jobs:
        return jobs
    return 1 if device.startswith("cuda") else usable_cores()


def backend_options(command: Callable) -> Callable:
    """``--backend {local,ray}`` and ``--ray-address`` (the executor of the command's units)."""
    command = click.option(
        "--ray-address", default=None,
        help="With --backend ray: the cluster to join (host:port, or auto for the one `ray "
             "start` made here) [default: start a local Ray].")(command)
    return click.option(
        "--backend", type=click.Choice(["local", "ray"], case_sensitive=False), default="local",
        show_default=True,
        help="Run the units on local worker processes or as Ray tasks (pip install "
             "'commgan[ray]'); the numbers are the same.")(command)


def worker_options(command: Callable) -> Callable:
    """Where a command's units run: ``--jobs``, ``--backend``, ``--ray-address``, ``--threads``;
    ``--jobs`` is checked against the machine (:func:`check_jobs`) before the command starts."""

    @functools.wraps(command)
    def checked(*args, **kwargs):
        check_jobs(kwargs.get("jobs"), kwargs.get("backend"), kwargs.get("ray_address"))
        return command(*args, **kwargs)

    return jobs_option(backend_options(threads_option(checked)))


def make_backend(backend: str, ray_address: str | None):
    """The executor backend of the CLI options: one error line when Ray is missing, or when
    ``--ray-address`` is malformed or no Ray answers there (checked before any work)."""
    from commgan.parallel import Backend

    if backend.lower() == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise CommganError("--backend ray needs Ray: pip install 'commgan[ray]'") from None
        from commgan.parallel.ray_backend import check_address

        ray_address = check_address(ray_address)
    elif ray_address:
        raise CommganError("--ray-address applies to --backend ray")
    return Backend(backend.lower(), ray_address)


threads_option = click.option(
    "--threads", type=click.IntRange(1, MAX_OPTION_WORKERS), default=1, show_default=True,
    callback=threads_check,
    help="torch intra-op threads per process, at most the usable CPU cores (more threads "
         "collapse on a shared machine).")
image_threads_option = click.option(
    "--threads", type=click.IntRange(1, MAX_OPTION_WORKERS), default=None,
    callback=threads_check,
    help="torch intra-op threads [default: the usable cores that no other process keeps "
         "busy, watched for a quarter of a second at the start: image models have large "
         "tensors, where threads pay off on idle cores and collapse beside a busy process].")
device_option = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"], case_sensitive=False),
    default="auto", show_default=True, help="Torch device.")


