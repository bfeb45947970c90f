"""Score any eavesdropper the way ``commgan attack`` does: BER, a 95% interval over frames, and
the verdict (``holds`` when the interval lies inside [0.49, 0.51])."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from channels import get_modulation
from commgan.comm.keys import load_key
from commgan.comm.registry import parse_system_names, system_spec
from commgan.comm.system import System
from commgan.errors import CommganError
from commgan.security.export import SCORING_NONCE_OFFSET, check_settings, export_nonces
from commgan.security.wiretap import chunk_frames, wiretap_frames
from commgan.sim.stats import FrameErrorStats, security_verdict
from commgan.systems import SystemContext, build_systems

__all__ = ["DecoderScore", "score_bits", "score_decoder"]


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
        """Scored bits, F * L."""
        return self.frames * self.frame_bits

    def as_dict(self) -> dict[str, Any]:
        """The fields and ``bits``."""
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
    check_settings(system, channel, ebno_db, frame_bits, eve_ebno_offset_db)
    counter = export_nonces(system, channel, ebno_db, frame_bits, eve_ebno_offset_db, seed)
    counter.next += SCORING_NONCE_OFFSET
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
    """System ``name`` for ``mod`` on ``channel``, learned weights from the model cache."""
    names = parse_system_names(name)
    if len(names) != 1:
        raise CommganError(f"one system at a time, got {name!r}")
    try:
        get_modulation(mod)
    except ValueError as err:
        raise CommganError(str(err)) from None
    if system_spec(names[0]).keyed and key is None:
        key, _ = load_key(None)
    context = SystemContext(mod=mod, channel=channel, device=device, key=key,
                            models_dir=Path(models_dir) if models_dir else None)
    return build_systems(names, context)[names[0]]
