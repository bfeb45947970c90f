"""Issue 26, hostile inputs: keys where file names belong (never echoed), passphrases as key
files, ``--config`` values of the wrong type, fp16 on a CPU, and ``--threads``/``--jobs`` beyond
the machine. Every failure is one ``Error:`` line, no traceback, nothing left behind; no error
ever shows 8 or more characters of something that could be a key."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import click
import pytest
from helpers import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hostile import CLI, ENV, FAST, SIM, bounded, check_failure, nothing_left, run

from commgan.cli import cli
from commgan.cli.workers import max_local_jobs, usable_cores
from commgan.comm.keys import load_key
from commgan.errors import CommganError, redact

QAM = [*SIM, *FAST, "--system", "qam", "--ebno", "0"]
CHACHA = [*SIM, *FAST, "--system", "qam+chacha", "--ebno", "0"]
KEY = bytes.fromhex("c0aad1769b5e35ea6c98a8d5f9c7e9d0d990a684709ed62ba6a9302fab9d4bd4")


def windows(secret: str, size: int = 8) -> set[str]:
    """Every ``size``-character substring of ``secret``, lower-cased."""
    secret = secret.lower()
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


def assert_not_echoed(secret: str, *outputs: str) -> None:
    text = " ".join(outputs).lower()
    leaked = [w for w in windows(secret) if w in text]
    assert not leaked, (leaked[:3], text[:400])


# E4: a key where its file's name belongs
@pytest.mark.parametrize("form", ["plain", "upper", "grouped", "path", "equals", "config"])
def test_e4_key_given_instead_of_its_file_name(tmp_path, form):
    hexed = KEY.hex()
    value = {"plain": hexed, "upper": hexed.upper(), "path": f"keys/{hexed}.key",
             "grouped": " ".join(hexed[i:i + 8] for i in range(0, 64, 8))}.get(form, hexed)
    args = [*CHACHA, "--key", value]
    if form == "equals":
        args = [*CHACHA, f"--key={value}"]
    if form == "config":
        (tmp_path / "c.toml").write_text(f'key = "{hexed}"\n')
        args = [*CHACHA, "--config", "c.toml"]
    line = run([*args, "--out", "o"], tmp_path, code=1)
    assert_not_echoed(hexed, line)
    assert "looks like a key" in line and "characters" in line
    nothing_left(tmp_path, {"c.toml"})


@pytest.mark.parametrize("value", [KEY.hex()[:63], KEY.hex() + "0", KEY.hex()[:-1] + "g",
                                   "0x" + KEY.hex(), KEY.hex()[:32]])
def test_e4_malformed_env_key_never_echoed(tmp_path, value):
    line = run([*CHACHA, "--out", "o"], tmp_path, env={"COMMGAN_KEY": value}, code=1)
    assert "$COMMGAN_KEY" in line
    assert_not_echoed(value[2:] if value.startswith("0x") else value, line)
    nothing_left(tmp_path)


# E5: key files are judged after stripping trailing whitespace
@pytest.mark.parametrize("content", [
    b"correct horse battery staple 12\n",  # 31 printable + newline = 32 bytes
    b"correct horse battery staple\r\n\r\n",
    "p\u00e4sswort horse battery stapl 1\n".encode(),  # UTF-8 text of 32 bytes
    b"correct horse\tbattery staple 123",
    b" " * 32,
])
def test_e5_passphrase_of_32_bytes_refused(tmp_path, content):
    assert len(content) == 32
    (tmp_path / "k").write_bytes(content)
    line = run([*CHACHA, "--key", "k", "--out", "o"], tmp_path, code=1)
    assert "not hex" in line and "32 raw bytes" in line
    assert "horse" not in line
    nothing_left(tmp_path, {"k"})


def test_e5_binary_keys_ending_in_whitespace_bytes_still_load(tmp_path):
    for raw in (bytes(range(1, 32)) + b"\n", b"\x00" * 31 + b" ", bytes(range(224, 256))):
        (tmp_path / "k").write_bytes(raw)
        assert load_key(tmp_path / "k") == (raw, "file")
    (tmp_path / "k").write_bytes(KEY.hex().encode() + b"\r\n")
    assert load_key(tmp_path / "k") == (KEY, "file")


# E13, E17: --config values must have their option's type
@pytest.mark.parametrize("text, expected", [
    ("quiet = 2", "flag"),
    ("quiet = 1979-05-27", "flag"),
    ('quiet = "yes"', "flag"),
    ("seed = 1979-05-27T07:32:00", "date"),
    ("eve-ebno-offset = 07:32:00", "date"),
    ("ebno = 1979-05-27", "date"),
    ("ebno = [1, 1979-05-27]", "date"),
    ("max-bits = 20000.9", "integer"),
    ("max-bits = true", "integer"),
    ("max-bits = 1e400", "integer"),
    ("frame-bits = [512, 1024]", "integer"),
    ('max-bits = "20000.9"', "integer"),
    ("eve-ebno-offset = false", "number"),
    ("system = true", "string"),
    ("ebno = {start = 0}", "table"),
    ("[tables]\nebno = 1", "table"),
    ("max-bits = 1\nmax_bits = 2", "twice"),
    ("a = " + "[" * 3000 + "]" * 3000, "nests too deeply"),
])
def test_e13_e17_config_value_of_the_wrong_type(tmp_path, text, expected):
    (tmp_path / "c.toml").write_text(text + "\n")
    line = run([*QAM, "--config", "c.toml", "--out", "o"], tmp_path, code=2, seconds=20)
    assert "c.toml" in line and expected in line, line
    nothing_left(tmp_path, {"c.toml"})


@pytest.mark.parametrize("text", ['{"a": ' + "[" * 100000 + "]" * 100000 + "}",
                                  '{"max-bits": null}', '{"quiet": 1}',
                                  '{"max-bits": 1' + "0" * 5000 + "}", '[["max-bits", 1]]'])
def test_e13_json_config_edge_cases(tmp_path, text):
    (tmp_path / "c.json").write_text(text)
    line = run([*QAM, "--config", "c.json", "--out", "o"], tmp_path, code=2, seconds=20)
    assert "c.json" in line
    nothing_left(tmp_path, {"c.json"})


def test_e17_whole_numbers_in_float_notation_are_exact(tmp_path):
    (tmp_path / "c.toml").write_text("max-bits = 2e4\ntarget-errors = 2.0e1\nebno = [0, 2]\n")
    with bounded(60):
        result = run_cli([*SIM, "--system", "qam", "--config", "c.toml", "--out", "o"], ENV,
                         cwd=tmp_path)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "o" / "config.json").read_text())["config"]
    assert config["max_bits"] == 20000 and config["target_errors"] == 20, config


# E15
def test_e15_fp16_on_a_cpu_is_one_line_before_training(tmp_path):
    line = run(["train", "--system", "ae", "--channel", "awgn", "--precision", "fp16",
                "--device", "cpu", "--models", "m", "--quiet"], tmp_path, code=1, seconds=20)
    assert "fp16" in line and "CUDA" in line
    nothing_left(tmp_path)


def test_e15_fp16_from_a_config_file(tmp_path):
    (tmp_path / "c.toml").write_text('precision = "fp16"\ndevice = "cpu"\nsteps = 1\n')
    line = run(["train", "--config", "c.toml", "--models", "m"], tmp_path, code=1, seconds=20)
    assert "CUDA" in line
    nothing_left(tmp_path, {"c.toml"})


# E23: --threads and --jobs within the machine; a thread that cannot start is one line
@pytest.mark.parametrize("threads", [usable_cores() + 1, 300, 1024])
def test_e23_threads_bounded_by_the_usable_cores(tmp_path, threads):
    line = run([*QAM, "--threads", threads, "--out", "o"], tmp_path, code=2, extra_mb=300)
    assert f"[1, {usable_cores()}]" in line and str(threads) in line
    nothing_left(tmp_path)


@pytest.mark.parametrize("command", [["train"], ["restore", "--task", "sr", "--demo"],
                                     ["translate", "--model", "pix2pix", "--task", "colour",
                                      "--demo"]])
def test_e23_threads_of_training_commands_bounded(tmp_path, command):
    line = run([*command, "--threads", 500, "--models", "m", "--quiet"], tmp_path, code=2,
               extra_mb=300)
    assert f"[1, {usable_cores()}]" in line
    nothing_left(tmp_path)


@pytest.mark.parametrize("command", [QAM, ["converge", "--quiet"], ["augment", "--quiet"]])
def test_e23_jobs_bounded_by_the_machine(tmp_path, command):
    jobs = max_local_jobs() + 1
    line = run([*command, "--jobs", jobs, "--out", "o"], tmp_path, code=2, extra_mb=300)
    assert f"at most {max_local_jobs()}" in line and str(jobs) in line
    nothing_left(tmp_path)


def test_e23_thread_start_failure_is_one_line(tmp_path, monkeypatch):
    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr("commgan.parallel.process.usable_cores", lambda: 4)
    monkeypatch.setattr(threading.Thread, "start", refuse)
    line = run([*QAM, "--threads", 3, "--out", "o"], tmp_path, code=2)
    assert "cannot start 3 threads" in line
    nothing_left(tmp_path)


@pytest.mark.skipif(usable_cores() < 2, reason="--threads 2 needs two usable cores")
def test_e23_thread_limit_of_a_real_process(tmp_path):
    """A thread stack (RLIMIT_STACK) larger than the address space left (RLIMIT_AS): the
    process cannot start a second thread; --threads 2 is refused up front."""

    def limits():
        resource.setrlimit(resource.RLIMIT_STACK, (64 << 30, resource.RLIM_INFINITY))
        resource.setrlimit(resource.RLIMIT_AS, (48 << 30, resource.RLIM_INFINITY))

    result = subprocess.run(
        [sys.executable, "-c", CLI, *QAM, "--threads", "2", "--jobs", "1", "--out", "o"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, preexec_fn=limits,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "COMMGAN_KEY": ""})
    line = check_failure(result.returncode, result.stderr, 2)
    assert "cannot start 2 threads" in line
    nothing_left(tmp_path)


# Key material is never echoed, whatever option or config key it lands in
def without(args: list[str], option: str) -> list[str]:
    """``args`` less ``option`` and its value (a flag alone)."""
    if option not in args:
        return list(args)
    i = args.index(option)
    return args[:i] + args[i + (1 if option == "--quiet" else 2):]


STOP = "stopped by the test before any work"
HEAVY = ["commgan.systems.build_systems", "commgan.systems.load_or_train",
         "commgan.sim.sweep.run_sweep", "commgan.security.attack.run_attack",
         "commgan.security.export.export_wiretap", "commgan.channelgan_study.run_convergence",
         "commgan.vision.restore.run.run_restore", "commgan.vision.models.cache.load_or_train",
         "commgan.parallel.UnitExecutor", "commgan.vision.generate.run.run_generate"]
BASE = {  # no --quiet: log lines before the work starts are checked too
    "simulate": [*without(QAM, "--quiet"), "--models", "m"],
    "train": ["train", "--system", "ae", "--channel", "awgn", "--steps", "1", "--models", "m"],
    "attack": ["attack", "--system", "qam", "--channel", "awgn", "--ebno", "0", "--models", "m"],
    "export": ["export", "--system", "qam", "--channel", "awgn", "--frames", "10",
               "--frame-bits", "64", "--ebno", "0", "--out", "x.npz", "--models", "m"],
    "converge": ["converge", "--channel", "awgn", "--seeds", "1", "--iters", "1"],
    "restore": ["restore", "--task", "denoise", "--demo", "--steps", "1", "--models", "m"],
    "translate": ["translate", "--model", "pix2pix", "--task", "colour", "--demo", "--steps",
                  "1", "--models", "m"],
    "augment": ["augment", "--per-class", "5", "--seeds", "1"],
    "generate": ["generate", "--model", "stylegan", "--demo", "--steps", "1", "--models", "m"],
}
OPTIONS = sorted((name, param.opts[0]) for name, command in cli.commands.items()
                 for param in command.params
                 if isinstance(param, click.Option) and not param.is_flag)
VARIANTS = {
    "plain": lambda h: h, "upper": lambda h: h.upper(), "path": lambda h: f"sub/{h}.key",
    "grouped": lambda h: "-".join(h[i:i + 8] for i in range(0, 64, 8)),
}


def test_every_command_is_covered():
    assert set(BASE) == set(cli.commands), set(cli.commands) ^ set(BASE)


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Commands stop with one error line where their real work would start."""

    def stop(*args, **kwargs):
        raise CommganError(STOP)

    for target in HEAVY:
        monkeypatch.setattr(target, stop)


def invoke(args: list[str], cwd: Path) -> tuple[int, str]:
    with bounded(60):
        result = run_cli(args, ENV, cwd=cwd)
    assert not isinstance(result.exception, TimeoutError | MemoryError), result.exception
    return result.exit_code, result.stdout + result.stderr


def hostile_path(cwd: Path, name: str, folder: bool) -> None:
    """A folder at ``name`` (a command runs up to its work), or a small file (path options
    refuse it where they check)."""
    path = cwd / name
    if folder:
        path.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = \n")


@pytest.mark.parametrize("command, option", OPTIONS)
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.binary(min_size=32, max_size=32), variant=st.sampled_from(sorted(VARIANTS)),
       folder=st.booleans())
def test_no_key_echo_in_any_option(tmp_path, no_heavy_work, command, option, key, variant,
                                   folder):
    hexed = key.hex()
    value = VARIANTS[variant](hexed)
    hostile_path(tmp_path, value, folder)
    args = [command, option, value, *without(BASE[command], option)[1:]]
    code, output = invoke(args, tmp_path)
    assert code != 0 and "Traceback" not in output, output
    assert_not_echoed(hexed, output)


@pytest.mark.parametrize("command, option", [(c, o) for c, o in OPTIONS if o != "--config"])
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.binary(min_size=32, max_size=32), variant=st.sampled_from(sorted(VARIANTS)),
       folder=st.booleans())
def test_no_key_echo_in_any_config_value(tmp_path, no_heavy_work, command, option, key,
                                         variant, folder):
    hexed = key.hex()
    value = VARIANTS[variant](hexed)
    hostile_path(tmp_path, value, folder)
    (tmp_path / "c.toml").write_text(f"{option.lstrip('-')} = {json.dumps(value)}\n")
    args = [command, "--config", "c.toml", *without(BASE[command], option)[1:]]
    code, output = invoke(args, tmp_path)
    assert code != 0 and "Traceback" not in output, output
    assert_not_echoed(hexed, output)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.binary(min_size=32, max_size=32), where=st.sampled_from(
    ["config-key", "argument", "command", "option", "json-key"]))
def test_no_key_echo_in_names_and_arguments(tmp_path, no_heavy_work, key, where):
    hexed = key.hex()
    args = {"argument": [*QAM, hexed], "command": [hexed, "--quiet"],
            "option": [*QAM, f"--{hexed}"]}.get(where, [*QAM, "--config", "c.toml"])
    if where == "config-key":
        (tmp_path / "c.toml").write_text(f'"{hexed}" = 1\n')
    if where == "json-key":
        (tmp_path / "c.json").write_text(json.dumps({hexed: 1}))
        args = [*QAM, "--config", "c.json"]
    code, output = invoke(args, tmp_path)
    assert code == 2 and "Traceback" not in output, output
    assert_not_echoed(hexed, output)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(
    st.binary(min_size=1, max_size=90),
    st.binary(min_size=8, max_size=40).map(lambda b: b.hex().encode()),
    st.binary(min_size=24, max_size=40).map(lambda b: b.hex().encode() + b"\n"),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ", min_size=20, max_size=40)
    .map(str.encode)))
def test_key_file_contents_never_echoed(tmp_path, content):
    (tmp_path / "k").write_bytes(content)
    try:
        load_key(tmp_path / "k")
    except CommganError as err:
        assert_not_echoed(content.decode("latin-1").strip(), str(err))


# New hostile cases on inputs
def test_config_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "c.toml")
    line = run([*QAM, "--config", "c.toml", "--out", "o"], tmp_path, code=2, seconds=10)
    assert "not a file" in line
    nothing_left(tmp_path, {"c.toml"})


def test_config_not_utf8_names_the_byte_not_the_content(tmp_path):
    (tmp_path / "c.toml").write_bytes(b'key = "' + bytes(range(128, 160)) + b'"\n')
    line = run([*QAM, "--config", "c.toml", "--out", "o"], tmp_path, code=2)
    assert "not UTF-8" in line and "\\x8" not in line
    nothing_left(tmp_path, {"c.toml"})


@pytest.mark.parametrize("content", [KEY.hex().encode("utf-16"), KEY.hex()[:32].encode(),
                                     b"0x" + KEY.hex().encode(), KEY.hex().encode() * 2,
                                     KEY.hex()[:32].encode() + b" " + KEY.hex()[32:].encode()])
def test_hex_key_files_in_the_wrong_form(tmp_path, content):
    (tmp_path / "k").write_bytes(content)
    line = run([*CHACHA, "--key", "k", "--out", "o"], tmp_path, code=1)
    assert_not_echoed(KEY.hex(), line)
    nothing_left(tmp_path, {"k"})


def test_key_looking_folder_names_are_hidden(tmp_path):
    hexed = KEY.hex()
    (tmp_path / hexed).write_text("a file, not a folder")
    for option in ("--out", "--models"):
        line = run([*QAM, option, hexed], tmp_path, code=None)
        assert "not a folder" in line
        assert_not_echoed(hexed, line)
    nothing_left(tmp_path, {hexed})


@pytest.mark.parametrize("text", ['jobs = 1e3', 'threads = 4096', 'threads = 0', 'jobs = -1'])
def test_worker_counts_from_a_config_file(tmp_path, text):
    (tmp_path / "c.toml").write_text(text + "\n")
    line = run([*QAM, "--config", "c.toml", "--out", "o"], tmp_path, code=2)
    assert "jobs" in line or "threads" in line
    nothing_left(tmp_path, {"c.toml"})


def test_base64_and_grouped_keys_are_redacted():
    import base64

    for secret in (base64.b64encode(KEY).decode(), base64.urlsafe_b64encode(KEY).decode(),
                   ":".join(f"{b:02x}" for b in KEY), str(int.from_bytes(KEY, "big")),
                   "550e8400-e29b-41d4-a716-446655440000"):
        assert_not_echoed(secret, redact(f"--out 'runs/{secret}/x' is not a folder"))
    for kept in ("results/simulate-rayleigh-fast-16qam", "ae-awgn-16qam-3f9a2c1b7e4d5f60.json",
                 "1e-05 2e-05 3e-05 4e-05 5e-05", "4294967295", "MyExperiment2024/run_01"):
        assert redact(kept) == kept
