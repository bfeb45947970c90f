"""Issue 19: hostile input and failures. Every case ends in a non-zero exit (130 for an
interrupt), exactly one ``Error:`` line on stderr, no traceback and nothing left behind, within
a bounded time (an alarm) and, where memory is at stake, a bounded address space."""

from __future__ import annotations

import os
import resource
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from commgan.checkpoint import load_checkpoint, save_checkpoint
from commgan.cli import cli
from commgan.comm.keys import load_key
from commgan.errors import CommganError, TrainingDiverged
from commgan.gan import GANDivergenceError
from commgan.sim.sweep import RESULT_FILES

SIM = ["simulate", "--channel", "awgn", "--mod", "16qam", "--quiet"]
FAST = ["--max-bits", "20000", "--target-errors", "20"]
ENV = {"COMMGAN_KEY": "", "COMMGAN_MODELS": None, "XDG_CACHE_HOME": None}
CLI = ("import sys; from commgan.cli import main; sys.argv = ['commgan'] + sys.argv[1:]; "
       "main()")


@contextmanager
def bounded(seconds: int = 30, extra_mb: int | None = None):
    """Fail (instead of hanging or exhausting memory) past ``seconds`` or ``extra_mb`` MiB more
    address space than now."""

    def timeout(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    limits = resource.getrlimit(resource.RLIMIT_AS)
    if extra_mb is not None:
        size = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (size + (extra_mb << 20), limits[1]))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, limits)
        signal.signal(signal.SIGALRM, previous)


def run(args, cwd: Path, env: dict | None = None, code: int | None = None, seconds: int = 30,
        extra_mb: int | None = None) -> str:
    """Invoke the CLI in ``cwd``; assert a failure of one line without a traceback; return it."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with bounded(seconds, extra_mb):
            result = CliRunner().invoke(cli, [str(a) for a in args], env={**ENV, **(env or {})})
    finally:
        os.chdir(old)
    assert not isinstance(result.exception, TimeoutError | MemoryError), result.exception
    return check_failure(result.exit_code, result.stderr, code)


def check_failure(exit_code: int, stderr: str, code: int | None = None) -> str:
    lines = stderr.strip().splitlines()
    assert exit_code != 0 if code is None else exit_code == code, (exit_code, stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr and len(lines[0]) <= 310
    return lines[0]


def nothing_left(folder: Path, allowed: set[str] = frozenset()) -> None:
    left = {p.name for p in folder.iterdir()} - set(allowed)
    assert not left, left


def png(path: Path, width: int, height: int, depth: int = 8, rows: int | None = None) -> Path:
    """An RGB PNG (``rows`` of data only: the header alone tells the size)."""
    raw = b"".join(b"\x00" + bytes(3 * width * depth // 8)
                   for _ in range(height if rows is None else rows))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


# 1
@pytest.mark.parametrize("source", ["fifo", "/dev/urandom", "/dev/zero"])
def test_01_key_file_must_be_a_regular_file(tmp_path, source):
    if source == "fifo":
        os.mkfifo(tmp_path / "fifo")
    line = run([*SIM, "--system", "qam+chacha", "--key", source, "--out", "o"], tmp_path,
               seconds=20, extra_mb=200)
    assert "not a regular file" in line
    nothing_left(tmp_path, {"fifo"})


def test_01_key_file_read_is_bounded(tmp_path):
    (tmp_path / "big.key").write_bytes(b"0" * (1 << 20))
    assert "too long" in run([*SIM, "--system", "qam+chacha", "--key", "big.key"], tmp_path)


# 2
@pytest.mark.parametrize("grid", ["0:10:1e-7", "0:1e30:1", "-999:999:1e-300",
                                  "-999:999:1e-320"])
def test_02_ebno_point_count_checked_before_building(tmp_path, grid):
    run([*SIM, "--ebno", grid, "--out", "o"], tmp_path, seconds=20, extra_mb=300)
    nothing_left(tmp_path)


# 3
def test_03_frame_bits_upper_bound(tmp_path):
    run([*SIM, "--frame-bits", 4_000_000_000, "--out", "o"], tmp_path, code=2, extra_mb=300)
    run(["export", "--system", "qam", "--frames", 1, "--frame-bits", 4_000_000_000, "--ebno", 0,
         "--out", "w.npz"], tmp_path, code=2, extra_mb=300)
    nothing_left(tmp_path)


# 4
@pytest.mark.parametrize("command", [
    [*SIM, "--system", "ae", "--mod", "qpsk", "--out", "o"],
    ["export", "--system", "ae", "--mod", "qpsk", "--frames", 2, "--frame-bits", 64, "--ebno", 0,
     "--out", "w.npz"],
    ["attack", "--system", "ae", "--mod", "qpsk", "--scenarios", "ciphertext-only", "--out", "o"],
])
def test_04_models_checked_before_training(tmp_path, command):
    (tmp_path / "file").write_text("x")
    started = time.monotonic()
    assert "--models" in run([*command, "--models", "file"], tmp_path)
    assert time.monotonic() - started < 20  # refused, not trained first
    nothing_left(tmp_path, {"file"})


def test_04_unwritable_model_folder_refused_before_training(tmp_path, monkeypatch):
    from commgan.checkpoint import ModelCache

    cache = ModelCache(tmp_path / "ro" / "models", shipped=None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    trained = []
    with pytest.raises(CommganError, match="not a writable folder"):
        cache.resolve(cache.stem("ae", "x"), torch.nn.Linear(1, 1), {}, lambda: trained.append(1))
    assert not trained


def _default_sigint() -> None:
    """A test run launched in the background inherits an ignored SIGINT, which Python keeps:
    give the child the default disposition, as an interactive shell would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# 5 and 15
@pytest.mark.parametrize("signum, jobs", [(signal.SIGTERM, "1"), (signal.SIGINT, "1"),
                                           (signal.SIGINT, "2")])
def test_05_15_kill_and_ctrl_c_exit_130_and_leave_no_scratch(tmp_path, signum, jobs):
    """SIGTERM, and Ctrl-C sent to the whole process group (workers included)."""
    args = [*SIM, "--system", "qam", "--ebno", "0:10:0.5", "--max-bits", "100000000",
            "--target-errors", "10000000", "--jobs", jobs, "--out", "o"]
    process = subprocess.Popen([sys.executable, "-c", CLI, *args], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COMMGAN_KEY": ""}, start_new_session=True,
                               preexec_fn=_default_sigint)
    started = tmp_path / "o" / (".progress.csv" if jobs == "2" else "")  # workers are running
    deadline = time.monotonic() + 40
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(process.pid, signum)
    _, stderr = process.communicate(timeout=30)
    assert "interrupted; finished points are kept" in check_failure(process.returncode, stderr,
                                                                     130)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]  # "o" is removed


def test_05_stale_scratch_swept_by_the_next_run(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    dead = 2**22 + 12345  # beyond pid_max's default: no such process
    (out / f".results.csv.{dead}.abc.tmp").write_text("half")
    (out / f".ber.png.{dead}.abc.tmp").write_text("half")
    (tmp_path / f".w.npz.{dead}.xyz").mkdir()
    (tmp_path / f".w.npz.{dead}.xyz" / "0.npy").write_bytes(bytes(1000))
    assert CliRunner().invoke(cli, [*SIM, "--system", "qam", "--ebno", "0", *FAST, "--out",
                                    str(out)], env=ENV).exit_code == 0
    assert CliRunner().invoke(cli, ["export", "--system", "qam", "--frames", "2", "--frame-bits",
                                    "64", "--ebno", "0", "--out", str(tmp_path / "w.npz"),
                                    "--quiet"], env=ENV).exit_code == 0
    assert not [p for p in [*out.iterdir(), *tmp_path.iterdir()] if str(dead) in p.name]


# 6
@pytest.mark.parametrize("offset", ["nan", "-1e30", "inf"])
def test_06_eve_offset_must_be_finite(tmp_path, offset):
    run([*SIM, "--system", "qam+chacha", "--eve-ebno-offset", offset, "--out", "o"], tmp_path,
        code=2)
    run(["export", "--system", "qam", "--frames", 1, "--frame-bits", 64, "--ebno", 0,
         "--eve-ebno-offset", offset, "--out", "w.npz"], tmp_path, code=2)
    nothing_left(tmp_path)


# 7
@pytest.mark.parametrize("grid", ["0:20:nan", "nan:20:2", "0:inf:1", "nan", "0,inf"])
def test_07_non_finite_ebno(tmp_path, grid):
    assert "--ebno" in run([*SIM, "--ebno", grid, "--out", "o"], tmp_path)
    assert "--ebno" in run(["attack", "--system", "qam+chacha", "--ebno", grid, "--out", "o"],
                           tmp_path)
    nothing_left(tmp_path)


# 8
@pytest.mark.parametrize("value", ["nan", "inf", "0:1e30", "-inf:0", "20:10"])
def test_08_train_ebno_bounded(tmp_path, value):
    (tmp_path / "m").mkdir()
    assert "--train-ebno" in run(["train", "--steps", 2, "--train-ebno", value, "--models", "m"],
                                 tmp_path)
    assert "--train-ebno" in run(["converge", "--iters", 2, "--seeds", 1, "--train-ebno", value,
                                  "--out", "o"], tmp_path)
    nothing_left(tmp_path / "m")
    nothing_left(tmp_path, {"m"})


# 9
def test_09_lambda_covert_and_divergence_are_one_line(tmp_path, monkeypatch):
    for value in ("nan", "inf", "-1"):
        run(["train", "--system", "gan-enc", "--steps", 4, "--lambda-covert", value, "--models",
             "m"], tmp_path, code=2)
    assert issubclass(GANDivergenceError, TrainingDiverged)
    assert issubclass(TrainingDiverged, CommganError)
    import commgan.systems

    def diverge(*args, **kwargs):
        raise GANDivergenceError("gan-enc: loss_g is nan at iteration 3; training stopped",
                                 3, "loss_g", pd.DataFrame(), 0)

    monkeypatch.setattr(commgan.systems, "load_or_train", diverge)
    assert "nan at iteration 3" in run(["train", "--system", "gan-enc", "--steps", 4,
                                        "--models", "m"], tmp_path, code=1)
    nothing_left(tmp_path)


# 10
@pytest.mark.parametrize("steps", ["1", "2", "3"])
def test_10_gan_enc_trains_with_fewer_steps_than_rounds(tmp_path, steps):
    result = CliRunner().invoke(cli, ["train", "--system", "gan-enc", "--steps", steps,
                                      "--models", str(tmp_path / "m"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "gan-enc-rayleigh-16qam.safetensors").exists()


# 11
def test_11_attack_with_no_applicable_scenario(tmp_path):
    assert "nothing to attack" in run(["attack", "--system", "qam", "--scenarios",
                                       "wrong-key,nonce-reuse", "--out", "o"], tmp_path)
    nothing_left(tmp_path)


# 12
@pytest.mark.parametrize("value", ["p" * 32, "0123456789abcdef" * 2, "x" * 64])
def test_12_env_key_is_hex_only(tmp_path, value):
    assert "$COMMGAN_KEY" in run([*SIM, "--system", "qam+chacha", "--out", "o"], tmp_path,
                                 env={"COMMGAN_KEY": value})
    nothing_left(tmp_path)


def test_12_text_key_file_of_32_bytes_refused(tmp_path):
    (tmp_path / "k").write_text("correct horse battery staple 123")
    assert "not hex" in run([*SIM, "--system", "qam+chacha", "--key", "k"], tmp_path)
    (tmp_path / "raw").write_bytes(bytes(range(32)))
    assert load_key(tmp_path / "raw") == (bytes(range(32)), "file")


# 13
def test_13_full_disk_is_one_line_and_all_or_nothing(tmp_path):
    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))  # writes past it: EFBIG

    args = [*SIM, "--system", "qam", "--ebno", "0,4", *FAST, "--jobs", "1", "--out", "o"]
    process = subprocess.run([sys.executable, "-c", CLI, *args], cwd=tmp_path, timeout=60,
                             capture_output=True, text=True, preexec_fn=small_files,
                             env={**os.environ, "COMMGAN_KEY": ""})
    check_failure(process.returncode, process.stderr)
    left = {p.name for p in (tmp_path / "o").iterdir()}
    assert not left & set(RESULT_FILES)
    assert not [name for name in left if name.endswith(".tmp")]


# 14
def test_14_huge_image_refused_before_decoding(tmp_path):
    png(tmp_path / "big.png", 12000, 12000, rows=1)
    assert "crop or shrink" in run(["restore", "--task", "denoise", "--image", "big.png",
                                    "--models", "m", "--out", "o"], tmp_path, extra_mb=300)
    nothing_left(tmp_path, {"big.png"})


# 16
@pytest.mark.parametrize("damage", ["columns", "truncated", "text"])
def test_16_resume_validates_the_saved_rows(tmp_path, damage):
    args = [*SIM, "--system", "qam", "--ebno", "0,3", *FAST, "--out", str(tmp_path / "o")]
    assert CliRunner().invoke(cli, args, env=ENV).exit_code == 0
    results = tmp_path / "o" / "results.csv"
    text = results.read_text()
    if damage == "columns":
        results.write_text(text.replace("ber,", "bar,", 1))
    elif damage == "truncated":
        results.write_text(text[:-25])
    else:
        results.write_text(text.replace("qam,bob,awgn,16qam,0.0,", "qam,bob,awgn,16qam,abc,"))
    result = CliRunner().invoke(cli, args, env=ENV)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(results)
    assert len(table) == 2 and table["ci_high"].notna().all() and table["ebno_db"].dtype.kind == "f"


# 17
def test_17_sixteen_bit_png_refused(tmp_path):
    png(tmp_path / "deep.png", 64, 64, depth=16)
    assert "16-bit" in run(["restore", "--task", "denoise", "--image", "deep.png", "--models",
                            "m", "--out", "o"], tmp_path)
    nothing_left(tmp_path, {"deep.png"})


# 18
def test_18_concurrent_saves_keep_pairs_consistent(tmp_path):
    stem = tmp_path / "m" / "model"
    errors = []

    def save(value: float) -> None:
        module = torch.nn.Linear(64, 64)
        torch.nn.init.constant_(module.weight, value)
        try:
            for _ in range(15):
                save_checkpoint(stem, module, {"value": value})
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=save, args=(v,)) for v in (1.0, 2.0)]
    with bounded(60):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors
    module = torch.nn.Linear(64, 64)
    sidecar = load_checkpoint(stem, module)
    assert float(module.weight[0, 0].detach()) == sidecar["value"]
    assert {p.name for p in stem.parent.iterdir()} == {"model.safetensors", "model.json",
                                                       ".model.lock"}


def test_18_torn_pair_says_what_to_delete(tmp_path):
    stem = tmp_path / "model"
    save_checkpoint(stem, torch.nn.Linear(2, 2), {})
    save_checkpoint(tmp_path / "other", torch.nn.Linear(2, 2), {})
    os.replace(tmp_path / "other.safetensors", tmp_path / "model.safetensors")
    with pytest.raises(CommganError, match="delete model.safetensors and model.json"):
        load_checkpoint(stem, torch.nn.Linear(2, 2))


# 19
def test_19_results_and_models_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert CliRunner().invoke(cli, [*SIM, "--system", "qam", "--ebno", "0", *FAST, "--out",
                                        str(tmp_path / "o")], env=ENV).exit_code == 0
        save_checkpoint(tmp_path / "m" / "x", torch.nn.Linear(1, 1), {})
    finally:
        os.umask(old)
    for path in [*(tmp_path / "o").iterdir(), tmp_path / "m" / "x.safetensors",
                 tmp_path / "m" / "x.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


# 20
def test_20_empty_home_has_no_cache_at_the_root(tmp_path):
    line = run([*SIM, "--system", "ae", "--mod", "qpsk", "--out", "o"], tmp_path,
               env={"HOME": ""})
    assert "--models" in line and "HOME" in line
    nothing_left(tmp_path)


# 21
def test_21_dangling_out_and_folder_named_like_a_model(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere" / "deeper")
    assert "dangling" in run([*SIM, "--system", "qam", "--out", "link"], tmp_path)
    (tmp_path / "m" / "ae-awgn-16qam.safetensors").mkdir(parents=True)
    (tmp_path / "m" / "ae-awgn-16qam.json").mkdir()
    assert "not a file" in run([*SIM, "--system", "ae", "--models", "m", "--out", "o"], tmp_path)
    assert not (tmp_path / "o").exists() and not (tmp_path / "nowhere").exists()


# 22
def test_22_messages_are_short_and_exact(tmp_path):
    long_grid = ",".join(["1"] * 1001)
    line = run([*SIM, "--ebno", long_grid], tmp_path)
    assert "1000" in line and len(line) < 150
    assert "key file name is empty" in run([*SIM, "--system", "qam+chacha", "--key", ""],
                                           tmp_path)
    assert "image file name is empty" in run(["restore", "--task", "denoise", "--image", "",
                                              "--models", "m", "--out", "o"], tmp_path)
    (tmp_path / "weights.txt").write_text("hello\n")
    line = run(["restore", "--task", "denoise", "--demo", "--backbone-weights", "weights.txt",
                "--models", "m", "--out", "o"], tmp_path)
    assert "cannot be read as safetensors or torch weights (KeyError" in line
    from PIL import Image

    Image.new("F", (64, 64)).save(tmp_path / "float.tiff")
    assert "unsupported pixel mode F" in run(["restore", "--task", "denoise", "--image",
                                              "float.tiff", "--models", "m", "--out", "o"],
                                             tmp_path)
    nothing_left(tmp_path, {"weights.txt", "float.tiff"})


# beyond the 22: a few of the extra hostile inputs
def test_extra_inputs(tmp_path):
    base = [*SIM, "--system", "qam", "--ebno", "0", "--out", "o"]
    run([*base, "--threads", 10**11], tmp_path, code=2)
    run([*base, "--seed", -1], tmp_path, code=2)
    (tmp_path / "c.json").write_text('{"max-bits": {"a": 1}}')
    assert "flat list" in run([*base, "--config", "c.json"], tmp_path, code=2)
    assert "GiB of scratch disk" in run(["export", "--system", "qam", "--frames", 10**9,
                                         "--frame-bits", 65536, "--ebno", 0, "--out", "new/w.npz",
                                         "--quiet"],
                                        tmp_path, extra_mb=300)
    nothing_left(tmp_path, {"c.json"})
