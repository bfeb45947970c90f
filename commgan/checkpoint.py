"""Checkpoints: safetensors weights + a JSON sidecar (config, versions, metrics, SHA-256).

``save_checkpoint(stem, module, metadata)`` writes ``stem.safetensors`` and ``stem.json``
atomically. ``load_checkpoint`` refuses, with one clear :class:`CommganError`, a missing, corrupt
or truncated file, one whose recorded config differs from the expected one, and one whose tensor
names or shapes do not fit the module.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from commgan.errors import CommganError
from commgan.fileio import atomic_write, write_json

__all__ = ["CHECKPOINT_FORMAT", "checkpoint_paths", "default_models_dir", "load_checkpoint",
           "models_dir", "save_checkpoint"]


def default_models_dir() -> Path:
    """Where trained models are cached unless ``--models`` says otherwise:
    ``$COMMGAN_MODELS``, else ``$XDG_CACHE_HOME/commgan/models`` (``~/.cache/commgan/models``)."""
    if os.environ.get("COMMGAN_MODELS"):
        return Path(os.environ["COMMGAN_MODELS"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "commgan" / "models"


def models_dir(path: str | os.PathLike | None) -> Path:
    """The model cache folder: ``path`` when given, else :func:`default_models_dir`."""
    return Path(path) if path else default_models_dir()

CHECKPOINT_FORMAT = "commgan-checkpoint/1"


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """(weights path, metadata path) of a checkpoint stem."""
    stem = Path(stem)
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(stem: str | Path, module: torch.nn.Module, metadata: dict) -> dict:
    """Save ``module``'s state dict and ``metadata`` (JSON-serialisable); returns the sidecar."""
    weights, meta_path = checkpoint_paths(stem)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in
             module.state_dict().items()}
    atomic_write(weights, lambda tmp: save_file(state, tmp))
    sidecar = {
        **metadata,
        "format": CHECKPOINT_FORMAT,
        "sha256": _sha256(weights),
        "tensors": {name: list(tensor.shape) for name, tensor in state.items()},
    }
    write_json(sidecar, meta_path)
    return sidecar


def load_checkpoint(
    stem: str | Path,
    module: torch.nn.Module,
    expected: dict | None = None,
    device: str | torch.device = "cpu",
) -> dict:
    """Load weights into ``module`` after checking the sidecar; returns the sidecar.

    ``expected``: key -> value that the sidecar must hold (e.g. the architecture config).
    """
    weights, meta_path = checkpoint_paths(stem)
    name = str(weights)
    if not weights.exists() or not meta_path.exists():
        raise CommganError(f"checkpoint {name} is missing (or its .json sidecar is)")
    try:
        sidecar = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CommganError(f"checkpoint metadata {meta_path} is corrupt: {err}") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != CHECKPOINT_FORMAT:
        raise CommganError(f"{meta_path} is not a commgan checkpoint ({CHECKPOINT_FORMAT})")
    for key, value in (expected or {}).items():
        if sidecar.get(key) != value:
            raise CommganError(
                f"checkpoint {name} does not match: its {key} is {sidecar.get(key)!r}, "
                f"expected {value!r}"
            )
    if _sha256(weights) != sidecar.get("sha256"):
        raise CommganError(f"checkpoint {name} is corrupt or truncated (SHA-256 mismatch)")
    try:
        state = load_file(weights, device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise CommganError(f"checkpoint {name} cannot be read: {err}") from None
    own = module.state_dict()
    if set(state) != set(own):
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        raise CommganError(
            f"checkpoint {name} does not fit the model: missing {missing[:3]}, extra {extra[:3]}"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise CommganError(
                f"checkpoint {name} does not fit the model: {key} has shape "
                f"{tuple(tensor.shape)}, the model needs {tuple(own[key].shape)}"
            )
    module.load_state_dict(state)
    return sidecar
