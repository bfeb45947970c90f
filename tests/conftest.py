"""Shared fixtures. The library leaves the global random state as it finds it
(tests/test_rng_scoping.py); fixtures that seed it restore it after their test."""

import subprocess
import sys
from pathlib import Path

import pytest
import sionna.phy
import torch

from commgan.rng import scoped_rng


@pytest.fixture
def seeded():
    """Sionna's and torch's global generators seeded with 1234 during the test, as they were
    after it."""
    with scoped_rng():
        sionna.phy.config.seed = 1234
        torch.manual_seed(1234)
        yield


@pytest.fixture
def one_thread():
    """Small networks run fastest on one thread (and leave the other core to other jobs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


ROOT = Path(__file__).resolve().parents[1]


def run_smoke(script: str, tmp_path: Path, *args: str) -> Path:
    """Run ``experiments/SCRIPT --smoke ARGS`` into ``tmp_path/out`` (models in
    ``tmp_path/models``)."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / script), "--smoke", *args,
         "--models", str(tmp_path / "models"), "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def smoke():
    """The experiment smoke runner :func:`run_smoke`."""
    return run_smoke
