"""Checkpoints and the model cache: round trip, and one clear error for every bad file."""

import json

import pytest
import torch
from click.testing import CliRunner

from channels import get_modulation
from commgan.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from commgan.cli import cli
from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining
from commgan.comm.transceiver import TransceiverConfig
from commgan.errors import CommganError
from commgan.systems import SystemContext, load_or_train, model_stem

META = {"system": "ae", "architecture": {"hidden": 8}}


def _model(hidden=8):
    return AutoencoderSystem(get_modulation("16qam"), TransceiverConfig(4, hidden=hidden))


@pytest.fixture
def saved(tmp_path):
    model = _model()
    stem = tmp_path / "ae-awgn-16qam"
    save_checkpoint(stem, model, META)
    return stem, model


def test_round_trip(saved):
    stem, model = saved
    fresh = _model()
    sidecar = load_checkpoint(stem, fresh, expected=META)
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    assert sidecar["format"] == "commgan-checkpoint/1" and len(sidecar["sha256"]) == 64


def test_corrupt_weights(saved):
    stem, _ = saved
    weights, _ = checkpoint_paths(stem)
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CommganError, match="corrupt or truncated"):
        load_checkpoint(stem, _model(), expected=META)


def test_truncated_weights(saved):
    stem, _ = saved
    weights, _ = checkpoint_paths(stem)
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CommganError, match="corrupt or truncated"):
        load_checkpoint(stem, _model(), expected=META)


def test_corrupt_sidecar_and_missing(saved, tmp_path):
    stem, _ = saved
    _, meta = checkpoint_paths(stem)
    meta.write_text("{not json")
    with pytest.raises(CommganError, match="metadata .* is corrupt"):
        load_checkpoint(stem, _model())
    with pytest.raises(CommganError, match="missing"):
        load_checkpoint(tmp_path / "nothing", _model())


def test_mismatched_config_and_shapes(saved):
    stem, _ = saved
    with pytest.raises(CommganError, match="does not match: its architecture"):
        load_checkpoint(stem, _model(), expected={"architecture": {"hidden": 16}})
    with pytest.raises(CommganError, match="does not fit the model"):
        load_checkpoint(stem, _model(hidden=16))


def test_cache_trains_once_then_reuses(tmp_path):
    logs = []
    context = SystemContext(mod="16qam", channel="awgn", models_dir=tmp_path, log=logs.append)
    training = AutoencoderTraining(steps=20, frame_bits=64)
    first = load_or_train("ae", context, training)
    assert any("training" in line for line in logs)
    logs.clear()
    second = load_or_train("ae", context, AutoencoderTraining(steps=20, frame_bits=64))
    assert any("using cached model" in line for line in logs)
    assert first.model.trained and not second.model.trained
    assert first.model.fingerprint == second.model.fingerprint
    sidecar = json.loads(checkpoint_paths(model_stem(tmp_path, "ae", "awgn", "16qam"))[1]
                         .read_text())
    assert {"ber_at_0dB", "ber_at_10dB", "train_seconds"} <= set(sidecar["metrics"])
    assert sidecar["channel"] == "awgn" and "versions" in sidecar


def test_cli_train_then_simulate_and_corrupt_cache(tmp_path):
    runner = CliRunner()
    models = tmp_path / "models"
    result = runner.invoke(cli, ["train", "--system", "ae", "--channel", "awgn", "--steps", "20",
                                 "--models", str(models), "--quiet"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "run"
    args = ["simulate", "--channel", "awgn", "--system", "ae,qam", "--models", str(models),
            "--ebno", "4", "--max-bits", "100000", "--out", str(out)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "using cached model" in result.output
    weights, _ = checkpoint_paths(model_stem(models, "ae", "awgn", "16qam"))
    weights.write_bytes(weights.read_bytes()[:-10])
    out2 = tmp_path / "run2"
    result = runner.invoke(cli, args[:-1] + [str(out2)])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "corrupt or truncated" in lines[0]
    assert not out2.exists()


@pytest.mark.parametrize("value", ["abc", "5:1", "1:2:3"])
def test_cli_bad_train_ebno(tmp_path, value):
    result = CliRunner().invoke(cli, ["train", "--train-ebno", value, "--models", str(tmp_path)])
    assert result.exit_code != 0 and "--train-ebno" in result.output


def test_architectures_saved_before_spread_still_load(tmp_path):
    """A sidecar written before TransceiverConfig.spread existed means one symbol per block: it
    loads as spread = 1 and is refused where another spread is expected."""
    from dataclasses import asdict

    model = _model()
    stem = tmp_path / "ae-rayleigh-16qam"
    old = {key: value for key, value in asdict(model.config).items() if key != "spread"}
    save_checkpoint(stem, model, {"system": "ae", "architecture": old})
    load_checkpoint(stem, _model(), expected={"architecture": asdict(model.config)})
    spreading = {**asdict(model.config), "spread": 2}
    with pytest.raises(CommganError, match="does not match"):
        load_checkpoint(stem, _model(), expected={"architecture": spreading})
