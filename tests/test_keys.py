"""Keys and the ChaCha20 key stream: RFC 8439 vector, key input rules, nonce-reuse refusal."""

import numpy as np
import pytest

from commgan.comm.keys import (
    KEY_ENV,
    KeyStream,
    NonceReuseError,
    chacha20_keystream,
    load_key,
    parse_key,
)
from commgan.errors import CommganError

RFC_KEY = bytes(range(32))
RFC_PLAINTEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    b"future, sunscreen would be it."
)


def test_chacha20_matches_rfc8439_section_2_4_2():
    """RFC 8439 2.4.2: key 00..1f, nonce 00000000 0000004a 00000000, initial counter 1."""
    nonce = bytes.fromhex("000000000000004a00000000")
    stream = chacha20_keystream(RFC_KEY, nonce, len(RFC_PLAINTEXT), counter=1)
    ciphertext = bytes(p ^ s for p, s in zip(RFC_PLAINTEXT, stream, strict=True))
    assert ciphertext[:14] == bytes.fromhex("6e2e359a2568f98041ba0728dd0d")
    assert len(ciphertext) == 114


def test_keystream_frames_are_distinct_and_deterministic():
    stream = KeyStream(RFC_KEY, allow_nonce_reuse=True)
    a = stream.encryption_bits(np.arange(4), 1000)
    b = stream.decryption_bits(np.arange(4), 1000)
    assert a.shape == (4, 1000) and a.dtype == np.uint8 and set(np.unique(a)) == {0, 1}
    assert np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])
    assert abs(a.mean() - 0.5) < 0.03


def test_other_key_gives_other_stream():
    other = bytearray(RFC_KEY)
    other[0] ^= 1
    a = KeyStream(RFC_KEY).decryption_bits([7], 4096)
    b = KeyStream(bytes(other)).decryption_bits([7], 4096)
    assert abs((a != b).mean() - 0.5) < 0.03


def test_nonce_reuse_refused_unless_allowed():
    stream = KeyStream(RFC_KEY)
    stream.encryption_bits(np.arange(100, 200), 64)
    with pytest.raises(NonceReuseError, match="same \\(key, nonce\\)"):
        stream.encryption_bits([150], 64)
    with pytest.raises(NonceReuseError):
        stream.encryption_bits([5, 5], 64)
    stream.encryption_bits(np.arange(200, 300), 64)
    stream.decryption_bits([150], 64)  # the receiver may regenerate a used stream
    permissive = KeyStream(RFC_KEY, allow_nonce_reuse=True)
    permissive.encryption_bits([1], 8)
    permissive.encryption_bits([1], 8)


def test_key_hidden_in_repr():
    assert RFC_KEY.hex() not in repr(KeyStream(RFC_KEY))


class TestLoadKey:
    def test_raw_and_hex_files(self, tmp_path):
        raw = tmp_path / "raw.key"
        raw.write_bytes(RFC_KEY)
        hexed = tmp_path / "hex.key"
        hexed.write_text(RFC_KEY.hex().upper() + "\n")
        assert load_key(raw) == (RFC_KEY, "file")
        assert load_key(hexed) == (RFC_KEY, "file")

    def test_environment_and_random(self):
        assert load_key(None, {KEY_ENV: RFC_KEY.hex()}) == (RFC_KEY, "env")
        key, source = load_key(None, {})
        assert source == "random" and len(key) == 32 and key != load_key(None, {})[0]

    @pytest.mark.parametrize(
        "content, message",
        [(b"abcd", "64 hex characters"), (b"zz" * 32, "not hex"), (bytes(31), "32 raw bytes")],
    )
    def test_bad_content(self, tmp_path, content, message):
        path = tmp_path / "bad.key"
        path.write_bytes(content)
        with pytest.raises(CommganError, match=message):
            load_key(path)

    def test_missing_file_and_directory(self, tmp_path):
        with pytest.raises(CommganError, match="does not exist"):
            load_key(tmp_path / "nope.key")
        with pytest.raises(CommganError, match="is a directory"):
            load_key(tmp_path)

    def test_error_never_quotes_the_content(self, tmp_path):
        secret = "ab" * 31  # 62 hex characters: wrong length
        path = tmp_path / "short.key"
        path.write_text(secret)
        with pytest.raises(CommganError) as err:
            load_key(path)
        assert secret not in str(err.value)

    def test_bad_environment_variable(self):
        with pytest.raises(CommganError, match=KEY_ENV):
            parse_key(b"00ff", f"${KEY_ENV}")
