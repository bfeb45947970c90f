"""The Ray backend (issue 18): the same units as Ray tasks give the same numbers as local
worker processes. Skipped where Ray is not installed (pip install 'commgan[ray]')."""

import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from commgan.comm.registry import build_system  # noqa: E402
from commgan.parallel import Backend  # noqa: E402
from commgan.sim.config import SimulationConfig  # noqa: E402
from commgan.sim.sweep import run_sweep  # noqa: E402

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=256 * 2**20)
    yield Backend("ray")
    ray.shutdown()


def test_simulate_on_ray_equals_local(local_ray, tmp_path):
    """qam and a (briefly trained) ae: bits, errors and intervals per row identical; the
    points' blocks are the tasks."""
    from channels import get_modulation
    from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining, train_autoencoder

    ae = AutoencoderSystem(get_modulation("16qam"))
    train_autoencoder(ae, "rayleigh", AutoencoderTraining(steps=30))
    systems = {"qam": build_system("qam", "16qam"), "ae": ae.eval()}
    config = SimulationConfig(channel="rayleigh", systems=("qam", "ae"),
                              ebno_db=(0.0, 6.0, 12.0), target_errors=5000, max_bits=4_000_000,
                              batch_bits=1 << 17)
    local = run_sweep(config, systems, progress=False, jobs=2)
    remote = run_sweep(config, systems, tmp_path / "out", progress=False, jobs=2,
                       backend=local_ray)
    columns = ["system", "receiver", "ebno_db", "frames", "bits", "errors", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(local[columns], remote[columns])
    assert (tmp_path / "out" / "results.csv").exists()


def test_attack_scenario_on_ray_equals_local(local_ray):
    from commgan.comm.eavesdroppers import EveTraining
    from commgan.security.attack import AttackBudget, AttackConfig, run_attack

    budget = AttackBudget(train_bits=25_600, val_bits=5_120, test_bits=51_200, restarts=1,
                          eve=EveTraining(steps=60), critic_steps=50, key_fit_steps=20)
    config = AttackConfig(systems=("qam+chacha",), channel="awgn",
                          scenarios=("known-plaintext", "wrong-key"), ebno_db=(6.0, 12.0),
                          budget=budget, eve_sizes=("bob-arch",), wrong_key_distances=(1,))
    systems = {"qam+chacha": build_system("qam+chacha", "16qam", key=KEY)}
    local = run_attack(config, systems, KEY, jobs=1).drop(columns="seconds")
    systems = {"qam+chacha": build_system("qam+chacha", "16qam", key=KEY)}
    remote = run_attack(config, systems, KEY, jobs=2, backend=local_ray).drop(columns="seconds")
    pd.testing.assert_frame_equal(local, remote)


def test_backend_errors_are_one_line():
    with pytest.raises(ValueError, match="backend"):
        Backend("dask")


@pytest.mark.parametrize("first, second", [("local", "ray"), ("ray", "ray"), ("ray", "local")])
def test_an_interrupted_sweep_resumes_on_either_backend(local_ray, tmp_path, monkeypatch,
                                                        first, second):
    """Finished points are kept whatever the backend: a run stopped after its second point
    resumes (on the same or the other backend), and the table equals an uninterrupted one."""
    import commgan.sim.sweep as sweep

    systems = {"qam": build_system("qam", "16qam")}
    config = SimulationConfig(channel="awgn", systems=("qam",), ebno_db=(0.0, 2.0, 4.0, 6.0),
                              target_errors=2000, max_bits=2_000_000)
    whole = run_sweep(config, systems, progress=False, jobs=1)
    save, saved = sweep._save_progress, []

    def stop_after_two(out, config, rows):
        save(out, config, rows)
        saved.append(len(rows))
        if len(saved) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "_save_progress", stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, systems, tmp_path / "o", progress=False, jobs=2,
                  backend=Backend(first))
    monkeypatch.setattr(sweep, "_save_progress", save)
    messages = []
    resumed = run_sweep(config, systems, tmp_path / "o", progress=False, jobs=2,
                        backend=Backend(second), log=messages.append)
    assert any("resuming: 2 points done" in message for message in messages), messages
    columns = ["ebno_db", "frames", "bits", "errors", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(whole[columns], resumed[columns])


def test_cli_backend_ray(local_ray, tmp_path):
    from click.testing import CliRunner

    from commgan.cli import cli

    runner = CliRunner()
    args = ["simulate", "--channel", "awgn", "--system", "qam", "--ebno", "0,4",
            "--max-bits", "400000", "--target-errors", "500", "--quiet"]
    local = runner.invoke(cli, [*args, "--out", str(tmp_path / "a")])
    remote = runner.invoke(cli, [*args, "--backend", "ray", "--out", str(tmp_path / "b")])
    assert local.exit_code == remote.exit_code == 0, remote.output
    tables = [pd.read_csv(tmp_path / name / "results.csv") for name in ("a", "b")]
    pd.testing.assert_frame_equal(tables[0][["bits", "errors"]], tables[1][["bits", "errors"]])
    wrong = runner.invoke(cli, [*args, "--ray-address", "auto", "--out", str(tmp_path / "c")])
    assert wrong.exit_code != 0 and "--ray-address applies to --backend ray" in wrong.output
    assert not (tmp_path / "c").exists()


def test_export_and_converge_on_ray_equal_local(local_ray):
    """Export chunks and converge trainings as Ray tasks: the same arrays and metrics."""
    from commgan.channelgan_study import ConvergenceConfig, run_convergence
    from commgan.security.export import make_wiretap_data

    args = dict(channel="rayleigh", ebno_db=6.0, frames=2100, frame_bits=2048, splits="a,b:500")
    local, remote = (make_wiretap_data(build_system("qam+chacha", "16qam", key=KEY), **args,
                                       jobs=2, backend=backend)
                     for backend in (None, local_ray))
    for split in ("a", "b"):
        for field in ("bits", "nonce", "x", "y_bob", "y_eve", "h_bob", "h_eve"):
            assert (getattr(local.splits[split], field)
                    == getattr(remote.splits[split], field)).all(), (split, field)
    config = ConvergenceConfig(models=("gan", "dcgan"), seeds=2,
                               iterations={"gan": 4, "dcgan": 4}, batch_blocks=16, window=2,
                               smooth=1, fidelity=False)
    results = [run_convergence(config, jobs=2, backend=backend) for backend in (None, local_ray)]
    histories = [result.histories[["model", "seed", "iteration", "loss_d", "loss_g"]]
                 for result in results]
    assert len(histories[0]) == 2 * 2 * 4
    pd.testing.assert_frame_equal(*histories)
