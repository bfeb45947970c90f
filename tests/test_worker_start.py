"""How work starts on worker processes: the fork server started early (``commgan simulate
--jobs 2`` starts it before it loads its systems, :meth:`RunContext.start_workers`), and the
scheduler handing a result back before it pulls the next unit (so a finished sweep point starts
no further block)."""

import os
import subprocess
import sys

from commgan.parallel import in_order

PROBE = """\
import os
import sys


def loaded(shared, name):
    return name in sys.modules, os.getppid()
"""

SCRIPT = """\
import sys
from multiprocessing import forkserver

from commgan.cli.context import RunContext
from commgan.parallel import UnitExecutor
from probe import loaded

assert not RunContext(jobs_option=1, device_option="cpu").start_workers("marker")
assert not RunContext(jobs_option=2, device_option="cpu",
                      backend_option="ray").start_workers("marker")
assert forkserver._forkserver._forkserver_pid is None
assert RunContext(jobs_option=2, device_option="cpu").start_workers("marker")
server = forkserver._forkserver._forkserver_pid
results = [result for _, result in UnitExecutor(2).ordered(loaded, ["marker", "marker"])]
print(server, "marker" in sys.modules, results)
"""


def test_early_fork_server_preloads_and_serves_the_first_pool(tmp_path):
    """Only for runs that use local workers; it imports the modules it is given before the
    parent does, and the first pool forks its workers from it. In a fresh process: the fork
    server belongs to the process that starts it."""
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "marker.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    server, parent_has_marker, results = done.stdout.split(" ", 2)
    assert parent_has_marker == "False"  # only the server imported it
    assert results.strip() == repr([(True, int(server))] * 2)


def test_a_result_that_ends_the_work_stops_the_next_unit_before_it_is_submitted():
    """Two slots; handles finish oldest first, one per wait. Unit 3's result makes every later
    unit unwanted: only unit 4, already running beside unit 3, was submitted after it."""
    submitted: list[int] = []
    finished: set[int] = set()
    last: list[int] = []

    def submit(unit: int) -> int:
        submitted.append(unit)
        return unit

    def wait_any(handles: list[int]) -> None:
        finished.add(min(handles))

    def wanted(unit: int) -> bool:
        return not last or unit <= last[0]

    handed = []
    for unit, value in in_order(range(100), wanted, submit, finished.__contains__, wait_any,
                                lambda handle: handle * 10, lambda handle: None, 2, 8):
        handed.append((unit, value))
        if unit == 3:
            last.append(3)
    assert handed == [(0, 0), (1, 10), (2, 20), (3, 30)]
    assert submitted == [0, 1, 2, 3, 4]
