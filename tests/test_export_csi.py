"""Exports under estimated CSI: the archive carries what the simulation's receiver used (the
pilots' estimate, its error variance, the received pilots, the noise with the pilots charged), so
Bob's receiver on the archive gives the simulated BER."""

import os

import numpy as np
import pytest

from channels import WiretapChannel, noise_variance
from commgan.comm.registry import build_system
from commgan.security.archive import CSI_FIELDS, FIELDS, bob_decisions, load_wiretap
from commgan.security.export import export_wiretap
from commgan.security.scoring import score_bits
from commgan.sim.engine import simulate_point

LS = "rayleigh:coherence=32,pilots=2,estimator=ls"
KEY = bytes(range(32))


def test_archive_fields_and_noise(tmp_path):
    system = build_system("qam", "16qam")
    metadata = export_wiretap(tmp_path / "a.npz", system, LS, 20.0, frames=40, frame_bits=480)
    assert metadata["pilots"] == {"data_per_block": 30, "blocks": 4, "pilots": 2,
                                  "estimator": "ls"}
    assert metadata["no_bob"] == pytest.approx(float(noise_variance(20.0, 4 * 30 / 32)))
    assert set(CSI_FIELDS) <= set(metadata["fields"])
    split = load_wiretap(tmp_path / "a.npz")["all"]
    assert split.fields == FIELDS + CSI_FIELDS
    assert split.pilots_bob.shape == (40, 4, 2) and split.csi_var_bob.shape == (40, 120)
    np.testing.assert_allclose(split.csi_var_bob, metadata["no_bob"] / 2, rtol=1e-6)
    plain = export_wiretap(tmp_path / "b.npz", system, "rayleigh", 20.0, frames=4,
                           frame_bits=480)
    assert plain["pilots"] is None
    assert load_wiretap(tmp_path / "b.npz")["all"].fields == FIELDS


@pytest.mark.parametrize("system_name", ["qam:csi=em", "qam+chacha"])
def test_bob_on_the_archive_matches_simulate(tmp_path, system_name):
    """Bob's BER from the archive (EM over the blocks for csi=em) lies inside its 95% interval
    around what ``simulate`` measures at the same point with 10x the bits."""
    export_wiretap(tmp_path / "c.npz", build_system(system_name, "16qam", key=KEY), LS, 22.0,
                   frames=2000, frame_bits=480)
    archive = load_wiretap(tmp_path / "c.npz")
    bob = score_bits(archive["all"].bits, bob_decisions(
        build_system(system_name, "16qam", key=KEY), archive["all"], archive.metadata))
    point = simulate_point(build_system(system_name, "16qam", key=os.urandom(32)),
                           WiretapChannel(LS), 22.0, frame_bits=480, batch_frames=2000,
                           target_errors=1 << 40, max_bits=10 * 2000 * 480, seed=5)
    simulated = point.receivers["bob"].ber
    assert bob.ci_low <= simulated <= bob.ci_high, (bob, simulated)
