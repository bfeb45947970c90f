"""Work units as Ray tasks: the `--backend ray` of
:class:`~commgan.parallel.executor.UnitExecutor`.

What every unit reads (``shared``: systems as recipes, channels, config) goes to the object store
once and is deserialised once per worker process; each unit is one task with the same unit
seeds as on the local backend, so the numbers are the same. A task whose worker or node dies is
retried (same unit, same seed). Results come back in the units' order.

A cluster address is checked before anything runs (:func:`check_address`: its form, that it
accepts a connection within :data:`CONNECT_TIMEOUT_S`, then that Ray answers there), because Ray
itself retries an unreachable or wrong address for many minutes. A Ray this process started or
joined is shut down when the units end, however they end, which ends the tasks in flight
(cancelling them one by one first can abort Ray's core worker: a cancelled task's reply may
still arrive); tasks on a Ray the caller started are cancelled. The process keeps its own
SIGINT and SIGTERM handlers (Ray replaces SIGTERM's with one that dumps a stack and aborts).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from commgan.errors import CommganError
from commgan.parallel.process import configure_process
from commgan.parallel.schedule import WINDOW, in_order

__all__ = ["CONNECT_TIMEOUT_S", "check_address", "ray_ordered"]

_SHARED: dict[str, Any] = {}
RETRIES = 3
"""Retries of a unit whose worker process or node died."""
CONNECT_TIMEOUT_S = 5.0
"""Longest wait (seconds) for a cluster address to accept a TCP connection."""
_FORM = "auto, HOST:PORT or ray://HOST:PORT (e.g. 10.0.0.5:6379)"
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _split(address: str) -> tuple[str, int] | None:
    """(host, port) of ``[ray://]HOST:PORT`` (HOST a name, an IPv4 or a bracketed IPv6
    address; PORT in [1, 65535]), else None."""
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, colon, port = rest.rpartition(":")
    if not colon or not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        return host[1:-1], int(port)
    name = host[:-1] if host.endswith(".") else host
    if not 0 < len(name) <= 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return None
    return host, int(port)


def _answers(host: str, port: int, timeout: float) -> str | None:
    """None if a TCP connection to host:port opens within ``timeout`` seconds, else why not, in a
    few words. Name resolution runs on a helper thread so that it is bounded too."""
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except socket.gaierror:
            outcome.append("the host name does not resolve")
        except TimeoutError:
            outcome.append(f"no answer within {timeout:g} s")
        except OSError as err:
            outcome.append((err.strerror or type(err).__name__).lower())

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


_PROBE = ("import sys; from ray._raylet import GcsClient; GcsClient(address=sys.argv[1]); "
          "print('ray')")
_PROBE_ENV = {"RAY_gcs_rpc_server_connect_timeout_s": "2", "RAY_py_gcs_connect_timeout_s": "3",
              "RAY_gcs_server_request_timeout_seconds": "3"}
"""Ray's own client timeouts (seconds) in the probe process: it gives up after about 8 s."""
PROBE_LIMIT_S = 20.0
"""Hard limit of the probe process (seconds), past which it is killed."""


def _speaks_ray(address: str) -> str | None:
    """None if a Ray cluster's control service (GCS) at ``address`` answers Ray's own client
    (run in a short-lived process under :data:`PROBE_LIMIT_S`, so this process keeps its Ray
    settings and cannot hang), else why not. A Ray Client address (``ray://``) is not asked."""
    if address.startswith("ray://"):
        return None
    env = {**_PROBE_ENV, **os.environ}
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE, address], env=env, text=True,
                               capture_output=True, timeout=PROBE_LIMIT_S)
    except subprocess.TimeoutExpired:
        return f"no answer within {PROBE_LIMIT_S:g} s"
    if probe.returncode == 0 and probe.stdout.strip() == "ray":
        return None
    if "Timed out" in probe.stderr:
        return "it accepts connections but does not answer as Ray does"
    return "something answers there, but not a Ray cluster"


def check_address(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """The cluster address to join (``host:port`` or ``ray://host:port``; None: start a local
    Ray), or one :class:`CommganError` that names the expected form, or says that no Ray
    answers. ``auto`` is the cluster `ray start` made on this machine. The address itself is
    not echoed (a key pasted into the wrong option must not reach a log)."""
    if address is None:
        return None
    if address.strip() == "auto":
        from ray._private.services import canonicalize_bootstrap_address_or_die

        try:
            address = canonicalize_bootstrap_address_or_die("auto")
        except (ConnectionError, ValueError, OSError):
            raise CommganError("--ray-address auto: no Ray cluster runs on this machine (start "
                               "one with `ray start --head`, or give HOST:PORT)") from None
        where = "--ray-address auto (the local cluster)"
    else:
        where = "--ray-address"
    address = address.strip()
    parts = _split(address)
    if parts is None:
        raise CommganError(f"{where} must be {_FORM}, got {len(address)} characters that are "
                           "not of this form")
    if address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise CommganError(f"{where}: a ray:// address needs Ray Client: pip install "
                           "'ray[client]'")
    why = _answers(*parts, timeout) or _speaks_ray(address)
    if why is not None:
        raise CommganError(f"{where}: no Ray cluster answers at the given address (port "
                           f"{parts[1]}): {why}; check the address and that the cluster runs")
    return address


class _Handlers:
    """SIGINT and SIGTERM handlers of this process, restored after Ray replaced them."""

    def __init__(self) -> None:
        self.main = threading.current_thread() is threading.main_thread()
        self.saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)
                      } if self.main else {}

    def restore(self) -> None:
        for signum, handler in self.saved.items():
            if handler is not None:
                signal.signal(signum, handler)


def _connect(address: str | None, jobs: int) -> bool:
    """Join the cluster at ``address``, or start a local Ray with ``jobs`` CPUs (whatever
    ``RAY_ADDRESS`` says). True if this call did (so the caller shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    handlers = _Handlers()
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(address="local", num_cpus=jobs, object_store_memory=256 * 2**20, **quiet)
    except BaseException as err:
        if ray.is_initialized():
            ray.shutdown()
        if not isinstance(err, (ConnectionError, RuntimeError, ValueError, TimeoutError,
                                ray.exceptions.RayError)):
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CommganError(f"Ray did not start: {first}") from None
    finally:
        handlers.restore()
    return True


def _unit(fn: Callable[[Any, Any], Any], shared: list, unit: Any, threads: int) -> Any:
    """One unit in a Ray worker: the shared object (passed by reference inside a list, so that
    Ray does not resolve it per task) is fetched once per process."""
    import ray

    key = shared[0].hex()
    if key not in _SHARED:
        _SHARED.clear()
        _SHARED[key] = ray.get(shared[0])
        configure_process(threads)
    return fn(_SHARED[key], unit)


def _get(ref: Any) -> Any:
    """A task's result; a task that failed on commgan's own error raises that error, a task Ray
    could not run (its worker or node died past the retries, out of memory) is one line."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, CommganError):
            raise err.cause from None
        raise
    except ray.exceptions.RayError as err:
        text = str(err).strip()
        detail = f": {text.splitlines()[0]}" if text else ""
        raise CommganError(f"a Ray task could not run ({type(err).__name__}{detail})") from None


def ray_ordered(fn: Callable[[Any, Any], Any], units: Iterable, wanted: Callable[[Any], bool],
                shared: Any, jobs: int, threads: int, address: str | None
                ) -> Iterator[tuple[Any, Any]]:
    """(unit, result) in the units' order, as :meth:`UnitExecutor.ordered`; at most as many
    units in flight as the cluster has CPUs."""
    import ray

    started = _connect(address, jobs)
    ready: set = set()

    def wait_any(refs: list) -> None:
        done, _ = ray.wait(refs, num_returns=1, timeout=0.5)
        ready.update(done)

    def result(ref: Any) -> Any:
        ready.discard(ref)
        return _get(ref)

    def cancel(ref: Any) -> None:
        if ref not in ready and not started:  # a Ray this call shuts down ends its tasks
            ray.cancel(ref)
        ready.discard(ref)

    try:
        task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(_unit)
        shared_ref = ray.put(shared)
        slots = max(1, int(ray.cluster_resources().get("CPU", jobs)))
        yield from in_order(units, wanted,
                            lambda unit: task.remote(fn, [shared_ref], unit, threads),
                            ready.__contains__, wait_any, result, cancel, slots, WINDOW * slots)
    finally:
        if started:
            handlers = _Handlers()
            ray.shutdown()
            handlers.restore()
