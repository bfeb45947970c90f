"""Tests of commgan.channelgan_study, `commgan converge` and experiments/convergence.py."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import commgan.channelgan_study.study as study
from commgan.channelgan_study import (
    CONVERGENCE_COLUMNS,
    RESULT_FILES,
    ChannelModelDiverged,
    ConvergenceConfig,
    ber_fidelity,
    convergence_metrics,
    format_summary,
    run_convergence,
    slice_directions,
    sliced_wasserstein,
    summarise,
)
from commgan.cli import cli
from commgan.comm.channelgan import CHANNEL_MODELS, BlockSampler, ChannelModelConfig
from commgan.errors import CommganError
from commgan.gan import LN2, GANDivergenceError
from commgan.rng import use_seed

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_config(**overrides) -> ConvergenceConfig:
    """A seconds-long benchmark: every stage runs, nothing is trained to quality."""
    values = dict(models=("gan", "dcgan"), seeds=2, iterations={"gan": 4, "dcgan": 4},
                  batch_blocks=16, window=2, smooth=1, fidelity_blocks=600, swd_samples=40,
                  ae_steps=3, ae_bits=56 * 200, ae_ebno_db=(0.0, 40.0))
    values.update(overrides)
    return ConvergenceConfig(**values)


def synthetic_history() -> pd.DataFrame:
    """D ahead from iteration 11 (L_G - L_D up to 0.5 at 100), G catches up (crossing 0 at
    184), then both at ln 2; 1 s per iteration."""
    n = np.arange(1, 301)
    diff = np.where(n <= 10, 0.01 * (-1.0) ** n, 0.0)
    diff = np.where((n > 10) & (n <= 100), 0.5 * (n - 10) / 90, diff)
    diff = np.where((n > 100) & (n <= 200), 0.5 - 0.6 * (n - 100) / 100, diff)
    diff = np.where(n > 200, 0.01 * (-1.0) ** n, diff)
    return pd.DataFrame({"iteration": n, "loss_d": LN2 - diff / 2, "loss_g": LN2 + diff / 2,
                         "seconds": n * 1.0})


class TestMetrics:
    def test_convergence_metrics(self):
        metrics = convergence_metrics(synthetic_history(), smooth=1, margin=0.05, eps=0.05,
                                      window=10)
        assert metrics["separation_iter"] == 19
        assert metrics["crossover_iter"] == 184
        assert metrics["equilibrium_iter"] == 167  # |diff| < 0.1 from 167 on, after separation
        assert metrics["seconds_to_crossover"] == 184.0
        assert metrics["seconds_to_equilibrium"] == 167.0
        assert metrics["seconds"] == 300.0

    def test_never_separated_means_no_convergence(self):
        flat = synthetic_history().iloc[:10]
        metrics = convergence_metrics(flat, smooth=1, window=5)
        assert math.isnan(metrics["separation_iter"])
        assert math.isnan(metrics["crossover_iter"]) and math.isnan(metrics["equilibrium_iter"])

    def test_summary_mean_std_and_reached(self):
        runs = pd.DataFrame({"model": ["gan"] * 3 + ["dcgan"] * 2, "seed": [0, 1, 2, 0, 1],
                             "crossover_iter": [100.0, 200.0, math.nan, 20.0, 30.0],
                             "crossover_raw_iter": [50.0, 60.0, 70.0, 10.0, 12.0],
                             "equilibrium_iter": [math.nan] * 5,
                             "seconds_to_crossover": [1.0, 2.0, math.nan, 0.5, 0.5],
                             "seconds_to_equilibrium": [math.nan] * 5,
                             "seconds": [10.0, 10.0, 10.0, 5.0, 7.0]})
        summary = summarise(runs).set_index("model")
        assert summary.loc["gan", "crossover_iter_mean"] == 150.0
        assert summary.loc["gan", "crossover_iter_std"] == pytest.approx(math.sqrt(5000))
        assert summary.loc["gan", "crossover_iter_reached"] == 2
        assert summary.loc["dcgan", "seconds_mean"] == 6.0
        table = format_summary(summarise(runs))
        assert "150 ± 71 (2/3)" in table and "never (0/3)" in table and "25 ± 7" in table


def test_sliced_wasserstein():
    directions = slice_directions(64)
    torch.manual_seed(0)
    a = torch.randn(500, 2)
    assert sliced_wasserstein(a, a, directions) == 0.0
    shifted = a + torch.tensor([0.3, 0.0])
    expected = 0.3 * directions[:, 0].abs().mean().item()  # W1 of a shift along each direction
    assert sliced_wasserstein(shifted, a, directions) == pytest.approx(expected, rel=1e-4)


class _TrueChannelAsModel:
    """A 'model' whose samples are fresh draws of the true channel: a perfect generator."""

    def __init__(self) -> None:
        self.config = ChannelModelConfig(model="dcgan")
        self.sampler_blocks = BlockSampler(self.config)

    def sample(self, x, ebno_db, y_pilots=None):
        return self.sampler_blocks.transmit(x, ebno_db)


def test_ber_fidelity_of_a_perfect_model():
    """With samples of the true channel in place of generated ones, the BERs agree within their
    95% intervals and the distance equals its floor (the checks fail for a wrong pipeline:
    e.g. generated noise 3 dB too strong changes the BER by > 40% at 10 dB)."""
    config = tiny_config(fidelity_blocks=6000, swd_samples=400, fidelity_ebno_db=(0.0, 10.0))
    use_seed(0)
    rows = ber_fidelity(_TrueChannelAsModel(), config)
    assert [row["ebno_db"] for row in rows] == [0.0, 10.0]
    for row in rows:
        assert row["ber_true_low"] <= row["ber_generated"] <= row["ber_true_high"] or \
            row["ber_generated_low"] <= row["ber_true"] <= row["ber_generated_high"]
        assert abs(row["ber_rel_error"]) < 0.1
        assert row["swd"] == pytest.approx(row["swd_floor"], rel=0.5)
    assert rows[0]["ber_true"] == pytest.approx(0.24, abs=0.02)  # 16QAM, 2 pilots, 0 dB


def test_config_validation():
    with pytest.raises(CommganError, match="unknown channel model"):
        ConvergenceConfig(models=("gan", "vae"))
    with pytest.raises(CommganError, match="seeds"):
        ConvergenceConfig(seeds=0)
    with pytest.raises(CommganError, match="iterations"):
        ConvergenceConfig(iterations={"gan": 0, "cgan": 10, "dcgan": 10})
    with pytest.raises(CommganError, match="once"):
        ConvergenceConfig(models=("gan", "gan"))
    config = ConvergenceConfig(models=("cgan",), iterations={"cgan": 7})
    assert config.model_config("cgan", 3).iterations == 7
    assert config.model_config("cgan", 3).seed == 3


def test_run_writes_every_file(tmp_path):
    result = run_convergence(tiny_config(), tmp_path / "out")
    out = tmp_path / "out"
    for name in RESULT_FILES:
        assert (out / name).exists() and (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "convergence.csv")
    assert list(table.columns) == CONVERGENCE_COLUMNS
    assert list(zip(table["model"], table["seed"], strict=True)) == [
        ("gan", 0), ("gan", 1), ("dcgan", 0), ("dcgan", 1)]
    assert (table["iterations"] == 4).all() and table["diverged_at"].isna().all()
    fidelity = pd.read_csv(out / "fidelity.csv")
    assert len(fidelity) == 2 * 3
    assert {"swd", "swd_floor", "ber_true", "ber_generated", "ber_rel_error",
            "ae_gap_db"} <= set(fidelity.columns)
    assert set(pd.read_csv(out / "ae_ber.csv")["link"]) == {"true", "gan", "dcgan"}
    histories = pd.read_csv(out / "histories.csv")
    assert len(histories) == 4 * 4
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["models"] == ["gan", "dcgan"]
    assert len(result.summary) == 2


def test_divergence_stops_and_saves_results_so_far(tmp_path, monkeypatch):
    real = study.train_channel_model
    calls = {"n": 0}

    def diverging(config, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # gan, seed 1
            history = real(config.__class__(**{**config.__dict__, "iterations": 6}),
                           **kwargs)[1]
            raise GANDivergenceError("gan seed 1: loss_d is nan at iteration 7", 7, "loss_d",
                                     history, 0)
        return real(config, **kwargs)

    monkeypatch.setattr(study, "train_channel_model", diverging)
    with pytest.raises(ChannelModelDiverged, match="gan seed 1 diverged at iteration 7"):
        run_convergence(tiny_config(), tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "convergence.csv")
    assert table["seed"].tolist() == [0, 1]
    assert math.isnan(table["diverged_at"][0]) and table["diverged_at"][1] == 7
    assert len(pd.read_csv(tmp_path / "out" / "histories.csv")) == 4 + 6
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["diverged"] == {"model": "gan", "seed": 1, "iteration": 7}
    assert not (tmp_path / "out" / "fidelity.csv").exists()


class TestCli:
    def test_help_lists_the_registered_models(self):
        result = CliRunner().invoke(cli, ["converge", "--help"])
        assert result.exit_code == 0
        assert f"Valid: {', '.join(CHANNEL_MODELS)}." in " ".join(result.output.split())

    def test_runs_and_prints_the_table(self, tmp_path):
        out = tmp_path / "out"
        result = CliRunner().invoke(cli, ["converge", "--models", "gan", "--seeds", "2",
                                          "--iters", "3", "--no-fidelity", "--out", str(out),
                                          "--jobs", "1", "--quiet"])
        assert result.exit_code == 0, result.output
        assert "crossover iter" in result.output and "gan" in result.output
        table = pd.read_csv(out / "convergence.csv")
        assert {"model", "seed", "crossover_iter", "equilibrium_iter", "seconds"} <= set(
            table.columns)
        assert len(table) == 2 and (out / "losses.png").exists()

    @pytest.mark.parametrize("args, code, message", [
        (["--models", "gan,vae"], 1, "unknown model"),
        (["--models", ","], 1, "unknown model"),
        (["--seeds", "0"], 2, "positive"),
        (["--iters", "-3"], 2, "positive"),
        (["--train-ebno", "20:0"], 1, "LOW <= HIGH"),
        (["--channel", "rician"], 2, "rician"),
    ])
    def test_bad_input_is_one_line_and_writes_nothing(self, tmp_path, args, code, message):
        out = tmp_path / "out"
        result = CliRunner().invoke(cli, ["converge", *args, "--out", str(out), "--quiet"])
        assert result.exit_code == code, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0]
        assert not out.exists()

    def test_divergence_is_one_line_naming_model_seed_iteration(self, tmp_path, monkeypatch):
        def diverging(config, **kwargs):
            raise GANDivergenceError("x", 12, "loss_g", pd.DataFrame(
                {"iteration": [1], "loss_d": [0.7], "loss_g": [0.7], "seconds": [0.1]}), 0)

        monkeypatch.setattr(study, "train_channel_model", diverging)
        out = tmp_path / "out"
        result = CliRunner().invoke(cli, ["converge", "--models", "dcgan", "--out", str(out),
                                          "--jobs", "1", "--quiet"])
        assert result.exit_code == 1
        assert "dcgan seed 0 diverged at iteration 12" in result.output
        assert (out / "convergence.csv").exists()


@pytest.mark.slow
def test_experiment_smoke(tmp_path):
    """A fresh process (~10-40 s on 2 cores, mostly imports); the same stages run in-process
    in test_run_writes_every_file."""
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "convergence.py"),
                             "--smoke", "--out", str(out)],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("convergence.csv", "fidelity.csv", "losses.png", "fidelity.png"):
        assert (out / name).exists(), name
