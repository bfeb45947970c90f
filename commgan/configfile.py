"""``--config FILE`` for every command and experiment: a TOML or JSON file of option values,
applied first; options given on the command line override it.

Keys are the command's option names, with ``-`` or ``_`` (``frame-bits`` or ``frame_bits``,
``system``, ``out``); a key that names no option of the command is an error, so a typo never goes
unnoticed.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

__all__ = ["config_option", "read_config_file"]

MAX_CONFIG_BYTES = 1 << 20


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Option values from a ``.toml`` or ``.json`` file (a flat table); errors are one line."""
    path = Path(path)
    if not path.is_file():
        raise click.BadParameter(f"{str(path)!r} is not a file", param_hint="--config")
    with open(path, "rb") as f:
        data = f.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise click.BadParameter(f"{str(path)!r} is larger than 1 MiB", param_hint="--config")
    try:
        text = data.decode()
        values = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise click.BadParameter(f"{str(path)!r} does not parse: {err}",
                                 param_hint="--config") from None
    if not isinstance(values, dict):
        raise click.BadParameter(f"{str(path)!r} must hold a table of option values",
                                 param_hint="--config")
    return {str(key).replace("-", "_"): value for key, value in values.items()}


def _apply(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    names: dict[str, str] = {}
    for option in ctx.command.params:
        if option.name and option.name != "config":
            names[option.name] = option.name
            for flag in getattr(option, "opts", []):
                names[flag.lstrip("-").replace("-", "_")] = option.name
    values = {}
    for key, item in read_config_file(value).items():
        if key not in names:
            valid = sorted(flag.lstrip("-") for p in ctx.command.params if p.name != "config"
                           for flag in getattr(p, "opts", []) if flag.startswith("--"))
            raise click.BadParameter(f"{value!r}: unknown option(s) {key}; valid: "
                                     f"{', '.join(valid)}", param_hint="--config")
        if isinstance(item, dict) or (isinstance(item, list) and any(
                isinstance(v, dict | list) for v in item)):
            raise click.BadParameter(f"{value!r}: option {key} must be a value or a flat list",
                                     param_hint="--config")
        values[names[key]] = ",".join(str(v) for v in item) if isinstance(item, list) else item
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return value


def config_option(command: Callable) -> Callable:
    """Add ``--config FILE`` (TOML or JSON option values, overridden by explicit options)."""
    return click.option(
        "--config", "config", type=str, default=None, is_eager=True, expose_value=False,
        callback=_apply,
        help="TOML or JSON file of option values, applied first; options given here win.")(command)
