"""The ``commgan`` CLI through click's CliRunner: a real run, resume, and every bad input
(one error line, non-zero exit, no result file)."""

import json
import os

import pandas as pd
import pytest
from helpers import one_error_line, run_cli

from commgan.cli import parse_ebno
from commgan.errors import CommganError
from commgan.sim.sweep import PROGRESS_FILE, RESULT_FILES

KEY_HEX = bytes(range(32)).hex()
FAST = ["--ebno", "0,10", "--max-bits", "200000", "--target-errors", "200", "--quiet"]


def test_simulate_writes_results_plot_and_config(tmp_path):
    out = tmp_path / "run"
    result = run_cli(["simulate", "--channel", "rayleigh", "--mod", "16qam", "--out", str(out),
                      "--system", "qam,qam+chacha", *FAST])
    assert result.exit_code == 0, result.output
    for name in RESULT_FILES:
        assert (out / name).stat().st_size > 0
    table = pd.read_csv(out / "results.csv")
    for column in ["system", "receiver", "channel", "mod", "ebno_db", "bits", "errors", "ber",
                   "ci_low", "ci_high", "theory", "bits_per_s"]:
        assert column in table.columns
    assert set(table["system"]) == {"qam", "qam+chacha"}
    assert set(table[table["system"] == "qam+chacha"]["receiver"]) == {"bob", "eve"}
    assert (out / "ber.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["channel"] == "rayleigh" and config["key_source"] == "random"
    assert not (out / PROGRESS_FILE).exists()
    assert "qam+chacha" in result.output


def test_resume_skips_finished_points(tmp_path):
    out = tmp_path / "run"
    args = ["simulate", "--channel", "awgn", "--system", "qam", "--out", str(out), *FAST]
    assert run_cli(args).exit_code == 0
    full = pd.read_csv(out / "results.csv")
    # pretend the run died after its first point: keep only that row in a progress file
    from commgan.sim.config import SimulationConfig
    from commgan.sim.sweep import _save_progress

    config = json.loads((out / "config.json").read_text())["config"]
    _save_progress(out, SimulationConfig.from_dict(config), full.iloc[:1])
    (out / "results.csv").unlink()
    result = run_cli(args[:-1])  # without --quiet, to see the log line
    assert result.exit_code == 0, result.output
    assert "resuming: 1 points done" in result.output
    again = run_cli(args[:-1])  # a finished sweep with the same config is reused, not redone
    assert "resuming: 2 points done" in again.output
    resumed = pd.read_csv(out / "results.csv")
    timing = ["seconds", "bits_per_s"]
    pd.testing.assert_frame_equal(full.drop(columns=timing), resumed.drop(columns=timing))


def test_key_never_written(tmp_path):
    key_file = tmp_path / "k.key"
    key_file.write_text(KEY_HEX)
    out = tmp_path / "run"
    result = run_cli(["simulate", "--key", str(key_file), "--out", str(out), "--system",
                      "qam,qam+chacha", *FAST[:-1]])
    assert result.exit_code == 0, result.output
    raw = bytes(range(32))
    for text in [result.output.encode(), *((out / n).read_bytes() for n in os.listdir(out))]:
        assert KEY_HEX.encode() not in text.lower() and raw not in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--channel", "rician"], "awgn"),
        (["--mod", "8psk"], "16qam"),
        (["--system", "qam,foo"], "valid: qam, qam-ssd, qam+chacha, ae, gan-enc"),
        (["--ebno", "abc"], "does not parse"),
        (["--ebno", ""], "empty"),
        (["--ebno", "10:0:2"], "STOP >= START"),
        (["--ebno", "0:10"], "does not parse"),
        (["--max-bits", "-5"], "positive"),
        (["--target-errors", "0"], "positive"),
        (["--frame-bits", "510"], "multiple of 4"),
        (["--device", "tpu"], "auto"),
    ],
)
def test_bad_input_one_line_no_files(tmp_path, args, message):
    out = tmp_path / "run"
    result = run_cli(["simulate", "--out", str(out), *args])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert message in lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    "content, message",
    [(b"abc", "64 hex characters"), (b"g" * 64, "not hex"), (bytes(33), "not hex")],
)
def test_bad_key_file(tmp_path, content, message):
    key_file = tmp_path / "bad.key"
    key_file.write_bytes(content)
    out = tmp_path / "run"
    result = run_cli(["simulate", "--key", str(key_file), "--out", str(out)])
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_key_file_and_bad_env(tmp_path):
    out = tmp_path / "run"
    result = run_cli(["simulate", "--key", str(tmp_path / "none.key"), "--out", str(out)])
    assert result.exit_code != 0 and "does not exist" in result.output and not out.exists()
    result = run_cli(["simulate", "--out", str(out)], {"COMMGAN_KEY": "1234"})
    assert result.exit_code != 0 and "COMMGAN_KEY" in result.output and not out.exists()


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli(["simulate", "--out", str(blocker / "sub"), *FAST])
    assert result.exit_code != 0 and "is a file" in result.output
    result = run_cli(["simulate", "--out", str(blocker), *FAST])
    assert result.exit_code != 0 and "not a folder" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_parse_ebno():
    assert parse_ebno("0:20:5") == (0.0, 5.0, 10.0, 15.0, 20.0)
    assert parse_ebno("0,5.5, 10") == (0.0, 5.5, 10.0)
    assert parse_ebno("1:2:0.5") == (1.0, 1.5, 2.0)
    with pytest.raises(CommganError):
        parse_ebno("0:1:0")


def test_help_and_version():
    assert run_cli(["--help"]).exit_code == 0
    assert "simulate" in run_cli([]).output
    assert run_cli(["--version"]).exit_code == 0


def test_key_never_written_with_gan_enc(tmp_path):
    """A known key through train + simulate of gan-enc: not in stdout, results, config or the
    cached checkpoints, neither as hex nor raw."""
    key_file = tmp_path / "k.key"
    key_file.write_bytes(bytes(range(32)))
    models = tmp_path / "models"
    env = {"COMMGAN_KEY": KEY_HEX}
    trained = run_cli(["train", "--system", "gan-enc", "--channel", "awgn", "--steps", "10",
                       "--models", str(models)], env)
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "run"
    result = run_cli(["simulate", "--channel", "awgn", "--system", "gan-enc,qam+chacha", "--key",
                      str(key_file), "--models", str(models), "--out", str(out), "--ebno", "5",
                      "--max-bits", "50000"], env)
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(out / "results.csv")["receiver"]) == {"bob", "eve"}
    files = [p for folder in (out, models) for p in folder.rglob("*") if p.is_file()]
    assert len(files) >= 5
    raw = bytes(range(32))
    for blob in [trained.output.encode(), result.output.encode(),
                 *(p.read_bytes() for p in files)]:
        assert KEY_HEX.encode() not in blob.lower() and raw not in blob


def test_config_file_applies_first_and_options_win(tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text('system = "qam"\nebno = "0,10"\nmax-bits = 200000\n'
                      'target-errors = 200\nquiet = true\n')
    out = tmp_path / "run"
    result = run_cli(["simulate", "--channel", "awgn", "--config", str(config), "--ebno", "4",
                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "results.csv")
    assert list(table["system"]) == ["qam"] and list(table["ebno_db"]) == [4.0]
    assert table["bits"].max() <= 200_000 + 512
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["max_bits"] == 200_000 and saved["ebno_db"] == [4.0]


@pytest.mark.parametrize("text, message", [("frme_bits = 3\n", "unknown option(s) frme_bits"),
                                            ("ebno = [0,\n", "does not parse")])
def test_bad_config_file_is_one_error_line(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    out = tmp_path / "run"
    result = run_cli(["simulate", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_train_takes_a_system_with_options(tmp_path):
    """``train --system`` takes the label simulate takes; the checkpoint's stem and identity
    carry the options, and a classical or unknown system is one error line."""
    models = tmp_path / "models"
    trained = run_cli(["train", "--system", "ae-ldpc:k=128,n=256", "--channel", "awgn",
                       "--steps", "3", "--train-ebno", "6", "--models", str(models),
                       "--quiet"], check=True)
    sidecar = json.loads((models / "ae-ldpc_k128_n256-awgn-16qam.json").read_text())
    assert sidecar["system"] == "ae-ldpc:k=128,n=256" and sidecar["options"]["k"] == 128
    assert "saved" in trained.output
    for system, expected in (("qam-ldpc", "is not learned"), ("nope", "unknown system"),
                             ("ae-ldpc:k=7", "does not support k=7")):
        result = run_cli(["train", "--system", system, "--channel", "awgn", "--models",
                          str(tmp_path / "other")])
        one_error_line(result, expected)
    assert not (tmp_path / "other").exists()
