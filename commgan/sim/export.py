"""Wiretap datasets for outside eavesdroppers: export, read back, and score any decoder.

A security researcher with their own eavesdropper needs what Eve receives, with the true bits,
under one key, as plain arrays; and the same evaluation ``commgan attack`` applies (BER, 95%
interval over frames, holds/broken verdict) for their decoder. Everything here is built on
:func:`commgan.sim.wiretap_data.wiretap_frames`.

Archive layout (``np.savez_compressed`` format, a zip of ``.npy`` members; read it with
``np.load(path)`` or :func:`load_wiretap`). Per split, with F frames of L bits and n = L / R
symbols per frame:

=========  ================  =============================================================
field      shape, dtype      content
=========  ================  =============================================================
bits       [F, L] uint8      the message bits in {0, 1} (Alice's plaintext)
nonce      [F] int64         the frame's public nonce (selects its ChaCha20 key stream)
x          [F, n] complex64  the transmitted symbols (unit average energy)
y_bob      [F, n] complex64  Bob's received symbols, y = h x + noise at ``ebno_db``
h_bob      [F, n] complex64  Bob's channel coefficients (all ones on awgn)
y_eve      [F, n] complex64  Eve's received symbols on her own channel at ``eve_ebno_db``
h_eve      [F, n] complex64  Eve's channel coefficients
=========  ================  =============================================================

Without splits the fields are stored under these plain names; with named splits (e.g.
``train``, ``test``) under ``SPLIT/FIELD`` (``train/bits``, ``test/y_eve``, ...). The member
``metadata`` is a JSON string (a 0-d unicode array): system, channel, mod, R, frame_bits,
ebno_db, eve_ebno_db, the noise variances per complex symbol (no_bob, no_eve), seed, splits and
their frame counts, layout, the model's checkpoint fingerprint, where the key came from, and
package versions. The key itself is never written.

Nonces: one export draws all its nonces, split after split, from one never-repeating counter
seeded by (seed, system, channel, Eb/N0, L, Eve's offset), so nonces never repeat within or
across its splits. :func:`score_decoder` draws from the second half of the same counter's range,
so its fresh frames never share a nonce (or a key stream) with the archive of the same settings.
Frames are generated in chunks of about 2^21 bits; the chunking depends only on L, so the
in-memory API and ``commgan export`` give the same arrays for the same arguments.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from channels import CHANNELS, ChannelOutput, get_modulation, noise_variance
from commgan.comm.system import System
from commgan.errors import CommganError
from commgan.fileio import atomic_write
from commgan.sim.stats import FrameErrorStats, security_verdict
from commgan.sim.sweep import package_versions
from commgan.sim.wiretap_data import NonceCounter, WiretapFrames, derived_seed, wiretap_frames

__all__ = [
    "ARCHIVE_FORMAT",
    "FIELDS",
    "DecoderScore",
    "WiretapArchive",
    "WiretapSplit",
    "bob_decisions",
    "chunk_frames",
    "export_wiretap",
    "load_wiretap",
    "make_wiretap_data",
    "parse_splits",
    "read_metadata",
    "score_bits",
    "score_decoder",
]

ARCHIVE_FORMAT = "commgan-wiretap"
FORMAT_VERSION = 1
FIELDS = ("bits", "nonce", "x", "y_bob", "h_bob", "y_eve", "h_eve")
DEFAULT_SPLIT = "all"
"""The name of the one split of an export without ``splits`` (stored under plain field names)."""
CHUNK_BITS = 1 << 21
"""Frames are generated about this many bits at a time (memory bound; fixes the frame seeds)."""
_SCORE_NONCE_OFFSET = 1 << 31
"""Scoring nonces start this far into the export's nonce range (exports stay below it)."""
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_FIELD_DOCS = {
    "bits": "[F, L] uint8 message bits",
    "nonce": "[F] int64 public frame nonce",
    "x": "[F, L/R] complex64 transmitted symbols",
    "y_bob": "[F, L/R] complex64 Bob's received symbols",
    "h_bob": "[F, L/R] complex64 Bob's channel coefficients",
    "y_eve": "[F, L/R] complex64 Eve's received symbols",
    "h_eve": "[F, L/R] complex64 Eve's channel coefficients",
}


@dataclass
class WiretapSplit:
    """F frames as arrays: ``bits`` [F, L] uint8, ``nonce`` [F] int64, and ``x``, ``y_bob``,
    ``h_bob``, ``y_eve``, ``h_eve`` [F, L/R] complex64 (see the module docstring)."""

    bits: np.ndarray
    nonce: np.ndarray
    x: np.ndarray
    y_bob: np.ndarray
    h_bob: np.ndarray
    y_eve: np.ndarray
    h_eve: np.ndarray

    def __len__(self) -> int:
        return int(self.bits.shape[0])

    @classmethod
    def from_frames(cls, frames: WiretapFrames) -> WiretapSplit:
        """Arrays of one batch from :func:`~commgan.sim.wiretap_data.wiretap_frames`."""

        def complex_array(t: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().to("cpu", torch.complex64).numpy())

        return cls(
            bits=frames.bits.detach().cpu().numpy().astype(np.uint8),
            nonce=np.asarray(frames.nonces, dtype=np.int64),
            x=complex_array(frames.x),
            y_bob=complex_array(frames.bob.y), h_bob=complex_array(frames.bob.h),
            y_eve=complex_array(frames.eve.y), h_eve=complex_array(frames.eve.h),
        )

    @classmethod
    def concatenate(cls, parts: Sequence[WiretapSplit]) -> WiretapSplit:
        """Frames of several batches, in order."""
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts])
                      for name in FIELDS})


@dataclass
class WiretapArchive:
    """An export: ``metadata`` (a dict, see the module docstring) and ``splits`` by name."""

    metadata: dict[str, Any]
    splits: dict[str, WiretapSplit]

    def __getitem__(self, split: str) -> WiretapSplit:
        if split not in self.splits:
            raise CommganError(f"no split {split!r}; this archive has {', '.join(self.splits)}")
        return self.splits[split]


def parse_splits(text: str | None, frames: int) -> dict[str, int]:
    """Split names -> frame counts. ``None`` -> one split ``"all"`` of ``frames``;
    ``"train,test"`` -> ``frames`` each; ``"train:8000,test:2000"`` -> explicit counts."""
    if text is None:
        text = f"{DEFAULT_SPLIT}:{frames}"
    hint = "use NAME[:FRAMES],... e.g. train,test or train:8000,test:2000"
    splits: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        name, _, count = item.partition(":")
        name = name.strip()
        if not _SPLIT_NAME.match(name):
            raise CommganError(f"--split {text!r}: bad split name {name!r}; {hint}")
        if name in splits:
            raise CommganError(f"--split {text!r}: split {name!r} appears twice")
        try:
            splits[name] = int(count) if count.strip() else frames
        except ValueError:
            raise CommganError(
                f"--split {text!r}: {count!r} is not a frame count; {hint}") from None
        if splits[name] <= 0:
            raise CommganError(f"frame counts must be positive integers, got {splits[name]} "
                               f"for split {name!r}")
    return splits


def chunk_frames(frame_bits: int) -> int:
    """Frames generated per chunk for frames of ``frame_bits`` bits (about 2^21 bits)."""
    return max(1, CHUNK_BITS // frame_bits)


def _nonce_counter(system: System, channel: str, ebno_db: float, frame_bits: int,
                   eve_ebno_offset_db: float, seed: int) -> NonceCounter:
    """The one nonce counter of an export with these settings."""
    return NonceCounter(derived_seed("export", seed, system.name, channel, float(ebno_db),
                                     frame_bits, float(eve_ebno_offset_db)))


def _check_settings(system: System, channel: str, ebno_db: float, frame_bits: int,
                    eve_ebno_offset_db: float) -> None:
    if channel not in CHANNELS:
        raise CommganError(f"unknown channel {channel!r}; valid: {', '.join(CHANNELS)}")
    for name, value in (("Eb/N0", ebno_db), ("Eve's Eb/N0 offset", eve_ebno_offset_db)):
        if not math.isfinite(value) or abs(value) >= 1e3:
            raise CommganError(f"{name} must be a finite number of dB, got {value}")
    system.check_frame_bits(frame_bits)


def _metadata(system: System, channel: str, ebno_db: float, frame_bits: int,
              eve_ebno_offset_db: float, seed: int, splits: dict[str, int],
              key_source: str | None) -> dict[str, Any]:
    rate = system.bits_per_channel_use
    eve_ebno_db = float(ebno_db) + float(eve_ebno_offset_db)
    versions = package_versions()
    return {
        "format": ARCHIVE_FORMAT,
        "format_version": FORMAT_VERSION,
        "system": system.name,
        "keyed": bool(system.keyed),
        "channel": channel,
        "mod": system.modulation.name,
        "R": rate,
        "frame_bits": int(frame_bits),
        "symbols_per_frame": int(frame_bits // rate),
        "ebno_db": float(ebno_db),
        "eve_ebno_offset_db": float(eve_ebno_offset_db),
        "eve_ebno_db": eve_ebno_db,
        "no_bob": float(noise_variance(float(ebno_db), rate)),
        "no_eve": float(noise_variance(eve_ebno_db, rate)),
        "seed": int(seed),
        "splits": dict(splits),
        "layout": "flat" if list(splits) == [DEFAULT_SPLIT] else "by-split",
        "fields": dict(_FIELD_DOCS),
        "model_fingerprint": getattr(system, "fingerprint", None),
        "key_source": key_source if system.keyed else None,
        "commgan_version": versions.get("commgan"),
        "versions": versions,
    }


def _member(metadata: dict[str, Any], split: str, field: str) -> str:
    """The archive key of ``field`` of ``split``."""
    return field if metadata["layout"] == "flat" else f"{split}/{field}"


def _chunks(system: System, channel: str, ebno_db: float, frame_bits: int,
            eve_ebno_offset_db: float, seed: int, splits: dict[str, int],
            progress: bool) -> Iterator[tuple[str, WiretapSplit]]:
    """(split, chunk of frames) in order; every split draws fresh nonces from one counter."""
    if sum(splits.values()) >= _SCORE_NONCE_OFFSET:
        raise CommganError(f"an export holds fewer than {_SCORE_NONCE_OFFSET} frames")
    counter = _nonce_counter(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed)
    step = chunk_frames(frame_bits)
    bar = tqdm(total=sum(splits.values()), unit="frame", disable=not progress,
               dynamic_ncols=True, leave=False)
    try:
        for split, count in splits.items():
            for start in range(0, count, step):
                nonces = counter.fresh(min(step, count - start))
                frames = wiretap_frames(system, channel, float(ebno_db), nonces, frame_bits,
                                        seed, eve_ebno_offset_db, chunk_frames=step)
                yield split, WiretapSplit.from_frames(frames)
                bar.update(len(nonces))
    finally:
        bar.close()


def make_wiretap_data(system: System, channel: str, ebno_db: float, frames: int,
                      frame_bits: int, *, splits: str | dict[str, int] | None = None,
                      seed: int = 0, eve_ebno_offset_db: float = 0.0,
                      key_source: str | None = None, progress: bool = False) -> WiretapArchive:
    """The arrays ``commgan export`` writes, in memory (the same arrays for the same arguments).

    ``system``: a built system (keyed ones transmit under their own key); ``frames``: F per
    split (for splits named without a count); ``frame_bits``: L, a multiple of R;
    ``ebno_db``: Bob's Eb/N0 in dB, Eve's is ``ebno_db + eve_ebno_offset_db``; ``splits``:
    None (one split ``"all"``), ``"train,test"`` or ``{"train": 8000, "test": 2000}``.
    """
    split_counts = _split_counts(splits, frames)
    _check_settings(system, channel, ebno_db, frame_bits, eve_ebno_offset_db)
    metadata = _metadata(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed,
                         split_counts, key_source)
    parts: dict[str, list[WiretapSplit]] = {name: [] for name in split_counts}
    for split, chunk in _chunks(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed,
                                split_counts, progress):
        parts[split].append(chunk)
    return WiretapArchive(metadata, {name: WiretapSplit.concatenate(chunks)
                                     for name, chunks in parts.items()})


def export_wiretap(path: str | os.PathLike, system: System, channel: str, ebno_db: float,
                   frames: int, frame_bits: int, *, splits: str | dict[str, int] | None = None,
                   seed: int = 0, eve_ebno_offset_db: float = 0.0, key_source: str | None = None,
                   progress: bool = False, compresslevel: int = 1) -> dict[str, Any]:
    """Write :func:`make_wiretap_data`'s arrays to the archive ``path`` (``.npz``) and return
    its metadata.

    Memory stays bounded for any F: chunks are appended to uncompressed ``.npy`` scratch files
    in a hidden folder next to ``path`` (about F * L * (1 + 40 / R) bytes of disk), which are
    then deflated into the archive. The archive appears atomically; on any error neither it
    nor the scratch files are left behind.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise CommganError(f"archive path {str(path)!r} must end in .npz")
    if path.is_dir():
        raise CommganError(f"archive path {str(path)!r} is a folder")
    split_counts = _split_counts(splits, frames)
    _check_settings(system, channel, ebno_db, frame_bits, eve_ebno_offset_db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CommganError(f"cannot create the folder of {str(path)!r}: {err.strerror}") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise CommganError(f"archive folder {str(path.parent)!r} is not writable")
    metadata = _metadata(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed,
                         split_counts, key_source)
    symbols = int(frame_bits // system.bits_per_channel_use)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as scratch:
        files: dict[str, Path] = {}
        with ExitStack() as stack:
            handles = {}
            for split, count in split_counts.items():
                for field in FIELDS:
                    member = _member(metadata, split, field)
                    files[member] = Path(scratch) / f"{len(files)}.npy"
                    handles[member] = stack.enter_context(open(files[member], "wb"))
                    shape = {"bits": (count, frame_bits), "nonce": (count,)}.get(
                        field, (count, symbols))
                    dtype = {"bits": np.uint8, "nonce": np.int64}.get(field, np.complex64)
                    np.lib.format.write_array_header_1_0(handles[member], {
                        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                        "fortran_order": False, "shape": shape})
            for split, chunk in _chunks(system, channel, ebno_db, frame_bits,
                                        eve_ebno_offset_db, seed, split_counts, progress):
                for field in FIELDS:
                    handles[_member(metadata, split, field)].write(
                        np.ascontiguousarray(getattr(chunk, field)).tobytes())
        atomic_write(path, lambda tmp: _write_zip(tmp, metadata, files, compresslevel,
                                                  progress))
    return metadata


def _split_counts(splits: str | dict[str, int] | None, frames: int) -> dict[str, int]:
    if isinstance(splits, dict):
        return parse_splits(",".join(f"{k}:{v}" for k, v in splits.items()), frames)
    return parse_splits(splits, frames)


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
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # a shareable data file, like np.savez's (mkstemp gives 0600)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of the archive ``path`` (reads nothing else)."""
    with _open_archive(path) as archive:
        return _archive_metadata(archive, path)


def load_wiretap(path: str | os.PathLike, splits: Sequence[str] | None = None) -> WiretapArchive:
    """Read an archive written by ``commgan export`` / :func:`export_wiretap` (all of its
    splits, or those named). Arrays are loaded into memory."""
    with _open_archive(path) as archive:
        metadata = _archive_metadata(archive, path)
        names = list(metadata["splits"]) if splits is None else list(splits)
        for name in names:
            if name not in metadata["splits"]:
                raise CommganError(f"{str(path)!r} has no split {name!r}; it has "
                                   f"{', '.join(metadata['splits'])}")
        try:
            loaded = {name: WiretapSplit(**{field: archive[_member(metadata, name, field)]
                                            for field in FIELDS}) for name in names}
        except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
            raise CommganError(f"{str(path)!r} is damaged: {err}") from None
    return WiretapArchive(metadata, loaded)


def _open_archive(path: str | os.PathLike):
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CommganError(f"archive {str(path)!r} does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise CommganError(f"{str(path)!r} is not a wiretap archive: {err}") from None


def _archive_metadata(archive, path) -> dict[str, Any]:
    try:
        metadata = json.loads(str(archive["metadata"]))
    except (KeyError, TypeError, ValueError):
        raise CommganError(f"{str(path)!r} is not a wiretap archive (no metadata)") from None
    if not isinstance(metadata, dict) or metadata.get("format") != ARCHIVE_FORMAT:
        raise CommganError(f"{str(path)!r} is not a {ARCHIVE_FORMAT} archive")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise CommganError(f"{str(path)!r} has format version {metadata.get('format_version')};"
                           f" this commgan reads version {FORMAT_VERSION}")
    return metadata


@torch.no_grad()
def bob_decisions(system: System, split: WiretapSplit, metadata: dict[str, Any],
                  batch_frames: int | None = None) -> np.ndarray:
    """Bob's own receiver on an exported split: hard bits [F, L] uint8 from ``y_bob``,
    ``h_bob`` (and ``nonce`` with the system's key, for keyed systems)."""
    for name, value in (("system", system.name), ("mod", system.modulation.name)):
        if metadata[name] != value:
            raise CommganError(f"the archive is for {name} {metadata[name]!r}, not {value!r}")
    system.eval()
    frame_bits = int(metadata["frame_bits"])
    step = batch_frames or chunk_frames(frame_bits)
    no = torch.tensor(metadata["no_bob"], dtype=torch.float32, device=system.device)
    decisions = np.empty((len(split), frame_bits), dtype=np.uint8)
    for start in range(0, len(split), step):
        part = slice(start, start + step)
        out = ChannelOutput(torch.from_numpy(split.y_bob[part]).to(system.device),
                            torch.from_numpy(split.h_bob[part]).to(system.device), no)
        nonces = torch.from_numpy(split.nonce[part]).to(system.device)
        decisions[part] = system.receive(out, nonces).cpu().numpy().astype(np.uint8)
    return decisions


@dataclass(frozen=True)
class DecoderScore:
    """A decoder's BER over F frames of L bits, its 95% interval over frames, and the verdict
    ``commgan attack`` gives (``holds`` when the interval lies in [0.49, 0.51])."""

    frames: int
    frame_bits: int
    errors: int
    ber: float
    ci_low: float
    ci_high: float
    verdict: str

    @property
    def bits(self) -> int:
        return self.frames * self.frame_bits

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bits": self.bits}

    def __str__(self) -> str:
        return (f"BER {self.ber:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}] over {self.bits} "
                f"bits: {self.verdict}")


def _hard_bits(estimate: Any, shape: tuple[int, int]) -> np.ndarray:
    """A decoder's output (probabilities P(bit = 1) or hard bits) -> bool [F, L]."""
    if isinstance(estimate, torch.Tensor):
        estimate = estimate.detach().cpu().numpy()
    try:
        values = np.asarray(estimate, dtype=np.float64)
    except (TypeError, ValueError):
        raise CommganError("the decoder must return an array of bit probabilities or hard "
                           f"bits, got {type(estimate).__name__}") from None
    if values.shape != shape:
        raise CommganError(f"the decoder returned shape {values.shape}; expected {shape} "
                           "(frames x frame bits)")
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise CommganError("the decoder must return P(bit = 1) in [0, 1] or hard bits {0, 1}; "
                           "apply a sigmoid to logits first")
    return values > 0.5


def score_bits(bits: np.ndarray | torch.Tensor, estimate: Any,
               confidence: float = 0.95) -> DecoderScore:
    """Score estimates of ``bits`` [F, L] (probabilities P(bit = 1), or hard bits; > 0.5
    decides 1): BER, interval over frames, verdict."""
    truth = (bits.detach().cpu().numpy() if isinstance(bits, torch.Tensor)
             else np.asarray(bits)).astype(bool)
    if truth.ndim != 2:
        raise CommganError(f"bits must be [frames, frame bits], got shape {truth.shape}")
    stats = FrameErrorStats(truth.shape[1])
    stats.add((truth != _hard_bits(estimate, truth.shape)).sum(axis=1))
    return _score(stats, confidence)


def _score(stats: FrameErrorStats, confidence: float) -> DecoderScore:
    low, high = stats.interval(confidence)
    return DecoderScore(stats.frames, stats.frame_bits, stats.errors, stats.ber, low, high,
                        security_verdict(low, high))


def score_decoder(decoder: Callable[[np.ndarray, np.ndarray], Any], *, system: str | System,
                  channel: str, ebno_db: float, frames: int, frame_bits: int = 512,
                  mod: str = "16qam", eve_ebno_offset_db: float = 0.0, seed: int = 0,
                  key: bytes | None = None, models_dir: str | os.PathLike | None = None,
                  device: str = "cpu", confidence: float = 0.95,
                  progress: bool = False) -> DecoderScore:
    """Score an eavesdropper ``decoder(y_eve, h_eve) -> P(bit = 1) or hard bits`` on fresh
    frames: BER, its interval over frames, and ``commgan attack``'s verdict.

    ``decoder`` gets numpy complex64 arrays [B, L/R] (Eve's received symbols and channel
    coefficients, as in an archive's ``y_eve``, ``h_eve``) and returns [B, L] (numpy or torch).
    ``frames`` fresh frames of ``frame_bits`` bits are sent at Bob's ``ebno_db``; Eve listens
    at ``ebno_db + eve_ebno_offset_db`` on her own channel. Their nonces were never used by an
    export with the same settings, and their bits are new. ``system``: a built
    :class:`~commgan.comm.system.System` (its key is used) or a name, built for ``mod`` and
    ``channel`` from the model cache ``models_dir`` (trained if missing) with ``key``
    (keyed systems; default ``$COMMGAN_KEY``, else random): pass the archive's key to test a
    decoder trained on it under the same key.
    """
    if frames <= 0:
        raise CommganError(f"frames must be a positive integer, got {frames}")
    if isinstance(system, str):
        system = _build(system, channel, mod, key, models_dir, device)
    _check_settings(system, channel, ebno_db, frame_bits, eve_ebno_offset_db)
    counter = _nonce_counter(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed)
    counter.next += _SCORE_NONCE_OFFSET
    step = chunk_frames(frame_bits)
    stats = FrameErrorStats(frame_bits)
    with tqdm(total=frames, unit="frame", disable=not progress, dynamic_ncols=True,
              leave=False) as bar:
        for start in range(0, frames, step):
            nonces = counter.fresh(min(step, frames - start))
            sent = wiretap_frames(system, channel, float(ebno_db), nonces, frame_bits, seed,
                                  eve_ebno_offset_db, chunk_frames=step)
            y = np.ascontiguousarray(sent.eve.y.cpu().to(torch.complex64).numpy())
            h = np.ascontiguousarray(sent.eve.h.cpu().to(torch.complex64).numpy())
            estimate = _hard_bits(decoder(y, h), (len(nonces), frame_bits))
            truth = sent.bits.cpu().numpy().astype(bool)
            stats.add((truth != estimate).sum(axis=1))
            bar.update(len(nonces))
    return _score(stats, confidence)


def _build(name: str, channel: str, mod: str, key: bytes | None,
           models_dir: str | os.PathLike | None, device: str) -> System:
    from commgan.comm.keys import load_key
    from commgan.comm.registry import SYSTEMS, parse_system_names
    from commgan.sim.models import SystemContext, build_systems

    names = parse_system_names(name)
    if len(names) != 1:
        raise CommganError(f"one system at a time, got {name!r}")
    try:
        get_modulation(mod)
    except ValueError as err:
        raise CommganError(str(err)) from None
    if SYSTEMS[names[0]].keyed and key is None:
        key, _ = load_key(None)
    context = SystemContext(mod=mod, channel=channel, device=device, key=key,
                            models_dir=Path(models_dir) if models_dir else None)
    return build_systems(names, context)[names[0]]
