"""The one model cache of comm and vision: safetensors weights + a JSON sidecar.

A cached model is ``ROOT/NAME-LABEL-...`` + ``.safetensors`` / ``.json`` (:meth:`ModelCache.stem`):
learned systems are labelled by channel and modulation (``gan_enc-awgn-16qam``), vision models by
a hash of their training config (:func:`config_hash`). The sidecar holds the identity the model
was made for (checked on load), metrics, versions and the SHA-256 of the weights.

``save_checkpoint(stem, module, metadata)`` writes both files atomically. ``load_checkpoint``
refuses, with one clear :class:`CommganError`, a missing, corrupt or truncated file, one whose
recorded config differs from the expected one, and one whose tensor names or shapes do not fit
the module.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from commgan.errors import CommganError
from commgan.fileio import atomic_write_all

__all__ = ["CHECKPOINT_FORMAT", "CachedModel", "ModelCache", "checkpoint_paths", "config_hash",
           "default_models_dir", "load_checkpoint", "models_dir", "save_checkpoint"]


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


@contextmanager
def _locked(stem: Path, exclusive: bool) -> Iterator[None]:
    """Hold ``ROOT/.STEM.lock``: exclusive to write a model's pair of files, shared to read it.

    Writers create the lock file; a reader never does (so a shipped or read-only folder stays
    untouched) and reads unlocked where no writer ever was.
    """
    lock = stem.with_name(f".{stem.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT if exclusive else os.O_RDONLY, 0o666)
    except OSError as err:
        if exclusive:
            raise CommganError(f"model cache {str(stem.parent)!r} is not writable: "
                               f"{err.strerror}") from None
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)


def save_checkpoint(stem: str | Path, module: torch.nn.Module, metadata: dict) -> dict:
    """Save ``module``'s state dict and ``metadata`` (JSON-serialisable); returns the sidecar.

    Under the model's lock, both files are written to scratch files first and then renamed, so
    a concurrent save never pairs one process's weights with another's sidecar.
    """
    stem = Path(stem)
    weights, meta_path = checkpoint_paths(stem)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in
             module.state_dict().items()}
    sidecar = {**metadata, "format": CHECKPOINT_FORMAT,
               "tensors": {name: list(tensor.shape) for name, tensor in state.items()}}
    written: list[str] = []

    def write_weights(tmp: str) -> None:
        save_file(state, tmp)
        written.append(tmp)

    def write_sidecar(tmp: str) -> None:
        sidecar["sha256"] = _sha256(Path(written[0]))
        with open(tmp, "w") as f:
            json.dump(sidecar, f, indent=2, sort_keys=True, default=str)
            f.write("\n")

    with _locked(stem, exclusive=True):
        atomic_write_all({weights: write_weights, meta_path: write_sidecar})
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


def _load_checkpoint(stem: Path, module: torch.nn.Module, expected: dict | None,
                     device: str | torch.device) -> dict:
    weights, meta_path = checkpoint_paths(stem)
    name = str(weights)
    delete = f"delete {weights.name} and {meta_path.name} in {str(weights.parent)!r} to retrain"
    if not weights.is_file() or not meta_path.is_file():
        raise CommganError(f"checkpoint {name} or its .json sidecar is missing or not a file; "
                           f"{delete}")
    try:
        sidecar = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CommganError(f"checkpoint metadata {meta_path} is corrupt ({err}); "
                           f"{delete}") from None
    if not isinstance(sidecar, dict) or sidecar.get("format") != CHECKPOINT_FORMAT:
        raise CommganError(f"{meta_path} is not a commgan checkpoint ({CHECKPOINT_FORMAT})")
    _add_later_fields(sidecar)
    for key, value in (expected or {}).items():
        if sidecar.get(key) != value:
            raise CommganError(
                f"checkpoint {name} does not match: its {key} is {sidecar.get(key)!r}, "
                f"expected {value!r}"
            )
    if _sha256(weights) != sidecar.get("sha256"):
        raise CommganError(f"checkpoint {name} is corrupt or truncated (SHA-256 mismatch); "
                           f"{delete}")
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


class ModelCache:
    """The model folder (``--models``, else :func:`default_models_dir`) and its one naming
    scheme, ``NAME-LABEL-...``; :meth:`resolve` loads a model or trains and saves it."""

    def __init__(self, root: str | os.PathLike | None = None,
                 shipped: str | os.PathLike | None = SHIPPED_MODELS) -> None:
        self.root = models_dir(root)
        self.shipped = Path(shipped) if shipped is not None else None

    def check_writable(self) -> None:
        """CommganError unless a model trained now could be saved under :attr:`root`."""
        ancestor = self.root.absolute()
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
            raise CommganError(f"model folder {str(self.root)!r} is not a writable folder, so a "
                               "model trained now could not be saved; pass --models FOLDER")

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
        same name (SHA-256 and identity checked like any other). ``train()`` trains ``module``
        in place and returns extra sidecar metadata (metrics, times); the result is saved under
        ``stem`` with ``identity``. Without a cached model and with ``train_if_missing`` False,
        raises :class:`CommganError` with ``missing``.
        """
        if checkpoint_paths(stem)[0].exists() and not retrain:
            sidecar = load_checkpoint(stem, module, identity, device=device)
            return CachedModel(stem, sidecar, trained=False)
        shipped = self.shipped / stem.name if self.shipped is not None else None
        if (use_shipped and not retrain and shipped is not None
                and checkpoint_paths(shipped)[0].exists()):
            sidecar = load_checkpoint(shipped, module, identity, device=device)
            return CachedModel(shipped, sidecar, trained=False, shipped=True)
        if not train_if_missing and not retrain:
            raise CommganError(missing or f"no cached model {stem} in {self.root}")
        self.check_writable()
        metadata = train()
        sidecar = save_checkpoint(stem, module, {**identity, **metadata})
        return CachedModel(stem, sidecar, trained=True)
