"""Issue 26 (training and the model cache): a link that did not learn is never cached, the
relative loss works over the whole training Eb/N0 range, a failed save (full disk) is one line
that keeps the previous model, and a broken shipped model asks for a reinstall.

Every failure is one ``Error:`` line, a non-zero exit, no traceback and nothing left behind
(no scratch file, no new lock file), and a model cached before stays byte-identical."""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli
from test_hostile import CLI, ENV, bounded, check_failure, nothing_left, run

from channels import get_modulation
from commgan.checkpoint import (
    SHIPPED_MODELS,
    ModelCache,
    _locked,
    checkpoint_paths,
    load_checkpoint,
    save_checkpoint,
)
from commgan.comm.autoencoder import (
    REFERENCE_FLOOR,
    AutoencoderSystem,
    AutoencoderTraining,
    reference_ber,
    train_autoencoder,
)
from commgan.comm.registry import SYSTEMS, learned_systems, system_spec
from commgan.comm.transceiver import TransceiverConfig
from commgan.errors import CommganError
from commgan.systems import check_learned, quick_ber, reference_ebno

STEM = "ae-awgn-16qam"
TRAIN = ["train", "--system", "ae", "--channel", "awgn", "--quiet"]


def previous_model(folder: Path, stem: str = STEM) -> dict[str, bytes]:
    """Copy the shipped model ``stem`` into ``folder`` as a model cached before; return its
    files' bytes by name."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in checkpoint_paths(SHIPPED_MODELS / stem):
        shutil.copyfile(path, folder / path.name)
    return snapshot(folder)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def invoke(args: list, seconds: int = 60):
    with bounded(seconds):
        return run_cli(args, ENV)


# E3: a training at a high Eb/N0 froze (the relative loss divided by a BER of 1e-30) and the
# model that learned nothing replaced the cached one.
def test_e3_high_train_ebno_trains_or_keeps_the_cached_model(tmp_path):
    models = tmp_path / "m"
    before = previous_model(models)
    result = invoke([*TRAIN, "--train-ebno", "20:25", "--steps", 200, "--models", models])
    if result.exit_code == 0:
        sidecar = json.loads((models / f"{STEM}.json").read_text())
        assert sidecar["metrics"]["ber_at_20dB"] < 0.05, sidecar["metrics"]
        assert sidecar["metrics"]["final_loss"] < 1e15
    else:
        assert "did not learn" in check_failure(result.exit_code, result.stderr)
        assert snapshot(models) == before
    assert not [p for p in models.iterdir() if p.name.endswith(".tmp")]


def test_e3_a_link_that_did_not_learn_is_not_cached(tmp_path):
    models = tmp_path / "m"
    before = previous_model(models)
    line = run([*TRAIN, "--train-ebno", "20:25", "--steps", 1, "--models", models], tmp_path,
               code=1)
    assert "did not learn" in line and "22.5 dB" in line and "unchanged" in line
    assert snapshot(models) == before  # no lock file either: none was there before
    nothing_left(tmp_path, {"m"})


WORKING_START = {"ae-ldpc"}
"""Learned systems whose untrained start is a working link (ae-ldpc starts as qam-ldpc's Gray
QAM exactly, tests/test_ae_ldpc.py): the check rightly passes them untrained."""


@pytest.mark.parametrize("name", sorted(set(learned_systems()) - WORKING_START))
def test_e3_the_check_covers_every_learned_system(tmp_path, monkeypatch, name):
    """A training that leaves the weights as initialised is refused for ae, gan-enc and
    gan-enc-naive alike (keyed ones with Bob's BER under the key)."""
    spec = system_spec(name)
    untrained = dataclasses.replace(spec, learned=dataclasses.replace(
        spec.learned, train=lambda *a, **k: _history(), critic_metrics=None))
    monkeypatch.setitem(SYSTEMS, name, untrained)
    line = run(["train", "--system", name, "--channel", "awgn", "--quiet", "--models", "m"],
               tmp_path, code=1)
    assert "did not learn" in line and "9 dB" in line
    assert ("with the key" in line) == spec.keyed
    assert not (tmp_path / "m").exists() or not list((tmp_path / "m").iterdir())


def _history():
    import pandas as pd

    return pd.DataFrame({"loss": [0.7], "seconds": [0.0]})


def test_e3_relative_loss_is_bounded_over_the_documented_range():
    reference = reference_ber("16qam", "awgn", "cpu")
    values = reference(torch.linspace(-30.0, 50.0, 801))
    assert (values >= REFERENCE_FLOOR * 0.999).all() and (values <= 0.5).all()
    for low, high in ((-30.0, -29.0), (49.0, 50.0)):
        system = AutoencoderSystem(get_modulation("16qam"), TransceiverConfig(4))
        history = train_autoencoder(system, "awgn", AutoencoderTraining(
            steps=3, batch_frames=16, frame_bits=64, train_ebno_db=(low, high),
            transceiver=system.config))
        assert np.isfinite(history["loss"]).all() and history["loss"].max() < 1e15


def test_e3_shipped_models_pass_the_check():
    """The check's threshold keeps every shipped default (trained with the default config)."""
    for name in learned_systems():
        for channel in ("awgn", "rayleigh", "rayleigh-fast"):
            spec = system_spec(name)
            training = spec.learned.default_training(get_modulation("16qam"), channel)
            system = spec.build(get_modulation("16qam"), key=bytes(32), training=training)
            load_checkpoint(SHIPPED_MODELS / f"{name.replace('+', '_')}-{channel}-16qam",
                            system)
            system.eval()
            ebno_db = reference_ebno(training, channel)
            bits = 65_536
            check_learned(name, system, channel, training,
                          quick_ber(system, channel, (ebno_db,), bits=bits), bits=bits)


# E9: a full disk while saving gave a SafetensorError traceback and left a lock file.
def _small_files(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # beyond it: EFBIG

    return apply


def test_e9_full_disk_while_saving_keeps_the_previous_model(tmp_path):
    models = tmp_path / "m"
    before = previous_model(models)
    process = subprocess.run(
        [sys.executable, "-c", CLI, *TRAIN, "--steps", "20", "--models", str(models)],
        cwd=tmp_path, timeout=90, capture_output=True, text=True,
        preexec_fn=_small_files(20_000), env={**os.environ, "COMMGAN_KEY": ""})
    line = check_failure(process.returncode, process.stderr)
    assert "File too large" in line and str(models) in line and "unchanged" in line
    assert snapshot(models) == before
    nothing_left(models, set(before))


def test_e9_no_space_while_writing_the_sidecar(tmp_path, monkeypatch):
    """ENOSPC on the second file: the finished weights scratch is removed too."""
    import commgan.checkpoint

    real = commgan.checkpoint.atomic_write_all

    def full_disk(writers):
        (weights, write_weights), (sidecar, _) = writers.items()

        def no_space(tmp):
            raise OSError(28, os.strerror(28), tmp)

        real({weights: write_weights, sidecar: no_space})

    monkeypatch.setattr(commgan.checkpoint, "atomic_write_all", full_disk)
    models = tmp_path / "m"
    before = previous_model(models)
    line = run([*TRAIN, "--steps", 20, "--models", models], tmp_path, code=1)
    assert "No space left on device" in line and "free space in" in line
    assert snapshot(models) == before
    nothing_left(models, set(before))


def _hold_lock_then_die(lock: Path, mode: int) -> None:
    """A process that takes the model's lock, makes the lock file read-only and is killed."""
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            f"fcntl.flock(fd, fcntl.LOCK_EX); os.chmod(sys.argv[1], {mode}); print(1, flush=True);"
            " time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"1"
    holder.kill()
    holder.wait(timeout=10)


def test_e9_a_lock_left_by_a_dead_process_does_not_block(tmp_path):
    models = tmp_path / "m"
    models.mkdir()
    _hold_lock_then_die(models / f".{STEM}.lock", 0o444)
    result = invoke([*TRAIN, "--steps", 20, "--models", models], seconds=60)
    assert result.exit_code == 0, result.output
    assert {f"{STEM}.safetensors", f"{STEM}.json"} <= {p.name for p in models.iterdir()}


# E22: a corrupt shipped model advised deleting files inside the installed package, or (its
# weights missing) was silently retrained.
@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A folder of shipped models standing in for the installed package's."""
    shipped = tmp_path / "package-models"
    shipped.mkdir()
    import commgan.systems

    monkeypatch.setattr(commgan.systems.SystemContext, "cache", property(
        lambda ctx: ModelCache(ctx.models_dir, shipped=shipped)))
    return shipped


SIM_AE = ["simulate", "--system", "ae", "--channel", "awgn", "--quiet", "--ebno", "5",
          "--max-bits", "20000", "--target-errors", "20", "--models", "m", "--out", "o"]


@pytest.mark.parametrize("damage", ["truncated", "sidecar-only", "sidecar-garbage",
                                    "weights-only"])
def test_e22_a_broken_shipped_model_asks_for_a_reinstall(tmp_path, fake_package, damage):
    previous_model(fake_package)
    weights, sidecar = checkpoint_paths(fake_package / STEM)
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:-8])
    elif damage == "sidecar-only":
        weights.unlink()
    elif damage == "sidecar-garbage":
        sidecar.write_text("{")
    else:
        sidecar.unlink()
    before = snapshot(fake_package)
    started = time.monotonic()
    line = run(SIM_AE, tmp_path, code=1, seconds=40)
    assert time.monotonic() - started < 15, "refused, not retrained"
    assert "broken installation" in line and "reinstall" in line and "delete" not in line
    assert snapshot(fake_package) == before
    nothing_left(tmp_path, {"package-models"})


def test_e22_models_folder_naming_the_package_folder(tmp_path, fake_package):
    previous_model(fake_package)
    weights = checkpoint_paths(fake_package / STEM)[0]
    weights.write_bytes(weights.read_bytes()[:-8])
    line = run([*SIM_AE[:-4], "--models", fake_package, "--out", "o"], tmp_path, code=1)
    assert "reinstall" in line and "delete" not in line


def test_e22_a_corrupt_user_cache_model_keeps_the_delete_advice(tmp_path, fake_package):
    previous_model(fake_package)
    previous_model(tmp_path / "m")
    weights = checkpoint_paths(tmp_path / "m" / STEM)[0]
    weights.write_bytes(weights.read_bytes()[:-8])
    line = run(SIM_AE, tmp_path, code=1)
    assert f"delete {STEM}.safetensors and {STEM}.json" in line and "reinstall" not in line


# New hostile cases around training and the cache.
def test_new_fifo_in_place_of_the_lock_file(tmp_path):
    """A reader opened the lock read-only: a FIFO there hung simulate forever."""
    models = tmp_path / "m"
    previous_model(models)
    os.mkfifo(models / f".{STEM}.lock")
    line = run(SIM_AE, tmp_path, code=1, seconds=20)
    assert "not a regular file" in line and "lock" in line
    line = run([*TRAIN, "--steps", 20, "--models", "m"], tmp_path, code=1, seconds=40)
    assert "not a regular file" in line


def test_new_folder_in_place_of_the_lock_file(tmp_path):
    models = tmp_path / "m"
    before = previous_model(models)
    (models / f".{STEM}.lock").mkdir()
    line = run([*TRAIN, "--steps", 20, "--models", "m"], tmp_path, code=1, seconds=40)
    assert "not a regular file" in line and "not writable" not in line
    assert snapshot(models) == before


def test_new_dangling_link_in_place_of_the_lock_file(tmp_path):
    """O_CREAT | O_EXCL refuses the link and a plain open finds no file: no endless retry."""
    models = tmp_path / "m"
    before = previous_model(models)
    (models / f".{STEM}.lock").symlink_to(tmp_path / "nowhere")
    line = run([*TRAIN, "--steps", 20, "--models", "m"], tmp_path, code=1, seconds=40)
    assert "dangling link" in line
    assert snapshot(models) == before
    reader = invoke([*SIM_AE[:-4], "--models", models, "--out", tmp_path / "o"])
    assert reader.exit_code == 0, reader.output  # a reader just reads


def test_new_writer_waiting_on_a_failed_save_still_excludes_others(tmp_path):
    """A writer that fails removes the lock file it created; a writer that waited on it locks
    the new file, so two later writers never hold the lock at once."""
    stem = tmp_path / "model"
    lock = tmp_path / ".model.lock"
    inside, errors = [], []

    def writer(value: float) -> None:
        try:
            with _locked(stem, exclusive=True):
                inside.append(value)
                assert len(inside) == 1, "two writers inside the lock"
                time.sleep(0.2)
                inside.remove(value)
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    with bounded(30):
        with pytest.raises(RuntimeError), _locked(stem, exclusive=True):
            threads = [threading.Thread(target=writer, args=(v,)) for v in (1.0, 2.0, 3.0)]
            for thread in threads:
                thread.start()
            time.sleep(0.3)
            raise RuntimeError("the save failed")
        for thread in threads:
            thread.join()
    assert not errors and not inside and lock.exists()


def test_new_sigterm_during_training_leaves_the_cache_unchanged(tmp_path):
    models = tmp_path / "m"
    before = previous_model(models)
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, *TRAIN[:-1], "--steps", "100000", "--models", str(models)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COMMGAN_KEY": ""})
    with bounded(60):
        assert "training for awgn/16qam" in process.stderr.readline()
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=30)[1]
    log = ("step ", "ae: ")
    check_failure(process.returncode, "".join(line for line in rest.splitlines(True)
                                              if not line.startswith(log)), 130)
    assert snapshot(models) == before
    nothing_left(models, set(before))


def test_new_save_into_a_folder_that_became_read_only(tmp_path, monkeypatch):
    """The folder turned unwritable between the check before training and the save."""
    import commgan.checkpoint

    models = tmp_path / "m"
    before = previous_model(models)
    real = commgan.checkpoint.atomic_write_all

    def read_only(writers):
        for path in writers:
            raise PermissionError(13, os.strerror(13), str(path))
        real(writers)

    monkeypatch.setattr(commgan.checkpoint, "atomic_write_all", read_only)
    line = run([*TRAIN, "--steps", 20, "--models", models], tmp_path, code=1)
    assert "Permission denied" in line and "check" in line and "free space" not in line
    assert snapshot(models) == before


def test_new_save_checkpoint_api_refuses_with_one_error(tmp_path):
    """The library call (vision models use it too) raises CommganError, not SafetensorError."""
    big = torch.nn.Linear(200, 200)
    code = ("import resource, sys, torch; "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (10000, 10000)); "
            "from commgan.checkpoint import save_checkpoint; "
            "from commgan.errors import CommganError\n"
            "try:\n    save_checkpoint(sys.argv[1], torch.nn.Linear(200, 200), {})\n"
            "except CommganError as err:\n    print(err)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x")], timeout=60,
                            capture_output=True, text=True)
    assert "File too large" in result.stdout and "Traceback" not in result.stderr
    nothing_left(tmp_path)
    save_checkpoint(tmp_path / "x", big, {})  # and without the limit it works
    with pytest.raises(CommganError, match="does not fit"):
        load_checkpoint(tmp_path / "x", torch.nn.Linear(2, 2))


def test_new_a_full_disk_is_refused_before_training(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=4096))
    models = tmp_path / "m"
    before = previous_model(models)
    started = time.monotonic()
    line = run([*TRAIN, "--steps", 3000, "--models", models], tmp_path, code=1)
    assert time.monotonic() - started < 5, "refused before training"
    assert "MB free" in line and str(models) in line
    assert snapshot(models) == before


def test_new_first_use_training_in_simulate_that_did_not_learn(tmp_path, monkeypatch):
    """simulate trains a model that is not shipped (qpsk) on first use: one that did not learn
    ends the run before any output or model exists."""
    spec = system_spec("ae")
    untrained = dataclasses.replace(spec, learned=dataclasses.replace(
        spec.learned, train=lambda *a, **k: _history()))
    monkeypatch.setitem(SYSTEMS, "ae", untrained)
    line = run([*SIM_AE, "--mod", "qpsk"], tmp_path, code=1)
    assert "did not learn" in line and "awgn/qpsk" in line
    nothing_left(tmp_path)
