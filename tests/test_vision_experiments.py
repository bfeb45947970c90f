"""Tiny-budget smoke runs of the restoration experiments (each writes its CSV and PNG files)."""

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


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


def test_inpainting_bounds_smoke(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, str(ROOT / "experiments" / "inpainting_bounds.py"),
                             "--smoke", "--out", str(out)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    bounds = pd.read_csv(out / "bounds.csv")
    assert set(bounds["method"]) == {"biharmonic", "harmonic", "calibrated blend",
                                     "oracle best of two", "oracle blend"}
    psnr = bounds.pivot_table(index=["image", "mask", "ratio"], columns="method", values="psnr")
    # the per-hole choice is never worse than either fill on the whole image
    assert (psnr["oracle best of two"] >= psnr[["biharmonic", "harmonic"]].max(axis=1) - 1e-9).all()
    # w in [0, 1] contains both fills: no worse than the choice, up to 8-bit rounding
    assert (psnr["oracle blend"] >= psnr["oracle best of two"] - 0.05).all()
    gains = pd.read_csv(out / "gains.csv")
    assert (gains["biharmonic"] == 0).all() and len(gains) == 3
