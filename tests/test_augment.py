"""GAN data augmentation on digits: the split, classical augmentation, the GAN records, the
study on a tiny budget, its statistics, and ``commgan augment`` (tiny budget through
``--gan-iters``, ``--classifier-steps`` and ``--synthetic``; bad input is one error line)."""

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from scipy import stats

import commgan.cli.augment  # noqa: F401  (registers the command until commgan.cli imports it)
from commgan.cli import cli
from commgan.errors import CommganError
from commgan.rng import generator
from commgan.vision.augment.report import summarize, verdicts
from commgan.vision.augment.study import (
    COLUMNS,
    QUALITY_COLUMNS,
    AugmentConfig,
    AugmentShared,
    AugmentUnit,
    reference_classifier,
    run_augment,
    run_unit,
)
from commgan.vision.classifier import ClassifierTraining, accuracy, train_classifier
from commgan.vision.digits import (
    NUM_CLASSES,
    TEST_SIZE,
    classical_augment,
    digits_split,
    draw_per_class,
    max_per_class,
)
from commgan.vision.digits_gans import (
    DIGITS_GANS,
    gan_training,
    generate_digits,
    train_digits_gan,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_split_is_disjoint_complete_and_stratified():
    split = digits_split()
    pool, test = set(split.pool_index.tolist()), set(split.test_index.tolist())
    assert not pool & test and len(pool | test) == 1797 and len(test) == TEST_SIZE
    all_counts = torch.bincount(torch.cat([split.pool_labels, split.test_labels]))
    test_counts = torch.bincount(split.test_labels, minlength=NUM_CLASSES)
    assert (test_counts - all_counts * TEST_SIZE / 1797).abs().max() <= 1
    assert split.pool_images.shape == (1797 - TEST_SIZE, 1, 8, 8)
    assert split.pool_images.min() == -1 and split.pool_images.max() == 1
    assert max_per_class() == int(torch.bincount(split.pool_labels).min())


def test_draw_per_class_is_seeded_and_balanced():
    images, labels = draw_per_class(5, seed=3)
    assert images.shape == (50, 1, 8, 8)
    assert labels.tolist() == [d for d in range(NUM_CLASSES) for _ in range(5)]
    again, _ = draw_per_class(5, seed=3)
    other, _ = draw_per_class(5, seed=4)
    assert torch.equal(images, again) and not torch.equal(images, other)
    assert len(torch.unique(images.flatten(1), dim=0)) == 50  # no image drawn twice
    with pytest.raises(ValueError, match="images per class"):
        draw_per_class(max_per_class() + 1, seed=0)


def test_shifts_move_ink_by_whole_pixels():
    images, _ = draw_per_class(8, seed=0)
    moved = classical_augment(images, generator(1), max_shift=1, max_rotation_deg=0.0)
    ink, moved_ink = (images + 1) / 2, (moved + 1) / 2
    shifts = []
    for before, after in zip(ink[:, 0], moved_ink[:, 0], strict=True):
        matches = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                padded = torch.nn.functional.pad(before, (1, 1, 1, 1))
                expected = padded[1 - dy:9 - dy, 1 - dx:9 - dx]
                if torch.allclose(after, expected, atol=1e-5):
                    matches.append((dy, dx))
        assert matches, "a shift-only transform must be a whole-pixel shift"
        shifts.append(matches[0])
    assert len(set(shifts)) >= 7  # 80 images: all 9 shifts are likely, 7 is certain enough


def test_rotations_keep_shape_and_range_and_move_pixels():
    images, _ = draw_per_class(8, seed=0)
    moved = classical_augment(images, generator(2))
    assert moved.shape == images.shape and moved.min() >= -1 and moved.max() <= 1
    change = (moved - images).abs().mean(dim=(1, 2, 3))
    assert (change > 0.02).float().mean() > 0.9
    ink_ratio = ((moved + 1).sum(dim=(1, 2, 3)) / (images + 1).sum(dim=(1, 2, 3)))
    assert ink_ratio.median() == pytest.approx(1.0, abs=0.15)  # little ink leaves the 8x8 box
    assert torch.equal(moved, classical_augment(images, generator(2)))


@pytest.mark.parametrize("name", list(DIGITS_GANS))
def test_gan_record_trains_and_generates_each_class(name):
    assert "gan" in name
    training = gan_training(name, iterations=3)
    images, labels = draw_per_class(2, seed=0)
    gen, history = train_digits_gan(training, images, labels, seed=5)
    assert len(history) == 3 and np.isfinite(history[["loss_d", "loss_g"]]).all().all()
    assert ("gp" in history) == (training.gp_weight > 0)
    samples, sample_labels = generate_digits(gen, 4, seed=7)
    assert samples.shape == (40, 1, 8, 8) and samples.abs().max() <= 1
    assert sample_labels.tolist() == [d for d in range(NUM_CLASSES) for _ in range(4)]
    assert torch.equal(samples, generate_digits(gen, 4, seed=7)[0])
    again, _ = train_digits_gan(training, images, labels, seed=5)
    assert torch.equal(samples, generate_digits(again, 4, seed=7)[0])


def test_unknown_gan_is_the_registry_line():
    with pytest.raises(CommganError, match="unknown digits GAN 'vae'; valid: cgan, wgan-gp"):
        gan_training("vae")


def test_wgan_gp_record_is_the_wgan_gp_game():
    training = DIGITS_GANS["wgan-gp"].training
    assert (training.loss, training.gp_weight, training.n_critic, training.d_norm) == (
        "wgan", 10.0, 5, "none")
    assert DIGITS_GANS["cgan"].training.loss == "nonsaturating"


def test_classifier_learns_from_ten_images_per_class():
    split = digits_split()
    real = draw_per_class(10, seed=0)
    model = train_classifier(real, None, ClassifierTraining(), init_seed=1, batch_seed=2)
    # measured 0.91, 0.94, 0.93 for draw seeds 0, 1, 2; chance is 0.1
    assert accuracy(model, split.test_images, split.test_labels) > 0.8


TINY = AugmentConfig(per_class=(2, 3), seeds=2, gan_iterations=2, synthetic_per_class=3,
                     classifier=ClassifierTraining(steps=4), reference_steps=4)


def test_study_on_a_tiny_budget_returns_the_documented_tables():
    result = run_augment(TINY)
    assert tuple(result.table.columns) == COLUMNS
    assert len(result.table) == 2 * 2 * 4
    assert set(result.table["method"]) == {"none", "classical", *DIGITS_GANS}
    assert result.table["accuracy"].between(0, 1).all()
    assert tuple(result.quality.columns) == QUALITY_COLUMNS
    assert len(result.quality) == 2 * 2 * 3
    assert set(result.samples) == {2, 3}
    assert result.samples[2]["cgan"].shape == (NUM_CLASSES, 3, 1, 8, 8)
    assert result.real_samples[3].shape == (NUM_CLASSES, 3, 1, 8, 8)
    assert {"diff_none_low", "diff_classical_high"} <= set(summarize(result.table).columns)


def test_units_are_independent_of_order():
    shared = AugmentShared(TINY, reference_classifier(TINY).state_dict())
    first = run_unit(shared, AugmentUnit(3, 1)).rows
    run_unit(shared, AugmentUnit(2, 0))
    assert run_unit(shared, AugmentUnit(3, 1)).rows == first


def test_summary_intervals_are_paired_and_bonferroni_corrected():
    gain = np.array([0.10, 0.12, 0.08, 0.11, 0.09])
    rows = []
    for n in (5, 10, 20, 50):
        for seed, (base, g) in enumerate(zip(np.linspace(0.5, 0.9, 5), gain, strict=True)):
            rows += [{"method": "none", "per_class": n, "seed": seed, "accuracy": base},
                     {"method": "classical", "per_class": n, "seed": seed, "accuracy": base},
                     {"method": "xgan", "per_class": n, "seed": seed, "accuracy": base + g}]
    summary = summarize(pd.DataFrame(rows))
    row = summary[(summary.method == "xgan") & (summary.per_class == 5)].iloc[0]
    half = stats.t.ppf(1 - 0.05 / 4 / 2, 4) * gain.std(ddof=1) / 5 ** 0.5
    assert row.diff_none == pytest.approx(0.1)
    assert (row.diff_none_low, row.diff_none_high) == pytest.approx((0.1 - half, 0.1 + half))
    assert row["std"] == pytest.approx((np.linspace(0.5, 0.9, 5) + gain).std(ddof=1))
    lines = verdicts(summary)
    assert lines[0].startswith("xgan vs none:") and "better at N=5,10,20,50" in lines[0]
    assert "holds at N=5,10,20,50" in lines[0]


def _augment(tmp_path, *args):
    out = tmp_path / "out"
    argv = ["augment", *args, "--out", str(out), "--quiet", "--jobs", "1"]
    return CliRunner().invoke(cli, argv), out


def test_cli_writes_the_table_and_figures(tmp_path):
    result, out = _augment(tmp_path, "--per-class", "2", "--seeds", "2", "--gan-iters", "2",
                           "--classifier-steps", "3", "--synthetic", "2")
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {"augment.csv", "summary.csv", "quality.csv", "config.json", "augment.png",
                     "samples-classical.png", "samples-cgan.png", "samples-wgan-gp.png"}
    table = pd.read_csv(out / "augment.csv")
    assert list(table.columns) == list(COLUMNS) and len(table) == 2 * 4
    assert "vs classical" in result.output and "wgan-gp vs none" in result.output


@pytest.mark.parametrize("args, message", [
    (["--per-class", "0"], "positive"),
    (["--per-class", "abc"], "comma list"),
    (["--per-class", "5,5"], "repeated"),
    (["--per-class", "200"], "at most"),
    (["--seeds", "0"], "positive"),
    (["--gans", "vae"], "valid: cgan, wgan-gp"),
    (["--synthetic", "-1"], "positive"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    result, out = _augment(tmp_path, *args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], lines
    assert not out.exists()
