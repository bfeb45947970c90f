"""``--config FILE`` for every command and experiment: a TOML or JSON file of option values,
applied first; options given on the command line override it.

Keys are the command's option names, with ``-`` or ``_`` (``frame-bits`` or ``frame_bits``,
``system``, ``out``); a key that names no option of the command is an error, so a typo never goes
unnoticed. Each value must have its option's type: true/false for a flag (``quiet = true``), a
whole number for an integer option (``max-bits = 20000`` or ``1e6``; never ``20000.9`` or
``true``), a number for a float option, and a string, a number or a flat list (joined by commas)
for the others. Dates, times, tables and nulls are refused, and so is every value its option
would refuse on the command line, each with one line that names the file and the option.
"""

from __future__ import annotations

import datetime
import json
import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from commgan.errors import redact, shown

__all__ = ["MAX_CONFIG_BYTES", "config_option", "read_config_file"]

MAX_CONFIG_BYTES = 1 << 20
"""A config file is read up to this many bytes (1 MiB)."""


def _refuse(path: str | Path, message: str) -> click.BadParameter:
    return click.BadParameter(f"{shown(path, 60)}: {redact(message)}", param_hint="--config")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Option values from a ``.toml`` or ``.json`` file (a flat table); errors are one line."""
    path = Path(path)
    if not path.is_file():
        raise _refuse(path, "is not a file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise _refuse(path, f"cannot be read: {err.strerror or err}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise _refuse(path, "is larger than 1 MiB")
    try:
        text = data.decode()
    except UnicodeDecodeError as err:
        raise _refuse(path, f"is not UTF-8 text (byte {err.start})") from None
    try:
        values = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except RecursionError:
        raise _refuse(path, "nests too deeply; give a flat table of option values") from None
    except (ValueError, tomllib.TOMLDecodeError) as err:  # JSONDecodeError is a ValueError
        raise _refuse(path, f"does not parse: {err}") from None
    if not isinstance(values, dict):
        raise _refuse(path, "must hold a table of option values")
    normalised: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name in normalised:
            raise _refuse(path, f"gives option {redact(key)[:40]} twice")
        normalised[name] = value
    return normalised


def _kind(value: object) -> str:
    """What a config value is, in the file's terms (never the value itself)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return "a date or time"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a fractional number" if math.isfinite(value) else "a non-finite number"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else type(value).__name__


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _as_option_text(option: click.Parameter, name: str, value: object) -> object:
    """``value`` checked against ``option``'s type, as the text the command line would give
    (a bool for a flag); raises ``ValueError`` with what was expected."""
    if isinstance(value, dict) or (isinstance(value, list) and any(
            isinstance(item, dict | list) for item in value)):
        raise ValueError(f"option {name} must be a value or a flat list, not {_kind(value)}"
                         + (" of lists or tables" if isinstance(value, list) else ""))
    if isinstance(option, click.Option) and option.is_flag:
        if not isinstance(value, bool):
            raise ValueError(f"option {name} is a flag: write true or false, not {_kind(value)}")
        return value
    if isinstance(option.type, click.types.IntParamType):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                int(value.strip())
            except ValueError:
                raise ValueError(f"option {name} takes an integer, not {_kind(value)} that is "
                                 "not one") from None
            return value.strip()
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"option {name} takes an integer, not {_kind(value)}")
        return str(value)
    if isinstance(option.type, click.types.FloatParamType):
        if isinstance(value, str):
            try:
                float(value.strip())
            except ValueError:
                raise ValueError(f"option {name} takes a number, not {_kind(value)} that is "
                                 "not one") from None
            return value.strip()
        if not _scalar(value):
            raise ValueError(f"option {name} takes a number, not {_kind(value)}")
        return str(value)
    if isinstance(value, list):
        if not all(_scalar(item) for item in value):
            bad = next(item for item in value if not _scalar(item))
            raise ValueError(f"option {name} takes a value or a flat list of strings and "
                             f"numbers, not a list holding {_kind(bad)}")
        return ",".join(str(item) for item in value)
    if not _scalar(value):
        raise ValueError(f"option {name} takes a string or a number, not {_kind(value)}")
    return str(value)


def _apply(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    names: dict[str, click.Parameter] = {}
    for option in ctx.command.params:
        if option.name and option.name != "config":
            names[option.name] = option
            for flag in getattr(option, "opts", []):
                names[flag.lstrip("-").replace("-", "_")] = option
    values = {}
    for key, item in read_config_file(value).items():
        if key not in names:
            valid = sorted(flag.lstrip("-") for p in ctx.command.params if p.name != "config"
                           for flag in getattr(p, "opts", []) if flag.startswith("--"))
            raise _refuse(value, f"unknown option(s) {redact(key)[:40]}; valid: "
                                 f"{', '.join(valid)}")
        option = names[key]
        shown_name = key.replace("_", "-")
        if option.name in values:
            raise _refuse(value, f"gives option {shown_name} twice")
        try:
            text = _as_option_text(option, shown_name, item)
            if not isinstance(text, bool):
                option.type.convert(text, option, ctx)
        except ValueError as err:
            raise _refuse(value, str(err)) from None
        except click.BadParameter as err:
            raise _refuse(value, f"option {shown_name}: {err.message}") from None
        values[option.name] = text
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return value


def config_option(command: Callable) -> Callable:
    """Add ``--config FILE`` (TOML or JSON option values, overridden by explicit options)."""
    return click.option(
        "--config", "config", type=str, default=None, is_eager=True, expose_value=False,
        callback=_apply,
        help="TOML or JSON file of option values, applied first; options given here win.")(command)
