"""Shared options, parsers and registry-backed choices of the ``commgan`` commands.

Registry names are read when a command needs them, so ``commgan --help`` imports no registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from commgan.errors import CommganError


class RegistryChoice(click.Choice):
    """A click choice whose names come from a registry, read on first use."""

    def __init__(self, names: Callable[[], Sequence[str]]) -> None:
        super().__init__((), case_sensitive=False)
        self._names = names

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._names())

    @choices.setter
    def choices(self, value) -> None:
        """Click's constructor assigns the (empty) static choices; the registry decides."""


class RegistryHelpOption(click.Option):
    """An option whose help text ends with the registry's names, formatted when shown."""

    def __init__(self, *args, names: Callable[[], Sequence[str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._names = names
        self._base_help = self.help or ""

    def get_help_record(self, ctx: click.Context):
        self.help = f"{self._base_help} Valid: {', '.join(self._names())}."
        return super().get_help_record(ctx)


def channel_names() -> list[str]:
    from channels import CHANNELS

    return list(CHANNELS)


def mod_names() -> list[str]:
    from channels import MODULATIONS

    return list(MODULATIONS)


def system_names() -> list[str]:
    from commgan.comm.registry import SYSTEMS

    return list(SYSTEMS)


def learned_system_names() -> tuple[str, ...]:
    from commgan.comm.registry import learned_systems

    return learned_systems()


def default_sweep() -> str:
    from commgan.comm.registry import default_sweep_systems

    return ",".join(default_sweep_systems())


def channel_model_names() -> list[str]:
    from commgan.comm.channelgan import CHANNEL_MODELS

    return list(CHANNEL_MODELS)


def vision_task_names() -> list[str]:
    from commgan.vision.tasks import VISION_TASKS

    return list(VISION_TASKS)


def vision_task_summaries() -> list[str]:
    from commgan.vision.tasks import VISION_TASKS

    return [f"{name} ({task.summary})" for name, task in VISION_TASKS.items()]


def parse_ebno(text: str) -> tuple[float, ...]:
    """``START:STOP:STEP`` (inclusive) or a comma list, in dB."""
    hint = "use START:STOP:STEP (inclusive, e.g. 0:20:2) or a comma list (e.g. 0,5,10)"
    text = text.strip()
    if not text:
        raise CommganError(f"--ebno is empty; {hint}")
    try:
        parts = [float(p) for p in text.split(":" if ":" in text else ",")]
    except ValueError:
        raise CommganError(f"--ebno {text!r} does not parse; {hint}") from None
    if ":" in text:
        if len(parts) != 3:
            raise CommganError(f"--ebno {text!r} does not parse; {hint}")
        start, stop, step = parts
        if step <= 0 or stop < start:
            raise CommganError(f"--ebno {text!r}: need STEP > 0 and STOP >= START; {hint}")
        count = int((stop - start) / step + 1e-9) + 1
        values = tuple(round(start + i * step, 10) for i in range(count))
    else:
        values = tuple(parts)
    if not all(abs(v) < 1e3 for v in values):
        raise CommganError(f"--ebno {text!r}: values must be finite dB numbers; {hint}")
    if len(values) > 1000:
        raise CommganError(f"--ebno {text!r} has {len(values)} points; at most 1000")
    return values


def resolve_device(name: str) -> str:
    """``auto`` -> cuda if available else cpu; ``cuda`` without a GPU is an error."""
    import torch

    name = name.lower()
    if name == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CommganError("--device cuda: no CUDA device is available; use --device cpu")
        return "cuda:0" if name == "cuda" else name
    return "cpu"


def check_out_dir(path: str, option: str = "--out") -> Path:
    """Fail with one clear line unless ``path`` is, or can be created as, a writable folder.

    Nothing is created here: the folder appears only when results are written.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CommganError(f"{option} {path!r} exists and is not a folder")
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CommganError(f"{option} {path!r} cannot be created: {str(ancestor)!r} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CommganError(f"{option} {path!r} is not writable")
    return out


def positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """Click callback: reject a non-positive integer option."""
    if value is not None and value <= 0:
        raise click.BadParameter(f"must be a positive integer, got {value}")
    return value


channel_option = click.option(
    "--channel", type=RegistryChoice(channel_names), default="rayleigh",
    show_default=True, help="Channel model.")
mod_option = click.option(
    "--mod", type=RegistryChoice(mod_names), default="16qam",
    show_default=True, help="Modulation (sets R = bits per channel use).")
models_option = click.option(
    "--models", "models_dir", default=None,
    help="Model cache folder [default: $COMMGAN_MODELS or ~/.cache/commgan/models].")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")


def key_option(role: str) -> Callable:
    """--key (a key file; else $COMMGAN_KEY, else a fresh random key), ``role`` opening the help."""
    return click.option("--key", "key_file", type=click.Path(dir_okay=True), default=None,
                        help=f"{role}: 32 raw bytes or 64 hex characters (else $COMMGAN_KEY, "
                             "else a fresh random key).")


jobs_option = click.option(
    "--jobs", type=int, default=None, callback=positive,
    help="Worker processes [default: the usable CPU cores]; the numbers do not depend on it.")
threads_option = click.option(
    "--threads", type=int, default=1, show_default=True, callback=positive,
    help="torch intra-op threads per process (more threads collapse on a shared machine).")
device_option = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"], case_sensitive=False),
    default="auto", show_default=True, help="Torch device.")


def parse_train_ebno(text: str | None) -> tuple[float, float] | None:
    """``"10"`` -> (10, 10); ``"0:20"`` -> (0, 20); None -> None (the channel's default)."""
    if text is None:
        return None
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise CommganError(f"--train-ebno {text!r} does not parse; use DB or LOW:HIGH") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or parts[0] > parts[1]:
        raise CommganError(f"--train-ebno {text!r}: use DB or LOW:HIGH with LOW <= HIGH")
    return parts[0], parts[1]
