"""Adding a system or a channel is one record: a toy system and a toy channel registered from
inside this test (no other file edited) run through simulate, an attack scenario and export via
the CLI; the CLI's choices come from the registries."""

import cmath
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli

from channels import CHANNELS, Channel, ChannelSpec, theory
from commgan.comm.classical import QAMSystem
from commgan.comm.registry import SYSTEMS
from commgan.comm.system import SystemSpec

PHASE = cmath.exp(0.3j)


class ToyPhaseChannel(Channel):
    """AWGN after a fixed, known phase rotation (a channel without a BER theory)."""

    name = "toy-phase"

    def coefficients(self, batch_size: int, num_symbols: int) -> torch.Tensor:
        return torch.full((batch_size, num_symbols), PHASE, dtype=torch.complex64,
                          device=self.device)


class ToyMirroredQAM(QAMSystem):
    """Gray QAM sent mirrored (x -> -x), received by undoing the mirror; no fast link."""

    name = "toy-mirrored"

    def transmit(self, bits, nonces=None):
        return -self.mapper(bits)

    def receive(self, out, nonces=None, key=None):
        return self.hard_demapper(-out.y / out.h, out.no / out.h.abs().square())

    def labelled_constellation(self):
        return None


@pytest.fixture
def toys(monkeypatch):
    monkeypatch.setitem(CHANNELS, "toy-phase", ChannelSpec(
        ToyPhaseChannel, "AWGN after a known phase rotation", theory=None,
        train_ebno_db=(0.0, 10.0)))
    monkeypatch.setitem(SYSTEMS, "toy-mirrored", SystemSpec(ToyMirroredQAM, "mirrored Gray QAM"))


def test_toy_system_and_channel_simulate(toys, tmp_path):
    out = tmp_path / "sim"
    result = run_cli(["simulate", "--channel", "toy-phase", "--mod", "qpsk", "--system",
                      "toy-mirrored,qam", "--ebno", "0,6", "--max-bits", "200000",
                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "results.csv")
    assert set(table["system"]) == {"toy-mirrored", "qam"}
    assert table["theory"].isna().all(), "a channel without theory gets no theory values"
    toy = table[table["system"] == "toy-mirrored"].set_index("ebno_db")
    qam = table[table["system"] == "qam"].set_index("ebno_db")
    awgn = theory.ber("qpsk", "awgn", toy.index.to_numpy())
    for name, rows in (("toy", toy), ("qam", qam)):
        inside = (rows["ci_low"] <= awgn) & (awgn <= rows["ci_high"])
        assert inside.all(), (name, rows[["ber", "ci_low", "ci_high"]], awgn)


def test_toy_system_attack_and_export(toys, tmp_path):
    out = tmp_path / "attack"
    result = run_cli(["attack", "--system", "toy-mirrored", "--channel", "toy-phase", "--mod",
                      "qpsk", "--scenarios", "ciphertext-only", "--ebno", "6", "--out", str(out),
                      "--quiet"])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out / "attack.csv")
    assert list(rows["system"]) == ["toy-mirrored"] and (rows["verdict"] == "broken").all()
    archive = tmp_path / "toy.npz"
    result = run_cli(["export", "--system", "toy-mirrored", "--channel", "toy-phase",
                      "--mod", "qpsk", "--frames", "16", "--frame-bits", "64", "--ebno", "10",
                      "--out", str(archive), "--quiet"])
    assert result.exit_code == 0, result.output
    with np.load(archive) as data:
        metadata = json.loads(str(data["metadata"]))
        assert data["bits"].shape == (16, 64) and data["x"].shape == (16, 32)
        np.testing.assert_allclose(data["h_bob"], PHASE, rtol=1e-6)
    assert metadata["system"] == "toy-mirrored" and metadata["channel"] == "toy-phase"


def _help(command):
    """``commgan COMMAND --help`` with click's line wrapping undone."""
    return re.sub(r"-\s+", "-", " ".join(run_cli([command, "--help"]).output.split()))


def test_help_choices_come_from_the_registries(toys):
    simulate = _help("simulate")
    assert "toy-phase" in simulate and "toy-mirrored" in simulate
    for name in list(CHANNELS) + list(SYSTEMS):
        assert name in simulate
    assert "toy-mirrored" not in _help("train"), "train lists learned systems only"
    bad = run_cli(["simulate", "--channel", "nope"])
    assert bad.exit_code == 2 and "toy-phase" in bad.output
