"""``commgan restore``: files written, metrics against the reference, and bad input that ends in
one error line, a non-zero exit and no output files. Models are trained with ``--steps 2``."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from commgan.cli import cli
from commgan.vision.data import load_image, to_uint8
from commgan.vision.restore.report import method_label

pytestmark = pytest.mark.usefixtures("one_thread")


def restore(tmp_path, *args):
    out = tmp_path / "out"
    argv = ["restore", *args, "--models", str(tmp_path / "models"), "--out", str(out),
            "--quiet"]
    return CliRunner().invoke(cli, argv), out


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(to_uint8(load_image("chelsea")[:, 60:124, 150:246])).save(path)
    return path


def test_sr_demo_reproduces_bicubic_reference(tmp_path):
    result, out = restore(tmp_path, "--task", "sr", "--demo", "--steps", "2")
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"restored.png", "side_by_side.png", "metrics.csv"}
    assert Image.open(out / "restored.png").size == (512, 512)
    table = pd.read_csv(out / "metrics.csv").set_index("method")
    assert table.loc["bicubic", "psnr_y"] == pytest.approx(26.84, abs=0.005)
    assert table["lpips"].isna().all()  # unavailable without --backbone-weights
    assert "bicubic" in result.output


@pytest.mark.parametrize("task, extra, size", [
    ("inpaint", ["--ratio", "0.3", "--mask-kind", "free-form"], (96, 64)),
    ("inpaint", ["--mask-kind", "block-removal"], (96, 64)),  # every kind of make_mask
    ("denoise", ["--sigma", "15"], (96, 64)),
    ("colour", [], (96, 64)),
])
def test_tasks_on_an_image_file(tmp_path, photo, task, extra, size):
    result, out = restore(tmp_path, "--task", task, "--image", str(photo), "--steps", "2",
                          *extra)
    assert result.exit_code == 0, result.output
    assert Image.open(out / "restored.png").size == size
    table = pd.read_csv(out / "metrics.csv")
    classical = {"inpaint": ["biharmonic", "harmonic", "calibrated blend"],
                 "denoise": ["non-local means"], "colour": ["white balance + stretch"]}[task]
    assert list(table["method"]) == ["degraded", *classical, method_label(task, "model")]
    assert np.isfinite(table["psnr"]).all()


def test_already_degraded_inputs(tmp_path, photo):
    result, out = restore(tmp_path, "--task", "sr", "--image", str(photo), "--degraded",
                          "--steps", "2")
    assert result.exit_code == 0, result.output
    assert Image.open(out / "restored.png").size == (384, 256)
    assert not (out / "metrics.csv").exists()
    mask = np.zeros((64, 96), np.uint8)
    mask[20:40, 30:60] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    result, out = restore(tmp_path, "--task", "inpaint", "--image", str(photo), "--degraded",
                          "--mask", str(tmp_path / "mask.png"), "--steps", "2")
    assert result.exit_code == 0, result.output
    restored = np.asarray(Image.open(out / "restored.png"))
    original = np.asarray(Image.open(photo))
    assert np.array_equal(restored[mask == 0], original[mask == 0])


@pytest.mark.parametrize("args, message", [
    (["--image", "{missing}"], "does not exist"),
    (["--image", "{text}"], "not an image"),
    (["--image", "{truncated}"], "corrupt or truncated"),
    (["--image", "{tiny}"], "needs at least 64x64"),
    (["--image", "{huge}"], "at most 4,000,000"),
    (["--image", "{photo}", "--demo"], "exactly one"),
    ([], "exactly one"),
    (["--demo", "--degraded"], "--degraded needs --image"),
    (["--demo", "--mask", "{photo}"], "--mask applies"),
    (["--demo", "--ratio", "1.5"], "--ratio"),
    (["--demo", "--sigma", "0"], "--sigma"),
    (["--demo", "--backbone-weights", "{text}"], "cannot be read"),
    (["--demo", "--backbone-weights", "{missing}"], "does not exist"),
    (["--demo", "--steps", "0"], "positive"),
])
def test_bad_input_one_line_no_files(tmp_path, photo, args, message):
    (tmp_path / "notes.png").write_text("hello")
    good = np.asarray(Image.open(photo))
    Image.fromarray(good[:40, :40]).save(tmp_path / "tiny.png")
    if "{huge}" in args:
        Image.fromarray(np.zeros((2000, 2004, 3), np.uint8)).save(tmp_path / "huge.png")
    Image.fromarray(good).save(tmp_path / "trunc.png")
    (tmp_path / "trunc.png").write_bytes((tmp_path / "trunc.png").read_bytes()[:100])
    names = {"missing": tmp_path / "nope.png", "text": tmp_path / "notes.png",
             "truncated": tmp_path / "trunc.png", "tiny": tmp_path / "tiny.png",
             "huge": tmp_path / "huge.png", "photo": photo}
    args = [a.format(**names) for a in args]
    result, out = restore(tmp_path, "--task", "sr", *args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], lines
    assert not out.exists() and not (tmp_path / "models").exists()


def test_bad_task_and_inpaint_mask_errors(tmp_path, photo):
    result, out = restore(tmp_path, "--task", "deblur", "--demo")
    assert result.exit_code == 2 and "Error:" in result.output and not out.exists()
    result, out = restore(tmp_path, "--task", "inpaint", "--image", str(photo), "--degraded")
    assert result.exit_code == 1 and "needs --mask" in result.output and not out.exists()
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small_mask.png")
    result, out = restore(tmp_path, "--task", "inpaint", "--image", str(photo), "--degraded",
                          "--mask", str(tmp_path / "small_mask.png"))
    assert result.exit_code == 1 and "mask" in result.output and not out.exists()
