"""The model cache: learned systems are trained once per (system, channel, mod) and reused.

Models live in ``--models DIR``, else ``$COMMGAN_MODELS``, else ``$XDG_CACHE_HOME/commgan/models``
(``~/.cache/commgan/models``), as ``SYSTEM-CHANNEL-MOD.safetensors`` + ``.json``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from channels import WiretapChannel, get_modulation
from commgan.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining, train_autoencoder
from commgan.comm.registry import build_system
from commgan.comm.system import System
from commgan.errors import CommganError
from commgan.sim.engine import simulate_point
from commgan.sim.sweep import package_versions

__all__ = ["SystemContext", "build_systems", "default_models_dir", "load_or_train_autoencoder",
           "model_stem", "quick_ber"]


def default_models_dir() -> Path:
    """Where trained models are cached unless ``--models`` says otherwise."""
    if os.environ.get("COMMGAN_MODELS"):
        return Path(os.environ["COMMGAN_MODELS"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "commgan" / "models"


@dataclass
class SystemContext:
    """What building a system needs besides its name."""

    mod: str = "16qam"
    channel: str = "rayleigh"
    device: str = "cpu"
    key: bytes | None = field(default=None, repr=False)
    models_dir: Path | None = None
    train_if_missing: bool = True
    progress: bool = False
    log: Callable[[str], None] = field(default=lambda message: None, repr=False)

    @property
    def models(self) -> Path:
        return Path(self.models_dir) if self.models_dir else default_models_dir()


def model_stem(models_dir: Path, system: str, channel: str, mod: str) -> Path:
    """Checkpoint stem of a cached model."""
    return Path(models_dir) / f"{system.replace('+', '_')}-{channel}-{mod}"


def quick_ber(system: System, channel: str, ebno_dbs=(0.0, 10.0, 20.0),
              bits: int = 262_144) -> dict[str, float]:
    """Bob's BER at a few Eb/N0 (a checkpoint's final metrics): 'ber_at_<x>dB' -> value."""
    wiretap = WiretapChannel(channel, device=str(system.device))
    frame_bits = 64 * system.frame_multiple
    metrics = {}
    for ebno_db in ebno_dbs:
        point = simulate_point(system, wiretap, ebno_db, frame_bits=frame_bits, batch_frames=1024,
                               target_errors=1 << 40, max_bits=bits, seed=12345)
        metrics[f"ber_at_{ebno_db:g}dB"] = point.receivers["bob"].ber
    return metrics


def build_systems(names: list[str], ctx: SystemContext) -> dict[str, System]:
    """Build each named system; learned ones come from the cache (trained on first use)."""
    built = {}
    for name in names:
        if name == "ae":
            built[name] = load_or_train_autoencoder(ctx)
        else:
            built[name] = build_system(name, ctx.mod, key=ctx.key, device=ctx.device)
    return built


def load_or_train_autoencoder(
    ctx: SystemContext,
    training: AutoencoderTraining | None = None,
    retrain: bool = False,
) -> AutoencoderSystem:
    """The cached ``ae`` for (channel, mod), trained now (and cached) if missing or ``retrain``."""
    modulation = get_modulation(ctx.mod)
    training = training or AutoencoderTraining()
    training.transceiver.num_bits_per_symbol = modulation.num_bits_per_symbol
    system = AutoencoderSystem(modulation, training.transceiver, device=ctx.device)
    stem = model_stem(ctx.models, "ae", ctx.channel, ctx.mod)
    expected = {"system": "ae", "channel": ctx.channel, "mod": ctx.mod,
                "transceiver": asdict(training.transceiver)}
    weights, _ = checkpoint_paths(stem)
    if weights.exists() and not retrain:
        sidecar = load_checkpoint(stem, system, expected, device=ctx.device)
        system.fingerprint = sidecar["sha256"][:16]
        ctx.log(f"ae: using cached model {weights}")
        return system
    if not ctx.train_if_missing and not retrain:
        raise CommganError(
            f"no trained ae for {ctx.channel}/{ctx.mod} in {ctx.models}; run: commgan train "
            f"--system ae --channel {ctx.channel} --mod {ctx.mod}"
        )
    ctx.log(f"ae: training for {ctx.channel}/{ctx.mod} ({training.steps} steps); "
            f"it will be cached at {weights}")
    history = train_autoencoder(system, ctx.channel, training, progress=ctx.progress, log=ctx.log)
    metrics = {"final_loss": float(history["loss"].tail(100).mean()),
               "train_seconds": float(history["seconds"].iloc[-1]),
               **quick_ber(system, ctx.channel)}
    sidecar = save_checkpoint(stem, system, {**expected, "training": training.to_dict(),
                                             "metrics": metrics, "versions": package_versions()})
    system.fingerprint = sidecar["sha256"][:16]
    ctx.log(f"ae: trained in {metrics['train_seconds']:.0f} s; BER "
            + ", ".join(f"{k[7:]}: {v:.2e}" for k, v in metrics.items() if k.startswith("ber")))
    return system
