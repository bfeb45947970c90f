"""The attack suite: estimators, the key-stream fit, verdicts, the CLI, and that it has teeth."""


import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import commgan.security.attack as attack_module
from channels import get_modulation
from commgan.cli import cli
from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining, train_autoencoder
from commgan.comm.eavesdroppers import (
    EveTraining,
    dv_lower_bound,
    eve_config,
    fit_key_stream,
    make_eve,
    parameter_count,
    plugin_leakage,
)
from commgan.comm.keys import KeyStream
from commgan.comm.registry import SYSTEMS, build_system
from commgan.comm.transceiver import TransceiverConfig
from commgan.errors import CommganError
from commgan.rng import NonceCounter, derive_seed
from commgan.security.attack import ATTACK_COLUMNS, AttackBudget, AttackConfig, run_attack
from commgan.security.scenarios import SCENARIOS, flip_key_bits, parse_scenarios
from commgan.security.wiretap import wiretap_frames
from commgan.sim.stats import security_verdict

KEY = bytes(range(32))
TINY = AttackBudget(train_bits=25_600, val_bits=5_120, test_bits=102_400, restarts=1,
                    eve=EveTraining(steps=150), critic_steps=200, key_fit_steps=100)


@pytest.mark.parametrize("distance", [0, 1, 8, 128, 256])
def test_flip_key_bits_has_exact_hamming_distance(distance):
    wrong = flip_key_bits(KEY, distance, seed=3)
    flipped = np.unpackbits(np.frombuffer(KEY, np.uint8) ^ np.frombuffer(wrong, np.uint8))
    assert flipped.sum() == distance and len(wrong) == 32
    assert wrong == flip_key_bits(KEY, distance, seed=3)


def test_parse_scenarios():
    assert parse_scenarios("all") == tuple(SCENARIOS)
    assert parse_scenarios("leakage, wrong-key,leakage") == ("leakage", "wrong-key")
    with pytest.raises(CommganError, match="unknown scenario 'bogus'"):
        parse_scenarios("leakage,bogus")
    with pytest.raises(CommganError, match="empty"):
        parse_scenarios(" , ")


def test_reference_systems_come_from_the_registry():
    references = sorted(name for name, spec in SYSTEMS.items() if spec.attack_reference)
    config = AttackConfig(systems=("gan-enc", "qam"), scenarios=("wrong-key", "reference"))
    jobs = config.attacked_systems()
    assert jobs[:2] == [("gan-enc", ("wrong-key",)), ("qam", ("wrong-key",))]
    assert jobs[2:] == [(name, ("reference",)) for name in references
                        if name not in ("gan-enc", "qam")]


def test_every_scenario_runs_at_each_point_or_once_per_system():
    for name, scenario in SCENARIOS.items():
        assert (scenario.at_point is None) != (scenario.per_system is None), name
    assert sorted(s.run_order for s in SCENARIOS.values()) == list(range(len(SCENARIOS)))


def test_verdict_band():
    assert security_verdict(0.495, 0.505) == "holds"
    assert security_verdict(0.489, 0.501) == "broken"
    assert security_verdict(0.499, 0.512) == "broken"
    assert security_verdict(0.03, 0.04) == "broken"


def test_large_eve_is_2x_wide_2x_deep():
    bob = TransceiverConfig(4)
    large = eve_config(bob, "large")
    assert (large.hidden, large.decoder_layers) == (2 * bob.hidden, 2 * bob.decoder_layers)
    qam = build_system("qam", "16qam")
    ratio = parameter_count(make_eve(qam, "large", "cpu")) / parameter_count(
        make_eve(qam, "bob-arch", "cpu"))
    assert ratio > 4


def _frames(name, frames, ebno_db=10.0, channel="awgn", key=KEY, nonces=None):
    system = build_system(name, "16qam", key=key)
    nonces = NonceCounter(derive_seed("nonces", 1)).fresh(frames) if nonces is None else nonces
    return system, wiretap_frames(system, channel, ebno_db, nonces, 256, seed=5)


def test_leakage_estimators_tell_qam_from_encrypted_qam():
    _, clear = _frames("qam", 400)
    _, secret = _frames("qam+chacha", 400)
    half = 200
    bound_clear = dv_lower_bound(clear.bits[:half], clear.x[:half], clear.bits[half:],
                                 clear.x[half:], 4, steps=200, seed=0)
    bound_secret = dv_lower_bound(secret.bits[:half], secret.x[:half], secret.bits[half:],
                                  secret.x[half:], 4, steps=200, seed=0)
    assert bound_clear["ci_low"] > 0.5 and bound_clear["bits"] <= 1.0 + 1e-6
    assert bound_secret["ci_low"] <= 0.0 < bound_clear["ci_low"]
    plug_clear = plugin_leakage(clear.bits, clear.x, 4)
    plug_secret = plugin_leakage(secret.bits, secret.x, 4)
    assert plug_clear["bits"] == pytest.approx(1.0, abs=0.02)
    assert plug_secret["bits"] <= plug_secret["null_bits"] < 0.01


def test_nonce_reuse_key_stream_fit_recovers_the_shared_key_stream():
    system = build_system("qam+chacha", "16qam", key=KEY)
    with pytest.raises(CommganError, match="same"):
        system.keystream.encryption_bits(np.array([7, 7]), 8)
    system.keystream = KeyStream(KEY, allow_nonce_reuse=True)
    frames = wiretap_frames(system, "awgn", 20.0, np.full(64, 7), 256, seed=1)
    z_hat = fit_key_stream(system, frames.seen_by_eve(), steps=150)
    z = torch.from_numpy(KeyStream(KEY).decryption_bits(np.array([7]), 256)[0]).float()
    assert torch.equal(z_hat, z)


def test_known_plaintext_breaks_ae_within_20_percent_of_bob_at_10_db():
    """The suite's proof of teeth: an unencrypted learned link is broken at small budget."""
    torch.manual_seed(0)
    ae = AutoencoderSystem(get_modulation("16qam"))
    train_autoencoder(ae, "awgn", AutoencoderTraining(steps=400, transceiver=ae.config))
    ae.eval()
    config = AttackConfig(systems=("ae",), channel="awgn", scenarios=("known-plaintext",),
                          ebno_db=(10.0,), budget="small", eve_sizes=("bob-arch",), seed=1)
    results = run_attack(config, {"ae": ae}, KEY)
    row = results.iloc[0]
    assert row["verdict"] == "broken"
    assert row["ber"] <= 1.2 * row["bob_ber"], (row["ber"], row["bob_ber"])
    assert list(results.columns) == ATTACK_COLUMNS


def test_qam_chacha_holds_except_nonce_reuse():
    system = build_system("qam+chacha", "16qam", key=KEY)
    scenarios = ("ciphertext-only", "known-plaintext", "better-channel", "wrong-key",
                 "nonce-reuse")
    config = AttackConfig(systems=("qam+chacha",), channel="rayleigh", scenarios=scenarios,
                          ebno_db=(10.0,), budget=TINY, wrong_key_distances=(1,))
    results = run_attack(config, {"qam+chacha": system}, KEY)
    reuse = results["scenario"] == "nonce-reuse"
    assert (results.loc[~reuse, "verdict"] == "holds").all(), results
    assert results.loc[reuse, "verdict"].item() == "broken"
    assert results.loc[reuse, "ber"].item() < 0.2
    assert "refused by default" in results.loc[reuse, "note"].item()


@pytest.mark.parametrize("args, message", [
    (["--scenarios", "bogus"], "unknown scenario"),
    (["--system", "nope"], "unknown system"),
    (["--ebno", "ten"], "does not parse"),
    (["--frame-bits", "250"], "multiple of 4"),
    (["--budget", "huge"], "huge"),
])
def test_attack_cli_bad_input(tmp_path, args, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["attack", "--out", str(out), *args])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], lines
    assert not out.exists()


def test_attack_cli_bad_key_writes_nothing(tmp_path):
    key_file = tmp_path / "key.hex"
    key_file.write_text("abc")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["attack", "--system", "qam+chacha", "--key", str(key_file),
                                      "--out", str(out)])
    assert result.exit_code != 0 and "expected 64 hex" in result.output
    assert not out.exists()


def test_attack_cli_writes_results_and_never_the_key(tmp_path, monkeypatch):
    monkeypatch.setitem(attack_module.BUDGETS, "small", TINY)
    key_file = tmp_path / "key.hex"
    key_file.write_text(KEY.hex())
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "attack", "--system", "qam+chacha", "--channel", "awgn", "--ebno", "10",
        "--scenarios", "ciphertext-only,wrong-key,leakage", "--key", str(key_file),
        "--out", str(out), "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"attack.csv", "attack.png", "config.json"}
    table = pd.read_csv(out / "attack.csv")
    assert set(table["scenario"]) == {"ciphertext-only", "wrong-key", "leakage"}
    assert "holds" in result.output
    for path in [*out.iterdir()]:
        data = path.read_bytes()
        assert KEY.hex().encode() not in data.lower() and KEY not in data
    assert KEY.hex() not in result.output


def test_plot_of_leakage_rows_only(tmp_path):
    """An attack of the leakage scenario alone has no BER rows: the plot says so."""
    from commgan.security.report import plot_attack

    rows = pd.DataFrame([{"system": "gan-enc", "scenario": "leakage", "eve_model": "critic",
                          "ebno_db": float("nan"), "ber": float("nan"), "ci_low": 0.0,
                          "ci_high": 0.0, "bob_ber": float("nan")}])
    plot_attack(rows, tmp_path / "attack.png", "leakage only")
    assert (tmp_path / "attack.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_attack_units_are_identical_for_any_jobs():
    """Every unit (scenario x system x Eb/N0) is seeded by its labels: 1 or 2 worker processes
    give the same table, row for row."""
    system = build_system("qam+chacha", "16qam", key=KEY)
    config = AttackConfig(systems=("qam+chacha",), channel="rayleigh",
                          scenarios=("ciphertext-only", "known-plaintext", "wrong-key",
                                     "nonce-reuse"),
                          ebno_db=(4.0, 10.0), budget=TINY, eve_sizes=("bob-arch",),
                          wrong_key_distances=(1,))
    tables = [run_attack(config, {"qam+chacha": system}, KEY, jobs=jobs).drop(columns="seconds")
              for jobs in (1, 2)]
    assert len(tables[0]) == 2 * 4
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert tables[0]["scenario"].tolist()[:4] == ["ciphertext-only", "known-plaintext",
                                                   "wrong-key", "nonce-reuse"]


def test_budget_help_states_the_budgets():
    """The --budget help text gives each budget's known bits and restarts as BUDGETS has them."""
    import re

    from click.testing import CliRunner

    from commgan.cli import cli
    from commgan.security.attack import BUDGETS

    text = " ".join(CliRunner().invoke(cli, ["attack", "--help"]).output.split())
    for name, budget in BUDGETS.items():
        match = re.search(rf"{name}: N = ([0-9.e]+)(?: known bits)?, (\d+) restarts", text)
        assert match, (name, text)
        assert float(match.group(1)) == pytest.approx(budget.train_bits, rel=0.05)
        assert int(match.group(2)) == budget.restarts
