"""The one exception type for bad user input; the CLI turns it into a single error line.

Text that could be key material (a long hexadecimal run such as a 256-bit key in hex, a long
base64-like token, a very long decimal number) never reaches the user through an error:
:func:`redact` replaces it by what it is and its length, and every :class:`CommganError` message
passes through it.
"""

from __future__ import annotations

import re

__all__ = ["CommganError", "TrainingDiverged", "redact", "shown"]

MIN_HEX_RUN = 20
"""Hex runs of at least this many characters are hidden (a 128-bit key has 32; the model
cache's fingerprints have 12 or 16 and stay visible)."""
MIN_DIGIT_RUN = 40
"""Decimal runs of at least this many digits are hidden (a 256-bit number has 78)."""
MIN_BASE64_RUN = 20
"""Base64-like tokens of at least this many letters and digits are hidden when they look random
(one part of at least 12 between ``/``, ``-``, ``_`` or ``.`` changes character class often)."""

_HEX = re.compile(
    r"[0-9A-Fa-f]{4,}(?:[ -][0-9A-Fa-f]{4,})+"  # groups: ec8d a883 ..., UUIDs
    r"|(?:[0-9A-Fa-f]{2}:){9,}[0-9A-Fa-f]{2}"  # colon pairs: ec:8d:a8:...
    rf"|[0-9A-Fa-f]{{{MIN_HEX_RUN},}}")
_TOKEN = re.compile(r"[A-Za-z0-9+/_=.-]+")
_PART = re.compile(r"[^/_.-]+")
_HEX_ONLY = re.compile(r"[0-9a-f]+|[0-9A-F]+")


def _looks_random(part: str) -> bool:
    """At least 12 letters and digits that look drawn at random, as base64 does: they change
    class (digit, upper, lower) between neighbours often (62 % for base64, under 30 % for words
    and names), or mix many distinct upper- and lower-case letters and digits. Hex is judged by
    its length alone (short hashes in file names stay visible)."""
    text = "".join(c for c in part if c.isalnum())
    classes = [0 if c.isdigit() else 1 if c.isupper() else 2 for c in text]
    if len(classes) < 12 or len(set(classes)) < 2 or _HEX_ONLY.fullmatch(text):
        return False
    changes = sum(a != b for a, b in zip(classes, classes[1:], strict=False))
    if changes >= 0.4 * (len(classes) - 1):
        return True
    upper, lower = classes.count(1), classes.count(2)
    return (min(upper, lower) >= 0.25 * len(classes) and 0 in classes
            and len(set(text)) >= 0.6 * len(text))


def _hide_hex(match: re.Match) -> str:
    text = match.group()
    digits = sum(c.isalnum() for c in text)
    if not any(c.isalpha() for c in text):
        return f"<a {digits}-digit number, hidden>" if digits >= MIN_DIGIT_RUN else text
    if any(c.isdigit() for c in text) and digits >= MIN_HEX_RUN:
        return f"<{digits} hex characters, hidden>"
    return text


def _hide_token(match: re.Match) -> str:
    text = match.group()
    if sum(c.isalnum() for c in text) < MIN_BASE64_RUN:
        return text
    if not any(_looks_random(part) for part in _PART.findall(text)):
        return text
    return f"<a {len(text)}-character token, hidden>"


def redact(text: object) -> str:
    """``text`` with anything that could be key material replaced by its kind and length.

    Hidden: at least 20 hex characters with letters and digits, in one run or in groups (four
    or more split by ``-`` or a space, or pairs split by ``:``), decimal runs of at least 40
    digits, and random-looking base64-like tokens of at least 20 letters and digits.
    """
    return _TOKEN.sub(_hide_token, _HEX.sub(_hide_hex, str(text)))


def shown(text: object, limit: int = 40) -> str:
    """User input for an error line: :func:`redact`-ed, quoted, cut to ``limit`` characters."""
    text = redact(text)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


class CommganError(ValueError):
    """Bad input or an unusable file: the message is shown to the user as one line (with
    anything that could be key material hidden, see :func:`redact`)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class TrainingDiverged(CommganError, RuntimeError):
    """A training run's loss or parameters became NaN/inf (shown as one line, like bad input)."""
