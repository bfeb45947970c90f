"""Golden outputs: fixed-seed runs of every command whose numbers a refactoring must keep.

``collect(workdir)`` runs, through the CLI: simulate rows of qam, qam+chacha and the shipped ae
and gan-enc models at two Eb/N0 on awgn and rayleigh, the wrong-key attack scenario at budget
small, a short converge run, an export (digests of its integer arrays, sums of its float arrays)
and one restore metrics row. The learned links are the shipped models, not trainings of their
own: a training's float rounding depends on the CPU's kernels (bf16 on AMX or AVX512-BF16, fp32
accumulation order), and 20 steps turn it into different error counts on another machine
(docs/decisions.md); reproducible training is tested on one machine in test_transceiver and
test_encryption. ``python tests/golden_runs.py`` records them into
``tests/data/golden.json``; ``tests/test_golden.py`` compares a fresh run with that file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

GOLDEN_FILE = Path(__file__).parent / "data" / "golden.json"
KEY_HEX = bytes(range(32)).hex()
CHANNELS = ("awgn", "rayleigh")


def _run(args: list[str]) -> None:
    from commgan.cli import cli

    result = CliRunner().invoke(cli, [*args], env={"COMMGAN_KEY": KEY_HEX})
    if result.exit_code != 0:
        raise RuntimeError(f"commgan {' '.join(args)} failed: {result.output}")


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


def collect(workdir: Path) -> dict:
    """Run every golden command inside ``workdir``; return their numbers (JSON-ready).

    torch runs one intra-op thread, the CLI's thread policy, whatever the caller had set.
    """
    import torch

    torch.set_num_threads(1)
    models = str(workdir / "models")  # empty: the shipped models
    (workdir / "models").mkdir()
    golden: dict = {}
    for channel in CHANNELS:
        out = workdir / f"simulate-{channel}"
        _run(["simulate", "--channel", channel, "--system", "qam,qam+chacha,ae,gan-enc",
              "--ebno", "4,10", "--max-bits", "100000", "--target-errors", "100",
              "--models", models, "--out", str(out), "--quiet"])
        golden[f"simulate-{channel}"] = _rows(
            pd.read_csv(out / "results.csv"), ["system", "receiver", "ebno_db"],
            ["frames", "bits", "errors"])
    out = workdir / "attack"
    _run(["attack", "--system", "gan-enc", "--channel", "awgn", "--scenarios", "wrong-key",
          "--ebno", "10", "--models", models, "--out", str(out), "--quiet"])
    golden["attack-wrong-key"] = _rows(pd.read_csv(out / "attack.csv"), ["eve_model"],
                                       ["bits", "errors", "bob_ber"])
    out = workdir / "converge"
    _run(["converge", "--channel", "rayleigh", "--models", "gan,cgan,dcgan", "--seeds", "1",
          "--iters", "10", "--no-fidelity", "--jobs", "1", "--out", str(out), "--quiet"])
    histories = pd.read_csv(out / "histories.csv")
    loss_columns = [c for c in histories.columns if c.startswith("loss")]
    golden["converge-histories"] = _rows(histories, ["model", "iteration"], loss_columns)
    archive = workdir / "wiretap.npz"
    _run(["export", "--system", "gan-enc", "--channel", "rayleigh", "--frames", "32",
          "--frame-bits", "256", "--ebno", "10", "--models", models, "--out", str(archive),
          "--quiet"])
    with np.load(archive) as data:
        golden["export-digests"] = {
            name: _array_summary(data[name]) for name in sorted(data.files)
            if data[name].dtype != object and not name.startswith("meta")}
    out = workdir / "restore"
    _run(["restore", "--task", "denoise", "--demo", "--steps", "2", "--models", models,
          "--out", str(out), "--threads", "1", "--quiet"])  # restore's default: all cores
    golden["restore-denoise"] = _rows(pd.read_csv(out / "metrics.csv"), ["method"],
                                      ["psnr", "ssim", "psnr_y", "ssim_y"])
    return golden


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        numbers = collect(Path(tmp))
    GOLDEN_FILE.write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN_FILE}", file=sys.stderr)
