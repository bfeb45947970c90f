"""Issue 26: process lifetime and unbounded work. A run whose main process is killed leaves no
process behind and closes its output; a killed worker, an interrupt while workers start and an
interrupted Ray run each end in one ``Error:`` line; a bit budget is generated lazily and
bounded; a Ray address is checked, quickly, before anything runs."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_hostile import CLI, ENV, SIM, bounded, check_failure, nothing_left, run

from commgan.cli import cli
from commgan.parallel import WINDOW, UnitExecutor
from commgan.sim.engine import MAX_BITS

LONG = ["--ebno", "0:10:0.5", "--max-bits", "100000000", "--target-errors", "10000000"]
"""A sweep that runs far longer than any test waits."""


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc; none once it is gone)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        with contextlib.suppress(OSError):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text()
                      .split()]
    return found


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def running(pids) -> list[int]:
    """The pids that still run (a zombie waiting for its reaper does not)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in "ZX":
            alive.append(pid)
    return alive


def gone_within(pids, seconds: float = 5.0) -> list[int]:
    """Wait until none of ``pids`` runs; return those still running after ``seconds``."""
    deadline = time.monotonic() + seconds
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running(pids)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def fork_server(pid: int) -> int | None:
    return next((c for c in children(pid) if "forkserver" in _cmdline(c)), None)


def workers(pid: int) -> list[int]:
    server = fork_server(pid)
    return children(server) if server else []


def until(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.05)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """The CLI in its own session, stdout and stderr piped (as `commgan ... | tee log`)."""
    return subprocess.Popen([sys.executable, "-c", CLI, *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COMMGAN_KEY": "", **(env or {})},
                            start_new_session=True, preexec_fn=_default_sigint)


def killed_parent_leaves_nothing(process: subprocess.Popen) -> None:
    """SIGKILL the main process: its output reaches end-of-file and every process it started
    (fork server, workers, resource tracker) is gone within seconds."""
    tree = descendants(process.pid)
    assert tree
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=10)  # end of file on both pipes: no process holds them
    assert not gone_within(tree), [_cmdline(p)[:80] for p in running(tree)]


# E1
@pytest.mark.parametrize("command", [
    [*SIM, "--system", "qam", *LONG, "--jobs", 2, "--out", "o"],
    ["export", "--system", "qam", "--channel", "awgn", "--frames", 2_000_000, "--frame-bits", 64,
     "--ebno", 0, "--jobs", 2, "--out", "w.npz", "--quiet"],
])
def test_e1_parent_killed_takes_its_workers_along(tmp_path, command):
    with bounded(90):
        process = start(command, tmp_path)
        until(lambda: len(workers(process.pid)) == 2)
        time.sleep(0.5)
        killed_parent_leaves_nothing(process)


def test_new_parent_killed_while_the_fork_server_starts(tmp_path):
    with bounded(90):
        process = start([*SIM, "--system", "qam", *LONG, "--jobs", 2, "--out", "o"], tmp_path)
        until(lambda: fork_server(process.pid) is not None)
        killed_parent_leaves_nothing(process)


# E8
def test_e8_killed_worker_is_one_error_line(tmp_path):
    with bounded(90):
        process = start([*SIM, "--system", "qam", *LONG, "--jobs", 2, "--out", "o"], tmp_path)
        until(lambda: len(workers(process.pid)) == 2)
        time.sleep(0.5)
        tree = descendants(process.pid)
        os.kill(workers(process.pid)[0], signal.SIGKILL)  # as the out-of-memory killer does
        _, stderr = process.communicate(timeout=30)
    line = check_failure(process.returncode, stderr, 1)
    assert "worker process was killed by SIGKILL" in line and "out-of-memory" in line
    assert not gone_within(tree)


def test_new_killed_fork_server_is_one_error_line(tmp_path):
    with bounded(90):
        process = start([*SIM, "--system", "qam", *LONG, "--jobs", 2, "--out", "o"], tmp_path)
        until(lambda: len(workers(process.pid)) == 2)
        tree = descendants(process.pid)
        os.kill(fork_server(process.pid), signal.SIGKILL)  # its workers die with it
        _, stderr = process.communicate(timeout=30)
    line = check_failure(process.returncode, stderr, 1)
    assert "fork server of the worker processes was killed by SIGKILL" in line
    assert not gone_within(tree)


# E19
@pytest.mark.parametrize("signum, group", [(signal.SIGTERM, False), (signal.SIGTERM, True),
                                           (signal.SIGINT, False)])
def test_e19_sigterm_while_workers_start(tmp_path, signum, group):
    """SIGTERM to the main process (kill) or to the whole group (as `timeout` sends it), or
    Ctrl-C to the main process alone, while the fork server still loads and the first worker
    waits for it: one line, exit 130, and no worker starts afterwards to print a traceback."""
    with bounded(90):
        process = start([*SIM, "--system", "qam", *LONG, "--jobs", 2, "--out", "o"], tmp_path)
        until(lambda: fork_server(process.pid) is not None)
        time.sleep(1.0)
        tree = descendants(process.pid)
        (os.killpg if group else os.kill)(process.pid, signum)
        _, stderr = process.communicate(timeout=30)
        time.sleep(1.0)  # a late worker would print now
    check_failure(process.returncode, stderr, 130)
    assert not gone_within(tree)


# E2
def test_e2_huge_bit_budget_starts_at_once(tmp_path):
    """Only the error target stops this run: no block list is built up front (it would take
    gigabytes), so it ends in seconds within 300 MiB more address space."""
    args = [*SIM, "--system", "qam", "--mod", "qpsk", "--ebno", "0", "--max-bits",
            str(10**14), "--target-errors", "100", "--jobs", "1", "--out", str(tmp_path / "o")]
    with bounded(30, extra_mb=300):
        result = CliRunner().invoke(cli, args, env=ENV)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "results.csv").exists()


def test_new_bit_budget_is_bounded(tmp_path):
    line = run([*SIM, "--system", "qam", "--ebno", "0", "--max-bits", 10**23, "--out", "o"],
               tmp_path, extra_mb=300)
    assert "2^53" in line and f"{MAX_BITS:.2e}" in line
    nothing_left(tmp_path)


def _square(shared, unit):
    return unit * unit


def test_new_units_are_read_lazily():
    """An endless stream of units: the executor reads only what its processes can run."""
    pulled = []

    def units():
        for unit in itertools.count():
            assert unit < 10_000, "the executor reads the whole stream before running it"
            pulled.append(unit)
            yield unit

    with bounded(60):
        results = []
        for _, value in UnitExecutor(2).ordered(_square, units()):
            results.append(value)
            if len(results) == 10:
                break
    assert results == [u * u for u in range(10)]
    assert len(pulled) <= 10 + WINDOW * 2


def test_new_a_pool_leaves_the_parents_ctrl_c_alone():
    """Workers ignore Ctrl-C; the process that runs the pool must still get it."""
    before = signal.getsignal(signal.SIGINT)
    assert [v for _, v in UnitExecutor(2).ordered(_square, range(3))] == [0, 1, 4]
    assert signal.getsignal(signal.SIGINT) is before


def test_new_stuck_worker_does_not_hang_the_end_of_a_run(monkeypatch):
    """A worker that never leaves (here stopped; in the wild, one blocked on the task queue's
    lock that a killed worker held) is killed after a grace period instead of waiting forever."""
    from multiprocessing import forkserver

    import commgan.parallel.executor as executor

    monkeypatch.setattr(executor, "SHUTDOWN_GRACE_S", 1.0)
    stopped = []
    with bounded(60):
        for unit, _ in UnitExecutor(2).ordered(_square, range(6)):
            if unit == 5:
                stopped = children(forkserver._forkserver._forkserver_pid)
                os.kill(stopped[0], signal.SIGSTOP)
    assert stopped and not gone_within(stopped)


# E10
def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def full_backlog():
    """A port whose listen backlog is full: connection attempts get no answer at all."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    time.sleep(0.2)
    yield f"127.0.0.1:{server.getsockname()[1]}"
    for sock in [*fillers, server]:
        sock.close()


@pytest.fixture
def silent_server():
    """A port that accepts connections and never says a word (not a Ray cluster)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.mark.parametrize("where", ["refused", "unresolvable", "no-answer", "silent"])
def test_e10_unreachable_ray_address_fails_fast(tmp_path, request, where):
    address = {"refused": lambda: f"127.0.0.1:{_closed_port()}",
               "unresolvable": lambda: "no-such-host.invalid:6379",
               "no-answer": lambda: request.getfixturevalue("full_backlog"),
               "silent": lambda: request.getfixturevalue("silent_server")}[where]()
    started = time.monotonic()
    line = run([*SIM, "--system", "qam", "--ebno", "0", "--backend", "ray", "--ray-address",
                address, "--out", "o"], tmp_path, seconds=40)
    assert time.monotonic() - started < 20
    assert "no Ray cluster answers" in line
    nothing_left(tmp_path)


# E14
@pytest.mark.parametrize("address", ["foo", "host:notaport", "::::", "http://x:1", "1.2.3.4:99999",
                                     "", " :6379", "a" * 64 + ":6379", "ab" * 32,
                                     "10.0.0.1:6379:1", "[zz::1]:6379", "-bad-.host:6379"])
def test_e14_malformed_ray_address_is_one_line(tmp_path, address):
    line = run([*SIM, "--system", "qam", "--ebno", "0", "--backend", "ray", "--ray-address",
                address, "--out", "o"], tmp_path)
    assert "--ray-address must be auto, HOST:PORT or ray://HOST:PORT" in line
    if len(address) > 4:
        assert address not in line  # never echoed: it could be a key pasted in the wrong place
    nothing_left(tmp_path)


def test_new_ray_address_auto_without_a_cluster(tmp_path, monkeypatch):
    from ray._private import services

    monkeypatch.setattr(services, "find_gcs_addresses", lambda: frozenset())
    monkeypatch.setattr(services, "find_bootstrap_address", lambda temp_dir: None)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    line = run([*SIM, "--system", "qam", "--ebno", "0", "--backend", "ray", "--ray-address",
                "auto", "--out", "o"], tmp_path)
    assert "no Ray cluster runs on this machine" in line
    nothing_left(tmp_path)


# E11. Cancelling the tasks in flight one by one before ray.shutdown() once aborted Ray's core
# worker (task_manager.cc "unexpected system state", exit 1); a Ray the run started is now shut
# down without per-task cancels (shutdown ends its tasks).
@pytest.mark.parametrize("signum, group, env", [
    (signal.SIGTERM, False, {}),
    (signal.SIGINT, True, {"RAY_ADDRESS": "127.0.0.1:1"}),  # a stale address is not joined
])
def test_e11_interrupted_ray_run_exits_130_and_shuts_ray_down(tmp_path, signum, group, env):
    pytest.importorskip("ray")
    with bounded(120):
        process = start([*SIM, "--system", "qam", *LONG, "--jobs", 2, "--backend", "ray",
                         "--out", "o"], tmp_path, env)
        until(lambda: (tmp_path / "o" / ".progress.csv").exists() or process.poll() is not None,
              90)
        tree = descendants(process.pid)
        (os.killpg if group else os.kill)(process.pid, signum)
        _, stderr = process.communicate(timeout=60)
    check_failure(process.returncode, stderr, 130)
    assert not gone_within(tree, 10), [_cmdline(p)[:80] for p in running(tree)]
