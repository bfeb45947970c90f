"""Training precision: fp32, or mixed precision where the hardware runs it natively.

Mixed precision autocasts the forward pass (convolutions and matmuls in the low type, losses and
reductions in fp32 by torch's autocast rules); weights, gradients and optimiser state stay fp32,
and every network output is cast back to fp32 by its caller. ``"auto"`` picks bf16 on CPUs whose
oneDNN runs bf16 natively (AVX512-BF16 or AMX) and on CUDA devices that support it, fp32
elsewhere: emulated bf16 is slower than fp32. fp16 needs CUDA and a gradient scaler.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from commgan.errors import CommganError

__all__ = ["PRECISIONS", "autocast", "native_bf16", "resolve_precision"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
"""Accepted values of a training's ``precision``."""

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 convolutions and matmuls natively."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``precision`` (one of :data:`PRECISIONS`) -> the one used on ``device``: fp32, bf16, fp16.

    Raises :class:`~commgan.errors.CommganError` (one line in the CLI) for an unknown name, fp16
    off CUDA, and bf16 on a CUDA device that cannot run it.
    """
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise CommganError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                           f"{str(precision)[:20]!r}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise CommganError(f"--precision fp16 needs a CUDA device, not {device.type}; use bf16, "
                           "fp32 or auto")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise CommganError("--precision bf16: this CUDA device cannot run bf16; use fp16, fp32 "
                           "or auto")
    return precision


def autocast(precision: str, device: torch.device | str) -> AbstractContextManager:
    """The autocast context of a resolved ``precision`` on ``device`` (a no-op for fp32)."""
    device = torch.device(device)
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])
