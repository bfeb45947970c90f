"""Coded links through the engine and the CLI: system options, block errors and BLER, the
block-error stopping rule, per-system theory, and worker processes that rebuild a system with
its options (issue 27)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from channels import get_modulation
from commgan.cli import cli
from commgan.cli.link import default_frame_bits
from commgan.comm.classical import QAMSystem
from commgan.comm.coded import QAMLDPCSystem
from commgan.comm.registry import parse_system_names, parse_systems, system_choice
from commgan.errors import CommganError
from commgan.sim.config import SimulationConfig
from commgan.sim.engine import point_finished
from commgan.sim.results import RESULT_COLUMNS
from commgan.sim.stats import FrameErrorStats, clopper_pearson
from commgan.sim.sweep import run_sweep


@pytest.mark.parametrize("text, labels", [
    ("qam", ["qam"]),
    ("qam,qam-ldpc:k=512,n=1024", ["qam", "qam-ldpc"]),  # defaults are not part of the label
    ("qam-ldpc:n=768,k=256,iterations=8,qam", ["qam-ldpc:k=256,n=768,iterations=8", "qam"]),
    ("qam-ldpc,k=256,n=512", ["qam-ldpc:k=256,n=512"]),
    ("QAM-LDPC:decoder=sionna, qam-ldpc:decoder=sionna", ["qam-ldpc:decoder=sionna"]),
    ("qam-ldpc:k=256,n=512,qam-ldpc+chacha:k=256,n=512",
     ["qam-ldpc:k=256,n=512", "qam-ldpc+chacha:k=256,n=512"]),
    ("commgan.comm.classical:QAMSystem", ["commgan.comm.classical:QAMSystem"]),
])
def test_system_options_parse_to_canonical_labels(text, labels):
    assert parse_system_names(text) == labels
    for label in labels:  # a label names the same system again (resume, config.json)
        assert parse_system_names(label) == [label]


@pytest.mark.parametrize("text, message", [
    ("qam-ssd:k=1", "system qam-ssd takes no options, got k"),
    ("qam:k=1", "system qam has no option k; valid: csi"),
    ("qam:csi=foo", "unknown csi receiver 'foo'; valid: pilots, em"),
    ("qam-ldpc:x=1", "has no option x; valid: k, n, decoder, iterations, cn_update"),
    ("qam-ldpc:k=abc", "option k must be an integer"),
    ("qam-ldpc:k=1.5", "option k must be an integer"),
    ("qam-ldpc:k=1,k=2", "option k given twice"),
    ("k=1,qam", "comes before any system name"),
    ("qam-ldpc:decoder=foo", "unknown decoder 'foo'"),
    ("qam-ldpc:iterations=0", "iterations must be a positive integer"),
    ("nosuch", "unknown system 'nosuch'"),
    ("no_such_module_xyz:System", "cannot import system module"),
    ("commgan.comm.classical:Nope", "has no 'Nope'"),
    ("commgan.comm.classical:QAM_CHACHA.summary", "neither a commgan System subclass"),
])
def test_bad_system_options_are_one_clear_error(text, message):
    with pytest.raises(CommganError, match=message.replace("(", r"\(")):
        parse_systems(text)


def test_unsupported_code_is_refused_when_built():
    with pytest.raises(CommganError, match="5G LDPC does not support k=5"):
        system_choice("qam-ldpc:k=5,n=12").build("16qam")


def test_options_reach_the_system_and_its_record():
    system = system_choice("qam-ldpc:k=256,n=768,iterations=7").build("16qam")
    assert (system.k, system.n, system.options.iterations) == (256, 768, 7)
    assert system.bits_per_channel_use == pytest.approx(4 * 256 / 768)
    assert system.block_bits == 256 and system.blocks_per_frame(1024) == 4
    assert system.option_values() == {"k": 256, "n": 768, "decoder": "fast", "iterations": 7,
                                      "cn_update": "boxplus"}
    assert system.theory_ber("awgn", np.array([0.0, 4.0])) is None, "coded: no uncoded theory"
    with pytest.raises(CommganError, match="multiple of 256 bits for system 'qam-ldpc'"):
        QAMLDPCSystem(get_modulation("qpsk"), k=256, n=512).check_frame_bits(384)

    class Blocked(QAMSystem):
        name, block_bits = "blocked", 24

    with pytest.raises(CommganError, match="multiple of the block length 24 bits"):
        Blocked(get_modulation("16qam")).check_frame_bits(32)


def test_block_statistics_from_per_block_errors():
    stats = FrameErrorStats(frame_bits=12, blocks_per_frame=3)
    stats.add(np.array([[0, 0, 0], [2, 0, 1], [0, 4, 0], [0, 0, 0]]))
    assert (stats.frames, stats.errors, stats.frame_errors) == (4, 7, 2)
    assert (stats.blocks, stats.block_errors, stats.block_bits) == (12, 3, 4)
    assert stats.bler == pytest.approx(3 / 12) and stats.fer == pytest.approx(0.5)
    assert stats.sum_sq == 3**2 + 4**2 and stats.block_sum_sq == 2**2 + 1**2
    low, high = stats.bler_interval()
    assert 0 < low < 3 / 12 < high < 1
    single = FrameErrorStats(frame_bits=8)
    single.add(np.array([0, 3, 0, 1, 0]))
    assert single.bler_interval() == clopper_pearson(2, 5) == single.fer_interval()
    with pytest.raises(ValueError, match="got 2 blocks per frame, expected 3"):
        stats.add(np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="different frame or block lengths"):
        stats.merge(single)


def test_either_target_stops_a_point():
    coded = FrameErrorStats(frame_bits=512)
    coded.add(np.array([60, 0, 0, 70, 0]))  # 2 failed blocks, 130 bit errors
    receivers = {"bob": coded}
    assert point_finished(receivers, 100, None)
    assert not point_finished(receivers, 1000, None)
    assert point_finished(receivers, 1000, 2) and point_finished(receivers, None, 2)
    assert not point_finished(receivers, None, 3)
    assert not point_finished(receivers, None, None), "no target: max_bits alone stops"


def test_default_frame_length_fits_every_system():
    assert default_frame_bits([4]) == 512
    assert default_frame_bits([4, 512]) == 512
    assert default_frame_bits([6, 750]) == 750
    assert default_frame_bits([4, 256, 6]) == 768


@pytest.mark.parametrize("jobs", [2])
def test_workers_rebuild_a_system_with_its_options(jobs):
    """--jobs 2 equals --jobs 1 for systems with non-default options (the recipe carries them:
    a worker that fell back to the defaults would decode k=512 codewords of a k=256 code)."""
    labels = ("qam-ldpc:k=256,n=768,iterations=6,cn_update=minsum", "qam-ldpc+chacha:k=256,n=512")
    config = SimulationConfig(channel="awgn", mod="16qam", systems=labels, ebno_db=(1.0, 2.5),
                              target_errors=None, target_block_errors=30, max_bits=60_000,
                              frame_bits=1024, batch_bits=8192, early_stop=False)

    def run(workers: int) -> pd.DataFrame:
        systems = {label: system_choice(label).build("16qam", key=bytes(range(32)))
                   for label in labels}
        return run_sweep(config, systems, jobs=workers).drop(columns=["seconds", "bits_per_s"])

    one, many = run(1), run(jobs)
    pd.testing.assert_frame_equal(one, many)
    bob = one[one["receiver"].eq("bob")]
    assert (bob["block_errors"].ge(30) | bob["bits"].ge(60_000)).all()
    assert bob["block_errors"].gt(0).all() and (bob["block_bits"] == 256).all()


def _simulate(tmp_path, *args):
    out = tmp_path / "o"
    result = CliRunner().invoke(cli, ["simulate", "--channel", "awgn", "--mod", "16qam",
                                      "--out", str(out), "--quiet", *args],
                                env={"COMMGAN_KEY": ""})
    return out, result


def test_simulate_writes_ber_and_bler_of_coded_and_uncoded_links(tmp_path):
    out, result = _simulate(tmp_path, "--system", "qam,qam-ldpc:k=256,n=512", "--ebno", "2,3.5",
                            "--target-block-errors", "20", "--max-bits", "200000", "--metric",
                            "bler", "--intervals")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("BLER (Bob unless marked)")
    assert "qam-ldpc:k=256,n=512" in result.output and "theory" not in result.output
    table = pd.read_csv(out / "results.csv")
    assert list(table.columns) == RESULT_COLUMNS
    coded = table[table["system"] == "qam-ldpc:k=256,n=512"]
    uncoded = table[table["system"] == "qam"]
    assert coded["theory"].isna().all() and uncoded["theory"].notna().all()
    assert (coded["rate"] == 2.0).all() and (uncoded["rate"] == 4.0).all()
    assert (coded["options"] == "k=256,n=512,decoder=fast,iterations=20,"
                                "cn_update=boxplus").all()
    assert (uncoded["options"] == "csi=pilots").all()
    assert (coded["block_bits"] == 256).all() and (uncoded["block_bits"] == 512).all()
    assert (uncoded["block_errors"] == uncoded["frame_errors"]).all(), "uncoded: block = frame"
    stopped = table["block_errors"].ge(20) | table["bits"].ge(200_000)
    assert stopped.all(), "the bit target is off when only --target-block-errors is given"
    for metric in ("bler", "fer"):
        assert (table[f"{metric}_low"] <= table[metric]).all()
        assert (table[metric] <= table[f"{metric}_high"]).all()
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["target_block_errors"] == 20
    assert saved["config"]["target_errors"] is None
    record = saved["systems"]["qam-ldpc:k=256,n=512"]
    assert record["rate"] == 2.0 and record["block_bits"] == 256
    assert record["options"] == {"k": 256, "n": 512, "decoder": "fast", "iterations": 20,
                                 "cn_update": "boxplus"}
    assert (out / "ber.png").stat().st_size > 0 and (out / "bler.png").stat().st_size > 0
    rerun = _simulate(tmp_path, "--system", "qam,qam-ldpc:k=256,n=512", "--ebno", "2,3.5",
                      "--target-block-errors", "20", "--max-bits", "200000")[1]
    assert rerun.exit_code == 0 and rerun.output.startswith("BER (Bob unless marked)")
    assert "\nBLER (Bob unless marked)" in rerun.output, "auto: BLER too for a coded link"
    assert pd.read_csv(out / "results.csv").equals(table), "a rerun of a finished run resumes"


def test_a_frame_that_does_not_hold_whole_codewords_is_one_error_line(tmp_path):
    out, result = _simulate(tmp_path, "--system", "qam-ldpc:k=256,n=512", "--ebno", "2",
                            "--frame-bits", "384")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: frame length L=384 must be a positive multiple of 256 bits for system "
        "'qam-ldpc' with 16qam"]
    assert not out.exists()


def test_system_options_in_a_config_file(tmp_path):
    """The same strings in ``--config``: a list of systems with options, the block target."""
    config = tmp_path / "run.toml"
    config.write_text('system = ["qam", "qam-ldpc:k=256,n=512,iterations=8"]\n'
                      'target-block-errors = 5\nebno = "3"\nmax-bits = 20000\n')
    out, result = _simulate(tmp_path, "--config", str(config))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "results.csv")
    assert list(dict.fromkeys(table["system"])) == ["qam", "qam-ldpc:k=256,n=512,iterations=8"]
    assert json.loads((out / "config.json").read_text())["config"]["target_block_errors"] == 5


def test_optional_and_float_options_are_converted():
    """``int | None`` options take a whole number or ``none``; floats parse as numbers."""
    from dataclasses import dataclass

    from commgan.comm.registry import _checked_options
    from commgan.comm.system import SystemSpec

    @dataclass
    class Options:
        block: int | None = None
        scale: float = 1.0

    spec = SystemSpec(QAMSystem, "toy", options=Options)
    assert _checked_options(spec, "toy", ["block=5", "scale=0.5"]) == (("block", 5),
                                                                       ("scale", 0.5))
    assert _checked_options(spec, "toy", ["block=None"]) == (("block", None), ("scale", 1.0))
    with pytest.raises(CommganError, match="option block must be an integer"):
        _checked_options(spec, "toy", ["block=5.5"])
