"""Wiretap datasets for outside eavesdroppers (``commgan export``): what Eve receives, with the
true bits, under one key, as plain arrays (the format is :mod:`commgan.security.archive`'s).

Nonces: one export draws all its nonces, split after split, from one never-repeating counter
seeded by (seed, system, channel, Eb/N0, L, Eve's offset), so nonces never repeat within or
across its splits; scoring (:func:`commgan.security.scoring.score_decoder`) draws from the
second half of the same counter's range. Frames are generated in chunks of about 2^21 bits;
the chunking depends only on L, so the in-memory API and ``commgan export`` give the same
arrays for the same arguments.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from channels import channel_spec, get_channel, noise_variance
from commgan.comm.system import System
from commgan.errors import CommganError
from commgan.fileio import atomic_write, make_folders, remove_empty, scratch_prefix, sweep_stale
from commgan.parallel import Backend, UnitExecutor
from commgan.rng import NonceCounter, derive_seed
from commgan.security.archive import (
    ARCHIVE_FORMAT,
    CSI_FIELD_DOCS,
    CSI_FIELDS,
    DEFAULT_SPLIT,
    FIELD_DOCS,
    FIELDS,
    FORMAT_VERSION,
    WiretapArchive,
    WiretapSplit,
    member_name,
)
from commgan.security.wiretap import chunk_frames, wiretap_frames
from commgan.sim.sweep import package_versions

__all__ = ["SCORING_NONCE_OFFSET", "check_disk", "check_settings", "export_nonces",
           "export_wiretap", "make_wiretap_data", "parse_splits"]

SCORING_NONCE_OFFSET = 1 << 31
"""Scoring nonces start this far into an export's nonce range (exports stay below it)."""
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_splits(text: str | None, frames: int) -> dict[str, int]:
    """Split names -> frame counts. ``None`` -> one split ``"all"`` of ``frames``;
    ``"train,test"`` -> ``frames`` each; ``"train:8000,test:2000"`` -> explicit counts."""
    if text is None:
        text = f"{DEFAULT_SPLIT}:{frames}"
    hint = "use NAME[:FRAMES],... e.g. train,test or train:8000,test:2000"
    shown = repr(text)[:60]
    splits: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        name, _, count = item.partition(":")
        name = name.strip()
        if not _SPLIT_NAME.match(name):
            raise CommganError(f"--split {shown}: bad split name {repr(name)[:40]}; {hint}")
        if name in splits:
            raise CommganError(f"--split {shown}: split {name!r} appears twice")
        try:
            splits[name] = int(count) if count.strip() else frames
        except ValueError:
            raise CommganError(
                f"--split {shown}: {repr(count)[:40]} is not a frame count; {hint}") from None
        if splits[name] <= 0:
            raise CommganError(f"frame counts must be positive integers, got {splits[name]} "
                               f"for split {name!r}")
    return splits


def _split_counts(splits: str | dict[str, int] | None, frames: int) -> dict[str, int]:
    if isinstance(splits, dict):
        return parse_splits(",".join(f"{k}:{v}" for k, v in splits.items()), frames)
    return parse_splits(splits, frames)


def export_nonces(system: System, channel: str, ebno_db: float, frame_bits: int,
                  eve_ebno_offset_db: float, seed: int) -> NonceCounter:
    """The one nonce counter of an export with these settings."""
    settings = derive_seed("export", seed, system.name, channel, float(ebno_db), frame_bits,
                           float(eve_ebno_offset_db))
    return NonceCounter(derive_seed("nonces", settings))


def check_settings(system: System, channel: str, ebno_db: float, frame_bits: int,
                   eve_ebno_offset_db: float) -> None:
    """One-line errors for an unknown channel, a non-finite Eb/N0 or a bad frame length."""
    try:
        channel_spec(channel)
    except ValueError as err:
        raise CommganError(str(err)) from None
    for name, value in (("Eb/N0", ebno_db), ("Eve's Eb/N0 offset", eve_ebno_offset_db)):
        if not math.isfinite(value) or abs(value) >= 1e3:
            raise CommganError(f"{name} must be a finite number of dB, got {value}")
    system.check_frame_bits(frame_bits)


def pilot_layout(channel: str, symbols: int) -> dict[str, Any] | None:
    """The coherence blocks of a frame of ``symbols`` data symbols on a channel with estimated
    CSI (data symbols per block, blocks, pilots per block, estimator), else None."""
    link = get_channel(channel)
    pilots, estimator = getattr(link, "pilots", 0), getattr(link, "estimator", "perfect")
    if not pilots or estimator == "perfect":
        return None
    data = link.data_per_block(symbols)
    return {"data_per_block": data, "blocks": -(-symbols // data), "pilots": pilots,
            "estimator": estimator}


def _metadata(system: System, channel: str, ebno_db: float, frame_bits: int,
              eve_ebno_offset_db: float, seed: int, splits: dict[str, int],
              key_source: str | None, model_fingerprint: str | None) -> dict[str, Any]:
    rate = system.bits_per_channel_use
    symbols = int(frame_bits // rate)
    charged = rate * get_channel(channel).rate_factor(symbols)  # pilots, as in simulation
    layout = pilot_layout(channel, symbols)
    eve_ebno_db = float(ebno_db) + float(eve_ebno_offset_db)
    versions = package_versions()
    return {
        "format": ARCHIVE_FORMAT,
        "format_version": FORMAT_VERSION,
        "system": system.name,
        "options": system.option_values(),
        "block_bits": system.block_bits,
        "keyed": bool(system.keyed),
        "channel": channel,
        "mod": system.modulation.name,
        "R": rate,
        "frame_bits": int(frame_bits),
        "symbols_per_frame": symbols,
        "ebno_db": float(ebno_db),
        "eve_ebno_offset_db": float(eve_ebno_offset_db),
        "eve_ebno_db": eve_ebno_db,
        "no_bob": float(noise_variance(float(ebno_db), charged)),
        "no_eve": float(noise_variance(eve_ebno_db, charged)),
        "pilots": layout,
        "seed": int(seed),
        "splits": dict(splits),
        "layout": "flat" if list(splits) == [DEFAULT_SPLIT] else "by-split",
        "fields": {**FIELD_DOCS, **(CSI_FIELD_DOCS if layout else {})},
        "model_fingerprint": model_fingerprint,
        "key_source": key_source if system.keyed else None,
        "commgan_version": versions.get("commgan"),
        "versions": versions,
    }


def _chunks(system: System, channel: str, ebno_db: float, frame_bits: int,
            eve_ebno_offset_db: float, seed: int, splits: dict[str, int],
            progress: bool, jobs: int = 1, threads: int = 1, backend: Backend | None = None
            ) -> Iterator[tuple[str, WiretapSplit]]:
    """(split, chunk of frames) in order; every split draws fresh nonces from one counter. The
    chunks are the units of ``jobs`` worker processes (each seeded by its own nonces), so the
    arrays do not depend on ``jobs``."""
    if sum(splits.values()) >= SCORING_NONCE_OFFSET:
        raise CommganError(f"an export holds fewer than {SCORING_NONCE_OFFSET} frames")
    counter = export_nonces(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed)
    step = chunk_frames(frame_bits)
    units = [(split, counter.fresh(min(step, count - start)))
             for split, count in splits.items() for start in range(0, count, step)]
    executor = UnitExecutor(jobs, threads, (system, channel, float(ebno_db), frame_bits, seed,
                                            eve_ebno_offset_db, step), backend,
                            str(system.device))
    with tqdm(total=sum(splits.values()), unit="frame", disable=not progress,
              dynamic_ncols=True, leave=False) as bar:
        for (split, nonces), chunk in executor.ordered(_export_chunk, units):
            yield split, chunk
            bar.update(len(nonces))


def _export_chunk(shared: tuple, unit: tuple[str, np.ndarray]) -> WiretapSplit:
    """One chunk of an export (in a worker process when jobs > 1)."""
    system, channel, ebno_db, frame_bits, seed, eve_ebno_offset_db, step = shared
    frames = wiretap_frames(system, channel, ebno_db, unit[1], frame_bits, seed,
                            eve_ebno_offset_db, chunk_frames=step)
    return WiretapSplit.from_frames(frames)


def make_wiretap_data(system: System, channel: str, ebno_db: float, frames: int,
                      frame_bits: int, *, splits: str | dict[str, int] | None = None,
                      seed: int = 0, eve_ebno_offset_db: float = 0.0,
                      key_source: str | None = None, model_fingerprint: str | None = None,
                      progress: bool = False, jobs: int = 1, threads: int = 1,
                      backend: Backend | None = None) -> WiretapArchive:
    """The arrays ``commgan export`` writes, in memory (the same arrays for the same arguments).

    ``system``: a built system (keyed ones transmit under their own key); ``frames``: F per
    split (for splits named without a count); ``frame_bits``: L, a multiple of R;
    ``ebno_db``: Bob's Eb/N0 in dB, Eve's is ``ebno_db + eve_ebno_offset_db``; ``splits``:
    None (one split ``"all"``), ``"train,test"`` or ``{"train": 8000, "test": 2000}``;
    ``key_source`` and ``model_fingerprint`` (of a learned system's cached model, see
    :meth:`commgan.systems.SystemSet.fingerprints`) are recorded in the metadata; ``jobs``
    worker processes of ``threads`` torch threads generate the chunks (same arrays for any).
    """
    split_counts = _split_counts(splits, frames)
    check_settings(system, channel, ebno_db, frame_bits, eve_ebno_offset_db)
    metadata = _metadata(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed,
                         split_counts, key_source, model_fingerprint)
    parts: dict[str, list[WiretapSplit]] = {name: [] for name in split_counts}
    for split, chunk in _chunks(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed,
                                split_counts, progress, jobs, threads, backend):
        parts[split].append(chunk)
    return WiretapArchive(metadata, {name: WiretapSplit.concatenate(chunks)
                                     for name, chunks in parts.items()})


def export_wiretap(path: str | os.PathLike, system: System, channel: str, ebno_db: float,
                   frames: int, frame_bits: int, *, splits: str | dict[str, int] | None = None,
                   seed: int = 0, eve_ebno_offset_db: float = 0.0, key_source: str | None = None,
                   model_fingerprint: str | None = None, progress: bool = False,
                   compresslevel: int = 1, jobs: int = 1, threads: int = 1,
                   backend: Backend | None = None) -> dict[str, Any]:
    """Write :func:`make_wiretap_data`'s arrays to the archive ``path`` (``.npz``) and return
    its metadata (``jobs``, ``threads``: as there).

    Memory stays bounded for any F: chunks are appended to uncompressed ``.npy`` scratch files
    in a hidden folder next to ``path`` (about F * L * (1 + 40 / R) bytes of disk), which are
    then deflated into the archive. The archive appears atomically; on any error neither it,
    the scratch files nor a folder created for it are left behind (a write error names the
    archive), and scratch left by a killed run is removed by the next export to the same path.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise CommganError(f"archive path {str(path)!r} must end in .npz")
    if path.is_dir():
        raise CommganError(f"archive path {str(path)!r} is a folder")
    split_counts = _split_counts(splits, frames)
    check_settings(system, channel, ebno_db, frame_bits, eve_ebno_offset_db)
    created = make_folders(path.parent)
    try:
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise CommganError(f"archive folder {str(path.parent)!r} is not writable")
        metadata = _metadata(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed,
                             split_counts, key_source, model_fingerprint)
        symbols = int(frame_bits // system.bits_per_channel_use)
        check_disk(path, sum(split_counts.values()), frame_bits, symbols)
        sweep_stale(path)
        with tempfile.TemporaryDirectory(prefix=scratch_prefix(path), dir=path.parent) as scratch:
            try:
                files = _write_scratch(Path(scratch), system, channel, ebno_db, frame_bits,
                                       eve_ebno_offset_db, seed, split_counts, metadata,
                                       symbols, progress, jobs, threads, backend)
            except OSError as err:  # name the archive, not a hidden scratch file
                raise OSError(err.errno, err.strerror or str(err), str(path)) from None
            atomic_write(path, lambda tmp: _write_zip(tmp, metadata, files, compresslevel,
                                                      progress))
    except BaseException:
        remove_empty(created)
        raise
    return metadata


def _write_scratch(scratch: Path, system: System, channel: str, ebno_db: float,
                   frame_bits: int, eve_ebno_offset_db: float, seed: int,
                   split_counts: dict[str, int], metadata: dict[str, Any], symbols: int,
                   progress: bool, jobs: int, threads: int, backend: Backend | None
                   ) -> dict[str, Path]:
    """Every split's fields as uncompressed ``.npy`` files in ``scratch``, filled chunk by
    chunk; member name -> file."""
    files: dict[str, Path] = {}
    layout = metadata["pilots"]
    fields = FIELDS + (CSI_FIELDS if layout else ())
    with ExitStack() as stack:
        handles = {}
        for split, count in split_counts.items():
            for field in fields:
                member = member_name(metadata, split, field)
                files[member] = scratch / f"{len(files)}.npy"
                handles[member] = stack.enter_context(open(files[member], "wb"))
                shape = {"bits": (count, frame_bits), "nonce": (count,)}.get(
                    field, (count, symbols))
                if field.startswith("pilots_"):
                    shape = (count, layout["blocks"], layout["pilots"])
                dtype = {"bits": np.uint8, "nonce": np.int64}.get(
                    field, np.float32 if field.startswith("csi_var_") else np.complex64)
                np.lib.format.write_array_header_1_0(handles[member], {
                    "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                    "fortran_order": False, "shape": shape})
        for split, chunk in _chunks(system, channel, ebno_db, frame_bits, eve_ebno_offset_db,
                                    seed, split_counts, progress, jobs, threads, backend):
            for field in fields:
                handles[member_name(metadata, split, field)].write(
                    np.ascontiguousarray(getattr(chunk, field)).tobytes())
    return files


def check_disk(path: Path, frames: int, frame_bits: int, symbols: int) -> None:
    """Refuse, before any work, an export whose scratch files cannot fit on the disk."""
    if frames >= SCORING_NONCE_OFFSET:
        raise CommganError(f"an export holds fewer than {SCORING_NONCE_OFFSET} frames")
    need = frames * (frame_bits + 8 + 8 * symbols * (len(FIELDS) - 2))
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if need > free:
        raise CommganError(f"the export needs about {need / 2**30:.3g} GiB of scratch disk "
                           f"next to {str(path)!r}, and {free / 2**30:.3g} GiB are free")


def _write_zip(tmp: str, metadata: dict[str, Any], files: dict[str, Path], compresslevel: int,
               progress: bool) -> None:
    """The ``np.savez_compressed`` layout: one deflated ``KEY.npy`` member per array."""
    total = sum(file.stat().st_size for file in files.values())
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True,
                         compresslevel=compresslevel) as archive, \
            tqdm(total=total, unit="B", unit_scale=True, desc="compressing",
                 disable=not progress, dynamic_ncols=True, leave=False) as bar:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.array(json.dumps(metadata)), allow_pickle=False)
        archive.writestr("metadata.npy", buffer.getvalue())
        for member, file in files.items():
            archive.write(file, arcname=f"{member}.npy")
            bar.update(file.stat().st_size)
