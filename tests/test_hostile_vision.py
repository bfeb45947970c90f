"""Issue 26, vision: every size a vision command accepts is bounded up front (augment's sizes,
``--steps``, the bytes and number of ``--train-dir`` files), one photo under two names counts
once, and hostile folders and image files (FIFOs, folders named like images, empty, truncated,
unreadable or huge files) end in one ``Error:`` line, never blocking, with nothing left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from test_hostile import CLI, bounded, check_failure, nothing_left, png, run

from commgan.errors import CommganError
from commgan.vision.data import folder_split, load_image, read_image, to_uint8
from commgan.vision.models.registry import VISION_MODELS

RESTORE = ["restore", "--task", "denoise", "--demo", "--quiet", "--models", "m", "--out", "o"]
TRAIN = [*RESTORE, "--steps", "2", "--train-dir", "photos"]
CROPS = [("chelsea", 0, 0), ("coffee", 50, 100), ("chelsea", 100, 200), ("coffee", 200, 300)]


def photos(folder: Path, count: int = 3, size: int = 72) -> Path:
    """``count`` distinct PNG photos photo0.png ... in ``folder`` (created)."""
    folder.mkdir(exist_ok=True)
    for index, (name, y, x) in enumerate(CROPS[:count]):
        crop = load_image(name)[:, y:y + size, x:x + size]
        Image.fromarray(to_uint8(crop)).save(folder / f"photo{index}.png")
    return folder


def refused(tmp_path: Path, args: list[str], seconds: int = 30, extra_mb: int | None = 600,
            code: int | None = None) -> str:
    """The one error line of a CLI run that must fail before any training, leaving only the
    inputs (``photos``, files written by the test) behind."""
    before = {p.name for p in tmp_path.iterdir()}
    line = run(args, tmp_path, seconds=seconds, extra_mb=extra_mb, code=code)
    nothing_left(tmp_path, before)
    return line


# E7: every size augment (and restore/translate) accepts is bounded up front
@pytest.mark.parametrize("option, value, bound", [
    ("--synthetic", "1000000000", "10000"),
    ("--seeds", "1000000000", "1000"),
    ("--gan-iters", "1000000000000", "1000000"),
    ("--classifier-steps", "1000000000000", "1000000"),
    ("--per-class", ",".join(map(str, range(1, 200001))), "87"),
])
def test_e7_augment_sizes_bounded_before_any_work(tmp_path, option, value, bound):
    line = refused(tmp_path, ["augment", option, value, "--out", "o", "--quiet"], seconds=15,
                   extra_mb=400)
    assert option in line and bound in line.replace(",", "")


def test_e7_augment_size_from_config_bounded(tmp_path):
    (tmp_path / "c.toml").write_text("synthetic = 1000000000\n")
    line = refused(tmp_path, ["augment", "--config", "c.toml", "--out", "o", "--quiet"],
                   seconds=15, extra_mb=400)
    assert "--synthetic" in line and "10000" in line


@pytest.mark.parametrize("command", [
    ["restore", "--task", "denoise", "--demo"],
    ["translate", "--model", "pix2pix", "--task", "colour", "--demo"],
])
def test_e7_steps_bounded_before_training(tmp_path, command):
    line = refused(tmp_path, [*command, "--steps", str(10**12), "--models", "m", "--out", "o",
                              "--quiet"], seconds=20)
    assert "--steps" in line and "1,000,000" in line


# E12: bytes read per --train-dir file and the number of files are bounded, wording fixed
def test_e12_train_dir_file_bytes_bounded(tmp_path):
    folder = photos(tmp_path / "photos", 2)
    big = folder / "photo0.png"
    with open(big, "r+b") as f:  # a valid PNG followed by 3 GB of (sparse) trailing data
        f.truncate(3 << 30)
    line = refused(tmp_path, TRAIN, extra_mb=400)
    assert "photo0.png" in line and "64 MiB" in line and "frame" not in line


def test_e12_image_option_bytes_bounded(tmp_path):
    png(tmp_path / "big.png", 64, 64)
    with open(tmp_path / "big.png", "r+b") as f:
        f.truncate(2 << 30)
    line = refused(tmp_path, ["restore", "--task", "denoise", "--image", "big.png",
                              "--models", "m", "--out", "o"], extra_mb=400)
    assert "64 MiB" in line


def test_e12_train_dir_file_count_bounded(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(1001):
        (folder / f"x{index:04}.png").touch()
    line = refused(tmp_path, TRAIN, seconds=20)
    assert "1000" in line.replace(",", "") and "image files" in line


def test_e12_train_dir_total_pixels_bounded(tmp_path, monkeypatch):
    import commgan.vision.data as data

    monkeypatch.setattr(data, "MAX_FOLDER_PIXELS", 10_000, raising=False)
    photos(tmp_path / "photos", 3)
    line = refused(tmp_path, TRAIN)
    assert "10,000 pixels" in line


# E16: one photo under two names counts once; the split stays sound
@pytest.mark.parametrize("second", ["symlink", "hardlink", "copy"])
def test_e16_two_names_for_one_photo_counted_once(tmp_path, second):
    folder = photos(tmp_path / "photos", 1)
    first, other = folder / "photo0.png", folder / "again.png"
    if second == "symlink":
        other.symlink_to(first.name)
    elif second == "hardlink":
        os.link(first, other)
    else:
        shutil.copyfile(first, other)
    line = refused(tmp_path, TRAIN)
    assert "1 distinct" in line and "at least 2" in line


def test_e16_duplicates_dropped_split_disjoint(tmp_path):
    folder = photos(tmp_path / "photos", 3)
    (folder / "link.png").symlink_to("photo0.png")
    os.link(folder / "photo1.png", folder / "hard.png")
    shutil.copyfile(folder / "photo2.png", folder / "copy.png")
    notes: list[str] = []
    training, validation = folder_split(folder, notes=notes)
    assert len(training) + len(validation) == 3 and len(validation) == 1
    contents = [Path(path).read_bytes() for path in training + validation]
    assert len(set(contents)) == 3
    assert any("3 duplicate" in note for note in notes)
    # the same split whichever names the duplicates had
    alone = photos(tmp_path / "alone", 3)
    t2, v2 = folder_split(alone)
    assert Path(validation[0]).read_bytes() == Path(v2[0]).read_bytes()
    assert sorted(Path(p).read_bytes() for p in training) == sorted(
        Path(p).read_bytes() for p in t2)


def test_cyclegan_needs_three_distinct_photos_refused_before_training(tmp_path):
    folder = photos(tmp_path / "photos", 2)
    (folder / "again.png").symlink_to("photo0.png")
    line = refused(tmp_path, ["translate", "--model", "cyclegan", "--task", "colour", "--demo",
                              "--steps", "2", "--train-dir", "photos", "--models", "m", "--out",
                              "o"])
    assert "at least 2 images; got 1" in line


# hostile folders and files
def test_fifo_and_folder_named_like_images_are_skipped_without_blocking(tmp_path):
    folder = photos(tmp_path / "photos", 2)
    os.mkfifo(folder / "pipe.png")
    (folder / "album.jpg").mkdir()
    (folder / "loop.png").symlink_to("loop.png")
    (folder / "zero.png").symlink_to("/dev/zero")
    (folder / "notes.txt").write_text("not an image")
    with bounded(10):
        training, validation = folder_split(folder)
    assert len(training) == 1 and len(validation) == 1


def test_fifo_train_dir_with_one_photo_does_not_block(tmp_path):
    folder = photos(tmp_path / "photos", 1)
    os.mkfifo(folder / "pipe.png")
    line = refused(tmp_path, TRAIN, seconds=15)
    assert "at least 2" in line


@pytest.mark.parametrize("source", ["fifo", "/dev/zero"])
def test_image_option_fifo_or_device_refused_without_blocking(tmp_path, source):
    if source == "fifo":
        os.mkfifo(tmp_path / "fifo.png")
        source = "fifo.png"
    line = refused(tmp_path, ["translate", "--model", "pix2pix", "--task", "colour",
                              "--image", source, "--models", "m", "--out", "o"], seconds=15)
    assert "not a file" in line


@pytest.mark.parametrize("kind, message", [
    ("empty", "is empty"),
    ("text", "not an image"),
    ("truncated-png", "corrupt or truncated"),
    ("truncated-jpeg", "corrupt or truncated"),
    ("huge-header", "crop or shrink"),
    ("sixteen-bit", "16-bit"),
])
def test_bad_file_in_train_dir_is_one_line_naming_it(tmp_path, kind, message):
    folder = photos(tmp_path / "photos", 2)
    bad = folder / "bad\nname.png"
    if kind == "empty":
        bad.touch()
    elif kind == "text":
        bad.write_text("hello")
    elif kind == "truncated-png":
        bad.write_bytes((folder / "photo0.png").read_bytes()[:400])
    elif kind == "truncated-jpeg":
        bad = folder / "bad.jpg"
        Image.open(folder / "photo0.png").save(bad, quality=90)
        bad.write_bytes(bad.read_bytes()[:600])
    elif kind == "huge-header":
        png(bad, 60000, 60000, rows=1)
    else:
        png(bad, 80, 80, depth=16)
    line = refused(tmp_path, TRAIN, extra_mb=400)
    assert message in line and "bad" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_unreadable_photo_named(tmp_path):
    folder = photos(tmp_path / "photos", 2)
    (folder / "photo1.png").chmod(0)
    try:
        line = refused(tmp_path, TRAIN)
    finally:
        (folder / "photo1.png").chmod(0o644)
    assert "photo1.png" in line and "permission denied" in line


def test_unreadable_photo_wording(tmp_path, monkeypatch):
    """As root nothing is unreadable: simulate the refusal of the open."""
    photos(tmp_path / "photos", 2)
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if str(path).endswith("photo1.png"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    line = refused(tmp_path, TRAIN)
    assert "photo1.png" in line and "permission denied" in line and "corrupt" not in line


def test_train_dir_that_is_a_fifo_or_image_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    png(tmp_path / "one.png", 70, 70)
    for target in ("pipe", "one.png"):
        line = refused(tmp_path, [*RESTORE, "--train-dir", target], seconds=15)
        assert "not a folder" in line


def test_empty_train_dir_name_is_not_the_current_folder(tmp_path):
    photos(tmp_path, 3)
    line = refused(tmp_path, [*RESTORE, "--train-dir", ""], seconds=15)
    assert "--train-dir is empty" in line


def test_read_image_is_single_bounded_read(tmp_path):
    """A file that grows past the bound after it was checked is still refused."""
    path = png(tmp_path / "a.png", 70, 70)
    assert read_image(path).shape == (3, 70, 70)
    with open(path, "r+b") as f:
        f.truncate(65 << 20)
    with bounded(10, extra_mb=300), pytest.raises(CommganError, match="64 MiB"):
        read_image(path)


def test_augment_per_class_list_bounded_in_length(tmp_path):
    line = refused(tmp_path, ["augment", "--per-class", "1," * 100000 + "1", "--out", "o"],
                   seconds=15, extra_mb=400)
    assert "--per-class" in line


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_when(tmp_path: Path, args: list[str], ready: str, signum: int) -> str:
    """Run the CLI, send ``signum`` to it 2 s after a stderr line contains ``ready``; return
    its stderr without the log lines (which start with the command's or the model's name)."""
    process = subprocess.Popen([sys.executable, "-c", CLI, *args], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COMMGAN_KEY": ""}, start_new_session=True,
                               preexec_fn=_default_sigint)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    try:
        while not any(ready in line for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, lines
            time.sleep(0.2)
        time.sleep(2.0)
        os.killpg(process.pid, signum)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    logs = (f"{args[0]}:", *(f"{name}:" for name in VISION_MODELS), "LPIPS unavailable",
            "training on ")
    check_failure(process.returncode, "".join(line for line in lines
                                              if not line.startswith(logs)), 130)
    return "".join(lines)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_vision_training_exits_130_and_leaves_nothing(tmp_path, signum):
    photos(tmp_path / "photos", 3, size=96)
    _interrupt_when(tmp_path, ["restore", "--task", "sr", "--demo", "--steps", "100000",
                               "--train-dir", "photos", "--models", "m", "--out", "o"],
                    "training 100000 iterations", signum)
    nothing_left(tmp_path, {"photos"})


def test_interrupt_during_augment_exits_130_and_leaves_nothing(tmp_path):
    _interrupt_when(tmp_path, ["augment", "--per-class", "5", "--seeds", "1", "--out", "o"],
                    "augment: N=5", signal.SIGINT)
    nothing_left(tmp_path)
