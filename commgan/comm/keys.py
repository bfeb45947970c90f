"""Shared 256-bit keys and the ChaCha20 key stream (RFC 8439, from ``cryptography``).

The key is never printed, logged or written: :class:`KeyStream` hides it in ``repr`` and
the loaders' error messages never quote file contents.
"""

from __future__ import annotations

import bisect
import os
import stat
import string
from collections.abc import Mapping

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from commgan.errors import CommganError, redact, shown

__all__ = [
    "KEY_BYTES",
    "KEY_ENV",
    "KeyStream",
    "NonceReuseError",
    "chacha20_keystream",
    "load_key",
    "parse_key",
]

KEY_BYTES = 32
KEY_ENV = "COMMGAN_KEY"
_HEX_DIGITS = set(string.hexdigits)


_MAX_KEY_FILE_BYTES = 2 * KEY_BYTES + 16
"""A key file is read up to this many bytes (64 hex characters and some whitespace)."""


def parse_key(data: bytes, source: str = "key", raw: bool = True) -> bytes:
    """A 256-bit key from 64 hexadecimal characters (surrounding whitespace ok), or with ``raw``
    from exactly 32 bytes of binary key material.

    Text is judged after stripping trailing whitespace: a passphrase (``"correct horse battery
    staple 12\\n"`` is 32 bytes), or a 128-bit key in hex, is refused rather than taken as a key.
    Messages give the kind and length of what was found, never the content.
    """
    text = data.strip()
    if len(text) == 2 * KEY_BYTES and all(chr(c) in _HEX_DIGITS for c in text):
        return bytes.fromhex(text.decode("ascii"))
    if raw and len(data) == KEY_BYTES and not _is_text(data.rstrip()):
        return bytes(data)
    expected = "32 raw bytes (binary) or 64 hex characters" if raw else "64 hex characters"
    if not text:
        raise CommganError(f"{source}: expected {expected}, got {len(data)} bytes of whitespace "
                           "(not hex)")
    if all(chr(c) in _HEX_DIGITS for c in text):
        raise CommganError(
            f"{source}: expected 64 hex characters (256 bits), got {len(text)} hex characters"
        )
    if _is_text(text):
        raise CommganError(f"{source}: expected {expected}, got {len(text)} characters of text "
                           "that are not hex (a passphrase is not a key)")
    raise CommganError(f"{source}: expected {expected}, got {len(data)} bytes that are not hex")


def _is_text(data: bytes) -> bool:
    """Whether ``data`` is printable UTF-8 text (spaces and tabs allowed)."""
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in " \t" for c in decoded)


def read_key_file(path: str | os.PathLike) -> bytes:
    """The bytes of a key file: a regular file (never a FIFO or device) of a key's size.

    A name that looks like key material itself (e.g. the key in hex given where its file's name
    belongs) is never echoed: messages say what kind of string it is, and its length.
    """
    if not str(path).strip():
        raise CommganError("key file name is empty")
    name = _key_file_name(path)
    if "\x00" in str(path):
        raise CommganError(f"{name} contains a NUL character")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise CommganError(f"{name} does not exist{_looks_like_a_key(path)}") from None
    except OSError as err:
        raise CommganError(f"{name} cannot be opened: {err.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise CommganError(f"{name} is a directory")
        if not stat.S_ISREG(mode):
            raise CommganError(f"{name} is not a regular file")
        try:
            data = os.read(fd, _MAX_KEY_FILE_BYTES + 1)
        except OSError as err:
            raise CommganError(f"{name} cannot be read: {err.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise CommganError(f"{name} is too long for a key (32 raw bytes or 64 hex "
                           "characters)")
    return data


def _key_file_name(path: str | os.PathLike) -> str:
    """``key file 'NAME'`` for messages, with anything that could be key material hidden."""
    text = str(path)
    if redact(text) != text:
        return f"the key file name (a string of {len(text)} characters that looks like a key)"
    return f"key file {shown(text, 60)}"


def _looks_like_a_key(path: str | os.PathLike) -> str:
    text = str(path)
    if redact(text) == text:
        return ""
    return ("; --key takes the name of a file holding the key, not the key itself (write the "
            "key to a file readable only by you and pass its name)")


def load_key(
    path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> tuple[bytes, str]:
    """The shared key and where it came from: ``(key, "file" | "env" | "random")``.

    Order: the key file ``path`` (32 binary bytes or 64 hex characters), else the
    ``COMMGAN_KEY`` environment variable (64 hex characters only), else a fresh random key from
    ``os.urandom``.
    """
    environ = os.environ if environ is None else environ
    if path is not None:
        data = read_key_file(path)
        return parse_key(data, _key_file_name(path)), "file"
    if environ.get(KEY_ENV):
        return parse_key(environ[KEY_ENV].encode(), f"${KEY_ENV}", raw=False), "env"
    return os.urandom(KEY_BYTES), "random"


class NonceReuseError(CommganError):
    """Two frames were to be encrypted under the same (key, nonce)."""


class KeyStream:
    """ChaCha20 key-stream bits per frame, one 64-bit public nonce per frame.

    Frame nonce ``v`` (0 <= v < 2**63) selects the ChaCha20 stream with the 96-bit nonce
    ``stream_id (4 bytes LE) || v (8 bytes LE)`` and block counter 0 (RFC 8439 layout), so every
    frame gets its own one-time pad. :meth:`encryption_bits` records each nonce and refuses a
    repeat unless ``allow_nonce_reuse`` (only attack experiments need that switch);
    :meth:`decryption_bits` (the receiver's side) records nothing.
    """

    def __init__(self, key: bytes, stream_id: int = 0, allow_nonce_reuse: bool = False) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
            raise CommganError(f"the key must be {KEY_BYTES} bytes")
        if not 0 <= stream_id < 1 << 32:
            raise CommganError("stream_id must fit in 32 bits")
        self._key = bytes(key)
        self._stream_prefix = stream_id.to_bytes(4, "little")
        self.allow_nonce_reuse = allow_nonce_reuse
        self._used = _IntervalSet()

    def __repr__(self) -> str:
        return f"KeyStream(key=<hidden>, allow_nonce_reuse={self.allow_nonce_reuse})"

    def encryption_bits(self, nonces, num_bits: int) -> np.ndarray:
        """Key-stream bits for frames about to be encrypted: uint8 [B, num_bits] in {0, 1}.

        Raises :class:`NonceReuseError` if any nonce was used before (or repeats in ``nonces``).
        """
        nonces = _as_nonces(nonces)
        if not self.allow_nonce_reuse:
            if len(np.unique(nonces)) != len(nonces) or self._used.intersects(nonces):
                raise NonceReuseError(
                    "refusing to encrypt two frames under the same (key, nonce); "
                    "nonce reuse turns the one-time pad into a two-time pad"
                )
            self._used.add(nonces)
        return self._bits(nonces, num_bits)

    def decryption_bits(self, nonces, num_bits: int) -> np.ndarray:
        """Key-stream bits for received frames (the receiver's side): uint8 [B, num_bits]."""
        return self._bits(_as_nonces(nonces), num_bits)

    def _bits(self, nonces: np.ndarray, num_bits: int) -> np.ndarray:
        num_bytes = -(-num_bits // 8)
        stream = b"".join(
            chacha20_keystream(self._key, self._stream_prefix + n.to_bytes(8, "little"), num_bytes)
            for n in nonces.tolist()
        )
        packed = np.frombuffer(stream, dtype=np.uint8).reshape(len(nonces), num_bytes)
        return np.unpackbits(packed, axis=1, count=num_bits)


def chacha20_keystream(key: bytes, nonce: bytes, num_bytes: int, counter: int = 0) -> bytes:
    """ChaCha20 key stream (RFC 8439): ``num_bytes`` bytes from block ``counter``, 96-bit nonce."""
    full_nonce = counter.to_bytes(4, "little") + nonce
    encryptor = Cipher(algorithms.ChaCha20(key, full_nonce), mode=None).encryptor()
    return encryptor.update(bytes(num_bytes))


def _as_nonces(nonces) -> np.ndarray:
    array = np.asarray(nonces.cpu() if hasattr(nonces, "cpu") else nonces)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise CommganError("nonces must be a 1-D array of integers")
    array = array.astype(np.int64)
    if len(array) and array.min() < 0:
        raise CommganError(f"nonces must lie in [0, 2**63), got {int(array.min())}")
    return array


class _IntervalSet:
    """Sorted, merged half-open intervals of used nonces (a contiguous batch costs one entry)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def intersects(self, values: np.ndarray) -> bool:
        if not self._starts:
            return False
        starts = np.asarray(self._starts, dtype=np.int64)
        ends = np.asarray(self._ends, dtype=np.int64)
        slot = np.searchsorted(starts, values, side="right") - 1
        valid = slot >= 0
        return bool(np.any(values[valid] < ends[slot[valid]]))

    def add(self, values: np.ndarray) -> None:
        for start, end in _runs(np.sort(values)):
            self._insert(start, end)

    def _insert(self, start: int, end: int) -> None:
        index = bisect.bisect_left(self._starts, start)
        if index > 0 and self._ends[index - 1] >= start:
            index -= 1
            start = self._starts[index]
        stop = index
        while stop < len(self._starts) and self._starts[stop] <= end:
            end = max(end, self._ends[stop])
            stop += 1
        self._starts[index:stop] = [start]
        self._ends[index:stop] = [end]


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of consecutive integers in sorted ``values`` as (start, end) half-open pairs."""
    if len(values) == 0:
        return []
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(values)]])
    return [(int(values[s]), int(values[e - 1]) + 1) for s, e in zip(starts, ends, strict=True)]
