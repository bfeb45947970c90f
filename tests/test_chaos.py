"""Chaos test of the executor (issue 26): 20 seeded runs of a small sweep on two worker
processes, each interrupted by a SIGKILL at a seeded moment, of a seeded worker or of the main
process, then resumed. Every resumed table equals the uninterrupted one, and no process of an
interrupted run is left running.

Worker kills happen in this process's own pools (its fork server is started once), at a
moment after both workers run; a main process to kill is a short driver script that starts its
fork server before importing the rest, killed at a moment after its first point is saved. The
moments are drawn over the spans an uninterrupted run takes from there to its end (for the main
process: to its last point, and a quarter more, into the writing of the result files).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
from test_hostile import bounded
from test_hostile_processes import children, descendants, gone_within, running

from commgan.comm.registry import build_system
from commgan.errors import CommganError
from commgan.sim.config import SimulationConfig
from commgan.sim.sweep import RESULT_FILES, run_sweep

CONFIG = SimulationConfig(channel="awgn", mod="16qam", systems=("qam",),
                          ebno_db=tuple(float(v) for v in range(0, 13, 2)), target_errors=3000,
                          max_bits=6_000_000, batch_bits=1 << 16)
"""Seven points of 1 to 8 blocks (the low ones stop on errors, the high ones early)."""
SEEDS = range(2000, 2020)
"""With a 1-in-5 chance of the main process as the victim: 4 of the 20 runs kill it."""
COLUMNS = ["system", "receiver", "ebno_db", "frames", "bits", "errors", "ber", "ci_low",
           "ci_high"]
DRIVER = """
import json, sys
from commgan.parallel.executor import _worker_context
_worker_context()  # the fork server loads while this process imports the rest
from commgan.comm.registry import build_system
from commgan.sim.config import SimulationConfig
from commgan.sim.sweep import run_sweep
config = SimulationConfig.from_dict(json.loads(sys.argv[1]))
run_sweep(config, {"qam": build_system("qam", "16qam")}, sys.argv[2], progress=False, jobs=2)
"""


def _systems() -> dict:
    return {"qam": build_system("qam", "16qam")}


def _own_workers() -> list[int]:
    """Worker processes of this process's pools (children of its fork server)."""
    from multiprocessing import forkserver

    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    return children(server) if server else []


def _kill_a_worker(rng: random.Random, delay: float, killed: list[int],
                   stop: threading.Event) -> None:
    deadline = time.monotonic() + 30
    while len(_own_workers()) < 2 and not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.005)
    if stop.wait(delay):
        return
    pool = sorted(_own_workers())
    if pool:
        victim = rng.choice(pool)
        killed.extend(pool)
        os.kill(victim, signal.SIGKILL)


def _worker_run(rng: random.Random, delay: float, out) -> list[int]:
    """A sweep in this process on two workers, one of which a timer kills after ``delay``
    seconds; returns the pool's processes at the time of the kill."""
    killed: list[int] = []
    stop = threading.Event()
    timer = threading.Thread(target=_kill_a_worker, args=(rng, delay, killed, stop))
    timer.start()
    try:
        run_sweep(CONFIG, _systems(), out, progress=False, jobs=2)
    except CommganError as err:
        assert "worker process was killed by SIGKILL" in str(err)
    finally:
        stop.set()
        timer.join()
    return killed


def _parent_run(delay: float, out) -> list[int]:
    """The same sweep in a driver process, killed ``delay`` seconds after its first point is
    saved; returns its processes at the time of the kill."""
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(CONFIG.to_dict()),
                               str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (out / ".progress.csv").exists() and driver.poll() is None:
        assert time.monotonic() < deadline, "the driver never saved a point"
        time.sleep(0.002)
    time.sleep(delay)
    tree = descendants(driver.pid)
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=10)  # end of file: no process of the run holds its output
    return tree


def _reference(out) -> tuple[pd.DataFrame, float, float]:
    """The uninterrupted table; the seconds from both workers running to its end, and from its
    first saved point to its result files (the windows the kills land in)."""
    run_sweep(CONFIG, _systems(), progress=False, jobs=2)  # starts this process's fork server
    seen: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and len(seen) < 3:
            now = time.monotonic()
            if "workers" not in seen and len(_own_workers()) >= 2:
                seen["workers"] = now
            names = [p.name for p in out.iterdir()] if out.is_dir() else []
            if "point" not in seen and ".progress.csv" in names:
                seen["point"] = now
            if "files" not in seen and any(name.startswith((".results", "results"))
                                           for name in names):
                seen["files"] = now
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    whole = run_sweep(CONFIG, _systems(), out, progress=False, jobs=2)
    end = time.monotonic()
    stop.set()
    watcher.join()
    return (whole, max(0.05, end - seen.get("workers", end)),
            max(0.05, seen.get("files", end) - seen.get("point", end)))


def test_random_kills_then_resume_give_the_uninterrupted_table(tmp_path):
    with bounded(150):
        whole, span, points = _reference(tmp_path / "reference")
        assert len(whole) > 3
        victims = []
        for seed in SEEDS:
            rng = random.Random(seed)
            victim = "parent" if rng.random() < 0.2 else "worker"
            delay = rng.uniform(0.0, 1.25 * points if victim == "parent" else span)
            out = tmp_path / f"run{seed}"
            victims.append(victim)
            pids = (_parent_run(delay, out) if victim == "parent"
                    else _worker_run(rng, delay, out))
            assert not gone_within(pids), (seed, victim, running(pids))
            resumed = run_sweep(CONFIG, _systems(), out, progress=False,
                                jobs=rng.choice([1, 2]))
            pd.testing.assert_frame_equal(whole[COLUMNS], resumed[COLUMNS], obj=f"seed {seed}")
            assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    assert victims.count("parent") == 4
