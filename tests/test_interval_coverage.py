"""Smoke run of experiments/ber_interval_coverage.py: files written, columns consistent."""

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "ber_interval_coverage.py"


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("ber_interval_coverage", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("coverage") / "out"
    result = CliRunner().invoke(module.main, ["--smoke", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, module


def test_writes_every_table(smoke_out):
    out, _ = smoke_out
    for name in ("repetitions.csv", "coded.csv", "by_failures.csv", "uncoded.csv",
                 "uncoded_summary.csv", "experiment.json"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "experiment.json").read_text())["repetitions"] == 6


def test_repetitions_are_consistent(smoke_out):
    out, module = smoke_out
    reps = pd.read_csv(out / "repetitions.csv")
    point = module.SMOKE["coded"][0]
    assert len(reps) == module.SMOKE["repetitions"]
    assert (reps["frames"] == point.frames).all()
    assert (reps["bits"] == point.frames * 512).all()
    assert (reps["frame_errors"] <= reps["frames"]).all()
    assert (reps["errors"] >= reps["frame_errors"]).all()
    for kind in ("new", "old"):
        assert (reps[f"{kind}_low"] <= reps["ber"]).all()
        assert (reps["ber"] <= reps[f"{kind}_high"]).all()
    # Repetitions are distinct blocks: not all draw the same frames.
    assert reps["errors"].nunique() > 1


def test_coded_summary_is_consistent(smoke_out):
    out, module = smoke_out
    coded = pd.read_csv(out / "coded.csv").iloc[0]
    reps = pd.read_csv(out / "repetitions.csv")
    point = module.SMOKE["coded"][0]
    assert coded["truth_frames"] == point.truth_frames
    assert coded["truth_low"] <= coded["truth_ber"] <= coded["truth_high"]
    for kind in ("new", "old"):
        hits = ((reps[f"{kind}_low"] <= coded["truth_ber"])
                & (coded["truth_ber"] <= reps[f"{kind}_high"])).sum()
        assert coded[f"coverage_{kind}"] == pytest.approx(hits / len(reps))
        assert coded[f"coverage_{kind}_low"] <= coded[f"coverage_{kind}"]
        assert coded[f"coverage_{kind}"] <= coded[f"coverage_{kind}_high"]
        misses = coded[f"{kind}_above_truth"] + coded[f"{kind}_below_truth"]
        assert misses == len(reps) - hits
    by_d = pd.read_csv(out / "by_failures.csv")
    assert by_d["repetitions"].sum() == len(reps)


def test_uncoded_ratios(smoke_out):
    out, module = smoke_out
    runs = pd.read_csv(out / "uncoded.csv")
    summary = pd.read_csv(out / "uncoded_summary.csv")
    grid = module.SMOKE["uncoded"]["awgn"]
    assert len(runs) == len(grid) * module.SMOKE["uncoded_repetitions"]
    assert ((runs["errors"] >= module.SMOKE["target_errors"])
            | (runs["bits"] >= module.SMOKE["max_bits"])).all()
    assert runs["width_ratio"].to_numpy() == pytest.approx(
        (runs["new_width"] / runs["old_width"]).to_numpy())
    assert summary["within_10pct"].tolist() == summary["median_ratio"].between(0.9, 1.1).tolist()
