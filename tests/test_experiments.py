"""Tiny-budget smoke runs of every experiment script (each writes its CSV and PNG files)."""

import pandas as pd
import pytest


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_ber_ae_smoke(channel, request):
    out = request.getfixturevalue("ber_ae_out")
    table = pd.read_csv(out / channel / "results.csv")
    assert set(table["system"]) == {"ae", "qam"}
    assert (out / channel / "ber.png").stat().st_size > 0


@pytest.fixture(scope="module")
def ber_ae_out(tmp_path_factory, smoke):
    return smoke("ber_ae.py", tmp_path_factory.mktemp("ber_ae"))


def test_ber_ae_gaps(ber_ae_out):
    gaps = pd.read_csv(ber_ae_out / "gaps.csv")
    assert list(gaps["channel"]) == ["awgn", "rayleigh"]
    assert {"gap_at_0.01_db", "gap_at_0.001_db", "max_point_gap_db"} <= set(gaps.columns)


def test_ber_gan_enc_smoke(tmp_path, smoke):
    out = smoke("ber_gan_enc.py", tmp_path)
    summary = pd.read_csv(out / "summary.csv")
    assert summary["gan_enc_eve_ci_contains_half_offset_0"].all()
    table = pd.read_csv(out / "awgn" / "offset_10" / "results.csv")
    assert {"qam", "ae", "gan-enc", "gan-enc-naive"} == set(table["system"])
    assert set(table["receiver"]) == {"bob", "eve"}
    assert (out / "awgn" / "offset_0" / "ber.png").exists()


def test_security_eval_smoke(tmp_path, smoke):
    out = smoke("security_eval.py", tmp_path)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["channel"]) == {"awgn", "rayleigh"}
    assert {"gan-enc", "ae", "gan-enc-naive", "qam", "qam+chacha"} == set(summary["system"])
    assert set(summary.loc[summary["system"] == "gan-enc", "scenario"]) == {
        "ciphertext-only", "known-plaintext", "better-channel", "wrong-key", "leakage",
        "nonce-reuse"}
    assert (out / "rayleigh" / "attack.png").stat().st_size > 0


def test_ber_fast_fading_smoke(tmp_path, smoke):
    out = smoke("ber_fast_fading.py", tmp_path)
    table = pd.read_csv(out / "results.csv")
    assert set(table["system"]) == {"qam", "qam-ssd"}
    at_20 = table[table["ebno_db"] == 20.0].set_index("system")["ber"]
    assert at_20["qam-ssd"] < at_20["qam"], "signal-space diversity beats Gray QAM at 20 dB"
    crossings = pd.read_csv(out / "crossings.csv")
    assert {"system", "target_ber", "ebno_db", "gap_to_qam-ssd_db"} <= set(crossings.columns)
