"""The one model cache of comm and vision: safetensors weights + a JSON sidecar.

A cached model is ``ROOT/NAME-LABEL-...`` + ``.safetensors`` / ``.json`` (:meth:`ModelCache.stem`):
learned systems are labelled by channel and modulation (``gan_enc-awgn-16qam``), vision models by
a hash of their training config (:func:`config_hash`). The sidecar holds the identity the model
was made for (checked on load), metrics, versions and the SHA-256 of the weights.

``save_checkpoint(stem, module, metadata)`` writes both files atomically. ``load_checkpoint``
refuses, with one clear :class:`CommganError`, a missing, corrupt or truncated file, one whose
recorded config differs from the expected one, and one whose tensor names or shapes do not fit
the module. Saves and loads hold the model's lock (:mod:`commgan.checkpoint_lock`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as save_tensors

from commgan.checkpoint_lock import model_lock as _locked
from commgan.errors import CommganError
from commgan.fileio import atomic_write_all, json_writer

__all__ = ["CHECKPOINT_FORMAT", "CachedModel", "CheckpointError", "ModelCache", "checkpoint_paths",
           "config_hash", "default_models_dir", "load_checkpoint", "models_dir", "save_checkpoint"]


def default_models_dir() -> Path:
    """Where trained models are cached unless ``--models`` says otherwise:
    ``$COMMGAN_MODELS``, else ``$XDG_CACHE_HOME/commgan/models`` (``~/.cache/commgan/models``)."""
    if os.environ.get("COMMGAN_MODELS"):
        return Path(os.environ["COMMGAN_MODELS"])
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "commgan" / "models"
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home) or Path(home) == Path("/"):
        raise CommganError("no home folder ($HOME is empty or not absolute) for the default "
                           "model cache; pass --models FOLDER or set $COMMGAN_MODELS")
    return Path(home) / ".cache" / "commgan" / "models"


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
    """Save ``module``'s state dict and ``metadata`` (JSON-serialisable); returns the sidecar.

    Under the model's lock, both files are written to scratch files first and then renamed, so
    a concurrent save never pairs one process's weights with another's sidecar. A save that
    fails (a full disk, a file size limit) raises one :class:`CommganError` naming the folder
    and leaves the previous pair as it was, with no scratch or new lock file behind.
    """
    stem = Path(stem)
    weights, meta_path = checkpoint_paths(stem)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in
             module.state_dict().items()}
    data = save_tensors(state)
    sidecar = {**metadata, "format": CHECKPOINT_FORMAT,
               "tensors": {name: list(tensor.shape) for name, tensor in state.items()},
               "sha256": hashlib.sha256(data).hexdigest()}

    def write_weights(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    try:
        weights.parent.mkdir(parents=True, exist_ok=True)
        with _locked(stem, exclusive=True):
            atomic_write_all({weights: write_weights, meta_path: json_writer(sidecar)})
    except OSError as err:
        full = err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        raise CommganError(
            f"cannot save the trained model {weights.name} ({err.strerror or err}): it is lost "
            f"and the model cache is unchanged; {'free space in' if full else 'check'} "
            f"{str(weights.parent)!r} and rerun") from None
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
    stem = Path(stem)
    with _locked(stem, exclusive=False):
        return _load_checkpoint(stem, module, expected, device)


class CheckpointError(CommganError):
    """A checkpoint that cannot be used: ``reason`` (what is wrong) and ``advice`` (how to
    recover, which depends on whose folder it is)."""

    def __init__(self, reason: str, advice: str = "") -> None:
        super().__init__(f"{reason}; {advice}" if advice else reason)
        self.reason = reason
        self.advice = advice


def _load_checkpoint(stem: Path, module: torch.nn.Module, expected: dict | None,
                     device: str | torch.device) -> dict:
    weights, meta_path = checkpoint_paths(stem)
    name = str(weights)
    delete = f"delete {weights.name} and {meta_path.name} in {str(weights.parent)!r} to retrain"
    if not weights.is_file() or not meta_path.is_file():
        raise CheckpointError(f"checkpoint {name} or its .json sidecar is missing or not a file",
                              delete)
    try:
        sidecar = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint metadata {meta_path} is corrupt ({err})",
                              delete) from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{meta_path} is not a commgan checkpoint ({CHECKPOINT_FORMAT})")
    _add_later_fields(sidecar)
    for key, value in (expected or {}).items():
        if sidecar.get(key) != value:
            raise CheckpointError(
                f"checkpoint {name} does not match: its {key} is {sidecar.get(key)!r}, "
                f"expected {value!r}"
            )
    if _sha256(weights) != sidecar.get("sha256"):
        raise CheckpointError(f"checkpoint {name} is corrupt or truncated (SHA-256 mismatch)",
                              delete)
    try:
        state = load_file(weights, device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint {name} cannot be read: {err}") from None
    own = module.state_dict()
    if set(state) != set(own):
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        raise CheckpointError(
            f"checkpoint {name} does not fit the model: missing {missing[:3]}, extra {extra[:3]}"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[key].shape):
            raise CheckpointError(
                f"checkpoint {name} does not fit the model: {key} has shape "
                f"{tuple(tensor.shape)}, the model needs {tuple(own[key].shape)}"
            )
    module.load_state_dict(state)
    return sidecar


def _add_later_fields(sidecar: dict) -> None:
    """Give a sidecar written before a config field existed the value it implicitly had: a
    transceiver architecture (plain or a gan-enc's ``transceiver``) before ``spread`` sent one
    symbol per block."""
    architecture = sidecar.get("architecture")
    if isinstance(architecture, dict):
        for config in (architecture, architecture.get("transceiver")):
            if isinstance(config, dict) and "num_bits_per_symbol" in config:
                config.setdefault("spread", 1)


def config_hash(config: dict, length: int = 12) -> str:
    """Hex digest of a JSON-serialisable config (key order does not matter)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:length]


SIDECAR_ROOM = 1 << 20
"""Bytes reserved for a sidecar (a few kB) and the file system's own blocks when checking that a
model can be saved."""

SHIPPED_MODELS = Path(__file__).resolve().parent / "models"
"""Default models shipped inside the package (read-only; made by ``commgan train``, see README)."""


@dataclass(frozen=True)
class CachedModel:
    """A model resolved from the cache: its stem, its sidecar, whether it was trained now, and
    whether it is one of the package's shipped defaults."""

    stem: Path
    sidecar: dict
    trained: bool
    shipped: bool = False

    @property
    def weights(self) -> Path:
        return checkpoint_paths(self.stem)[0]

    @property
    def fingerprint(self) -> str:
        """First 16 hex digits of the weights' SHA-256 (recorded in results' configs)."""
        return str(self.sidecar["sha256"])[:16]

    def report(self, name: str, log: Callable[[str], None]) -> None:
        """Log where model ``name`` came from: the package's shipped default or the cache (a
        training logs itself)."""
        if self.shipped:
            log(f"{name}: using the shipped default model {self.weights.name}")
        elif not self.trained:
            log(f"{name}: using cached model {self.weights}")


class ModelCache:
    """The model folder (``--models``, else :func:`default_models_dir`) and its one naming
    scheme, ``NAME-LABEL-...``; :meth:`resolve` loads a model or trains and saves it."""

    def __init__(self, root: str | os.PathLike | None = None,
                 shipped: str | os.PathLike | None = SHIPPED_MODELS) -> None:
        self.root = models_dir(root)
        self.shipped = Path(shipped) if shipped is not None else None

    def check_writable(self, module: torch.nn.Module | None = None) -> None:
        """CommganError unless a model trained now could be saved under :attr:`root`: a
        writable folder with room for ``module``'s weights and a sidecar (checked before
        training, so a full disk does not cost a training)."""
        ancestor = self.root.absolute()
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
            raise CommganError(f"model folder {str(self.root)!r} is not a writable folder, so a "
                               "model trained now could not be saved; pass --models FOLDER")
        if module is None:
            return
        needed = SIDECAR_ROOM + sum(t.numel() * t.element_size()
                                    for t in module.state_dict().values())
        try:
            free = shutil.disk_usage(ancestor).free
        except OSError:
            return
        if free < needed:
            raise CommganError(
                f"model folder {str(self.root)!r} has {free / 1e6:.1f} MB free, a model trained "
                f"now needs {needed / 1e6:.1f} MB to be saved; free space or pass --models FOLDER")

    def stem(self, name: str, *labels: str) -> Path:
        """``ROOT/NAME-LABEL-...`` (``+`` in names becomes ``_``)."""
        return self.root / "-".join(part.replace("+", "_") for part in (name, *labels))

    def resolve(
        self,
        stem: Path,
        module: torch.nn.Module,
        identity: dict,
        train: Callable[[], dict],
        *,
        retrain: bool = False,
        train_if_missing: bool = True,
        missing: str = "",
        device: str | torch.device = "cpu",
        use_shipped: bool = False,
    ) -> CachedModel:
        """Load ``stem`` into ``module`` (its sidecar must hold ``identity``), or train.

        ``use_shipped``: without a model in the cache, load the package's shipped default of the
        same name (SHA-256 and identity checked like any other; one that cannot be used is a
        broken installation, never retrained). ``train()`` trains ``module``
        in place and returns extra sidecar metadata (metrics, times); the result is saved under
        ``stem`` with ``identity``. Without a cached model and with ``train_if_missing`` False,
        raises :class:`CommganError` with ``missing``.
        """
        if (not retrain and self._is_shipped(stem)
                and any(path.exists() for path in checkpoint_paths(stem))):
            return self._load_shipped(stem, module, identity, device)
        if checkpoint_paths(stem)[0].exists() and not retrain:
            sidecar = load_checkpoint(stem, module, identity, device=device)
            return CachedModel(stem, sidecar, trained=False)
        shipped = self.shipped / stem.name if self.shipped is not None else None
        if (use_shipped and not retrain and shipped is not None
                and any(path.exists() for path in checkpoint_paths(shipped))):
            return self._load_shipped(shipped, module, identity, device)
        if not train_if_missing and not retrain:
            raise CommganError(missing or f"no cached model {stem} in {self.root}")
        self.check_writable(module)
        metadata = train()
        sidecar = save_checkpoint(stem, module, {**identity, **metadata})
        return CachedModel(stem, sidecar, trained=True)

    def _is_shipped(self, stem: Path) -> bool:
        """Whether ``stem`` lies in the package's folder of shipped models (``--models`` may
        name it)."""
        try:
            return self.shipped is not None and stem.parent.resolve() == self.shipped.resolve()
        except OSError:
            return False

    @staticmethod
    def _load_shipped(stem: Path, module: torch.nn.Module, identity: dict,
                      device: str | torch.device) -> CachedModel:
        """A shipped model; one that cannot be used (a file missing, corrupt, or made for another
        architecture) means a broken installation: the advice is to reinstall, never to delete
        or retrain files inside the installed package."""
        try:
            sidecar = load_checkpoint(stem, module, identity, device=device)
        except CheckpointError as err:
            raise CommganError(
                f"broken installation: reinstall commgan (e.g. pip install --force-reinstall "
                f"commgan); its shipped model {stem.name} cannot be used: {err.reason}") from None
        return CachedModel(stem, sidecar, trained=False, shipped=True)
