"""Systems and channels from outside the package: a tiny plug-in package, written here and
installed with pip into a target folder, runs through ``commgan simulate``, ``attack`` and
``export`` (each a fresh process with the folder on PYTHONPATH): found by its entry points
(``commgan.systems``, ``commgan.channels``) and as ``package.module:Class``, with options; a bad
plug-in ends in one error line."""

import cmath
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import one_error_line

from channels import CHANNELS, WiretapChannel, theory
from channels.awgn import AWGN
from channels.registry import _plugin_spec, channel_names, channel_spec, plugin_channels

PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "commgan-reppkg"
version = "0.1"

[project.entry-points."commgan.systems"]
rep-qam = "commgan_reppkg.links:REPETITION"
rep-broken = "commgan_reppkg.broken:SYSTEM"

[project.entry-points."commgan.channels"]
plugin-phase = "commgan_reppkg.links:PLUGIN_PHASE"
awgn = "commgan_reppkg.links:PLUGIN_PHASE"
misnamed = "commgan_reppkg.links:PLUGIN_PHASE"
not-a-spec = "commgan_reppkg.links:PhaseChannel"
broken-channel = "commgan_reppkg.broken:CHANNEL"
"""

LINKS = '''\
"""A rate-1/repeat repetition code on Gray QAM, and AWGN after a known phase rotation."""

import cmath
from dataclasses import dataclass

import torch
from sionna.phy.mapping import Demapper, Mapper

from channels import Channel, ChannelSpec
from commgan.comm.system import System, SystemSpec


@dataclass(frozen=True)
class RepetitionOptions:
    repeat: int = 2

    def __post_init__(self):
        if self.repeat < 1:
            raise ValueError(f"repeat must be at least 1, got {self.repeat}")


class RepetitionQAM(System):
    """Every information bit sent `repeat` times; Bob adds the copies' APP LLRs."""

    name = "rep-qam"
    block_bits = 64

    def __init__(self, modulation, key=None, device=None, repeat: int = 2):
        super().__init__(modulation, key=key, device=device)
        self.repeat = RepetitionOptions(repeat).repeat
        constellation = modulation.constellation(device=str(self.device))
        self.mapper = Mapper(constellation=constellation, device=str(self.device))
        self.demapper = Demapper("app", constellation=constellation, device=str(self.device))

    @property
    def bits_per_channel_use(self):
        return self.modulation.num_bits_per_symbol / self.repeat

    def init_args(self):
        return {"repeat": self.repeat}

    def transmit(self, bits, nonces=None):
        return self.mapper(bits.repeat_interleave(self.repeat, dim=-1))

    def receive(self, out, nonces=None, key=None):
        no = out.no if out.no.dim() == 0 else out.no.reshape(-1, 1)
        llr = self.demapper(out.y / out.h, no / out.h.abs().square())
        return (llr.reshape(llr.shape[0], -1, self.repeat).sum(-1) > 0).to(torch.float32)


REPETITION = SystemSpec(RepetitionQAM, "repetition-coded Gray QAM", options=RepetitionOptions)


class NotASystem:
    name = "not-a-system"


PHASE = cmath.exp(0.3j)


class PhaseChannel(Channel):
    name = "plugin-phase"

    def coefficients(self, batch_size, num_symbols):
        return torch.full((batch_size, num_symbols), PHASE, dtype=torch.complex64,
                          device=self.device)


PLUGIN_PHASE = ChannelSpec(PhaseChannel, "AWGN after a known phase rotation", theory=None,
                           train_ebno_db=(0.0, 10.0))
'''

BROKEN = '''\
import commgan_reppkg_missing_dependency  # noqa: F401

SYSTEM = None
'''

EBNO = (0.0, 4.0)
MAX_BITS = 100_000
CLASS_PATH = "commgan_reppkg.links:RepetitionQAM"
SYSTEMS = f"rep-qam:repeat=3,rep-qam,{CLASS_PATH}"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The plug-in package, installed by pip (offline, no build isolation) into a folder."""
    root = tmp_path_factory.mktemp("plugin")
    package = root / "pkg" / "src" / "commgan_reppkg"
    package.mkdir(parents=True)
    (root / "pkg" / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text("")
    (package / "links.py").write_text(LINKS)
    (package / "broken.py").write_text(BROKEN)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--no-input", "--disable-pip-version-check", "--target",
         str(root / "site"), str(root / "pkg")],
        capture_output=True, text=True, timeout=300, cwd=root)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (root / "site" / "commgan_reppkg" / "links.py").is_file()
    return root / "site"


def _popen(site: Path, cwd: Path, *args: str) -> subprocess.Popen:
    """``commgan ARGS`` in a fresh process that sees the plug-in folder (and no key)."""
    env = {**os.environ, "COMMGAN_KEY": "",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-c", "from commgan.cli import main; main()", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _commgan(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return _finish(_popen(site, cwd, *args))


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def _simulate(site: Path, tmp_path: Path, name: str, *more: str) -> pd.DataFrame:
    out = tmp_path / name
    result = _commgan(site, tmp_path, "simulate", "--channel", "awgn", "--mod", "qpsk",
                      "--ebno", ",".join(f"{v:g}" for v in EBNO), "--max-bits", str(MAX_BITS),
                      "--out", str(out), "--quiet", *more)
    _ok(result)
    return pd.read_csv(out / "results.csv")


NUMERIC = ["ebno_db", "rate", "frame_bits", "frames", "bits", "errors", "ber", "ci_low",
           "ci_high", "frame_errors", "fer", "fer_low", "fer_high", "block_bits", "blocks",
           "block_errors", "bler", "bler_low", "bler_high", "theory"]


def test_plugin_system_simulates_with_options_on_any_jobs(site, tmp_path):
    """By entry-point name with and without an option, and as package.module:Class: rate,
    options, blocks and no theory recorded; BER on AWGN that of uncoded BPSK, Q(sqrt(2 Eb/N0)),
    whatever the repetition (soft combining); --jobs 2 gives --jobs 1's numbers."""
    one = _simulate(site, tmp_path, "jobs1", "--system", SYSTEMS, "--jobs", "1")
    two = _simulate(site, tmp_path, "jobs2", "--system", SYSTEMS, "--jobs", "2")
    labels = ["rep-qam:repeat=3", "rep-qam", CLASS_PATH]
    assert list(dict.fromkeys(one["system"])) == labels
    assert set(one["receiver"]) == {"bob"}
    rate = one.groupby("system")["rate"].first()
    assert rate.to_dict() == pytest.approx({labels[0]: 2 / 3, labels[1]: 1.0, labels[2]: 1.0})
    options = one.groupby("system")["options"].first()
    assert options.to_dict() == {labels[0]: "repeat=3", labels[1]: "repeat=2",
                                 labels[2]: "repeat=2"}
    assert one["theory"].isna().all(), "a coded system shows no uncoded theory"
    assert (one["block_bits"] == 64).all()
    assert (one["blocks"] == one["bits"] // 64).all() and (one["bits"] >= MAX_BITS).all()
    assert ((one["bler"] - one["block_errors"] / one["blocks"]).abs() < 1e-12).all()
    assert (one["block_errors"] >= one["frame_errors"]).all()
    expected = theory.ber("bpsk", "awgn", one["ebno_db"].to_numpy())
    sigma = np.sqrt(expected * (1 - expected) / one["bits"].to_numpy())
    assert (np.abs(one["ber"] - expected) < 4.5 * sigma).all(), (one[["system", "ber"]], expected)
    assert ((one["ci_low"] <= one["ber"]) & (one["ber"] <= one["ci_high"])).all()
    half_width = (one["ci_high"] - one["ci_low"]) / 2
    assert (half_width.between(0.7 * 1.96 * sigma, 2.0 * 1.96 * sigma)).all()
    config = json.loads((tmp_path / "jobs1" / "config.json").read_text())
    record = config["systems"]["rep-qam:repeat=3"]
    assert record["class"] == CLASS_PATH and record["options"] == {"repeat": 3}
    assert record["block_bits"] == 64 and math.isclose(record["rate"], 2 / 3)
    pd.testing.assert_frame_equal(one.drop(columns=["seconds", "bits_per_s"]),
                                  two.drop(columns=["seconds", "bits_per_s"]))
    assert not one[NUMERIC].isna().drop(columns="theory").any().any()


def test_plugin_channel_simulates_and_exports(site, tmp_path):
    """The channel of the entry point ``plugin-phase`` through simulate (no theory; coherent
    QPSK meets AWGN's BER) and export (the phase is Bob's and Eve's CSI); an entry point whose
    module does not import is one error line."""
    archive = tmp_path / "phase.npz"
    export = _popen(site, tmp_path, "export", "--system", "qam", "--channel", "plugin-phase",
                    "--mod", "qpsk", "--frames", "8", "--frame-bits", "64", "--ebno", "10",
                    "--out", str(archive), "--quiet")
    broken = _popen(site, tmp_path, "simulate", "--channel", "broken-channel", "--mod", "qpsk",
                    "--system", "qam", "--ebno", "0", "--out", str(tmp_path / "broken"),
                    "--quiet")
    table = _simulate(site, tmp_path, "phase", "--channel", "plugin-phase", "--system", "qam",
                      "--jobs", "1")
    assert (table["channel"] == "plugin-phase").all() and table["theory"].isna().all()
    expected = theory.ber("qpsk", "awgn", table["ebno_db"].to_numpy())
    sigma = np.sqrt(expected * (1 - expected) / table["bits"].to_numpy())
    assert (np.abs(table["ber"] - expected) < 4.5 * sigma).all(), (table["ber"], expected)
    _ok(_finish(export))
    with np.load(archive) as data:
        assert json.loads(str(data["metadata"]))["channel"] == "plugin-phase"
        np.testing.assert_allclose(data["h_bob"], cmath.exp(0.3j), rtol=1e-6)
    one_error_line(_finish(broken), "cannot import 'commgan_reppkg.broken'")
    assert not (tmp_path / "broken").exists()


@pytest.fixture
def plugin_path(site, monkeypatch):
    """The plug-in folder on this process's sys.path, the channel registry's caches cleared
    before and after."""
    monkeypatch.syspath_prepend(str(site))
    plugin_channels.cache_clear()
    _plugin_spec.cache_clear()
    modules = set(sys.modules)
    yield
    plugin_channels.cache_clear()
    _plugin_spec.cache_clear()
    for name in set(sys.modules) - modules:
        if name.startswith("commgan_reppkg"):
            del sys.modules[name]


def test_channel_entry_points(plugin_path):
    """Found by name (any case), imported when first named and then cached; built-in names
    first and never shadowed; the errors name the entry point and what is wrong with it."""
    assert channel_names()[:len(CHANNELS)] == list(CHANNELS)
    assert {"plugin-phase", "misnamed", "not-a-spec", "broken-channel"} <= set(channel_names())
    assert channel_names().count("awgn") == 1 and channel_spec("awgn") is AWGN
    assert "commgan_reppkg.links" not in sys.modules, "listing imports no plug-in"
    spec = channel_spec("Plugin-Phase")
    assert spec.name == "plugin-phase" and channel_spec("plugin-phase") is spec
    out = WiretapChannel("plugin-phase")(torch.ones(2, 4, dtype=torch.complex64), 10.0, 2)
    assert torch.allclose(out.bob.h, torch.full((2, 4), cmath.exp(0.3j), dtype=torch.complex64))
    with pytest.raises(ValueError, match="unknown channel 'nope'; valid: awgn.*plugin-phase"):
        channel_spec("nope")
    for name, problem in (("misnamed", "is named 'plugin-phase'"),
                          ("not-a-spec", "is not a ChannelSpec but type"),
                          ("broken-channel", "cannot import 'commgan_reppkg.broken': "
                                             "ModuleNotFoundError")):
        with pytest.raises(ValueError, match=problem) as error:
            channel_spec(name)
        assert f"channel {name!r} (entry point" in str(error.value)


def test_plugin_system_attack_and_export(site, tmp_path):
    """An unkeyed plug-in is broken by a ciphertext-only Eve; export records its symbols."""
    attack = _popen(site, tmp_path, "attack", "--system", "rep-qam:repeat=3", "--channel",
                    "awgn", "--mod", "qpsk", "--scenarios", "ciphertext-only", "--ebno", "6",
                    "--out", str(tmp_path / "attack"), "--quiet", "--jobs", "1")
    archive = tmp_path / "rep.npz"
    export = _popen(site, tmp_path, "export", "--system", "rep-qam:repeat=3", "--channel",
                    "awgn", "--mod", "qpsk", "--frames", "16", "--frame-bits", "128", "--ebno",
                    "10", "--out", str(archive), "--quiet")
    _ok(_finish(attack))
    _ok(_finish(export))
    rows = pd.read_csv(tmp_path / "attack" / "attack.csv")
    assert list(rows["system"]) == ["rep-qam:repeat=3"] and (rows["verdict"] == "broken").all()
    with np.load(archive) as data:
        metadata = json.loads(str(data["metadata"]))
        assert data["bits"].shape == (16, 128) and data["x"].shape == (16, 192)
    assert metadata["system"].startswith("rep-qam") and math.isclose(metadata["R"], 2 / 3)
    assert metadata["symbols_per_frame"] == 192


BAD = {
    "module that does not import": (
        "--system", "commgan_reppkg.broken:SYSTEM", "cannot import"),
    "entry point whose module does not import": ("--system", "rep-broken", "cannot import"),
    "class that is not a System": (
        "--system", "commgan_reppkg.links:NotASystem", "neither a commgan System"),
    "unknown option": ("--system", "rep-qam:repeats=3", "has no option repeats"),
}


def test_bad_plugin_input_is_one_error_line(site, tmp_path):
    """Each bad input: exit 1, one ``Error:`` line naming the problem, no output folder, no
    file anywhere in the working folder."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    runs = {case: _popen(site, cwd, "simulate", "--channel", "awgn", "--mod", "qpsk", option,
                         value, "--ebno", "0", "--max-bits", "1000", "--out",
                         str(cwd / f"out{index}"), "--quiet")
            for index, (case, (option, value, _)) in enumerate(BAD.items())}
    for case, process in runs.items():
        one_error_line(_finish(process), BAD[case][2])
    assert not any(cwd.iterdir()), sorted(cwd.iterdir())

