"""Shared options, parsers and registry-backed choices of the ``commgan`` commands.

Registry names are read when a command needs them, so ``commgan --help`` imports no registry.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from commgan.errors import CommganError, shown


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
    """An option whose help text ends with the registry's names (``names``), or with a text
    made from the registries (``tail``), formatted when shown."""

    def __init__(self, *args, names: Callable[[], Sequence[str]] | None = None,
                 tail: Callable[[], str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._tail = tail or (lambda: f"Valid: {', '.join(names())}.")
        self._base_help = self.help or ""

    def get_help_record(self, ctx: click.Context):
        self.help = f"{self._base_help} {self._tail()}"
        return super().get_help_record(ctx)


def train_ebno_defaults() -> str:
    """``[default: 4:14 on awgn, ...]`` from the channel records' training ranges."""
    from channels import CHANNELS

    ranges = ", ".join(f"{low:g}:{high:g} on {name}"
                       for name, (low, high) in ((name, spec.train_ebno_db)
                                                 for name, spec in CHANNELS.items()))
    return (f"[default: {ranges}; learned coded systems: 1 to 3 dB above their code's BICM "
            "threshold].")


def channel_names() -> list[str]:
    from channels.registry import channel_names as names

    return names()


def parse_channel(text: str) -> str:
    """``NAME`` or ``NAME:OPT=V,...`` -> the channel's canonical label (name and non-default
    options, e.g. ``rayleigh:coherence=32,pilots=2,estimator=ls``). An unknown name is a usage
    error that lists the names; a bad option, or a channel that cannot be used (a broken
    plug-in), is one error line."""
    from channels import channel_choice

    name = str(text).partition(":")[0].strip().lower()
    if name not in channel_names():
        raise click.BadParameter(f"unknown channel {shown(name)}; valid: "
                                 f"{', '.join(channel_names())}", param_hint="'--channel'")
    try:
        return channel_choice(str(text)).label
    except ValueError as err:
        raise CommganError(str(err)) from None


def channel_check(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Click callback of ``--channel``: the canonical label (:func:`parse_channel`)."""
    return parse_channel(value)


def mod_names() -> list[str]:
    from channels import MODULATIONS

    return list(MODULATIONS)


def system_names() -> list[str]:
    from commgan.comm.registry import SYSTEMS, plugin_systems

    return [*SYSTEMS, *plugin_systems()]


def scenario_names() -> list[str]:
    from commgan.security.scenarios import SCENARIOS

    return list(SCENARIOS)


def learned_system_names() -> tuple[str, ...]:
    from commgan.comm.registry import learned_systems

    return learned_systems()


def precision_names() -> tuple[str, ...]:
    from commgan.gan.precision import PRECISIONS

    return PRECISIONS


def default_sweep() -> str:
    from commgan.comm.registry import default_sweep_systems

    return ",".join(default_sweep_systems())


def channel_model_names() -> list[str]:
    from commgan.comm.channelgan import CHANNEL_MODELS

    return list(CHANNEL_MODELS)




MAX_EBNO_POINTS = 1000
EBNO_LIMIT_DB = 1e3
"""Every Eb/N0 value must satisfy ``abs(value) < EBNO_LIMIT_DB``."""
MAX_FRAME_BITS = 1 << 16
"""Upper bound of ``--frame-bits``: one frame is allocated whole (and must fit an export chunk)."""
TRAIN_EBNO_RANGE_DB = (-30.0, 50.0)
OFFSET_LIMIT_DB = 100.0


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_ebno(text: str) -> tuple[float, ...]:
    """``START:STOP:STEP`` (inclusive) or a comma list, in dB; at most 1000 finite points."""
    hint = "use START:STOP:STEP (inclusive, e.g. 0:20:2) or a comma list (e.g. 0,5,10)"
    text = text.strip()
    if not text:
        raise CommganError(f"--ebno is empty; {hint}")
    if text.count(",") >= MAX_EBNO_POINTS:
        raise CommganError(f"--ebno {shown(text)} has more than {MAX_EBNO_POINTS} points")
    try:
        parts = [_number(p) for p in text.split(":" if ":" in text else ",")]
    except ValueError:
        raise CommganError(f"--ebno {shown(text)} does not parse (finite numbers only); "
                           f"{hint}") from None
    if not all(abs(v) < EBNO_LIMIT_DB for v in parts):
        raise CommganError(f"--ebno {shown(text)}: values must lie within +-{EBNO_LIMIT_DB:g} dB")
    if ":" in text:
        if len(parts) != 3:
            raise CommganError(f"--ebno {shown(text)} does not parse; {hint}")
        start, stop, step = parts
        if step <= 0 or stop < start:
            raise CommganError(f"--ebno {shown(text)}: need STEP > 0 and STOP >= START; {hint}")
        span = (stop - start) / step  # may overflow to inf for a tiny STEP
        if not span < MAX_EBNO_POINTS:
            raise CommganError(f"--ebno {shown(text)} has {span + 1:.3g} points; "
                               f"at most {MAX_EBNO_POINTS}")
        count = math.floor(span + 1e-9) + 1
        return tuple(round(start + i * step, 10) for i in range(count))
    return tuple(parts)


def finite(low: float | None = None, high: float | None = None) -> Callable:
    """Click callback: a float option must be finite and within [low, high] when given."""

    def check(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value) or (low is not None and value < low) or (
                high is not None and value > high):
            bounds = f" in [{low:g}, {high:g}]" if low is not None and high is not None else ""
            raise click.BadParameter(f"must be a finite number{bounds}, got {value}")
        return value

    return check


def frame_bits_check(ctx: click.Context, param: click.Parameter,
                     value: int | None) -> int | None:
    """Click callback: ``--frame-bits`` in [1, MAX_FRAME_BITS]."""
    if value is not None and not 0 < value <= MAX_FRAME_BITS:
        raise click.BadParameter(f"must be in [1, {MAX_FRAME_BITS}], got {value}")
    return value


def check_frame_bits(frame_bits: int | None, mod: str) -> int:
    """R, the bits per symbol of modulation ``mod``, after checking that ``--frame-bits`` (when
    given) is a multiple of it: one error line otherwise."""
    from channels import get_modulation

    bits_per_symbol = get_modulation(mod).num_bits_per_symbol
    if frame_bits is not None and frame_bits % bits_per_symbol:
        raise CommganError(f"--frame-bits {frame_bits} must be a multiple of "
                           f"{bits_per_symbol} (R for {mod})")
    return bits_per_symbol


def check_out_dir(path: str, option: str = "--out") -> Path:
    """Fail with one clear line unless ``path`` is, or can be created as, a writable folder.

    Nothing is created here: the folder appears only when results are written.
    """
    if not path.strip():
        raise CommganError(f"{option} is empty; give a folder")
    out = Path(path)
    if out.is_symlink() and not out.exists():
        raise CommganError(f"{option} {shown(path)} is a dangling symbolic link")
    if out.exists() and not out.is_dir():
        raise CommganError(f"{option} {shown(path)} exists and is not a folder")
    ancestor = out.absolute()
    while not ancestor.exists():
        if ancestor.is_symlink():
            raise CommganError(f"{option} {shown(path)}: {shown(ancestor)} is a dangling "
                               "symbolic link")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CommganError(f"{option} {shown(path)} cannot be created: {shown(ancestor)} is a "
                           "file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CommganError(f"{option} {shown(path)} is not writable")
    return out


def check_models_dir(path: str | None) -> str | None:
    """``--models`` must be a folder (or not exist yet); writability is checked before training."""
    if path is not None:
        if not path.strip():
            raise CommganError("--models is empty; give a folder")
        if Path(path).exists() and not Path(path).is_dir():
            raise CommganError(f"--models {shown(path)} exists and is not a folder")
    return path


def positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """Click callback: reject a non-positive integer option."""
    if value is not None and value <= 0:
        raise click.BadParameter(f"must be a positive integer, got {value}")
    return value


channel_option = click.option(
    "--channel", cls=RegistryHelpOption, names=channel_names, default="rayleigh",
    show_default=True, callback=channel_check,
    help="Channel model, with options after a colon: rayleigh:coherence=32,pilots=2,"
         "estimator=ls (coherence: channel uses per fading block; pilots per block, charged to "
         "the rate; estimator: perfect, ls or lmmse CSI).")
mod_option = click.option(
    "--mod", type=RegistryChoice(mod_names), default="16qam",
    show_default=True, help="Modulation (sets R = bits per channel use).")
models_option = click.option(
    "--models", "models_dir", default=None, callback=lambda ctx, param, value: check_models_dir(
        value),
    help="Model cache folder [default: $COMMGAN_MODELS or ~/.cache/commgan/models].")
seed_option = click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0,
                           show_default=True, help="Random seed.")


def key_option(role: str) -> Callable:
    """--key (a key file; else $COMMGAN_KEY, else a fresh random key), ``role`` opening the help."""
    return click.option("--key", "key_file", type=str, default=None,
                        help=f"{role}: 64 hex characters or 32 binary bytes (else $COMMGAN_KEY "
                             "in hex, else a fresh random key).")


train_dir_option = click.option(
    "--train-dir", default=None,
    help="Train the model on a folder of your own photographs (PNG, JPEG, ...; split by image "
         "into training and validation, the model chosen on validation, cached by the "
         "folder's contents) [default: the shipped images].")


def parse_train_ebno(text: str | None) -> tuple[float, float] | None:
    """``"10"`` -> (10, 10); ``"0:20"`` -> (0, 20); None -> None (the channel's default)."""
    if text is None:
        return None
    low_db, high_db = TRAIN_EBNO_RANGE_DB
    hint = f"use DB or LOW:HIGH with {low_db:g} <= LOW <= HIGH <= {high_db:g}"
    try:
        parts = [_number(p) for p in text.split(":")]
    except ValueError:
        raise CommganError(f"--train-ebno {shown(text)} does not parse; {hint}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or parts[0] > parts[1] or parts[0] < low_db or parts[1] > high_db:
        raise CommganError(f"--train-ebno {shown(text)}: {hint}")
    return parts[0], parts[1]


def listed(values: Sequence) -> str:
    """A default shown in help texts as a comma list."""
    return ",".join(str(v) for v in values)


def comma_list(kind: Callable[[str], object]) -> Callable:
    """A click callback reading ``A,B,C`` as a tuple of ``kind(item)`` (None stays None); an
    item ``kind`` refuses is one usage error."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple | None:
        if value is None:
            return None
        try:
            return tuple(kind(item.strip()) for item in value.split(","))
        except ValueError:
            raise click.BadParameter(f"{shown(value)} is not a comma list of "
                                     f"{getattr(kind, '__name__', 'values')}s") from None

    return convert
