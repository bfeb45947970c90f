"""Issue 26, output folders: a run locks its ``--out`` (E6), its result files appear together or
not at all (E6, E20), an interrupt says what is true for the interrupted command (E18), a full
disk names the file and leaves no partial set or new empty folder (E20), and scratch names fit
in NAME_MAX (E21). Every failure is one ``Error:`` line, no traceback, nothing left behind."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image
from test_hostile import CLI, ENV, FAST, SIM, bounded, check_failure, nothing_left, run

from commgan.cli import cli
from commgan.fileio import LOCK_NAME, scratch_prefix
from commgan.sim.sweep import RESULT_FILES

pytestmark = pytest.mark.usefixtures("one_thread")

KEY = "ab" * 32
ATTACK = ["attack", "--system", "qam+chacha", "--channel", "awgn", "--ebno", "10",
          "--scenarios", "ciphertext-only", "--key", "k", "--quiet"]
CONVERGE = ["converge", "--models", "gan", "--seeds", "1", "--iters", "3", "--no-fidelity",
            "--jobs", "1", "--quiet"]
EXPORT = ["export", "--system", "qam", "--channel", "awgn", "--frames", "2", "--frame-bits",
          "64", "--ebno", "0", "--quiet"]
SIMULATE = [*SIM, "--system", "qam", "--ebno", "0", *FAST]
RESTORE = ["restore", "--task", "denoise", "--image", "photo.png", "--steps", "2", "--models",
           "m", "--quiet"]
TRANSLATE = ["translate", "--model", "pix2pix", "--task", "colour", "--image", "photo.png",
             "--steps", "2", "--models", "m", "--quiet"]
INPUTS = {"k", "photo.png"}
ATTACK_FILES = {"attack.csv", "attack.png", "config.json"}


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A key file and a small photo in ``tmp_path`` (the folder the commands run in)."""
    (tmp_path / "k").write_text(KEY + "\n")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(
        tmp_path / "photo.png")
    return tmp_path


def ok(args: list, cwd: Path, seconds: int = 60) -> None:
    """Invoke the CLI in ``cwd`` and assert success."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with bounded(seconds):
            result = CliRunner().invoke(cli, [str(a) for a in args], env=ENV)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, (result.output, result.exception)


@contextmanager
def held(lock: Path):
    """Hold ``lock`` as another run would (creating its folder)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        os.close(fd)


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# E6: a second run into a locked --out stops at once with one line
@pytest.mark.parametrize("args", [SIMULATE, ATTACK, CONVERGE, RESTORE, TRANSLATE],
                         ids=["simulate", "attack", "converge", "restore", "translate"])
def test_e6_out_in_use_is_refused_at_once(inputs, args):
    out = inputs / "o"
    with held(out / LOCK_NAME):
        started = time.monotonic()
        line = run([*args, "--out", "o"], inputs, code=1)
        assert time.monotonic() - started < 5
        assert "--out 'o' is in use by another commgan run" in line
        assert (out / LOCK_NAME).exists()  # the holder's lock stays
    nothing_left(out, {LOCK_NAME})
    nothing_left(inputs, INPUTS | {"o"})


def test_e6_export_archive_in_use_is_refused_other_archives_are_not(inputs):
    with held(inputs / ".w.npz.lock"):
        assert "in use by another commgan run" in run([*EXPORT, "--out", "w.npz"], inputs,
                                                      code=1)
        ok([*EXPORT, "--out", "v.npz"], inputs)
    nothing_left(inputs, INPUTS | {".w.npz.lock", "v.npz"})


def test_e6_same_folder_by_another_name_is_refused(inputs):
    (inputs / "o").mkdir()
    (inputs / "link").symlink_to("o")
    with held(inputs / "o" / LOCK_NAME):
        for name in ("./o/", "link", str(inputs / "o")):
            assert "in use" in run([*ATTACK, "--out", name], inputs, code=1)


def test_e6_lock_of_a_killed_run_never_blocks_and_is_removed(inputs):
    out = inputs / "o"
    out.mkdir()
    (out / LOCK_NAME).write_text("4194305\n")  # left by kill -9: nobody holds it
    ok([*ATTACK, "--out", "o"], inputs)
    assert {p.name for p in out.iterdir()} == ATTACK_FILES


RACE = textwrap.dedent("""
    import json, os, sys
    from commgan.cli import cli
    import commgan.sim.sweep, commgan.systems, commgan.comm.registry, matplotlib.pyplot

    def start(seed, ebno, out, log):
        sys.stdout.flush(); sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 2)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            args = sys.argv[1:] + ["--seed", str(seed), "--ebno", ebno, "--out", out]
            try:
                cli.main(args, prog_name="commgan")
            except SystemExit as end:
                os._exit(end.code if isinstance(end.code, int) else 1)
            os._exit(0)
        return pid

    def wait(pids):
        return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]

    runs = {1: "0", 2: "3"}
    codes = {seed: wait([start(seed, ebno, f"ref{seed}", f"ref{seed}.log")])
             for seed, ebno in runs.items()}
    for i in range(3):
        pids = [start(seed, ebno, f"race{i}", f"race{i}-{seed}.log")
                for seed, ebno in runs.items()]
        codes[f"race{i}"] = wait(pids)
    print(json.dumps(codes))
""")


def test_e6_two_runs_racing_into_one_out_leave_one_runs_files(tmp_path):
    """Two simulate processes start together into one --out, three times: each either writes
    all three files or stops with one line, and the files are all from one run."""
    args = [a for a in SIMULATE if a not in ("--ebno", "0")]
    with bounded(120):
        process = subprocess.run([sys.executable, "-c", RACE, *args], cwd=tmp_path, timeout=110,
                                 capture_output=True, text=True,
                                 env={**os.environ, "COMMGAN_KEY": ""})
    assert process.returncode == 0, process.stderr[-2000:]
    codes = json.loads(process.stdout.strip().splitlines()[-1])
    assert codes["1"] == [0] and codes["2"] == [0]
    reference = {}
    for seed in (1, 2):
        reference[seed] = (pd.read_csv(tmp_path / f"ref{seed}" / "results.csv"),
                           (tmp_path / f"ref{seed}" / "ber.png").read_bytes())
    assert not reference[1][0]["errors"].equals(reference[2][0]["errors"])
    for i in range(3):
        race = tmp_path / f"race{i}"
        for seed, code in zip((1, 2), codes[f"race{i}"], strict=True):
            stderr = (tmp_path / f"race{i}-{seed}.log").read_text()
            if code:
                assert "in use by another commgan run" in check_failure(code, stderr, 1)
        assert 0 in codes[f"race{i}"]
        assert {p.name for p in race.iterdir()} == set(RESULT_FILES)
        seed = json.loads((race / "config.json").read_text())["config"]["seed"]
        table, picture = reference[seed]
        columns = ["system", "receiver", "ebno_db", "bits", "errors"]
        assert pd.read_csv(race / "results.csv")[columns].equals(table[columns])
        assert (race / "ber.png").read_bytes() == picture


# E6: the files of one run appear together, even when a rename fails or Ctrl-C hits it
@pytest.mark.parametrize("failure", [OSError(errno.EIO, "Input/output error"),
                                     KeyboardInterrupt()], ids=["EIO", "ctrl-c"])
def test_e6_failed_commit_puts_the_previous_files_back(inputs, monkeypatch, failure):
    ok([*ATTACK, "--out", "o"], inputs)
    before = contents(inputs / "o")
    replace, calls = os.replace, []

    def flaky(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise failure
        return replace(source, target)

    monkeypatch.setattr(os, "replace", flaky)
    line = run([*ATTACK, "--seed", "7", "--out", "o"], inputs,
               code=130 if isinstance(failure, KeyboardInterrupt) else 1)
    monkeypatch.undo()
    assert ("Input/output error" in line and "o/" in line if isinstance(failure, OSError)
            else "results are written only when the attack finishes" in line)
    assert contents(inputs / "o") == before  # the previous run's three files, no scratch


# E18: what an interrupt says is what the command does
def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("target, args, message", [
    ("commgan.security.attack.run_attack", ATTACK,
     "interrupted; results are written only when the attack finishes, a rerun starts over"),
    ("commgan.channelgan_study.run_convergence", CONVERGE,
     "interrupted; results are written only when the study finishes; a rerun starts over"),
    ("commgan.vision.models.cache.train_model", RESTORE,
     "interrupted; results are written only when the restoration finishes, and a model in "
     "training is not cached"),
    ("commgan.vision.models.cache.train_model", TRANSLATE,
     "interrupted; results are written only when the translation finishes, and a model in "
     "training is not cached"),
], ids=["attack", "converge", "restore", "translate"])
def test_e18_interrupt_message_is_true_for_the_command(inputs, monkeypatch, target, args,
                                                       message):
    monkeypatch.setattr(target, _interrupt)
    line = run([*args, "--out", "o"], inputs, code=130)
    assert line.startswith(f"Error: {message}") and "resume" not in line
    assert not list(inputs.glob("m/*.safetensors"))
    nothing_left(inputs, INPUTS | {"m"})


def test_e18_train_interrupt_keeps_the_cached_model(tmp_path, monkeypatch):
    from dataclasses import replace

    import commgan
    from commgan.comm.registry import SYSTEMS

    models = tmp_path / "m"
    models.mkdir()
    for suffix in (".safetensors", ".json"):  # the cached model: a copy of the shipped one
        name = "ae-awgn-16qam" + suffix
        (models / name).write_bytes((Path(commgan.__file__).parent / "models" / name)
                                    .read_bytes())
    before = contents(models)
    spec = SYSTEMS["ae"]
    monkeypatch.setitem(SYSTEMS, "ae", replace(spec, learned=replace(spec.learned,
                                                                     train=_interrupt)))
    line = run(["train", "--system", "ae", "--channel", "awgn", "--steps", "2", "--models", "m",
                "--quiet"], tmp_path, code=130)
    assert "the model is saved only when training finishes" in line and "resume" not in line
    assert contents(models) == before


def test_e18_export_interrupt_removes_scratch_and_keeps_the_archive(inputs, monkeypatch):
    ok([*EXPORT, "--out", "w.npz"], inputs)
    before = (inputs / "w.npz").read_bytes()
    import commgan.security.export as export

    real, calls = export.wiretap_frames, []

    def late(*args, **kwargs):  # interrupt once scratch files hold a chunk
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "wiretap_frames", late)
    monkeypatch.setattr(export, "chunk_frames", lambda frame_bits: 1)
    line = run([*EXPORT, "--frames", "3", "--jobs", "1", "--out", "w.npz"], inputs, code=130)
    assert "the archive appears only when the export finishes" in line
    assert (inputs / "w.npz").read_bytes() == before
    nothing_left(inputs, INPUTS | {"w.npz"})


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_e18_sigterm_of_a_real_export_process(tmp_path):
    """SIGTERM while a real export fills its scratch files: exit 130, the export's message, no
    archive, no scratch folder, no lock file."""
    args = ["export", "--system", "qam", "--channel", "awgn", "--frames", "4000000",
            "--frame-bits", "64", "--ebno", "0", "--out", "w.npz", "--quiet"]
    process = subprocess.Popen([sys.executable, "-c", CLI, *args], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COMMGAN_KEY": ""}, start_new_session=True,
                               preexec_fn=_default_sigint)
    deadline = time.monotonic() + 40
    while (not [p for p in tmp_path.iterdir() if p.name.startswith(".w.npz.") and p.is_dir()]
           and time.monotonic() < deadline):
        time.sleep(0.2)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert "the archive appears only when the export finishes" in check_failure(
        process.returncode, stderr, 130)
    nothing_left(tmp_path)


# E20: a full disk names the file and leaves no partial set and no new empty folder
def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("args, name", [(ATTACK, "attack.png"), (CONVERGE, "losses.png"),
                                        (RESTORE, "side_by_side.png"),
                                        (TRANSLATE, "side_by_side.png")],
                         ids=["attack", "converge", "restore", "translate"])
def test_e20_full_disk_names_the_file_and_leaves_nothing(inputs, monkeypatch, args, name):
    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _disk_full)
    line = run([*args, "--out", "new/o"], inputs, code=1)
    assert "No space left on device" in line and f"new/o/{name}" in line
    nothing_left(inputs, INPUTS | {"m"})


def test_e20_full_disk_in_simulate_names_the_file_and_keeps_the_progress(inputs, monkeypatch):
    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _disk_full)
    line = run([*SIMULATE, "--out", "o"], inputs, code=1)
    assert "No space left on device" in line and "o/ber.png" in line
    nothing_left(inputs / "o", {".progress.csv", ".progress.json"})  # to resume from


def test_e20_full_disk_keeps_the_previous_set_whole(inputs, monkeypatch):
    ok([*RESTORE, "--out", "o"], inputs)
    before = contents(inputs / "o")
    import matplotlib.figure

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _disk_full)
    assert "side_by_side.png" in run([*RESTORE, "--sigma", "40", "--out", "o"], inputs, code=1)
    assert contents(inputs / "o") == before


def _small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # writes past it: EFBIG


def test_e20_export_scratch_on_a_full_disk(tmp_path):
    """A real write error (EFBIG) in the export's scratch files: the archive is named, and
    neither scratch nor the folder the export created is left."""
    args = ["export", "--system", "qam", "--channel", "awgn", "--frames", "4000",
            "--frame-bits", "64", "--ebno", "0", "--out", "new/w.npz", "--quiet"]
    process = subprocess.run([sys.executable, "-c", CLI, *args], cwd=tmp_path, timeout=60,
                             capture_output=True, text=True, preexec_fn=_small_files,
                             env={**os.environ, "COMMGAN_KEY": ""})
    line = check_failure(process.returncode, process.stderr, 1)
    assert "File too large" in line and "new/w.npz" in line
    nothing_left(tmp_path)


# E21: scratch and lock names fit in NAME_MAX
@pytest.mark.parametrize("name", ["a" * 246 + ".npz", "é" * 123 + ".npz"],
                         ids=["ascii", "two-byte"])
def test_e21_export_to_a_250_byte_name(inputs, name):
    assert len(name.encode()) == 250
    dead = 4194305
    stale = inputs / (scratch_prefix(inputs / name).replace(str(os.getpid()), str(dead))
                      + "abcdefgh.tmp")
    stale.write_bytes(b"half")
    ok([*EXPORT, "--out", name], inputs)
    with np.load(inputs / name) as archive:
        assert archive["bits"].shape == (2, 64)
    nothing_left(inputs, INPUTS | {name})


# More hostile cases on outputs
def test_folder_in_the_way_of_a_result_file(inputs):
    (inputs / "o" / "attack.png").mkdir(parents=True)
    line = run([*ATTACK, "--out", "o"], inputs, code=1)
    assert "o/attack.png" in line
    assert {p.name for p in (inputs / "o").iterdir()} == {"attack.png"}


def test_rerun_removes_a_previous_runs_file_it_does_not_write(inputs):
    ok([*RESTORE, "--out", "o"], inputs)
    assert (inputs / "o" / "metrics.csv").exists()
    ok([*RESTORE, "--degraded", "--out", "o"], inputs)  # no reference: no metrics
    assert {p.name for p in (inputs / "o").iterdir()} == {"restored.png", "side_by_side.png"}


def test_failure_after_the_lock_removes_the_folders_it_made(inputs, monkeypatch):
    from commgan.errors import CommganError

    def fail(*args, **kwargs):
        raise CommganError("no eavesdropper could be trained")

    monkeypatch.setattr("commgan.security.attack.run_attack", fail)
    assert "no eavesdropper" in run([*ATTACK, "--out", "a/b/c"], inputs, code=1)
    nothing_left(inputs, INPUTS)


def test_lock_file_that_is_a_folder(inputs):
    (inputs / "o" / LOCK_NAME).mkdir(parents=True)
    line = run([*ATTACK, "--out", "o"], inputs, code=1)
    assert LOCK_NAME in line
    nothing_left(inputs / "o", {LOCK_NAME})


def test_nothing_left_after_success(inputs):
    ok([*ATTACK, "--out", "o"], inputs)
    ok([*CONVERGE, "--out", "c"], inputs)
    ok([*EXPORT, "--out", "w.npz"], inputs)
    assert {p.name for p in (inputs / "o").iterdir()} == ATTACK_FILES
    assert not [p for p in (inputs / "c").iterdir() if p.name.startswith(".")]
    nothing_left(inputs, INPUTS | {"o", "c", "w.npz"})
