"""gan-enc-ldpc (encrypt, then code, then the GAN modulation) and the attack suite on coded
links: Bob decodes, Eve is a coin flip jointly, the suite's trained Eves learn the code bits."""

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from commgan.cli import cli
from commgan.comm.eavesdroppers import EveTraining, fit_key_stream
from commgan.comm.keys import KeyStream
from commgan.comm.registry import build_system
from commgan.rng import NonceCounter, derive_seed, seeded
from commgan.security.attack import AttackBudget, AttackConfig, run_attack
from commgan.security.wiretap import wiretap_frames
from commgan.sim.analysis import eve_joint_verdict
from commgan.sim.stats import clopper_pearson
from commgan.systems import SystemContext, load_or_train

KEY = bytes(range(32))
ENV = {"COMMGAN_KEY": KEY.hex()}
TINY = AttackBudget(train_bits=25_600, val_bits=5_120, test_bits=51_200, restarts=1,
                    eve=EveTraining(steps=150), critic_steps=200, key_fit_steps=150)


def shipped(tmp_path, name="gan-enc-ldpc"):
    """The shipped awgn 16QAM model of ``name`` (never trained here), with KEY."""
    return load_or_train(name, SystemContext(mod="16qam", channel="awgn", key=KEY,
                                             models_dir=tmp_path, train_if_missing=False)).system


@pytest.mark.parametrize("name", ["qam-ldpc+chacha", "gan-enc-ldpc"])
def test_channel_bits_are_the_interleaved_codeword_and_linear(name):
    """Channel bits of m XOR s = channel bits of m XOR those of s (the code is linear), which
    is what lets the key stream on the channel bits stand for the message's."""
    system = build_system(name, "16qam", key=KEY)
    with seeded(3):
        m, s = (torch.randint(0, 2, (3, 1024)).float() for _ in range(2))
    c = system.channel_bits
    assert c(m).shape == (3, 2048)
    assert torch.equal(torch.remainder(c(m) + c(s), 2), c(torch.remainder(m + s, 2)))


def test_bob_decodes_and_only_the_key_removes_the_cipher(tmp_path):
    system = shipped(tmp_path)
    assert system.bits_per_channel_use == 2.0 and system.block_bits == 512
    nonces = torch.arange(40)
    with seeded(1):
        bits = torch.randint(0, 2, (40, 1024)).float()
        x = system.transmit(bits, nonces)
        y = x + 0.25 * torch.complex(torch.randn_like(x.real), torch.randn_like(x.real))
    from channels import ChannelOutput
    out = ChannelOutput(y, torch.ones_like(y), torch.tensor(0.125))
    assert x.shape == (40, 512)
    assert torch.equal(system.receive(out, nonces), bits)
    wrong = bytes([KEY[0] ^ 1]) + KEY[1:]
    for guess in (system.receive(out, nonces, key=wrong), system.eavesdrop(out)):
        assert abs(float((guess != bits).float().mean()) - 0.5) < 0.01


def test_eve_is_a_coin_flip_jointly_under_coding(tmp_path):
    """simulate with the shipped model: Bob's coded BER falls through the waterfall, Eve's
    Clopper-Pearson intervals at 1 - 0.05/3 all lie in the secure band."""
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, [
        "simulate", "--channel", "awgn", "--mod", "16qam", "--system", "gan-enc-ldpc",
        "--ebno", "3,4,6", "--frame-bits", "1024", "--max-bits", "131072",
        "--target-errors", "100000000", "--models", str(tmp_path / "m"), "--out", str(out),
        "--quiet"], env=ENV)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "results.csv")
    bob = table[table["receiver"] == "bob"].set_index("ebno_db")
    assert bob.loc[6.0, "ber"] < 1e-3 < bob.loc[3.0, "ber"]
    eve = eve_joint_verdict(table)
    assert len(eve) == 3 and eve["holds"].all(), eve


def test_attack_suite_on_a_coded_link(tmp_path):
    """Known plaintext against the code bits: gan-enc-ldpc holds, key-free qam-ldpc is broken
    (Eve at the channel's raw BER); nonce reuse breaks gan-enc-ldpc as far; leakage tells them
    apart."""
    systems = {"gan-enc-ldpc": shipped(tmp_path), "qam-ldpc": build_system("qam-ldpc", "16qam")}
    config = AttackConfig(systems=tuple(systems), channel="awgn",
                          scenarios=("known-plaintext", "nonce-reuse", "leakage"),
                          ebno_db=(6.0,), budget=TINY, eve_sizes=("bob-arch",), seed=1,
                          frame_bits=1024)
    rows = run_attack(config, systems, KEY)
    verdict = rows.set_index(["system", "scenario", "eve_model"])["verdict"]
    known = rows[rows["scenario"] == "known-plaintext"].set_index("system")
    assert known.loc["gan-enc-ldpc", "verdict"] == "holds"
    assert known.loc["qam-ldpc", "verdict"] == "broken" and known.loc["qam-ldpc", "ber"] < 0.2
    assert known["bits"].eq(51_200 * 2).all() and known["note"].str.contains("code bits").all()
    reuse = rows[(rows["system"] == "gan-enc-ldpc") & (rows["scenario"] == "nonce-reuse")]
    assert reuse["verdict"].iloc[0] == "broken"  # as well as Eve does on the key-free link:
    assert reuse["ber"].iloc[0] < 1.2 * known.loc["qam-ldpc", "ber"]
    leakage = verdict.xs("leakage", level="scenario")
    assert (leakage.loc["gan-enc-ldpc"] == "holds").all()
    assert (leakage.loc["qam-ldpc"] == "broken").all()


def test_nonce_reuse_fit_finds_the_key_streams_codeword():
    """Encrypt-then-code under one repeated nonce: the fit through Bob's public demapper
    recovers the codeword of the key stream exactly at 20 dB."""
    system = build_system("qam-ldpc+chacha", "16qam", key=KEY)
    system.keystream = KeyStream(KEY, allow_nonce_reuse=True)
    nonces = np.full(64, NonceCounter(derive_seed("reuse", 1)).fresh(1)[0])
    frames = wiretap_frames(system, "awgn", 20.0, nonces, 512, seed=1)
    z_hat = fit_key_stream(system, frames.seen_by_eve(), steps=200)
    stream = torch.from_numpy(KeyStream(KEY).decryption_bits(nonces[:1], 512)).float()
    assert torch.equal(z_hat, system.channel_bits(stream)[0])


def test_the_joint_eve_verdict_is_simultaneous():
    """Over m = 10 Eve rows the intervals are Clopper-Pearson at 1 - 0.05/m (wider than 95%);
    coin-flip rows hold, a row at 0.492 whose joint interval reaches below 0.49 does not."""
    rows = pd.DataFrame({"receiver": ["eve"] * 10 + ["bob"], "errors": [50_000] * 10 + [0],
                         "bits": [100_000] * 11})
    verdict = eve_joint_verdict(rows)
    assert len(verdict) == 10 and verdict["holds"].all()
    single = clopper_pearson(50_000, 100_000, 0.95)
    assert verdict["joint_high"].iloc[0] - verdict["joint_low"].iloc[0] > single[1] - single[0]
    rows.loc[0, "errors"] = 49_200
    assert not eve_joint_verdict(rows)["holds"].iloc[0]
