"""A BER sweep over systems and Eb/N0 points, saved point by point so it can resume."""

from __future__ import annotations

import importlib.metadata
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from channels import WiretapChannel
from channels.options import value_text
from commgan.comm.system import System
from commgan.fileio import atomic_write_all, json_writer, write_json
from commgan.parallel import Backend, UnitExecutor, runs_inline
from commgan.sim.config import SimulationConfig
from commgan.sim.engine import (
    PointResult,
    check_max_bits,
    merge_block,
    point_blocks,
    point_finished,
    simulate_block,
)
from commgan.sim.results import RESULT_COLUMNS, plot_ber, write_csv
from commgan.sim.stats import FrameErrorStats

__all__ = ["PROGRESS_FILE", "RESULT_FILES", "run_sweep", "package_versions"]

RESULT_FILES = ("results.csv", "ber.png", "bler.png", "config.json")
PROGRESS_FILE = ".progress.csv"
_PROGRESS_CONFIG = ".progress.json"


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine the numbers."""
    versions = {"python": platform.python_version()}
    for name in ("commgan", "torch", "sionna-no-rt", "numpy", "cryptography"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_sweep(
    config: SimulationConfig,
    systems: dict[str, System],
    out_dir: str | Path | None = None,
    *,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda message: None,
    extra_metadata: dict | None = None,
    jobs: int = 1,
    threads: int = 1,
    backend: Backend | None = None,
) -> pd.DataFrame:
    """Simulate every system at every Eb/N0 of ``config``; return the tidy results table.

    The blocks of the points are units of work (seeded by seed, system, Eb/N0 and block) run by
    ``jobs`` processes of ``threads`` torch threads each, or as Ray tasks with a ray ``backend``
    (:class:`~commgan.parallel.UnitExecutor`); the table is the same for any ``jobs`` and
    backend. With ``out_dir``, each finished point is appended (in sweep order) to a progress
    file there, a rerun with the same config resumes from it, and the final
    ``results.csv``, ``ber.png``, ``bler.png`` and ``config.json`` are written atomically at the
    end (then the progress file is removed). ``progress``: a tqdm bar; None = only when stderr
    is a terminal. A bit budget above :data:`~commgan.sim.engine.MAX_BITS` is refused before
    anything runs; blocks are generated as workers free up, so a large one costs nothing up
    front.
    """
    check_max_bits(config.max_bits)
    if progress is None:
        progress = sys.stderr.isatty()
    for system in systems.values():  # the same errors whatever --jobs is
        system.check_frame_bits(config.frame_bits)
        system.check_recipe()
    out = Path(out_dir) if out_dir is not None else None
    created = out is not None and not out.exists()
    try:
        return _sweep(config, systems, out, progress, log, extra_metadata, jobs, threads,
                      backend)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # a run that failed before its first point leaves no empty folder
        raise


def _sweep(config: SimulationConfig, systems: dict[str, System], out: Path | None,
           progress: bool, log: Callable[[str], None], extra_metadata: dict | None, jobs: int,
           threads: int, backend: Backend | None) -> pd.DataFrame:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    done = _load_progress(out, config, log) if out is not None else pd.DataFrame()
    if len(done):
        points = done[["system", "ebno_db"]].drop_duplicates().shape[0]
        log(f"resuming: {points} points done (same config)")
    wiretap = WiretapChannel(config.channel, config.eve_ebno_offset_db, device=config.device,
                             **config.channel_options)
    units = [(name, float(ebno_db)) for name in systems for ebno_db in config.ebno_db]
    bar = tqdm(total=len(units), unit="point", disable=not progress, dynamic_ncols=True,
               leave=False)
    finished = {unit: rows for unit in units
                if (rows := _finished(done, *unit)) is not None}
    cut_above: dict[str, float] = {}
    for (name, ebno_db), rows in finished.items():
        bar.update(1)
        bob_clean = (rows["receiver"].eq("bob") & rows["errors"].eq(0)).any()
        if config.early_stop and bob_clean:
            cut_above[name] = min(ebno_db, cut_above.get(name, ebno_db))

    blocks = point_blocks(config.frame_bits, config.batch_frames, config.max_bits)
    partial: dict[tuple[str, float], dict] = {}

    def wanted(unit: tuple[str, float, int, int]) -> bool:
        name, ebno_db, _, _ = unit
        return ((name, ebno_db) not in finished
                and ebno_db <= cut_above.get(name, float("inf")))

    on_batch = None
    if runs_inline(jobs, backend, config.device):
        def on_batch(bits: int) -> None:
            bar.set_postfix_str(f"{bits:.2e} bits", refresh=False)
    executor = UnitExecutor(jobs, threads, (systems, wiretap, config, on_batch), backend,
                            config.device)

    def block_units() -> Iterator[tuple[str, float, int, int]]:
        """Each point's blocks in sweep order, made when a worker asks: a point's next block
        only while the point is still wanted (never a list: a budget may be millions)."""
        for name, ebno_db in units:
            for index, frames in enumerate(blocks):
                if not wanted((name, ebno_db, index, frames)):
                    break
                yield name, ebno_db, index, frames

    rows = [done] if len(done) else []
    try:
        for (name, ebno_db, index, _), (block, seconds) in executor.ordered(
                _simulate_unit, block_units(), wanted):
            point = partial.setdefault((name, ebno_db), {"receivers": {}, "seconds": 0.0})
            merge_block(point["receivers"], block)
            point["seconds"] += seconds
            if not (point_finished(point["receivers"], config.target_errors,
                                   config.target_block_errors) or index == len(blocks) - 1):
                continue
            result = PointResult(name, ebno_db, partial.pop((name, ebno_db))["receivers"],
                                 point["seconds"])
            finished[(name, ebno_db)] = result
            bar.set_description(f"{name} @ {ebno_db:g} dB")
            bar.update(1)
            rows.append(_point_frame(result.rows(config.confidence), config, systems[name]))
            if out is not None:
                _save_progress(out, config, pd.concat(rows, ignore_index=True))
            if config.early_stop and result.receivers["bob"].errors == 0:
                log(f"{name}: no bit error at {ebno_db:g} dB, skipping higher Eb/N0")
                cut_above[name] = ebno_db
    finally:
        bar.close()
    results = pd.concat(rows, ignore_index=True)[RESULT_COLUMNS] if rows else pd.DataFrame(
        columns=RESULT_COLUMNS
    )
    if out is not None:
        metadata = {"config": config.to_dict(), "systems": systems_record(systems),
                    "versions": package_versions(),
                    "device_name": _device_name(config.device), **(extra_metadata or {})}
        title = f"{config.mod} over {config.channel}"
        atomic_write_all({  # all or none (a full disk leaves the progress file)
            out / "results.csv": lambda tmp: results.to_csv(tmp, index=False),
            out / "ber.png": lambda tmp: plot_ber(results, tmp, title=title),
            out / "bler.png": lambda tmp: plot_ber(results, tmp, title=title, metric="bler"),
            out / "config.json": json_writer(metadata),
        })
        for name in (PROGRESS_FILE, _PROGRESS_CONFIG):
            (out / name).unlink(missing_ok=True)
    return results


def _simulate_unit(shared: tuple, unit: tuple[str, float, int, int]
                   ) -> tuple[dict[str, FrameErrorStats], float]:
    """One block (system, Eb/N0, index, frames) of one point, the unit of work of a sweep (in a
    worker process when jobs > 1): its statistics per receiver and its seconds."""
    systems, wiretap, config, on_batch = shared
    name, ebno_db, index, frames = unit
    start = time.perf_counter()
    block = simulate_block(systems[name], wiretap, ebno_db, index, frames,
                           frame_bits=config.frame_bits, batch_frames=config.batch_frames,
                           seed=config.seed, eve=True if config.eve_for_all else None)
    if on_batch is not None:
        on_batch(sum(stats.bits for stats in block.values()) // max(1, len(block)))
    return block, time.perf_counter() - start


def _point_frame(rows: list[dict], config: SimulationConfig, system: System) -> pd.DataFrame:
    """A point's rows with the run's columns: channel, mod, the system's rate R and options,
    and Bob's ``theory`` (the system's own reference, else NaN)."""
    frame = pd.DataFrame(rows)
    frame["channel"] = config.channel
    frame["mod"] = config.mod
    frame["rate"] = float(system.bits_per_channel_use)
    frame["options"] = options_text(system.option_values())
    bob = frame["receiver"].eq("bob")
    frame["theory"] = float("nan")
    reference = system.theory_ber(config.channel, frame.loc[bob, "ebno_db"].to_numpy())
    if reference is not None:
        frame.loc[bob, "theory"] = reference
    return frame[RESULT_COLUMNS]


def options_text(options: dict) -> str:
    """Options as the CLI writes them: ``k=512,n=1024`` (empty without options)."""
    return ",".join(f"{name}={value_text(value)}" for name, value in options.items())


def systems_record(systems: dict[str, System]) -> dict[str, dict]:
    """What config.json records of each system: its class, rate R, block length and options."""
    return {label: {"name": system.name,
                    "class": f"{type(system).__module__}:{type(system).__qualname__}",
                    "rate": float(system.bits_per_channel_use),
                    "block_bits": system.block_bits, "options": system.option_values()}
            for label, system in systems.items()}


def _finished(done: pd.DataFrame, system: str, ebno_db: float) -> pd.DataFrame | None:
    if not len(done):
        return None
    match = done[(done["system"] == system) & ((done["ebno_db"] - ebno_db).abs() < 1e-9)]
    return match if len(match) else None


def _load_progress(out: Path, config: SimulationConfig,
                   log: Callable[[str], None]) -> pd.DataFrame:
    """Rows already simulated for this exact config: an interrupted sweep's progress file, or
    a finished sweep's results.csv (rerunning the same command then only rewrites the files).
    A file that does not hold valid rows of this config is ignored: the sweep starts over."""
    meta, rows = out / _PROGRESS_CONFIG, out / PROGRESS_FILE
    final, final_config = out / "results.csv", out / "config.json"
    source = rows
    try:
        if (meta.is_file() and rows.is_file()
                and json.loads(meta.read_text()).get("fingerprint") == config.fingerprint()):
            source = rows
        elif final.is_file() and final_config.is_file():
            saved = SimulationConfig.from_dict(json.loads(final_config.read_text())["config"])
            if saved.fingerprint() != config.fingerprint():
                return pd.DataFrame()
            source = final
        else:
            return pd.DataFrame()
        done = _valid_rows(pd.read_csv(source), config)
    except (OSError, KeyError, TypeError, ValueError, AttributeError, pd.errors.ParserError):
        done = None
    if done is None:
        log(f"ignoring {source.name}: not valid rows of this run; starting over")
        return pd.DataFrame()
    return done


_NUMERIC = ("ebno_db", "rate", "frame_bits", "frames", "bits", "errors", "ber", "ci_low",
            "ci_high", "frame_errors", "fer", "fer_low", "fer_high", "block_bits", "blocks",
            "block_errors", "bler", "bler_low", "bler_high", "seconds")


def _valid_rows(done: pd.DataFrame, config: SimulationConfig) -> pd.DataFrame | None:
    """``done`` with numeric columns, or None unless every row is a complete row of ``config``."""
    if set(RESULT_COLUMNS) - set(done.columns):
        return None
    done = done[RESULT_COLUMNS].copy()
    for column in (*_NUMERIC, "theory", "bits_per_s"):
        done[column] = pd.to_numeric(done[column], errors="coerce")
    complete = done[list(_NUMERIC)].apply(lambda c: c.map(math.isfinite)).all(axis=None)
    known = (done["system"].isin(config.systems).all()
             and done["receiver"].map(lambda r: isinstance(r, str)).all()
             and done["channel"].eq(config.channel).all() and done["mod"].eq(config.mod).all())
    return done if complete and known else None


def _save_progress(out: Path, config: SimulationConfig, rows: pd.DataFrame) -> None:
    write_json({"fingerprint": config.fingerprint()}, out / _PROGRESS_CONFIG)
    write_csv(rows, out / PROGRESS_FILE)


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()
