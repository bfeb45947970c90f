"""Work units on processes: the same numbers for any --jobs, early stop and resume included."""

import os

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from channels import device_name
from commgan.cli import cli
from commgan.parallel import Backend, UnitExecutor, runs_inline


def _square(shared, unit):
    return shared * unit * unit


def _process_view(shared, unit):
    return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")


def test_workers_see_no_gpu_and_gpu_units_run_inline(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    seen = [value for _, value in UnitExecutor(2).ordered(_process_view, range(4))]
    assert all(visible == "" for _, visible in seen)
    assert {pid for pid, _ in seen} - {os.getpid()}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    inline = [value for _, value in UnitExecutor(4, device="cuda:0").ordered(_process_view,
                                                                             range(3))]
    assert {pid for pid, _ in inline} == {os.getpid()}
    assert runs_inline(1) and runs_inline(8, device="cuda:0") and not runs_inline(8)
    assert not runs_inline(1, Backend("ray"))


def test_device_names_as_sionna_wants_them():
    assert device_name("cpu") == "cpu" and device_name(None) is None
    if torch.cuda.is_available():
        assert device_name("cuda") == f"cuda:{torch.cuda.current_device()}"


@pytest.mark.parametrize("jobs", [1, 3])
def test_ordered_results_and_cancelled_units(jobs):
    stop_after = {}

    def wanted(unit):
        return unit <= stop_after.get("at", 99)

    results = []
    for unit, value in UnitExecutor(jobs, shared=2).ordered(_square, range(10), wanted):
        results.append((unit, value))
        if value >= 18:
            stop_after["at"] = unit
    assert results == [(u, 2 * u * u) for u in range(4)]


def _simulate(tmp_path, name, jobs, *extra):
    out = tmp_path / name
    result = CliRunner().invoke(cli, [
        "simulate", "--channel", "awgn", "--mod", "qpsk", "--system", "qam,qam+chacha,qam-ssd",
        "--ebno", "0:14:2", "--max-bits", "300000", "--target-errors", "300", "--jobs",
        str(jobs), "--out", str(out), "--quiet", *extra], env={"COMMGAN_KEY": "00" * 32})
    assert result.exit_code == 0, result.output
    return pd.read_csv(out / "results.csv")


def test_jobs_do_not_change_the_numbers(tmp_path):
    one = _simulate(tmp_path, "one", 1)
    two = _simulate(tmp_path, "two", 2)
    columns = ["system", "receiver", "ebno_db", "frames", "bits", "errors", "ber", "ci_low",
               "ci_high"]
    pd.testing.assert_frame_equal(one[columns], two[columns])
    assert (one.groupby("system")["ebno_db"].max() < 14).all(), "early stop was exercised"


def test_blocks_of_one_point_are_units():
    """A single long point runs as blocks on two processes: bits, errors and frame statistics
    equal the sequential simulate_point's, which stops after the same whole block."""
    from channels import WiretapChannel
    from commgan.comm.registry import build_system
    from commgan.sim.config import SimulationConfig
    from commgan.sim.engine import point_blocks, simulate_point
    from commgan.sim.sweep import run_sweep

    systems = {"qam": build_system("qam", "16qam")}
    config = SimulationConfig(channel="rayleigh", systems=("qam",), ebno_db=(14.0,),
                              target_errors=20_000, max_bits=40_000_000, batch_bits=1 << 17)
    assert len(point_blocks(config.frame_bits, config.batch_frames, config.max_bits)) > 20
    tables = [run_sweep(config, systems, progress=False, jobs=jobs) for jobs in (1, 2)]
    columns = ["frames", "bits", "errors", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(tables[0][columns], tables[1][columns])
    point = simulate_point(systems["qam"], WiretapChannel("rayleigh"), 14.0,
                           frame_bits=config.frame_bits, batch_frames=config.batch_frames,
                           target_errors=config.target_errors, max_bits=config.max_bits,
                           seed=config.seed).receivers["bob"]
    assert (point.bits, point.errors) == (tables[0]["bits"].item(), tables[0]["errors"].item())
    assert point.errors >= 20_000 and point.bits < config.max_bits  # stopped on errors, mid-way
