"""The default models shipped in the package: complete, intact, used when the cache is empty,
and reproducible by `commgan train` (slow)."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from commgan.checkpoint import SHIPPED_MODELS, checkpoint_paths, load_checkpoint
from commgan.cli import cli
from commgan.comm.registry import learned_systems
from commgan.systems import SystemContext, load_or_train

CHANNELS = ("awgn", "rayleigh", "rayleigh-fast")
KEY = {"COMMGAN_KEY": "11" * 32}


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("system", learned_systems())
def test_every_default_model_ships_intact(system, channel, tmp_path):
    loaded = load_or_train(system, SystemContext(mod="16qam", channel=channel,
                                                 models_dir=tmp_path, train_if_missing=False))
    assert loaded.model.shipped and not loaded.model.trained
    sidecar = loaded.model.sidecar
    assert sidecar["system"] == system and sidecar["channel"] == channel
    assert sidecar["training"]["seed"] == 0 and "key" not in json.dumps(sidecar).lower()
    assert not list(tmp_path.iterdir()), "the shipped model is read in place, not copied"


CSI_CHANNELS = ("rayleigh:coherence=32,pilots=2,estimator=ls",
                "rayleigh:coherence=32,pilots=2")


@pytest.mark.parametrize("channel", CSI_CHANNELS)
@pytest.mark.parametrize("system", ["ae", "gan-enc"])
def test_the_estimated_csi_models_ship(system, channel, tmp_path):
    """The README's estimated-CSI commands (N = 32, Np = 2, LS and perfect CSI) need no
    training on a fresh install."""
    loaded = load_or_train(system, SystemContext(mod="16qam", channel=channel,
                                                 models_dir=tmp_path, train_if_missing=False))
    assert loaded.model.shipped and not loaded.model.trained
    assert loaded.model.sidecar["training"]["seed"] == 0


def test_the_coded_anchor_model_ships(tmp_path):
    """The coded-link result's command (64QAM, 5G LDPC k=750, n=1500 on AWGN) needs no
    training on a fresh install."""
    loaded = load_or_train("ae-ldpc:k=750,n=1500", SystemContext(
        mod="64qam", channel="awgn", models_dir=tmp_path, train_if_missing=False))
    assert loaded.model.shipped and not loaded.model.trained
    assert loaded.model.sidecar["options"] == {"k": 750, "n": 1500, "decoder": "fast",
                                               "iterations": 20, "cn_update": "boxplus"}


def test_a_corrupt_shipped_copy_is_refused(tmp_path):
    weights, sidecar = checkpoint_paths(SHIPPED_MODELS / "ae-awgn-16qam")
    (tmp_path / weights.name).write_bytes(weights.read_bytes()[:-8])
    (tmp_path / sidecar.name).write_text(sidecar.read_text())
    from commgan.comm.registry import build_system
    from commgan.errors import CommganError

    with pytest.raises(CommganError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "ae-awgn-16qam", build_system("ae", "16qam"))


def test_simulate_with_an_empty_cache_uses_the_shipped_models(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, [
        "simulate", "--channel", "awgn", "--system", "ae,gan-enc", "--ebno", "10",
        "--max-bits", "262144", "--target-errors", "100000", "--models", str(tmp_path / "m"),
        "--out", str(out)], env=KEY)
    assert result.exit_code == 0, result.output
    assert result.output.count("using the shipped default model") == 2
    assert "training" not in result.output and not (tmp_path / "m").exists()
    table = pd.read_csv(out / "results.csv").set_index(["system", "receiver"])
    for system in ("ae", "gan-enc"):
        shipped = json.loads(checkpoint_paths(SHIPPED_MODELS / f"{system.replace('+', '_')}"
                                              "-awgn-16qam")[1].read_text())
        row = table.loc[(system, "bob")]
        assert abs(row["ber"] / shipped["metrics"]["ber_at_10dB"] - 1) < 0.25
    assert abs(table.loc[("gan-enc", "eve"), "ber"] - 0.5) < 0.01


@pytest.mark.slow
def test_commgan_train_reproduces_a_shipped_model(tmp_path):
    """Retrain ae on awgn with the default config and seed: Bob's BER at 6 and 10 dB matches
    the shipped model's (both 95% intervals overlap at each point)."""
    runner = CliRunner()
    models = tmp_path / "models"
    result = runner.invoke(cli, ["train", "--system", "ae", "--channel", "awgn", "--models",
                                 str(models), "--quiet"])
    assert result.exit_code == 0, result.output
    tables = {}
    for name, folder in (("retrained", models), ("shipped", tmp_path / "empty")):
        out = tmp_path / name
        result = runner.invoke(cli, ["simulate", "--channel", "awgn", "--system", "ae",
                                     "--ebno", "6,10", "--max-bits", "4000000", "--target-errors",
                                     "4000", "--models", str(folder), "--out", str(out),
                                     "--quiet"])
        assert result.exit_code == 0, result.output
        tables[name] = pd.read_csv(out / "results.csv").set_index("ebno_db")
    retrained, shipped = tables["retrained"], tables["shipped"]
    assert (retrained["ci_low"] <= shipped["ci_high"]).all()
    assert (shipped["ci_low"] <= retrained["ci_high"]).all()


VISION_SHIPPED_MB = 30.0
"""Budget of the shipped vision models together (issue 30)."""


def _vision_stems() -> dict[str, str]:
    from commgan.vision.generate.run import stylegan_stem
    from commgan.vision.models.cache import cache_stem
    from commgan.vision.models.registry import VISION_MODELS

    stems = {name: cache_stem(name, SHIPPED_MODELS).name for name in VISION_MODELS}
    stems["stylegan"] = stylegan_stem(SHIPPED_MODELS).name
    stems["cgan-baseline"] = _baseline_stem().name
    return stems


def _baseline_stem():
    from commgan.rng import derive_seed
    from commgan.vision.digits_gans import digits_gan_stem, gan_training
    from commgan.vision.generate.run import BASELINE

    return digits_gan_stem(SHIPPED_MODELS, BASELINE, gan_training(BASELINE),
                           derive_seed("stylegan-baseline", 0))


@pytest.mark.parametrize("name", list(_vision_stems()))
def test_every_vision_default_model_ships(name, tmp_path):
    """The default model of every vision command loads from the package (SHA-256 and identity
    checked) with an empty cache, stored in float16 (float32 where that moved a PSNR by more
    than 0.05 dB), within the size budget together."""
    models = tmp_path / "models"
    if name == "stylegan":
        from commgan.vision.generate.run import StyleGANTraining, load_or_train_stylegan
        _, cached = load_or_train_stylegan(StyleGANTraining(), models, train_if_missing=False)
        assert cached.shipped and not cached.trained
    elif name == "cgan-baseline":
        from commgan.vision.generate.run import baseline_generator
        _, cached = baseline_generator(models, 0, train_if_missing=False)
        assert cached.shipped and not cached.trained
    else:
        from commgan.vision.models.cache import load_or_train
        load_or_train(name, models, train_if_missing=False)
    assert not models.exists() or not any(models.iterdir()), "read in place, never copied"
    sidecar = json.loads(checkpoint_paths(SHIPPED_MODELS / _vision_stems()[name])[1].read_text())
    assert sidecar["storage"] in ("float16", "float32") and len(sidecar["sha256_float32"]) == 64
    total = sum(checkpoint_paths(SHIPPED_MODELS / stem)[0].stat().st_size
                for stem in _vision_stems().values())
    assert total <= VISION_SHIPPED_MB * 1e6


def test_a_vision_demo_uses_the_shipped_model(tmp_path):
    result = CliRunner().invoke(cli, ["restore", "--task", "sr", "--demo", "--models",
                                      str(tmp_path / "m"), "--out", str(tmp_path / "out"),
                                      "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "using the shipped default model srgan-x4-" in result.output
    assert "training" not in result.output
    assert (tmp_path / "out" / "metrics.csv").exists()


@pytest.mark.parametrize("args, rows", [
    (["translate", "--task", "colour", "--model", "cut"],
     ["input", "white balance + stretch", "CUT", "CycleGAN"]),
    (["translate", "--task", "labels2photo", "--model", "spade"],
     ["input", "class mean colours", "SPADE", "pix2pix"]),
    (["restore", "--task", "inpaint", "--model", "gated"],
     ["degraded", "biharmonic", "harmonic", "calibrated blend", "gated-conv GAN",
      "multi-loss GAN"]),
    (["restore", "--task", "sr-real"], ["degraded", "bicubic", "Real-ESRGAN x4", "SRGAN x4"]),
])
def test_a_new_models_demo_measures_the_closest_project_model_beside_it(tmp_path, args, rows):
    """CUT, SPADE, the gated-conv GAN and Real-ESRGAN: their --demo's metrics.csv holds the
    classical baseline and the closest model already in the project (its record's
    ``compare_with``), both shipped: nothing is trained."""
    from commgan.vision.models.registry import VISION_MODELS

    result = CliRunner().invoke(cli, [*args, "--demo", "--models", str(tmp_path / "m"),
                                      "--out", str(tmp_path / "out"), "--threads", "1"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert list(table["method"]) == rows
    assert table[["psnr", "ssim"]].notna().all(axis=None)
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())
    compared = {record.compare_with for record in VISION_MODELS.values()} - {None}
    assert compared == {"cyclegan-colour", "pix2pix-labels2photo", "restore", "sr"}


def test_a_missing_comparison_model_is_skipped_not_trained(tmp_path, monkeypatch):
    from commgan.errors import CommganError
    from commgan.vision.models import cache

    assert cache.comparison_model("sr", tmp_path) is None  # SRGAN names no comparison

    def missing(name, models_dir, **options):
        assert options["train_if_missing"] is False  # a comparison is never trained
        raise CommganError(f"no trained {name} model in {models_dir}")

    monkeypatch.setattr(cache, "load_or_train", missing)
    lines = []
    assert cache.comparison_model("gated", tmp_path, log=lines.append) is None
    assert lines == [f"gated: no comparison with multi-loss GAN (no trained restore model in "
                     f"{tmp_path})"]


def test_every_comparison_serves_the_same_task():
    """A model's ``compare_with`` is another model of the same translation or restoration
    task, so the command can run it on the same input."""
    from commgan.vision.models.registry import VISION_MODELS
    from commgan.vision.restore.tasks import VISION_TASKS
    from commgan.vision.translate.tasks import TRANSLATION_TASKS

    served = [set(task.models.values()) for task in TRANSLATION_TASKS.values()]
    served += [{task.model, *task.models} for task in VISION_TASKS.values()]
    served += [{"sr", "real-esrgan"}]  # both x4 from the same bicubic-down-sampled input
    for name, record in VISION_MODELS.items():
        if record.compare_with is not None:
            assert record.compare_with in VISION_MODELS and record.compare_with != name
            assert any({name, record.compare_with} <= models for models in served), name
