"""Tiny-budget smoke runs of the SPADE vs pix2pix and gated-conv inpainting comparisons (each
writes its tables, timings and figures)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from commgan.vision.data import TRAIN_IMAGES, load_image, to_uint8

ROOT = Path(__file__).resolve().parents[1]

HELD_OUT = {"astronaut", "coffee", "chelsea"}
INPAINT_METHODS = ["degraded", "biharmonic", "harmonic", "calibrated blend", "multi-loss GAN",
                   "gated-conv GAN"]


def test_spade_vs_pix2pix_smoke(tmp_path, smoke):
    out = smoke("spade_vs_pix2pix.py", tmp_path)
    table = pd.read_csv(out / "table.csv")
    assert set(table["image"]) == HELD_OUT | {"grace_hopper"}
    assert set(table.loc[table["images"] == "fresh", "image"]) == {"grace_hopper"}
    assert np.isfinite(table[["psnr", "ssim", "psnr_y", "ssim_y"]].to_numpy()).all()
    assert table["lpips"].isna().all()  # no backbone weights: unavailable, not made up
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["method"]) == ["input", "class mean colours", "pix2pix", "SPADE"]
    assert {"psnr", "ssim", "lpips", "diversity_l1", "diversity_lpips"} <= set(metrics.columns)
    diversity = metrics.set_index("method")["diversity_l1"]
    assert diversity["SPADE"] > 0  # four styles of one map: four different photos
    assert diversity.drop("SPADE").isna().all()  # no style input: not measured
    assert metrics["diversity_lpips"].isna().all()
    timing = pd.read_csv(out / "timing.csv")
    assert set(timing["method"]) == {"pix2pix", "SPADE"}
    assert (timing["seconds_per_iteration"] > 0).all()
    trainings = pd.read_csv(out / "trainings.csv")
    assert list(trainings["method"]) == ["pix2pix", "SPADE"]
    assert (trainings["train_seconds"] > 0).all() and (trainings["iterations"] == 3).all()
    for name in ("labels2photo.png", "fresh.png", "styles.png", "config.json"):
        assert (out / name).stat().st_size > 0


def _check_inpaint_tables(out):
    table = pd.read_csv(out / "table.csv")
    assert set(table["image"]) == HELD_OUT
    assert sorted(set(table["ratio"])) == [0.1, 0.2, 0.3]
    assert set(table["method"]) == set(INPAINT_METHODS)
    assert table["psnr"].map(math.isfinite).all() and table["lpips"].isna().all()
    # every method fills the same holes, and more coverage means bigger holes
    per_mask = table.groupby(["ratio", "image"])["coverage"]
    assert (per_mask.nunique() == 1).all()
    coverage = per_mask.first().unstack("ratio")
    assert (coverage[0.1] < coverage[0.2]).all() and (coverage[0.2] < coverage[0.3]).all()
    psnr = table.pivot_table(index=["ratio", "image"], columns="method", values="psnr")
    assert (psnr["biharmonic"] > psnr["degraded"]).all()
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["method"]) == set(INPAINT_METHODS)
    assert {"psnr", "ssim", "lpips"} <= set(metrics.columns)
    trainings = pd.read_csv(out / "trainings.csv")
    assert list(trainings["method"]) == ["multi-loss GAN", "gated-conv GAN"]
    assert (trainings[["train_seconds", "seconds_per_iteration"]] > 0).all().all()
    assert (out / "inpaint.png").stat().st_size > 0
    return json.loads((out / "config.json").read_text())


def test_gated_inpaint_smoke(tmp_path, smoke):
    config = _check_inpaint_tables(smoke("gated_inpaint.py", tmp_path))
    assert config["experiment"]["train_dir"] is None and config["notes"] == []


def test_gated_inpaint_train_dir(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, name in enumerate(TRAIN_IMAGES[:4]):
        crop = to_uint8(load_image(name)[:, :80, :80])
        Image.fromarray(crop).save(photos / f"photo{index}.png")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "gated_inpaint.py"), "--smoke",
         "--train-dir", str(photos), "--models", str(tmp_path / "models"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    config = _check_inpaint_tables(out)
    for name in ("restore", "gated"):
        training = config["trainings"][name]
        assert len(training["images"]) == 3 and len(training["validation"]) == 1
        assert all(str(photos) in path for path in training["images"])
    assert any("3 photographs" in note for note in config["notes"])


def test_stylegan_digits_smoke(tmp_path, smoke):
    """Every variant's rows and the conditional DCGAN baseline, judged by one classifier."""
    out = smoke("stylegan_digits.py", tmp_path)
    table = pd.read_csv(out / "table.csv")
    variants = ["mapping-8", "mapping-2", "mapping-8-path-length"]
    assert list(dict.fromkeys(table["variant"]))[:3] == variants
    for variant in variants:
        rows = table[table["variant"] == variant].set_index("method")
        assert {"real", "samples", "inversion-W", "inversion-W+", "edit"} <= set(rows.index)
        assert 0 < rows.loc["samples", "confidence"] <= 1
        assert (out / variant / "metrics.csv").exists()
    baseline = table[table["variant"].str.startswith("cgan")].set_index("method")
    assert list(baseline.index) == ["samples-cgan"]  # judged on samples only
    assert baseline.loc["samples-cgan", "images"] == 1000  # 100 per conditioning class
    assert baseline[["psnr", "class_changed", "ink_change"]].isna().all(axis=None)
    config = json.loads((out / "config.json").read_text())
    assert config["variant_configs"]["mapping-2"]["mapping_layers"] == 2
