"""The model cache: learned systems are trained once per (system, channel, mod) and reused.

Models live in ``--models DIR``, else ``$COMMGAN_MODELS``, else ``$XDG_CACHE_HOME/commgan/models``
(``~/.cache/commgan/models``), as ``SYSTEM-CHANNEL-MOD.safetensors`` + ``.json``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from channels import ModulationSpec, WiretapChannel, get_modulation
from commgan.checkpoint import (
    checkpoint_paths,
    default_models_dir,
    load_checkpoint,
    models_dir,
    save_checkpoint,
)
from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining, train_autoencoder
from commgan.comm.encryption import GanEncConfig, GanEncNaiveSystem, GanEncSystem, generator_config
from commgan.comm.encryption_training import (
    GanEncTraining,
    evaluate_critics,
    train_encrypted_link,
)
from commgan.comm.registry import build_system
from commgan.comm.system import System
from commgan.comm.transceiver import TransceiverConfig
from commgan.errors import CommganError
from commgan.sim.engine import simulate_point
from commgan.sim.sweep import package_versions

__all__ = ["LEARNED_SYSTEMS", "SystemContext", "build_systems", "default_models_dir",
           "load_or_train", "model_stem", "quick_ber"]


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
        return models_dir(self.models_dir)


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


@dataclass(frozen=True)
class _Learned:
    """How to make, configure and train one learned system."""

    make: Callable[..., System]
    default_training: Callable[[ModulationSpec], Any]
    train: Callable[..., pd.DataFrame]
    architecture: Callable[[Any], dict]
    extra_metrics: Callable[..., dict] = lambda system, channel, training: {}


def _encrypted_metrics(system, channel: str, training) -> dict:
    """Held-out critic accuracies and the in-loop Eve's BER at 10 dB."""
    wiretap = WiretapChannel(channel, device=str(system.device))
    point = simulate_point(system, wiretap, 10.0, frame_bits=64 * system.frame_multiple,
                           batch_frames=1024, target_errors=1 << 40, max_bits=262_144,
                           seed=54321)
    return {**evaluate_critics(system, channel, training),
            "eve_ber_at_10dB": point.receivers["eve"].ber}


LEARNED_SYSTEMS: dict[str, _Learned] = {
    "ae": _Learned(
        make=lambda mod, training, device, key: AutoencoderSystem(
            mod, training.transceiver, device=device),
        default_training=lambda mod: AutoencoderTraining(
            transceiver=TransceiverConfig(mod.num_bits_per_symbol)),
        train=train_autoencoder,
        architecture=lambda training: asdict(training.transceiver),
    ),
    "gan-enc": _Learned(
        make=lambda mod, training, device, key: GanEncSystem(
            mod, training.architecture, key=key, device=device),
        default_training=lambda mod: GanEncTraining(architecture=GanEncConfig(
            transceiver=generator_config(mod.num_bits_per_symbol))),
        train=train_encrypted_link,
        architecture=lambda training: asdict(training.architecture),
        extra_metrics=_encrypted_metrics,
    ),
    "gan-enc-naive": _Learned(
        make=lambda mod, training, device, key: GanEncNaiveSystem(
            mod, training.architecture, key=key, device=device),
        default_training=lambda mod: GanEncTraining(
            relative_loss=False, lambda_eve=1.0,
            architecture=GanEncConfig(transceiver=generator_config(
                mod.num_bits_per_symbol, qam_skip=False))),
        train=train_encrypted_link,
        architecture=lambda training: asdict(training.architecture),
        extra_metrics=_encrypted_metrics,
    ),
}


def build_systems(names: list[str], ctx: SystemContext) -> dict[str, System]:
    """Build each named system; learned ones come from the cache (trained on first use)."""
    return {name: load_or_train(name, ctx) if name in LEARNED_SYSTEMS
            else build_system(name, ctx.mod, key=ctx.key, device=ctx.device) for name in names}


def load_or_train(name: str, ctx: SystemContext, training=None, retrain: bool = False) -> System:
    """The cached learned system ``name`` for (channel, mod); trained now (and cached) if it is
    missing or ``retrain``. The checkpoint never holds a key: keyed systems get ``ctx.key``."""
    spec = LEARNED_SYSTEMS[name]
    modulation = get_modulation(ctx.mod)
    training = training or spec.default_training(modulation)
    key = ctx.key if ctx.key is not None else os.urandom(32)
    system = spec.make(modulation, training, ctx.device, key)
    stem = model_stem(ctx.models, name, ctx.channel, ctx.mod)
    expected = {"system": name, "channel": ctx.channel, "mod": ctx.mod,
                "architecture": spec.architecture(training)}
    weights, _ = checkpoint_paths(stem)
    if weights.exists() and not retrain:
        sidecar = load_checkpoint(stem, system, expected, device=ctx.device)
        system.eval()
        system.fingerprint = sidecar["sha256"][:16]
        ctx.log(f"{name}: using cached model {weights}")
        return system
    if not ctx.train_if_missing and not retrain:
        raise CommganError(
            f"no trained {name} for {ctx.channel}/{ctx.mod} in {ctx.models}; run: commgan train "
            f"--system {name} --channel {ctx.channel} --mod {ctx.mod}"
        )
    ctx.log(f"{name}: training for {ctx.channel}/{ctx.mod} ({training.steps} steps); "
            f"it will be cached at {weights}")
    history = spec.train(system, ctx.channel, training, progress=ctx.progress, log=ctx.log)
    loss = "loss" if "loss" in history else "loss_g"
    metrics = {"final_loss": float(history[loss].tail(100).mean()),
               "train_seconds": float(history["seconds"].iloc[-1]),
               **quick_ber(system, ctx.channel),
               **spec.extra_metrics(system, ctx.channel, training)}
    sidecar = save_checkpoint(stem, system, {**expected, "training": training.to_dict(),
                                             "metrics": metrics, "versions": package_versions()})
    system.fingerprint = sidecar["sha256"][:16]
    ctx.log(f"{name}: trained in {metrics['train_seconds']:.0f} s; "
            + ", ".join(f"{k}: {v:.3g}" for k, v in metrics.items() if k != "final_loss"))
    return system
