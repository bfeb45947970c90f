"""The wiretap archive: its format, the reader, and Bob's own receiver on it.

An archive is ``np.savez_compressed``'s format (a zip of ``.npy`` members; read it with
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

With estimated CSI (a channel with pilots and ``estimator=ls|lmmse``), ``h_bob`` and ``h_eve``
hold the pilots' estimates, and four more fields let a receiver redo what the simulation's
does (the metadata's ``pilots`` gives the block layout: data symbols per block, Np, estimator):

============  ==================  ==========================================================
csi_var_bob   [F, n] float32      the variance of ``h_bob``'s estimation error per symbol
pilots_bob    [F, K, Np] complex  Bob's received pilots of the frame's K coherence blocks
csi_var_eve   [F, n] float32      the same for Eve
pilots_eve    [F, K, Np] complex  Eve's received pilots
============  ==================  ==========================================================

Without splits the fields are stored under these plain names; with named splits (e.g.
``train``, ``test``) under ``SPLIT/FIELD`` (``train/bits``, ``test/y_eve``, ...). The member
``metadata`` is a JSON string (a 0-d unicode array): system, channel, mod, R, frame_bits,
ebno_db, eve_ebno_db, the noise variances per complex symbol (no_bob, no_eve), seed, splits and
their frame counts, layout, the model's checkpoint fingerprint, where the key came from, and
package versions. The key itself is never written.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from channels import ChannelOutput, PilotBlocks
from commgan.comm.system import System
from commgan.errors import CommganError
from commgan.security.wiretap import WiretapFrames, chunk_frames

__all__ = ["ARCHIVE_FORMAT", "CSI_FIELDS", "CSI_FIELD_DOCS", "DEFAULT_SPLIT", "FIELDS",
           "FIELD_DOCS", "FORMAT_VERSION",
           "WiretapArchive", "WiretapSplit", "bob_decisions", "load_wiretap", "member_name",
           "read_metadata"]

ARCHIVE_FORMAT = "commgan-wiretap"
FORMAT_VERSION = 1
FIELDS = ("bits", "nonce", "x", "y_bob", "h_bob", "y_eve", "h_eve")
CSI_FIELDS = ("csi_var_bob", "pilots_bob", "csi_var_eve", "pilots_eve")
"""Fields present only with estimated CSI (metadata ``pilots`` not null)."""
DEFAULT_SPLIT = "all"
"""The name of the one split of an export without ``splits`` (stored under plain field names)."""
FIELD_DOCS = {
    "bits": "[F, L] uint8 message bits",
    "nonce": "[F] int64 public frame nonce",
    "x": "[F, L/R] complex64 transmitted symbols",
    "y_bob": "[F, L/R] complex64 Bob's received symbols",
    "h_bob": "[F, L/R] complex64 Bob's channel coefficients",
    "y_eve": "[F, L/R] complex64 Eve's received symbols",
    "h_eve": "[F, L/R] complex64 Eve's channel coefficients",
}
CSI_FIELD_DOCS = {
    "csi_var_bob": "[F, L/R] float32 variance of the error of Bob's channel estimate",
    "pilots_bob": "[F, K, Np] complex64 Bob's received pilots per coherence block",
    "csi_var_eve": "[F, L/R] float32 variance of the error of Eve's channel estimate",
    "pilots_eve": "[F, K, Np] complex64 Eve's received pilots per coherence block",
}
"""Each field's shape, dtype and content, as written into the metadata."""


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
    csi_var_bob: np.ndarray | None = None
    pilots_bob: np.ndarray | None = None
    csi_var_eve: np.ndarray | None = None
    pilots_eve: np.ndarray | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields this split holds (:data:`FIELDS`, plus :data:`CSI_FIELDS` with
        estimated CSI)."""
        return FIELDS + (CSI_FIELDS if self.pilots_bob is not None else ())

    def __len__(self) -> int:
        return int(self.bits.shape[0])

    @classmethod
    def from_frames(cls, frames: WiretapFrames) -> WiretapSplit:
        """Arrays of one batch from :func:`~commgan.security.wiretap.wiretap_frames`."""

        def complex_array(t: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().to("cpu", torch.complex64).numpy())

        def csi(out: ChannelOutput) -> dict[str, np.ndarray]:
            if out.pilots is None:
                return {}
            error = out.csi_error_var.detach().to("cpu", torch.float32).expand(out.y.shape)
            return {"csi_var": np.ascontiguousarray(error.numpy()),
                    "pilots": complex_array(out.pilots.y)}

        estimated = {f"{name}_{who}": value for who, out in (("bob", frames.bob),
                                                               ("eve", frames.eve))
                     for name, value in csi(out).items()}
        return cls(
            bits=frames.bits.detach().cpu().numpy().astype(np.uint8),
            nonce=np.asarray(frames.nonces, dtype=np.int64),
            x=complex_array(frames.x),
            y_bob=complex_array(frames.bob.y), h_bob=complex_array(frames.bob.h),
            y_eve=complex_array(frames.eve.y), h_eve=complex_array(frames.eve.h),
            **estimated,
        )

    @classmethod
    def concatenate(cls, parts: Sequence[WiretapSplit]) -> WiretapSplit:
        """Frames of several batches, in order."""
        return cls(**{name: np.concatenate([getattr(p, name) for p in parts])
                      for name in parts[0].fields})

    def bob_output(self, rows: slice, metadata: dict[str, Any], device) -> ChannelOutput:
        """Bob's channel output of frames ``rows`` as the simulation's receiver saw it."""
        no = torch.tensor(metadata["no_bob"], dtype=torch.float32, device=device)
        out = ChannelOutput(torch.from_numpy(self.y_bob[rows]).to(device),
                            torch.from_numpy(self.h_bob[rows]).to(device), no)
        layout = metadata.get("pilots")
        if layout is None:
            return out
        if self.pilots_bob is None:
            raise CommganError("the archive is for estimated CSI but lacks Bob's pilots; "
                               "export it again")
        return ChannelOutput(out.y, out.h, no,
                             torch.from_numpy(self.csi_var_bob[rows]).to(device),
                             PilotBlocks(torch.from_numpy(self.pilots_bob[rows]).to(device),
                                         int(layout["data_per_block"]),
                                         str(layout["estimator"])))


@dataclass
class WiretapArchive:
    """An export: ``metadata`` (a dict, see the module docstring) and ``splits`` by name."""

    metadata: dict[str, Any]
    splits: dict[str, WiretapSplit]

    def __getitem__(self, split: str) -> WiretapSplit:
        if split not in self.splits:
            raise CommganError(f"no split {split!r}; this archive has {', '.join(self.splits)}")
        return self.splits[split]


def member_name(metadata: dict[str, Any], split: str, field: str) -> str:
    """The archive key of ``field`` of ``split``."""
    return field if metadata["layout"] == "flat" else f"{split}/{field}"


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of the archive ``path`` (reads nothing else)."""
    with _open_archive(path) as archive:
        return _archive_metadata(archive, path)


def load_wiretap(path: str | os.PathLike, splits: Sequence[str] | None = None) -> WiretapArchive:
    """Read an archive written by ``commgan export`` /
    :func:`~commgan.security.export.export_wiretap` (all of its splits, or those named).
    Arrays are loaded into memory."""
    with _open_archive(path) as archive:
        metadata = _archive_metadata(archive, path)
        names = list(metadata["splits"]) if splits is None else list(splits)
        for name in names:
            if name not in metadata["splits"]:
                raise CommganError(f"{str(path)!r} has no split {name!r}; it has "
                                   f"{', '.join(metadata['splits'])}")
        fields = FIELDS + (CSI_FIELDS if metadata.get("pilots") else ())
        try:
            loaded = {name: WiretapSplit(**{field: archive[member_name(metadata, name, field)]
                                            for field in fields}) for name in names}
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
    ``h_bob`` (with estimated CSI also ``csi_var_bob`` and ``pilots_bob``; and ``nonce`` with
    the system's key, for keyed systems)."""
    for name, value in (("system", system.name), ("mod", system.modulation.name),
                        ("options", system.option_values())):
        if metadata.get(name, {}) != value:
            raise CommganError(f"the archive is for {name} {metadata.get(name, {})!r}, not "
                               f"{value!r}")
    system.eval()
    frame_bits = int(metadata["frame_bits"])
    step = batch_frames or chunk_frames(frame_bits)
    decisions = np.empty((len(split), frame_bits), dtype=np.uint8)
    for start in range(0, len(split), step):
        part = slice(start, start + step)
        out = split.bob_output(part, metadata, system.device)
        nonces = torch.from_numpy(split.nonce[part]).to(system.device)
        decisions[part] = system.receive(out, nonces).cpu().numpy().astype(np.uint8)
    return decisions
