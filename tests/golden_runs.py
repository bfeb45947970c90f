"""Golden outputs: fixed-seed runs of every command whose numbers a refactoring must keep.

Each case of :data:`CASES` runs one command through the CLI: simulate rows of qam, qam+chacha
and the shipped ae and gan-enc models at two Eb/N0 on awgn and rayleigh, and of qam, qam-ssd and
the shipped ae on rayleigh-fast; the wrong-key attack scenario at budget small; a short converge
run; an export (digests of its integer arrays, sums of its float arrays); one restore metrics
row; a two-step pix2pix translation's metrics; a tiny digit augmentation's accuracies and
sample quality. The learned links are the shipped models, not trainings of their own: a
training's float rounding depends on the CPU's kernels (bf16 on AMX or AVX512-BF16, fp32
accumulation order), and 20 steps turn it into different error counts on another machine
(docs/decisions.md); reproducible training is tested on one machine in test_transceiver and
test_encryption. The image cases train two steps, whose metrics move by far less than a change
of random streams moves them.

``python tests/golden_runs.py`` records every case into ``tests/data/golden.json``;
``python tests/golden_runs.py CASE ...`` records only those cases and keeps the others' numbers
(how a new case is added). ``tests/test_golden.py`` reruns each case and compares.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from helpers import run_cli

GOLDEN_FILE = Path(__file__).parent / "data" / "golden.json"
KEY_HEX = bytes(range(32)).hex()
KEY_ENV = {"COMMGAN_KEY": KEY_HEX}


def _array_summary(array: np.ndarray) -> str | list[float]:
    """An integer array's SHA-256; a float array's sum, sum of squares and first four values
    (compared to float precision: its last bits may differ between CPUs)."""
    if np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
    flat = np.asarray(array, dtype=np.complex128).ravel()
    values = np.concatenate([flat.real, flat.imag])
    return [float(values.sum()), float(np.square(values).sum()), *map(float, values[:4])]


def _rows(table: pd.DataFrame, keys: list[str], values: list[str]) -> list[dict]:
    table = table.sort_values(keys).reset_index(drop=True)
    return json.loads(table[keys + values].to_json(orient="records", double_precision=15))


def _simulate(channel: str, systems: str) -> Callable[[Path, str], list[dict]]:
    def case(workdir: Path, models: str) -> list[dict]:
        out = workdir / f"simulate-{channel}"
        run_cli(["simulate", "--channel", channel, "--system", systems, "--ebno", "4,10",
                 "--max-bits", "100000", "--target-errors", "100", "--models", models,
                 "--out", out, "--quiet"], KEY_ENV, check=True)
        return _rows(pd.read_csv(out / "results.csv"), ["system", "receiver", "ebno_db"],
                     ["frames", "bits", "errors"])

    return case


def _attack(workdir: Path, models: str) -> list[dict]:
    out = workdir / "attack"
    run_cli(["attack", "--system", "gan-enc", "--channel", "awgn", "--scenarios", "wrong-key",
             "--ebno", "10", "--models", models, "--out", out, "--quiet"], KEY_ENV, check=True)
    return _rows(pd.read_csv(out / "attack.csv"), ["eve_model"], ["bits", "errors", "bob_ber"])


def _converge(workdir: Path, models: str) -> list[dict]:
    out = workdir / "converge"
    run_cli(["converge", "--channel", "rayleigh", "--models", "gan,cgan,dcgan", "--seeds", "1",
             "--iters", "10", "--no-fidelity", "--jobs", "1", "--out", out, "--quiet"], KEY_ENV,
            check=True)
    histories = pd.read_csv(out / "histories.csv")
    loss_columns = [c for c in histories.columns if c.startswith("loss")]
    return _rows(histories, ["model", "iteration"], loss_columns)


def _export(workdir: Path, models: str) -> dict:
    archive = workdir / "wiretap.npz"
    run_cli(["export", "--system", "gan-enc", "--channel", "rayleigh", "--frames", "32",
             "--frame-bits", "256", "--ebno", "10", "--models", models, "--out", archive,
             "--quiet"], KEY_ENV, check=True)
    with np.load(archive) as data:
        return {name: _array_summary(data[name]) for name in sorted(data.files)
                if data[name].dtype != object and not name.startswith("meta")}


def _restore(workdir: Path, models: str) -> list[dict]:
    out = workdir / "restore"
    run_cli(["restore", "--task", "denoise", "--demo", "--steps", "2", "--models", models,
             "--out", out, "--threads", "1", "--quiet"],  # restore's default: all cores
            KEY_ENV, check=True)
    return _rows(pd.read_csv(out / "metrics.csv"), ["method"],
                 ["psnr", "ssim", "psnr_y", "ssim_y"])


def _translate(workdir: Path, models: str) -> list[dict]:
    out = workdir / "translate"
    run_cli(["translate", "--model", "pix2pix", "--task", "colour", "--demo", "--steps", "2",
             "--models", models, "--out", out, "--threads", "1", "--quiet"], KEY_ENV,
            check=True)
    return _rows(pd.read_csv(out / "metrics.csv"), ["method"],
                 ["psnr", "ssim", "psnr_y", "ssim_y"])


def _augment(workdir: Path, models: str) -> dict:
    out = workdir / "augment"
    run_cli(["augment", "--per-class", "2", "--seeds", "1", "--gan-iters", "2",
             "--classifier-steps", "3", "--synthetic", "2", "--jobs", "1", "--out", out,
             "--quiet"], KEY_ENV, check=True)
    keys = ["method", "per_class", "seed"]
    return {"accuracy": _rows(pd.read_csv(out / "augment.csv"), keys, ["accuracy"]),
            "quality": _rows(pd.read_csv(out / "quality.csv"), keys,
                             ["label_accuracy", "worst_class_accuracy", "nn_distance",
                              "test_nn_distance"])}


CASES: dict[str, Callable[[Path, str], object]] = {
    "simulate-awgn": _simulate("awgn", "qam,qam+chacha,ae,gan-enc"),
    "simulate-rayleigh": _simulate("rayleigh", "qam,qam+chacha,ae,gan-enc"),
    "simulate-rayleigh-fast": _simulate("rayleigh-fast", "qam,qam-ssd,ae"),
    "attack-wrong-key": _attack,
    "converge-histories": _converge,
    "export-digests": _export,
    "restore-denoise": _restore,
    "translate-colour": _translate,
    "augment-digits": _augment,
}
"""Name in golden.json -> the case: ``case(workdir, models)`` runs its command inside
``workdir`` (``models``: an empty model folder, so the shipped models) and returns its numbers,
JSON-ready."""


def collect(workdir: Path, names: list[str] | None = None) -> dict:
    """Run the golden cases ``names`` (default: all) inside ``workdir``; return their numbers.

    torch runs one intra-op thread, the CLI's thread policy, whatever the caller had set.
    """
    import torch

    torch.set_num_threads(1)
    models = workdir / "models"  # empty: the shipped models
    models.mkdir(exist_ok=True)
    return {name: CASES[name](workdir, str(models)) for name in names or CASES}


if __name__ == "__main__":
    import tempfile

    chosen = sys.argv[1:]
    unknown = sorted(set(chosen) - set(CASES))
    if unknown:
        sys.exit(f"unknown cases {unknown}; valid: {', '.join(CASES)}")
    numbers = json.loads(GOLDEN_FILE.read_text()) if chosen else {}
    with tempfile.TemporaryDirectory() as tmp:
        numbers.update(collect(Path(tmp), chosen or None))
    GOLDEN_FILE.write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n")
    print(f"wrote {', '.join(chosen) or 'every case'} into {GOLDEN_FILE}", file=sys.stderr)
