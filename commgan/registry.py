"""The one registry type: records by name, and the one error for a name that is not there.

Every list a user chooses from (CLI choices, help texts, defaults, experiment tables) is read
from a `Registry`, so a record added to one appears everywhere at once. A record owns its name
(its ``name`` attribute, where it has one, must be the name it is registered under).

- ``registry[name]`` and ``registry.get(name)`` return the record or raise `UnknownName`, a
  `commgan.errors.CommganError` with one line: ``unknown vision model 'x'; valid: sr, colour``;
- ``register(name, record)`` adds a record and refuses a name already taken;
- ``registry[name] = record`` sets (or replaces) a record, as ``dict`` does: what a test's
  ``monkeypatch.setitem`` does to swap a record for the length of the test.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

from commgan.errors import CommganError, shown

__all__ = ["Registry", "UnknownName"]

T = TypeVar("T")
_REQUIRED: Any = object()


class UnknownName(CommganError, KeyError):
    """A name a registry does not hold. A `CommganError` (one line in the CLI, and a
    ``ValueError``) and a ``KeyError`` (``name in registry`` and ``registry.get(name, default)``
    behave as for a ``dict``)."""

    __str__ = BaseException.__str__  # KeyError's own would quote the whole line


class Registry(MutableMapping[str, T]):
    """Records of one kind by name, in registration order.

    kind: what a record is, in words ("vision model"), for the error line. records: a mapping
    name -> record, or records that carry their own ``name``.
    """

    def __init__(self, kind: str, records: Mapping[str, T] | Iterable[T] = ()) -> None:
        self.kind = kind
        self._records: dict[str, T] = {}
        pairs = records.items() if isinstance(records, Mapping) else (
            (record.name, record) for record in records)  # type: ignore[attr-defined]
        for name, record in pairs:
            self.register(name, record)

    def unknown(self, name: object) -> UnknownName:
        """The error for ``name``: ``unknown KIND 'NAME'; valid: a, b, c``."""
        valid = ", ".join(self._records) or "none registered"
        return UnknownName(f"unknown {self.kind} {shown(name)}; valid: {valid}")

    def __getitem__(self, name: str) -> T:
        try:
            return self._records[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None

    def get(self, name: str, default: Any = _REQUIRED) -> Any:
        """The record of ``name``; without ``default``, `UnknownName` when there is none."""
        if default is _REQUIRED:
            return self[name]
        return self._records.get(name, default)

    def __setitem__(self, name: str, record: T) -> None:
        self._check(name, record)
        self._records[name] = record

    def __delitem__(self, name: str) -> None:
        if name not in self._records:
            raise self.unknown(name)
        del self._records[name]

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._records
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._records)})"

    def register(self, name: str, record: T) -> T:
        """Add ``record`` as ``name``; a `CommganError` if the name is taken. Returns the
        record."""
        if name in self._records:
            raise CommganError(f"{self.kind} {shown(name)} is already registered")
        self[name] = record
        return record

    def names(self) -> list[str]:
        """The names, in registration order (the CLI's choices)."""
        return list(self._records)

    def _check(self, name: str, record: T) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        own = getattr(record, "name", name)
        if isinstance(own, str) and own != name:
            raise ValueError(f"{self.kind} record named {own!r} registered as {name!r}")
