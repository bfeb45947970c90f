"""Options written after a name: ``NAME:OPT=V,OPT=V`` (channels and systems alike).

An options dataclass declares the fields (types int, float, bool or str, each optionally
``| None``); a class attribute ``aliases`` (``ClassVar[dict[str, str]]``) maps old option names
to fields. Errors are ``ValueError`` with one line that starts with ``where``.
"""

from __future__ import annotations

import typing
from dataclasses import fields
from typing import Any

__all__ = ["checked_options", "converted", "options_label", "quoted", "split_options",
           "value_text"]


def quoted(text: object, limit: int = 40) -> str:
    """User input for an error line: quoted, cut to ``limit`` characters."""
    text = str(text)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


def split_options(text: str) -> tuple[str, str]:
    """``NAME:OPT=V,...`` -> (``NAME``, ``OPT=V,...``); a last ``:`` part without ``=`` (and not
    empty) belongs to the name (``package.module:Class``)."""
    text = text.strip()
    if ":" in text:
        before, _, after = text.rpartition(":")
        if "=" in after or not after:
            return before, after
    return text, ""


def value_text(value: Any) -> str:
    """An option value as the command line writes it (``true``/``false`` for booleans)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def options_label(head: str, options: tuple[tuple[str, Any], ...], defaults: Any) -> str:
    """``head`` and the options that differ from ``defaults`` (an options instance, or None):
    ``qam-ldpc:k=256,n=768``; just ``head`` when every option has its default."""
    changed = [f"{name}={value_text(value)}" for name, value in options
               if defaults is None or getattr(defaults, name) != value]
    return head + (":" if changed else "") + ",".join(changed)


def _canonical(options_class: type, option: str) -> str:
    option = option.strip().lower().replace("-", "_")
    return getattr(options_class, "aliases", {}).get(option, option)


def checked_options(options_class: type | None, where: str, items: list[str],
                    given: dict[str, Any] | None = None) -> tuple[tuple[str, Any], ...]:
    """``OPT=V`` text items (and ``given``: typed values, e.g. keyword arguments) checked against
    ``options_class``: all its fields with their values, in field order; () when it is None.

    An option named in both the text and ``given`` must have the same value there."""
    text: dict[str, str] = {}
    for item in (part.strip() for part in items):
        if not item:
            continue
        option, equals, value = item.partition("=")
        option = option.strip().lower().replace("-", "_")
        if not equals or not option:
            raise ValueError(f"{where}: option {quoted(item)} is not NAME=VALUE")
        if options_class is not None:
            option = _canonical(options_class, option)
        if option in text:
            raise ValueError(f"{where}: option {option} given twice")
        text[option] = value.strip()
    typed = dict(given or {})
    if options_class is None:
        named = [*text, *typed]
        if named:
            raise ValueError(f"{where} takes no options, got {', '.join(named)}")
        return ()
    typed = {_canonical(options_class, option): value for option, value in typed.items()}
    hints = typing.get_type_hints(options_class)
    names = [field.name for field in fields(options_class)]
    unknown = sorted((set(text) | set(typed)) - set(names))
    if unknown:
        raise ValueError(f"{where} has no option {unknown[0]}; valid: {', '.join(names)}")
    values = {option: converted(where, option, value, hints.get(option, str))
              for option, value in text.items()}
    for option, value in typed.items():
        if option in values and values[option] != value:
            raise ValueError(f"{where}: option {option} is {value_text(values[option])} in the "
                             f"name but {value_text(value)} as an argument")
        values[option] = value
    try:
        checked = options_class(**values)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None
    return tuple((name, getattr(checked, name)) for name in names)


def converted(where: str, option: str, value: str, kind: Any) -> Any:
    """An option's text as its field's type: int, float, bool or str, or one of them or None
    (``none`` in the text)."""
    members = set(typing.get_args(kind))
    if type(None) in members and len(members) == 2:
        if value.lower() == "none":
            return None
        kind = next(member for member in members if member is not type(None))
    if kind not in (bool, int, float, str):
        raise ValueError(f"{where}: option {option} has a type the command line cannot give "
                         f"({kind}); use int, float, bool or str")
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return value.lower() in ("true", "1", "yes")
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind is float:
            return float(value)
    except (ValueError, OverflowError):
        wanted = {bool: "true or false", int: "an integer", float: "a number"}[kind]
        raise ValueError(f"{where}: option {option} must be {wanted}, got "
                         f"{quoted(value)}") from None
    return value
