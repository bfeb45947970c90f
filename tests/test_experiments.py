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
    assert summary["gan_enc_eve_joint_ci_contains_half_offset_0"].all()
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


def test_eve_criterion_is_joint():
    """The summary's Eve check uses simultaneous intervals: ten points whose 95% intervals end
    just below 0.5 pass, one point far from 0.5 fails."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / "ber_gan_enc.py"
    spec = importlib.util.spec_from_file_location("ber_gan_enc", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    near = pd.DataFrame({"ber": [0.495] * 10, "ci_low": [0.4901] * 10, "ci_high": [0.4999] * 10})
    assert module.joint_covers_half(near)
    far = pd.concat([near, pd.DataFrame({"ber": [0.45], "ci_low": [0.445], "ci_high": [0.455]})])
    assert not module.joint_covers_half(far)


def test_csi_learned_smoke(tmp_path, smoke):
    """qam (perfect / LS / LMMSE / block EM) and the shipped learned links under estimated CSI
    on one plot, with crossings and Eve's joint verdict."""
    out = smoke("csi_learned.py", tmp_path)
    crossings = pd.read_csv(out / "crossings.csv")
    assert {("qam", "perfect"), ("qam", "ls"), ("qam", "lmmse"), ("qam:csi=em", "ls"),
            ("ae", "ls"), ("gan-enc", "ls")} <= set(zip(crossings["system"],
                                                       crossings["estimator"], strict=True))
    eve = pd.read_csv(out / "eve.csv")
    assert set(eve["system"]) == {"gan-enc"} and len(eve) == 4
    assert (out / "ber.png").stat().st_size > 0
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_csi_learned_fast_smoke(tmp_path, smoke):
    """One pilot per fade: the learned links spread over two symbols (trained into --models with
    the setup's range), qam-ssd beside them, and every curve's slope in diversity.csv."""
    out = smoke("csi_learned.py", tmp_path, "--setup", "fast")
    models = pd.read_csv(out / "models.csv")
    assert set(models["system"]) == {"ae", "gan-enc"} and (models["spread"] == 2).all()
    assert (models["train_ebno_db"] == "[10.0, 40.0]").all()
    table = pd.read_csv(out / "diversity.csv")
    assert {("qam-ssd", "ls"), ("ae", "ls"), ("gan-enc", "ls"), ("qam", "perfect")} <= set(
        zip(table["system"], table["estimator"], strict=True))
    assert table.loc[table["system"] == "qam-ssd", "vs_ssd"].isna().all()
