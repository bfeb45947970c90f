"""``--train-dir``: a folder of the user's photographs split by image into training and
validation, the generator state chosen on validation, the model cached by the folder's contents;
bad folders end in one error line and no output."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from commgan.cli import cli
from commgan.errors import CommganError
from commgan.vision.data import folder_digest, folder_split, load_image, to_uint8
from commgan.vision.models.cache import cache_stem
from commgan.vision.models.multiloss import RestorationTraining
from commgan.vision.models.record import VALIDATION_BATCHES
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.srgan import SRTraining
from commgan.vision.models.training import train_model, validation_psnr

pytestmark = pytest.mark.usefixtures("one_thread")

CROPS = [("chelsea", 0, 0), ("chelsea", 100, 200), ("coffee", 50, 100), ("coffee", 200, 300),
         ("astronaut", 0, 0)]


def write_photos(folder, crops=CROPS, size=96):
    folder.mkdir(exist_ok=True)
    for index, (name, y, x) in enumerate(crops):
        crop = load_image(name)[:, y:y + size, x:x + size]
        Image.fromarray(to_uint8(crop)).save(folder / f"photo{index}.png")
    return folder


def test_split_by_image_depends_on_contents_not_names(tmp_path):
    folder = write_photos(tmp_path / "photos")
    (folder / "notes.txt").write_text("not an image")
    training, validation = folder_split(folder)
    assert len(training) == 4 and len(validation) == 1
    assert not set(training) & set(validation)
    contents = {path: (folder / path).read_bytes() for path in sorted(p.name for p in
                                                                       folder.glob("*.png"))}
    held_out = (folder / validation[0]).read_bytes()
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for index, data in enumerate(reversed(list(contents.values()))):
        (renamed / f"z{index}.jpg.png").write_bytes(data)
    _, validation_renamed = folder_split(renamed)
    assert (renamed / validation_renamed[0]).read_bytes() == held_out


def test_digest_follows_the_contents(tmp_path):
    folder = write_photos(tmp_path / "photos")
    training, validation = folder_split(folder)
    before = folder_digest(training + validation)
    assert folder_digest(("rocket", "china")) is None
    assert folder_digest(training + validation) == before
    Image.fromarray(to_uint8(load_image("rocket")[:, :96, :96])).save(training[0])
    assert folder_digest(training + validation) != before


def test_cache_identity_includes_the_photos(tmp_path):
    folder = write_photos(tmp_path / "photos")
    default = cache_stem("restore", tmp_path)
    own = RestorationTraining().with_images(*folder_split(folder))
    stem = cache_stem("restore", tmp_path, own)
    assert stem != default
    Image.fromarray(to_uint8(load_image("rocket")[:, :96, :96])).save(own.images[0])
    assert cache_stem("restore", tmp_path, own) != stem
    assert cache_stem("restore", tmp_path, RestorationTraining()) == default


def test_generator_chosen_on_validation(tmp_path):
    folder = write_photos(tmp_path / "photos")
    training = SRTraining(iterations=12, warmup=4, batch_size=2).with_images(
        *folder_split(folder, min_size=64))
    generator, history = train_model(VISION_MODELS["sr"], training)
    checked = history.dropna(subset=["validation_psnr"])
    assert len(checked) >= 10
    scores = dict(zip(checked["iteration"], checked["validation_psnr"], strict=True))
    chosen = history.attrs["chosen_iteration"]
    assert history.attrs["chosen_psnr"] >= max(scores.values())
    source = VISION_MODELS["sr"].batch_source(training.validation_source(),
                                              [load_image(name) for name in training.validation])
    batches = [source() for _ in range(VALIDATION_BATCHES)]
    assert validation_psnr(generator, batches) == pytest.approx(history.attrs["chosen_psnr"],
                                                                abs=1e-4)
    assert chosen in scores or chosen == 0


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing", "does not exist"),
    (lambda tmp: (tmp / "file.png").write_bytes(b"x") and tmp / "file.png", "is not a folder"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "at least 2"),
    (lambda tmp: write_photos(tmp / "one", CROPS[:1]), "at least 2"),
    (lambda tmp: write_photos(tmp / "small", CROPS[:3], size=40), "40x40 pixels"),
])
def test_bad_folders_one_line(tmp_path, make, message):
    folder = make(tmp_path)
    with pytest.raises(CommganError, match=message):
        folder_split(folder, min_size=64)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["restore", "--task", "denoise", "--demo", "--steps", "2",
                                      "--train-dir", str(folder), "--models",
                                      str(tmp_path / "models"), "--out", str(out), "--quiet"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and message in result.output
    assert not out.exists() and not (tmp_path / "models").exists()


def test_corrupt_photo_is_named(tmp_path):
    folder = write_photos(tmp_path / "photos", CROPS[:3])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(CommganError, match="broken.jpg"):
        folder_split(folder)


def test_restore_trains_on_the_folder(tmp_path):
    folder = write_photos(tmp_path / "photos")
    out, models = tmp_path / "out", tmp_path / "models"
    argv = ["restore", "--task", "denoise", "--demo", "--steps", "3", "--train-dir", str(folder),
            "--models", str(models), "--out", str(out)]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert "training on 4 photographs" in result.output
    assert "chosen on validation" in result.output
    table = pd.read_csv(out / "metrics.csv")
    assert np.isfinite(table["psnr"]).all()
    sidecars = list(models.glob("*.json"))
    assert len(sidecars) == 1
    again = CliRunner().invoke(cli, argv)
    assert again.exit_code == 0 and "using cached model" in again.output
