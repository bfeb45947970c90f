"""A BER sweep over systems and Eb/N0 points, saved point by point so it can resume."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from channels import WiretapChannel, theory
from commgan.comm.system import System
from commgan.fileio import write_json
from commgan.sim.config import SimulationConfig
from commgan.sim.engine import PointResult, simulate_point
from commgan.sim.executor import UnitExecutor
from commgan.sim.results import RESULT_COLUMNS, plot_ber, write_csv

__all__ = ["PROGRESS_FILE", "RESULT_FILES", "run_sweep", "package_versions"]

RESULT_FILES = ("results.csv", "ber.png", "config.json")
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
) -> pd.DataFrame:
    """Simulate every system at every Eb/N0 of ``config``; return the tidy results table.

    The points are units of work (seeded by seed, system and Eb/N0) run by ``jobs`` processes of
    ``threads`` torch threads each (:class:`~commgan.sim.executor.UnitExecutor`); the table is
    the same for any ``jobs``. With ``out_dir``, each finished point is appended (in sweep
    order) to a progress file there, a rerun with the same config resumes from it, and the final
    ``results.csv``, ``ber.png`` and ``config.json`` are written atomically at the end (then the
    progress file is removed). ``progress``: a tqdm bar; None = only when stderr is a terminal.
    """
    if progress is None:
        progress = sys.stderr.isatty()
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    done = _load_progress(out, config) if out is not None else pd.DataFrame()
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

    def wanted(unit: tuple[str, float]) -> bool:
        name, ebno_db = unit
        return unit not in finished and ebno_db <= cut_above.get(name, float("inf"))

    on_batch = None
    if jobs == 1:
        def on_batch(bits: int) -> None:
            bar.set_postfix_str(f"{bits:.2e} bits", refresh=False)
    executor = UnitExecutor(jobs, threads, (systems, wiretap, config, on_batch))
    rows = [done] if len(done) else []
    try:
        for (name, ebno_db), point in executor.ordered(_simulate_unit, units, wanted):
            bar.set_description(f"{name} @ {ebno_db:g} dB")
            bar.update(1)
            rows.append(_point_frame(point.rows(config.confidence), config))
            if out is not None:
                _save_progress(out, config, pd.concat(rows, ignore_index=True))
            if config.early_stop and point.receivers["bob"].errors == 0:
                log(f"{name}: no bit error at {ebno_db:g} dB, skipping higher Eb/N0")
                cut_above[name] = ebno_db
    finally:
        bar.close()
    results = pd.concat(rows, ignore_index=True)[RESULT_COLUMNS] if rows else pd.DataFrame(
        columns=RESULT_COLUMNS
    )
    if out is not None:
        write_csv(results, out / "results.csv")
        plot_ber(results, out / "ber.png", title=f"{config.mod} over {config.channel}")
        metadata = {"config": config.to_dict(), "versions": package_versions(),
                    "device_name": _device_name(config.device), **(extra_metadata or {})}
        write_json(metadata, out / "config.json")
        for name in (PROGRESS_FILE, _PROGRESS_CONFIG):
            (out / name).unlink(missing_ok=True)
    return results


def _simulate_unit(shared: tuple, unit: tuple[str, float]) -> PointResult:
    """One point: the unit of work of a sweep (runs in a worker process when jobs > 1)."""
    systems, wiretap, config, on_batch = shared
    name, ebno_db = unit
    return simulate_point(
        systems[name], wiretap, ebno_db, frame_bits=config.frame_bits,
        batch_frames=config.batch_frames, target_errors=config.target_errors,
        max_bits=config.max_bits, seed=config.seed,
        eve=True if config.eve_for_all else None, on_batch=on_batch)


def _point_frame(rows: list[dict], config: SimulationConfig) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["channel"] = config.channel
    frame["mod"] = config.mod
    bob = frame["receiver"].eq("bob")
    frame["theory"] = float("nan")
    if theory.has_theory(config.channel):
        frame.loc[bob, "theory"] = theory.ber(config.mod, config.channel,
                                              frame.loc[bob, "ebno_db"])
    return frame[RESULT_COLUMNS]


def _finished(done: pd.DataFrame, system: str, ebno_db: float) -> pd.DataFrame | None:
    if not len(done):
        return None
    match = done[(done["system"] == system) & ((done["ebno_db"] - ebno_db).abs() < 1e-9)]
    return match if len(match) else None


def _load_progress(out: Path, config: SimulationConfig) -> pd.DataFrame:
    """Rows already simulated for this exact config: an interrupted sweep's progress file, or
    a finished sweep's results.csv (rerunning the same command then only rewrites the files)."""
    try:
        meta, rows = out / _PROGRESS_CONFIG, out / PROGRESS_FILE
        if (meta.exists() and rows.exists()
                and json.loads(meta.read_text()).get("fingerprint") == config.fingerprint()):
            return pd.read_csv(rows)
        final, final_config = out / "results.csv", out / "config.json"
        if final.exists() and final_config.exists():
            saved = SimulationConfig.from_dict(json.loads(final_config.read_text())["config"])
            if saved.fingerprint() == config.fingerprint():
                return pd.read_csv(final)
    except (OSError, KeyError, TypeError, ValueError, pd.errors.ParserError):
        pass
    return pd.DataFrame()


def _save_progress(out: Path, config: SimulationConfig, rows: pd.DataFrame) -> None:
    write_json({"fingerprint": config.fingerprint()}, out / _PROGRESS_CONFIG)
    write_csv(rows, out / PROGRESS_FILE)


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()
