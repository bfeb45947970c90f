"""The vision models in the one model cache (`commgan.checkpoint.ModelCache`), by name.

A model is cached as ``STEM-FINGERPRINT.safetensors`` + ``.json``: the stem of its
`VisionModel` record (`commgan.vision.models.registry.VISION_MODELS`) and
`commgan.checkpoint.config_hash` of its identity (model name, whole training config, perceptual
network), so a changed budget or architecture never silently reuses another model. The folder
is given by the caller (the CLI passes ``--models`` or `commgan.checkpoint.default_models_dir`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from commgan.checkpoint import SHIPPED_MODELS, ModelCache, checkpoint_paths, config_hash
from commgan.errors import CommganError
from commgan.rng import scoped_rng
from commgan.vision.data import folder_digest
from commgan.vision.models.record import VisionModel, VisionTraining
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import train_model
from commgan.vision.perceptual import VGG16Features

__all__ = ["cache_stem", "comparison_model", "load_or_train", "timed_load_or_train"]

Log = Callable[[str], None]


def _perceptual_name(model: VisionModel, vgg_perceptual: bool) -> str:
    return "vgg16" if (model.perceptual and vgg_perceptual) else "filterbank-substitute"


def _identity(name: str, training: VisionTraining, perceptual_name: str) -> dict:
    """The identity recorded in (and checked against) a checkpoint, as JSON would return it.

    With the user's photographs (file paths among the images) it includes the SHA-256 of their
    contents; an empty validation list is left out (the identities of the models trained on
    the shipped images stay what they were)."""
    config = training.to_dict()
    if not config.get("validation"):
        config.pop("validation", None)
    identity = {"model": name, "training": config, "perceptual": perceptual_name}
    digest = folder_digest(tuple(training.images) + tuple(training.validation))
    if digest is not None:
        identity["images_sha256"] = digest
    return json.loads(json.dumps(identity))


def cache_stem(name: str, models_dir: str | Path, training: VisionTraining | None = None,
               vgg_perceptual: bool = False) -> Path:
    """Checkpoint stem ``models_dir/STEM-FINGERPRINT`` of a model and training config.

    vgg_perceptual: the perceptual term uses VGG16 features from a backbone file (models with a
    perceptual term only).
    """
    model = VISION_MODELS[name]
    training = model.config(training)
    identity = _identity(name, training, _perceptual_name(model, vgg_perceptual))
    return ModelCache(models_dir).stem(model.stem, config_hash(identity))


def load_or_train(name: str, models_dir: str | Path, training: VisionTraining | None = None,
                  backbone_state: dict[str, Tensor] | None = None, retrain: bool = False,
                  train_if_missing: bool = True, device: str = "cpu", progress: bool = False,
                  log: Log = lambda message: None, use_shipped: bool = True) -> nn.Module:
    """The cached generator (eval mode, on ``device``) of model ``name``: from ``models_dir``, else
    the package's shipped default of the same identity (unless ``use_shipped`` is False), else
    trained now.

    The sidecar holds the identity, the training time and the final losses. backbone_state:
    VGG16 weights (see `commgan.vision.perceptual`) for the perceptual term of a model that has
    one, instead of the filter-bank substitute.
    """
    model = VISION_MODELS[name]
    training = model.config(training)
    vgg = model.perceptual and backbone_state is not None
    perceptual_name = _perceptual_name(model, vgg)
    identity = _identity(name, training, perceptual_name)
    cache = ModelCache(models_dir)
    stem = cache.stem(model.stem, config_hash(identity))
    with scoped_rng():  # initial weights, overwritten by the checkpoint or the trained ones
        generator = model.make_generator(training)

    def train() -> dict:
        log(f"{name}: training {training.iterations} iterations (perceptual term: "
            f"{perceptual_name}); it will be cached at {stem}.safetensors")
        perceptual = VGG16Features.from_state(backbone_state) if vgg else None
        start, cpu_start = time.perf_counter(), time.process_time()
        trained, history = train_model(model, training, perceptual, device, progress, log)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        generator.load_state_dict(trained.state_dict())
        tail = history.tail(100)
        metrics = {k: float(tail[k].mean()) for k in tail.columns
                   if k not in ("iteration", "seconds", "validation_psnr")
                   and tail[k].notna().any()}
        if "chosen_iteration" in history.attrs:
            metrics["validation_psnr"] = history.attrs["chosen_psnr"]
            metrics["chosen_iteration"] = history.attrs["chosen_iteration"]
        log(f"{name}: trained in {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time)")
        return {"train_seconds": seconds, "train_cpu_seconds": cpu_seconds,
                "threads": torch.get_num_threads(), "metrics": metrics}

    cached = cache.resolve(stem, generator, identity, train, retrain=retrain,
                           train_if_missing=train_if_missing,
                           missing=f"no trained {name} model in {models_dir}", device=device,
                           use_shipped=use_shipped)
    cached.report(name, log)
    return generator.to(device).eval()


def comparison_model(name: str, models_dir: str | Path, device: str = "cpu",
                     log: Log = lambda message: None) -> tuple[str, nn.Module] | None:
    """Model ``name``'s `VisionModel.compare_with` (its name and generator) with the default
    config, from the cache or shipped; None (and a log line) when it has none or it is not
    there: a comparison is never trained."""
    other = VISION_MODELS[name].compare_with
    if other is None:
        return None
    try:
        return other, load_or_train(other, models_dir, train_if_missing=False, device=device,
                                    log=log)
    except CommganError as err:
        log(f"{name}: no comparison with {VISION_MODELS[other].display_name} ({err})")
        return None


def timed_load_or_train(name: str, models_dir: str | Path, training: VisionTraining,
                        backbone_state: dict[str, Tensor] | None = None,
                        log: Log = lambda message: None) -> tuple[nn.Module, dict]:
    """:func:`load_or_train` and its row of a trainings table: ``iterations``, the call's wall
    clock (``load_or_train_seconds``), the sidecar's ``train_seconds``, ``train_cpu_seconds``
    and ``threads`` (NaN / None for a checkpoint without them) and the 1-minute load average
    ``load_before`` and ``load_after`` the call."""
    load_before, start = os.getloadavg()[0], time.perf_counter()
    generator = load_or_train(name, models_dir, training, backbone_state=backbone_state, log=log)
    vgg = VISION_MODELS[name].perceptual and backbone_state is not None
    stem = cache_stem(name, models_dir, training, vgg)
    meta = checkpoint_paths(stem)[1]
    if not meta.exists():  # loaded from the package's shipped models
        meta = checkpoint_paths(SHIPPED_MODELS / stem.name)[1]
    sidecar = json.loads(meta.read_text()) if meta.exists() else {}
    return generator, {"iterations": training.iterations,
                       "load_or_train_seconds": time.perf_counter() - start,
                       "train_seconds": sidecar.get("train_seconds", float("nan")),
                       "train_cpu_seconds": sidecar.get("train_cpu_seconds", float("nan")),
                       "threads": sidecar.get("threads"),
                       "load_before": load_before, "load_after": os.getloadavg()[0]}

