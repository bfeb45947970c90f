"""Wiretap datasets (issue 8): ``commgan export``, the archive reader, and ``score_decoder``."""

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import one_error_line, run_cli

from channels import ChannelOutput, WiretapChannel, theory
from commgan.comm.keys import NonceReuseError
from commgan.comm.registry import build_system
from commgan.errors import CommganError
from commgan.security import export as export_module
from commgan.security.archive import FIELDS, bob_decisions, load_wiretap, read_metadata
from commgan.security.export import export_wiretap, make_wiretap_data, parse_splits
from commgan.security.scoring import score_bits, score_decoder
from commgan.sim.engine import simulate_point

ROOT = Path(__file__).resolve().parents[1]
KEY = hashlib.sha256(b"commgan test key, issue 8").digest()


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "link.key"
    path.write_text(KEY.hex())
    return path


def _export(tmp_path, key_file, *extra, name="a.npz"):
    out = tmp_path / name
    result = run_cli(["export", "--system", "qam+chacha", "--channel", "rayleigh", "--mod", "16qam",
                      "--frames", "60", "--frame-bits", "256", "--ebno", "10",
                      "--key", str(key_file), "--out", str(out), "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return out


def test_archive_layout_metadata_and_reader(tmp_path, key_file):
    out = _export(tmp_path, key_file, "--split", "train,test:20", "--eve-ebno-offset", "3",
                  "--seed", "7")
    with np.load(out, allow_pickle=False) as raw:
        assert sorted(raw.files) == sorted(["metadata"] + [f"{split}/{field}"
                                                           for split in ("train", "test")
                                                           for field in FIELDS])
        assert raw["train/bits"].shape == (60, 256) and raw["train/bits"].dtype == np.uint8
        assert set(np.unique(raw["train/bits"])) == {0, 1}
        assert raw["test/nonce"].shape == (20,) and raw["test/nonce"].dtype == np.int64
        for field in ("x", "y_bob", "h_bob", "y_eve", "h_eve"):
            assert raw[f"test/{field}"].shape == (20, 64)
            assert raw[f"test/{field}"].dtype == np.complex64
        meta = json.loads(str(raw["metadata"]))
    assert meta["system"] == "qam+chacha" and meta["channel"] == "rayleigh"
    assert meta["mod"] == "16qam" and meta["R"] == 4 and meta["seed"] == 7
    assert meta["ebno_db"] == 10 and meta["eve_ebno_db"] == 13
    assert meta["no_bob"] == pytest.approx(1 / (4 * 10)) and meta["no_eve"] < meta["no_bob"]
    assert meta["splits"] == {"train": 60, "test": 20} and meta["layout"] == "by-split"
    assert meta["commgan_version"] and meta["key_source"] == "file"
    assert read_metadata(out) == meta
    archive = load_wiretap(out)
    assert archive.metadata == meta and list(archive.splits) == ["train", "test"]
    with np.load(out) as raw:
        np.testing.assert_array_equal(archive["test"].y_eve, raw["test/y_eve"])
    # Eve's channel is 3 dB better: her residual noise power is half of Bob's
    test = archive["test"]
    h = test.h_bob
    noise_bob = np.mean(np.abs(test.y_bob - h * test.x) ** 2)
    noise_eve = np.mean(np.abs(test.y_eve - test.h_eve * test.x) ** 2)
    assert noise_bob == pytest.approx(meta["no_bob"], rel=0.1)
    assert noise_eve == pytest.approx(meta["no_eve"], rel=0.1)
    # block fading: one coefficient per frame, independent between Bob and Eve
    assert np.all(h == h[:, :1]) and not np.allclose(h, test.h_eve)


def test_one_split_uses_plain_names(tmp_path, key_file):
    out = _export(tmp_path, key_file)
    with np.load(out) as raw:
        assert sorted(raw.files) == sorted(["metadata", *FIELDS])
        assert raw["bits"].shape == (60, 256)
    assert load_wiretap(out)["all"].bits.shape == (60, 256)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # a data file to share, not 0600


def test_in_memory_arrays_equal_the_archive(tmp_path):
    args = dict(channel="awgn", ebno_db=6.0, frames=30, frame_bits=128, splits="train,test",
                seed=3)
    path = tmp_path / "b.npz"
    export_wiretap(path, build_system("qam+chacha", "16qam", key=KEY), **args)
    in_memory = make_wiretap_data(build_system("qam+chacha", "16qam", key=KEY), **args)
    on_disk = load_wiretap(path)
    assert on_disk.metadata == json.loads(json.dumps(in_memory.metadata))
    for split in ("train", "test"):
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(on_disk[split], field),
                                          getattr(in_memory[split], field))
    other_seed = make_wiretap_data(build_system("qam+chacha", "16qam", key=KEY),
                                   **{**args, "seed": 4})
    assert not np.array_equal(other_seed["test"].bits, on_disk["test"].bits)


def _contains_key(data: bytes, key: bytes) -> bool:
    """Any form of the key: raw, hex (either case), or its bits one per byte."""
    bits = np.unpackbits(np.frombuffer(key, dtype=np.uint8)).tobytes()
    forms = [key, key.hex().encode(), key.hex().upper().encode(), bits,
             key.hex().encode("utf-32-le"), key.hex().upper().encode("utf-32-le")]
    return any(form in data for form in forms)


def _archive_bytes(path: Path) -> list[bytes]:
    """The whole file, and every member decompressed (arrays' bytes and the metadata)."""
    with zipfile.ZipFile(path) as archive:
        return [path.read_bytes()] + [archive.read(name) for name in archive.namelist()]


def test_key_search_finds_a_planted_key(tmp_path):
    """The search below can fail: it finds the key in each form it looks for."""
    for planted in (KEY, KEY.hex(), np.unpackbits(np.frombuffer(KEY, np.uint8))):
        path = tmp_path / "planted.npz"
        np.savez_compressed(path, bits=np.zeros(5), leak=np.array(planted))
        assert any(_contains_key(data, KEY) for data in _archive_bytes(path))


def test_key_appears_nowhere_in_the_archive(tmp_path, key_file):
    paths = [_export(tmp_path, key_file, "--split", "train,test")]
    gan_enc = build_system("gan-enc", "16qam", key=KEY)  # untrained weights suffice here
    paths.append(tmp_path / "gan.npz")
    export_wiretap(paths[-1], gan_enc, "rayleigh", 10.0, 20, 128, key_source="file")
    for path in paths:
        blobs = _archive_bytes(path)
        assert len(blobs) > 2
        assert not any(_contains_key(data, KEY) for data in blobs), path
        assert "key" not in {k.lower() for k in read_metadata(path)}


def test_nonces_never_repeat_within_or_across_splits(tmp_path, key_file):
    out = _export(tmp_path, key_file, "--split", "train:500,valid:100,test:300",
                  "--frame-bits", "64")
    archive = load_wiretap(out)
    nonces = np.concatenate([archive[s].nonce for s in ("train", "valid", "test")])
    assert len(nonces) == 900 and len(np.unique(nonces)) == 900
    assert nonces.min() >= 0


def test_fresh_scoring_frames_never_reuse_an_archive_nonce():
    """The key stream refuses a repeated (key, nonce): scoring after an export with the same
    settings works, a second identical export does not."""
    system = build_system("qam+chacha", "16qam", key=KEY)
    args = dict(channel="awgn", ebno_db=10.0, frame_bits=64)
    make_wiretap_data(system, frames=300, splits="train,test", **args)
    score = score_decoder(lambda y, h: np.zeros((len(y), 64)), system=system, frames=300,
                          **args)
    assert score.frames == 300
    with pytest.raises(NonceReuseError):
        make_wiretap_data(system, frames=300, splits="train,test", **args)


def _bob_ber_from_archive(path, system):
    archive = load_wiretap(path)
    split = archive[next(iter(archive.splits))]
    return score_bits(split.bits, bob_decisions(system, split, archive.metadata))


@pytest.mark.parametrize(("system_name", "channel"), [("qam+chacha", "rayleigh"),
                                                      ("qam", "awgn")])
def test_bob_on_the_archive_matches_simulate(tmp_path, key_file, system_name, channel):
    out = tmp_path / "bob.npz"
    result = run_cli(["export", "--system", system_name, "--channel", channel, "--frames", "1500",
                      "--frame-bits", "512", "--ebno", "10", "--key", str(key_file),
                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    bob = _bob_ber_from_archive(out, build_system(system_name, "16qam", key=KEY))
    # what `commgan simulate` computes at this point, with 20x the bits
    point = simulate_point(build_system(system_name, "16qam", key=os.urandom(32)),
                           WiretapChannel(channel), 10.0, frame_bits=512, batch_frames=2000,
                           target_errors=1 << 40, max_bits=20 * 1500 * 512, seed=11)
    simulated = point.receivers["bob"].ber
    assert bob.ci_low <= simulated <= bob.ci_high, (bob, simulated)
    assert abs(simulated / theory.ber("16qam", channel, 10.0) - 1) < 0.1
    assert bob.verdict == "broken"
    # with the wrong key Bob is a coin toss: the archive's nonces are what decryption needs
    if system_name == "qam+chacha":
        wrong = _bob_ber_from_archive(out, build_system(system_name, "16qam",
                                                        key=os.urandom(32)))
        assert wrong.verdict == "holds"


def _demodulator(system, ebno_db):
    """An eavesdropper from the public design: the system's keyless receiver on (y_eve, h_eve)."""
    no = torch.tensor(1 / (system.bits_per_channel_use * 10 ** (ebno_db / 10)))

    def decode(y, h):
        return system.eavesdrop(ChannelOutput(torch.from_numpy(y), torch.from_numpy(h), no))

    return decode


def test_score_decoder_verdicts():
    common = dict(channel="awgn", ebno_db=10.0, frames=400, frame_bits=512)
    qam = build_system("qam", "16qam")
    broken = score_decoder(_demodulator(qam, 10.0), system=qam, **common)
    assert broken.verdict == "broken"
    # coverage checks use 99.9% intervals, so that they fail by chance once in 1000 seeds
    wide = score_decoder(_demodulator(qam, 10.0), system=qam, confidence=0.999, **common)
    assert wide.ber == broken.ber and wide.ci_low < broken.ci_low
    assert wide.ci_low <= theory.ber("16qam", "awgn", 10.0) <= wide.ci_high
    chacha = build_system("qam+chacha", "16qam", key=KEY)
    held = score_decoder(_demodulator(chacha, 10.0), system=chacha, **common)
    assert held.verdict == "holds" and abs(held.ber - 0.5) < 0.005
    rng = np.random.default_rng(0)
    coin = score_decoder(lambda y, h: rng.random((len(y), 512)), system="qam", **common)
    assert coin.verdict == "holds"
    demod = _demodulator(qam, 10.0)
    inverted = score_decoder(lambda y, h: 1 - demod(y, h), system=qam, **common)
    assert inverted.verdict == "broken" and inverted.ber > 0.99  # anti-correlated also leaks
    by_name = score_decoder(_demodulator(qam, 10.0), system="qam", **common)
    assert by_name == broken  # same settings, same fresh frames


def test_score_decoder_soft_and_hard_agree_and_bad_outputs_fail():
    qam = build_system("qam", "16qam")
    no = torch.tensor(1 / 40)

    def soft(y, h):
        return torch.sigmoid(qam.llr(ChannelOutput(torch.from_numpy(y), torch.from_numpy(h), no)))

    common = dict(system=qam, channel="rayleigh", ebno_db=10.0, frames=100, frame_bits=256)
    probabilities = score_decoder(soft, **common)
    assert probabilities == score_decoder(lambda y, h: (soft(y, h) > 0.5).numpy(), **common)
    hard = score_decoder(_demodulator(qam, 10.0), **common)  # nearest point, not bitwise APP
    assert probabilities.verdict == hard.verdict == "broken"
    assert abs(probabilities.errors - hard.errors) < 0.01 * hard.errors
    with pytest.raises(CommganError, match="shape"):
        score_decoder(lambda y, h: np.zeros((len(y), 255)), **common)
    with pytest.raises(CommganError, match="sigmoid"):
        score_decoder(lambda y, h: np.full((len(y), 256), 3.0), **common)
    with pytest.raises(CommganError, match="positive"):
        score_decoder(lambda y, h: y, **{**common, "frames": 0})


def test_score_bits_decides_one_above_one_half():
    bits = np.array([[1, 0, 1, 0], [1, 1, 0, 0]], dtype=np.uint8)
    score = score_bits(bits, np.array([[0.5, 0.5, 0.51, 0.49], [1, 1, 0, 0]]))
    assert (score.errors, score.frames, score.frame_bits) == (1, 2, 4)
    assert score.ber == 1 / 8 and score.verdict == "broken"
    assert score_bits(torch.from_numpy(bits), torch.from_numpy(bits)).errors == 0


def test_parse_splits():
    assert parse_splits(None, 5) == {"all": 5}
    assert parse_splits("train,test", 5) == {"train": 5, "test": 5}
    assert parse_splits("train:8,test", 5) == {"train": 8, "test": 5}
    for bad in ("train,train", "a b", "train:x", "train:0", ""):
        with pytest.raises(CommganError):
            parse_splits(bad, 5)
    with pytest.raises(CommganError):
        parse_splits(None, 0)


def _assert_clean_failure(result, folder: Path, before: set, match: str):
    one_error_line(result, match, code=None)
    assert {p.name for p in folder.iterdir()} == before  # no archive, no scratch files


@pytest.mark.parametrize(("change", "match"), [
    ({"--system": "quantum"}, "unknown system"),
    ({"--system": "qam,ae"}, "one system"),
    ({"--frame-bits": "510"}, "multiple of 4"),
    ({"--frames": "0"}, "positive"),
    ({"--frames": "-3"}, "positive"),
    ({"--ebno": "nan"}, "--ebno"),
    ({"--split": "train,train"}, "twice"),
    ({"--out": "{tmp}/blocker/a.npz"}, "not a folder"),
    ({"--out": "{tmp}/folder"}, "folder"),
    ({"--out": "{tmp}/a.csv"}, ".npz"),
    ({"--key": "{tmp}/missing.key"}, "does not exist"),
])
def test_bad_input_one_line_no_file(tmp_path, change, match):
    (tmp_path / "blocker").write_text("a file, not a folder")
    (tmp_path / "folder").mkdir()
    options = {"--system": "qam", "--channel": "awgn", "--frames": "10", "--frame-bits": "64",
               "--ebno": "10", "--out": str(tmp_path / "a.npz")}
    options.update({k: v.format(tmp=tmp_path) for k, v in change.items()})
    before = {p.name for p in tmp_path.iterdir()}
    result = run_cli(["export", *[part for item in options.items() for part in item], "--quiet"])
    _assert_clean_failure(result, tmp_path, before, match)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_cli(["export", "--system", "qam", "--frames", "10", "--frame-bits", "64",
                      "--ebno", "10", "--out", str(locked / "a.npz"), "--quiet"])
    _assert_clean_failure(result, locked, set(), "not writable")


def test_a_crash_mid_export_leaves_no_file(tmp_path, monkeypatch):
    real = export_module.wiretap_frames
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(export_module, "wiretap_frames", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        export_wiretap(tmp_path / "c.npz", build_system("qam", "16qam"), "awgn", 10.0, 5000,
                       1024)
    assert len(calls) == 2 and list(tmp_path.iterdir()) == []


def test_reader_refuses_other_files(tmp_path):
    np.savez_compressed(tmp_path / "other.npz", bits=np.zeros(3))
    (tmp_path / "text.npz").write_text("not a zip")
    for name, match in (("other.npz", "not a wiretap archive"), ("text.npz", "not a wiretap"),
                        ("missing.npz", "does not exist")):
        with pytest.raises(CommganError, match=match):
            load_wiretap(tmp_path / name)


@pytest.mark.slow
def test_learned_bob_on_the_archive_matches_simulate(tmp_path, key_file):
    """A (briefly) trained ae through the CLI: export, then Bob's decoder on y_bob vs simulate."""
    models = tmp_path / "models"
    trained = run_cli(["train", "--system", "ae", "--channel", "awgn", "--steps", "300",
                       "--models", str(models), "--quiet"])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "ae.npz"
    result = run_cli(["export", "--system", "ae", "--channel", "awgn", "--frames", "2000",
                      "--frame-bits", "256", "--ebno", "6", "--models", str(models),
                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    from commgan.systems import SystemContext, build_systems

    built = build_systems(["ae"], SystemContext(channel="awgn", models_dir=models,
                                                train_if_missing=False))
    system = built["ae"]
    bob = _bob_ber_from_archive(out, system)
    point = simulate_point(system, WiretapChannel("awgn"), 6.0, frame_bits=256,
                           batch_frames=2000, target_errors=1 << 40, max_bits=20 * 2000 * 256,
                           seed=5)
    assert bob.ci_low <= point.receivers["bob"].ber <= bob.ci_high
    assert load_wiretap(out).metadata["model_fingerprint"] == built.fingerprints()["ae"]


@pytest.mark.slow
def test_large_export_memory_bound(tmp_path):
    """2000 frames of 65,536 bits through the heaviest system (gan-enc) stay under 2 GiB."""
    script = (
        "import resource, sys, time\n"
        "from commgan.comm.registry import build_system\n"
        "from commgan.security.export import export_wiretap\n"
        "s = build_system('gan-enc', '16qam', key=bytes(32))\n"
        "t = time.time()\n"
        "export_wiretap(sys.argv[1], s, 'rayleigh', 10.0, 2000, 65536)\n"
        "print(time.time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = tmp_path / "big.npz"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True,
                          text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    seconds, peak_kib = (float(v) for v in done.stdout.split())
    assert peak_kib < 2 * 1024 * 1024, peak_kib
    with np.load(out) as archive:
        assert archive["y_eve"].shape == (2000, 16384)
    assert [p.name for p in tmp_path.iterdir()] == ["big.npz"]


@pytest.mark.slow
def test_outside_decoder_smoke(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "outside_decoder.py"), "--smoke",
         "--models", str(tmp_path / "models"), "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**os.environ, "COMMGAN_KEY": KEY.hex()})
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_csv(out / "summary.csv").set_index("system")
    assert table.loc["ae", "eve_fresh_verdict"] == "broken"
    assert table.loc["ae", "eve_fresh_ber"] < 0.2
    assert table.loc["gan-enc", "eve_fresh_verdict"] == "holds"
    assert (out / "ber.png").stat().st_size > 0


def test_export_chunks_are_identical_for_any_jobs():
    """Chunks are the units of worker processes, each seeded by its own nonces: the same arrays
    for 1 or 2 processes, across several chunks and two splits."""
    args = dict(channel="rayleigh", ebno_db=6.0, frames=2500, frame_bits=2048,
                splits="train,test:700")
    one, two = (make_wiretap_data(build_system("qam+chacha", "16qam", key=KEY), **args,
                                  jobs=jobs) for jobs in (1, 2))
    assert one.metadata == two.metadata
    for split in ("train", "test"):
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(one.splits[split], field),
                                          getattr(two.splits[split], field))
    assert len(one.splits["train"].nonce) == 2500  # 1024 frames per chunk: 3 chunks
