"""Shared fixtures: CPU only, and Sionna's global seed restored after every test."""

import pytest
import sionna.phy
import torch


@pytest.fixture(autouse=True)
def _restore_global_seed():
    """Sionna's config is global; do not let one test's seed leak into the next."""
    saved = sionna.phy.config.seed
    torch_state = torch.random.get_rng_state()
    yield
    sionna.phy.config.seed = saved
    torch.random.set_rng_state(torch_state)


@pytest.fixture
def seeded():
    """Seed Sionna's and torch's generators deterministically."""
    sionna.phy.config.seed = 1234
    torch.manual_seed(1234)
