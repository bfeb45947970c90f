"""Tiny-budget smoke runs of the restoration experiments (each writes its CSV and PNG files)."""

import math

import pandas as pd


def test_restoration_table_smoke(tmp_path, smoke):
    out = smoke("restoration_table.py", tmp_path)
    table = pd.read_csv(out / "table.csv")
    assert set(table["task"]) == {"sr", "inpaint", "denoise", "colour"}
    assert set(table["image"]) == {"astronaut", "coffee", "chelsea"}
    assert {"bicubic", "SRGAN x4", "biharmonic", "harmonic", "calibrated blend",
            "multi-loss GAN", "non-local means",
            "CR-SRGAN x2", "white balance + stretch", "degraded"} == set(table["method"])
    assert table["lpips"].isna().all()  # no backbone weights: unavailable, not made up
    assert table["psnr"].map(math.isfinite).all()
    for task in ("sr", "inpaint", "denoise", "colour"):
        assert (out / f"{task}.png").stat().st_size > 0
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == len(table) // 3


def test_occlusion_curve_smoke(tmp_path, smoke):
    out = smoke("occlusion_curve.py", tmp_path)
    mean = pd.read_csv(out / "mean.csv")
    assert sorted(set(mean["ratio"])) == [0.0, 0.3, 0.6]
    assert set(mean["mask"]) == {"block", "free-form"}
    assert set(mean["method"]) == {"biharmonic", "harmonic", "calibrated blend", "multi-loss GAN"}
    assert (mean.loc[mean["ratio"] == 0.0, "psnr"] == math.inf).all()  # nothing missing
    finite = mean[mean["ratio"] > 0]
    assert finite.groupby(["mask", "method"])["psnr"].apply(
        lambda s: s.is_monotonic_decreasing).all()
    assert (out / "curve.png").stat().st_size > 0
