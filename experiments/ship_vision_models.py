"""Train the default model of every vision command and ship it, in float16, in ``commgan/models``.

For each model: train it with its default config and seed into ``--cache`` (float32, with a
fixed thread count so that a rerun gives the same bytes; the package's shipped copy is never
used for this), write a float16 copy under the same stem in the package's model folder (the
sidecar keeps the identity and records ``storage: float16`` and the SHA-256 of the float32
weights, ``sha256_float32``), then run the model's ``--demo`` command twice, once on the float32
cache and once on the shipped copy alone, and require every PSNR of its metrics.csv to agree
within 0.05 dB (else the float32 file is shipped). Writes
``results/ship_vision_models/shipped.csv`` (model, demo command, float32 and float16 PSNR, the
largest difference, size, training time). To check that a shipped model is reproducible, rerun
this with an empty ``--cache`` and ``--only NAME``: the new float32 file's SHA-256 must equal the
sidecar's ``sha256_float32``.

Usage: python experiments/ship_vision_models.py [--only sr,real-esrgan] [--threads 2]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import click
import pandas as pd
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from commgan.checkpoint import SHIPPED_MODELS, checkpoint_paths
from commgan.cli import cli as commgan_main

DEMOS: dict[str, list[str]] = {
    "sr": ["restore", "--task", "sr"],
    "real-esrgan": ["restore", "--task", "sr-real"],
    "colour": ["restore", "--task", "colour"],
    "restore": ["restore", "--task", "inpaint"],
    "gated": ["restore", "--task", "inpaint", "--model", "gated"],
    "pix2pix-colour": ["translate", "--task", "colour", "--model", "pix2pix"],
    "cyclegan-colour": ["translate", "--task", "colour", "--model", "cyclegan"],
    "cut-colour": ["translate", "--task", "colour", "--model", "cut"],
    "pix2pix-edges2photo": ["translate", "--task", "edges2photo", "--model", "pix2pix"],
    "spade-labels2photo": ["translate", "--task", "labels2photo", "--model", "spade"],
    "pix2pix-labels2photo": ["translate", "--task", "labels2photo", "--model", "pix2pix"],
    "stylegan": ["generate", "--model", "stylegan"],
    "cgan-baseline": ["generate", "--model", "stylegan"],
}
"""Model -> the command whose ``--demo`` uses it (the command that trains it on first use)."""

TOLERANCE_DB = 0.05
"""Largest PSNR change allowed by float16 storage; a model above it is shipped in float32."""
FLOAT32_ONLY = {"cgan-baseline": "generate's baseline is judged by a classifier, not by PSNR"}
"""Models shipped in float32 without the float16 check, and why."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_demo(args: list[str], models: Path, out: Path, threads: int) -> pd.DataFrame:
    """metrics.csv of ``commgan ARGS --demo`` with the model folder ``models``."""
    result = CliRunner().invoke(commgan_main, [*args, "--demo", "--models", str(models),
                                               "--out", str(out), "--threads", str(threads),
                                               "--quiet"], catch_exceptions=False)
    if result.exit_code != 0:
        raise click.ClickException(f"commgan {' '.join(args)} --demo failed: {result.output}")
    return pd.read_csv(out / "metrics.csv")


def psnr_columns(table: pd.DataFrame) -> dict[str, float]:
    """Every PSNR-like number of the table, by ``method/column``."""
    return {f"{row['method']}/{column}": float(row[column]) for _, row in table.iterrows()
            for column in table.columns if "psnr" in column.lower() and pd.notna(row[column])}


def ship_copy(trained: Path, shipped: Path, storage: str = "float16") -> dict:
    """Write checkpoint ``trained`` at stem ``shipped``, its floating-point tensors in
    ``storage`` (``float16`` or ``float32``, as trained); the sidecar records the storage and
    the float32 file's SHA-256. Returns the sidecar."""
    weights, meta = checkpoint_paths(trained)
    out_weights, out_meta = checkpoint_paths(shipped)
    if storage == "float16":
        state = {k: (v.half() if v.is_floating_point() else v).contiguous()
                 for k, v in load_file(weights).items()}
        save_file(state, out_weights)
    else:
        shutil.copyfile(weights, out_weights)
    sidecar = json.loads(meta.read_text())
    sidecar.update(storage=storage, sha256_float32=sidecar["sha256"],
                   sha256=sha256(out_weights))
    out_meta.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return sidecar


@click.command()
@click.option("--cache", default="results/ship_vision_models/float32", show_default=True,
              help="Model folder of the float32 trainings (kept: a rerun reuses them).")
@click.option("--only", default=",".join(DEMOS), show_default=True,
              help="Comma-separated models to ship.")
@click.option("--threads", type=int, default=2, show_default=True,
              help="torch threads of every training (the same count gives the same bytes).")
@click.option("--out", "out_dir", default="results/ship_vision_models", show_default=True)
def main(cache: str, only: str, threads: int, out_dir: str) -> None:
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in DEMOS]
    if unknown:
        raise click.BadParameter(f"unknown models {unknown}; choose from {list(DEMOS)}")
    torch.set_num_threads(threads)
    cache_dir, out = Path(cache), Path(out_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        start = time.perf_counter()
        stem = train(name, cache_dir)
        wall = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            full = run_demo(DEMOS[name], cache_dir, Path(tmp) / "float32", threads)
        shipped = SHIPPED_MODELS / stem.name
        storage = "float32" if name in FLOAT32_ONLY else "float16"
        sidecar = ship_copy(stem, shipped, storage)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                empty = Path(tmp) / "models"
                half = run_demo(DEMOS[name], empty, Path(tmp) / "float16", threads)
                if empty.exists() and any(empty.glob("*.safetensors")):
                    raise click.ClickException(f"{name}: the demo trained instead of using "
                                               f"{shipped}")
        except BaseException:
            for path in checkpoint_paths(shipped):
                path.unlink(missing_ok=True)
            raise
        a, b = psnr_columns(full), psnr_columns(half)
        worst = max(abs(a[k] - b.get(k, float("inf"))) for k in a)
        if storage == "float16" and not worst <= TOLERANCE_DB:
            ship_copy(stem, shipped, "float32")
            storage = "float32"
        size = checkpoint_paths(shipped)[0].stat().st_size
        click.echo(f"{name}: {stem.name}, {storage}, largest PSNR change {worst:.4f} dB, "
                   f"{size / 1e6:.2f} MB, load or train {wall:.0f} s")
        rows.append({"model": name, "stem": stem.name, "command": " ".join(DEMOS[name]),
                     "storage": storage, "max_psnr_change_db": worst,
                     "shipped_mb": size / 1e6, "train_seconds": sidecar.get("train_seconds"),
                     "threads": sidecar.get("threads"),
                     "sha256_float32": sidecar["sha256_float32"],
                     **{f"float32 {k}": v for k, v in a.items()},
                     **{f"float16 {k}": v for k, v in b.items()}})
    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    path = out / "shipped.csv"
    if path.exists():  # keep the rows of models not shipped this time
        old = pd.read_csv(path)
        table = pd.concat([old[~old["model"].isin(names)], table], ignore_index=True)
    table.to_csv(path, index=False)
    total = sum(p.stat().st_size for p in SHIPPED_MODELS.glob("*.safetensors"))
    click.echo(f"wrote {path}; the package's models now take {total / 1e6:.1f} MB")


def train(name: str, cache: Path) -> Path:
    """Model ``name``'s default config trained into (or already in) ``cache``, never the
    package's shipped copy; returns its stem there."""
    if name == "cgan-baseline":
        from commgan.vision.generate.run import baseline_generator
        return baseline_generator(cache, log=click.echo, use_shipped=False)[1].stem
    if name == "stylegan":
        from commgan.vision.generate.run import (
            StyleGANTraining,
            load_or_train_stylegan,
            stylegan_stem,
        )
        load_or_train_stylegan(StyleGANTraining(), cache, log=click.echo, use_shipped=False)
        return stylegan_stem(cache)
    from commgan.vision.models.cache import cache_stem, load_or_train
    load_or_train(name, cache, log=click.echo, use_shipped=False)
    return cache_stem(name, cache)


if __name__ == "__main__":
    sys.exit(main())
