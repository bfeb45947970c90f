"""The systems of a run, by name: classical ones built from the registry, learned ones loaded
from the model cache (trained on first use, then measured with the engine and cached).

Learned systems are cached per (system, channel, mod) as ``SYSTEM-CHANNEL-MOD`` in the one model
cache (:class:`commgan.checkpoint.ModelCache`): ``--models DIR``, else ``$COMMGAN_MODELS``, else
``$XDG_CACHE_HOME/commgan/models`` (``~/.cache/commgan/models``). SYSTEM and CHANNEL carry their
non-default options (``ae-rayleigh_coherence32_pilots2_estimatorls-16qam``: a model trained
with 2 pilots is never used for 4); a plain channel name keeps the shipped models' names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from channels import WiretapChannel, channel_choice, channel_spec, get_modulation, theory
from commgan.checkpoint import CachedModel, ModelCache
from commgan.comm.registry import file_label, system_choice, system_spec
from commgan.comm.system import System
from commgan.errors import CommganError
from commgan.gan.precision import resolve_precision
from commgan.rng import scoped_rng
from commgan.sim.engine import simulate_point
from commgan.sim.sweep import package_versions

__all__ = ["LEARNED_FRACTION", "LoadedSystem", "SystemContext", "SystemSet", "baseline_ber",
           "build_systems", "cache_entry", "check_learned", "load_or_train", "model_stem",
           "quick_ber", "reference_ebno"]


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
    def cache(self) -> ModelCache:
        return ModelCache(self.models_dir)

    @property
    def models(self) -> Path:
        return self.cache.root


@dataclass(frozen=True)
class LoadedSystem:
    """A learned system and the cached model it came from."""

    system: System
    model: CachedModel


class SystemSet(dict[str, System]):
    """Systems by name, plus the cached models of the learned ones (``models``)."""

    def __init__(self, systems: dict[str, System], models: dict[str, CachedModel]) -> None:
        super().__init__(systems)
        self.models = models

    def fingerprints(self) -> dict[str, str]:
        """System name -> first 16 hex digits of its model's SHA-256 (learned systems)."""
        return {name: model.fingerprint for name, model in self.models.items()}


def model_stem(models_dir: Path | None, system: str, channel: str, mod: str) -> Path:
    """Checkpoint stem of a cached learned system."""
    return ModelCache(models_dir).stem(system, channel, mod)


def quick_ber(system: System, channel: str, ebno_dbs: Iterable[float] = (0.0, 10.0, 20.0),
              bits: int = 262_144) -> dict[str, float]:
    """Bob's BER at a few Eb/N0 (a checkpoint's final metrics): 'ber_at_<x>dB' -> value; keyed
    systems also give their in-loop Eve's 'eve_ber_at_<x>dB'."""
    wiretap = WiretapChannel(channel, device=str(system.device))
    metrics = {}
    for ebno_db in ebno_dbs:
        point = simulate_point(system, wiretap, ebno_db, frame_bits=64 * system.frame_multiple,
                               batch_frames=1024, target_errors=1 << 40, max_bits=bits,
                               seed=12345)
        for receiver, stats in point.receivers.items():
            prefix = "" if receiver == "bob" else f"{receiver}_"
            metrics[f"{prefix}ber_at_{ebno_db:g}dB"] = stats.ber
    return metrics


LEARNED_FRACTION = 0.25
"""A trained link must close at least this fraction of the gap between chance (BER 0.5) and
the Gray baseline's BER at its reference Eb/N0, or it is not cached. One that did not learn stays
near chance (BER 0.46 or more); every shipped model closes more than 90% of the gap, and
20-step trainings about half of it, so a quarter separates the two with room on both sides."""

CHECK_SIGMAS = 5.0
"""Allowance for Monte Carlo noise in the check: this many standard errors of a chance-level BER
over the measured blocks (errors within a block are correlated, so blocks count, not bits)."""


def reference_ebno(training: Any, channel: str) -> float:
    """The Eb/N0 in dB a trained link is checked at: the middle of its training range."""
    low, high = getattr(training, "train_ebno_db", None) or channel_spec(channel).train_ebno_db
    return (float(low) + float(high)) / 2


def baseline_ber(mod: str, channel: str, ebno_db: float) -> float:
    """BER of the classical Gray baseline (``qam``) at ``ebno_db``: theory where the channel has
    one, else measured with the engine."""
    if theory.has_theory(channel):
        return float(theory.ber(mod, channel, ebno_db))
    qam = system_spec("qam").build(get_modulation(mod))
    return quick_ber(qam, channel, (ebno_db,))[f"ber_at_{ebno_db:g}dB"]


def check_learned(name: str, system: System, channel: str, training: Any, metrics: dict,
                  bits: int = 262_144) -> None:
    """Refuse (one :class:`CommganError`) a trained link that did not learn.

    ``metrics`` holds Bob's BER at :func:`reference_ebno` (from :func:`quick_ber`, with the key
    for keyed systems, over ``bits`` bits); it must lie below chance minus
    :data:`LEARNED_FRACTION` of the gap to :func:`baseline_ber`, plus :data:`CHECK_SIGMAS`
    standard errors.
    """
    ebno_db = reference_ebno(training, channel)
    ber = metrics[f"ber_at_{ebno_db:g}dB"]
    baseline = baseline_ber(system.modulation.name, channel, ebno_db)
    blocks = max(1, bits // system.frame_multiple)
    limit = 0.5 - LEARNED_FRACTION * (0.5 - baseline) + CHECK_SIGMAS * 0.5 / blocks ** 0.5
    if not ber <= limit:
        bob = "Bob's BER (with the key)" if system.keyed else "Bob's BER"
        raise CommganError(
            f"{name} trained for {channel}/{system.modulation.name} did not learn: {bob} at "
            f"{ebno_db:g} dB, the middle of the training Eb/N0, is {ber:.3g}, above {limit:.3g} "
            f"(chance 0.5, Gray baseline {baseline:.2g}); not cached, the model cache is "
            "unchanged; train with more --steps or another --train-ebno")


def build_systems(names: Iterable[str], ctx: SystemContext) -> SystemSet:
    """Build each named system; learned ones come from the cache (trained on first use)."""
    systems, models = {}, {}
    modulation = get_modulation(ctx.mod)
    for name in names:
        choice = system_choice(name)
        if choice.spec.learned is None:
            systems[name] = choice.spec.build(modulation, key=ctx.key, device=ctx.device,
                                              options=choice.option_dict)
        else:
            loaded = load_or_train(name, ctx)
            systems[name], models[name] = loaded.system, loaded.model
    return SystemSet(systems, models)


def cache_entry(name: str, ctx: SystemContext, architecture: Any) -> tuple[Path, dict]:
    """Checkpoint stem and identity of learned system ``name`` (a label) in ``ctx``'s cache:
    the system's and the channel's non-default options are part of both, so models of other
    options are never mixed up; a plain channel name gives today's (shipped) names."""
    choice = system_choice(name)
    channel = channel_choice(ctx.channel)
    plain = not channel.changed_options
    stem = ctx.cache.stem(file_label(choice.label),
                          channel.label if plain else file_label(channel.label), ctx.mod)
    identity = {"system": choice.label, "channel": channel.label,
                "mod": ctx.mod, "architecture": asdict(architecture),
                **({"options": choice.option_dict} if choice.options else {})}
    return stem, identity


def load_or_train(name: str, ctx: SystemContext, training: Any = None,
                  retrain: bool = False) -> LoadedSystem:
    """The cached learned system ``name`` for (channel, mod): from the model cache, else (with the
    default training config) the package's shipped default, else trained now and cached; always
    trained with ``retrain``. The checkpoint never holds a key: keyed systems get ``ctx.key``."""
    choice = system_choice(name)
    spec, name = choice.spec, choice.label
    if spec.learned is None:
        raise CommganError(f"system {name!r} is not learned; nothing to train")
    modulation = get_modulation(ctx.mod)
    use_shipped = training is None  # the stem names the options: a shipped model of the same
    # stem was trained with them (its sidecar's identity is checked on load)
    training = training or spec.learned.default_training(modulation, ctx.channel)
    key = ctx.key if ctx.key is not None else os.urandom(32)
    with scoped_rng():  # initial weights, overwritten by the checkpoint or the seeded training
        system = spec.build(modulation, key=key, device=ctx.device, training=training,
                            options=choice.option_dict)
    stem, identity = cache_entry(name, ctx, spec.learned.architecture(training))

    def train() -> dict:
        ctx.log(f"{name}: training for {ctx.channel}/{ctx.mod} ({training.steps} steps); "
                f"it will be cached at {stem}.safetensors")
        history = spec.learned.train(system, ctx.channel, training, progress=ctx.progress,
                                     log=ctx.log)
        loss = "loss" if "loss" in history else "loss_g"
        checked_at = reference_ebno(training, ctx.channel)
        metrics = {"final_loss": float(history[loss].tail(100).mean()),
                   "train_seconds": float(history["seconds"].iloc[-1]),
                   **quick_ber(system, ctx.channel, sorted({0.0, 10.0, 20.0, checked_at}))}
        check_learned(name, system, ctx.channel, training, metrics)
        if spec.learned.critic_metrics is not None:
            metrics.update(spec.learned.critic_metrics(system, ctx.channel, training))
        ctx.log(f"{name}: trained in {metrics['train_seconds']:.0f} s; "
                + ", ".join(f"{k}: {v:.3g}" for k, v in metrics.items() if k != "final_loss"))
        return {"training": training.to_dict(), "metrics": metrics,
                "precision": resolve_precision(training.precision, ctx.device),
                "versions": package_versions()}

    model = ctx.cache.resolve(
        stem, system, identity, train, retrain=retrain, train_if_missing=ctx.train_if_missing,
        device=ctx.device, use_shipped=use_shipped,
        missing=(f"no trained {name} for {ctx.channel}/{ctx.mod} in {ctx.models}; run: commgan "
                 f"train --system {name} --channel {ctx.channel} --mod {ctx.mod}"))
    system.eval()
    model.report(name, ctx.log)
    return LoadedSystem(system, model)

