"""ecluse.crypto.age: round trips, key handling and every way a file can be damaged."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecluse.crypto import age
from ecluse.errors import CryptoError, DecryptionError, KeyFileError, NoIdentityMatchError

CHUNK = age.CHUNK_SIZE
SEALED = CHUNK + 16
OPAQUE = "cannot decrypt: the file was altered, truncated or is not an age file"

IDENTITY, RECIPIENT = age.generate_x25519()
OTHER_IDENTITY, OTHER_RECIPIENT = age.generate_x25519()


def header_length(blob: bytes) -> int:
    """Bytes before the payload nonce: up to and including the MAC line."""
    return blob.index(b"\n", blob.index(b"\n--- ") + 1) + 1


def decrypt_failure(blob: bytes, identities: list[str] | None = None) -> DecryptionError:
    with pytest.raises(DecryptionError) as info:
        age.decrypt_bytes(blob, identities or [IDENTITY])
    assert str(info.value) == OPAQUE
    assert info.value.hint
    return info.value


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17])
def test_round_trip_at_chunk_sizes(size: int) -> None:
    data = os.urandom(size)
    assert age.decrypt_bytes(age.encrypt_bytes(data, [RECIPIENT]), [IDENTITY]) == data


def test_ciphertext_length_follows_chunking() -> None:
    for size, chunks in [(0, 1), (1, 1), (CHUNK, 1), (CHUNK + 1, 2), (2 * CHUNK, 2)]:
        blob = age.encrypt_bytes(bytes(size), [RECIPIENT])
        assert len(blob) - header_length(blob) == 16 + size + 16 * chunks


def test_every_recipient_can_decrypt() -> None:
    third_identity, third_recipient = age.generate_x25519()
    blob = age.encrypt_bytes(b"results", [RECIPIENT, OTHER_RECIPIENT, third_recipient])
    for identity in (IDENTITY, OTHER_IDENTITY, third_identity):
        assert age.decrypt_bytes(blob, [identity]) == b"results"


def test_any_matching_identity_among_several_decrypts() -> None:
    blob = age.encrypt_bytes(b"x", [RECIPIENT])
    assert age.decrypt_bytes(blob, [OTHER_IDENTITY, IDENTITY]) == b"x"


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=3 * CHUNK + 5),
    writes=st.lists(st.integers(min_value=0, max_value=CHUNK + 3), max_size=8),
    reads=st.integers(min_value=1, max_value=CHUNK + 7),
)
def test_streaming_round_trip_any_write_and_read_sizes(data: bytes, writes: list[int], reads: int) -> None:
    out = io.BytesIO()
    with age.encrypt_to(out, [RECIPIENT]) as writer:
        pos = 0
        for size in writes:
            assert writer.write(data[pos : pos + size]) == len(data[pos : pos + size])
            pos += size
        writer.write(memoryview(data)[pos:])
    blob = out.getvalue()
    with age.open_decrypt(io.BytesIO(blob), [IDENTITY]) as reader:
        got = bytearray()
        while piece := reader.read(reads):
            got += piece
    assert bytes(got) == data
    assert age.decrypt_bytes(blob, [IDENTITY]) == data


def test_header_is_written_before_any_data() -> None:
    out = io.BytesIO()
    writer = age.encrypt_to(out, [RECIPIENT])
    assert out.getvalue().startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert len(out.getvalue()) == header_length(out.getvalue()) + 16
    writer.write(bytes(CHUNK))
    assert len(out.getvalue()) == header_length(out.getvalue()) + 16  # may still be the last chunk
    writer.write(b"x")
    assert len(out.getvalue()) == header_length(out.getvalue()) + 16 + SEALED
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError):
        writer.write(b"more")


def test_readinto_and_iter_chunks_agree_with_read() -> None:
    data = os.urandom(2 * CHUNK + 100)
    blob = age.encrypt_bytes(data, [RECIPIENT])
    reader = age.open_decrypt(io.BytesIO(blob), [IDENTITY])
    buf = bytearray(1000)
    got = bytearray()
    n = reader.readinto(buf)
    got += buf[:n]
    got += b"".join(reader.iter_chunks())
    assert bytes(got) == data
    assert reader.read() == b""
    assert reader.readinto(buf) == 0


def test_reader_works_on_a_stream_without_readinto() -> None:
    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)
            self.readline = self._inner.readline

        def read(self, n: int = -1) -> bytes:
            return self._inner.read(min(n, 1000) if n > 0 else n)

    data = os.urandom(CHUNK * 2 + 1)
    blob = age.encrypt_bytes(data, [RECIPIENT])
    assert age.open_decrypt(ReadOnly(blob), [IDENTITY]).read() == data  # type: ignore[arg-type]


def test_exception_in_with_block_leaves_an_undecryptable_file() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), age.encrypt_to(out, [RECIPIENT]) as writer:
        writer.write(b"half of the export")
        raise RuntimeError("extraction failed")
    assert decrypt_failure(out.getvalue()).kind == "payload"


# --- keys ----------------------------------------------------------------------------------


def test_keys_have_the_age_encoding() -> None:
    assert IDENTITY.startswith("AGE-SECRET-KEY-1") and len(IDENTITY) == 74
    assert RECIPIENT.startswith("age1") and len(RECIPIENT) == 62
    assert age.recipient_of(IDENTITY) == RECIPIENT
    assert str(age.parse_identity(IDENTITY)) == IDENTITY
    assert str(age.parse_recipient(RECIPIENT)) == RECIPIENT
    assert IDENTITY[20:] not in repr(age.parse_identity(IDENTITY))


def test_spec_example_key_pair() -> None:
    # The example identity and recipient from the age specification.
    identity = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
    assert age.recipient_of(identity) == "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "age1",
        RECIPIENT[:-1] + ("q" if RECIPIENT[-1] != "q" else "p"),  # bad checksum
        RECIPIENT.upper()[:10] + RECIPIENT[10:],  # mixed case
        IDENTITY,  # an identity is not a recipient
        "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
    ],
)
def test_malformed_recipient_is_a_key_file_error(text: str) -> None:
    with pytest.raises(KeyFileError) as info:
        age.parse_recipient(text)
    assert info.value.hint


@pytest.mark.parametrize(
    "text", ["", "AGE-SECRET-KEY-1", RECIPIENT, IDENTITY[:-1] + ("Q" if IDENTITY[-1] != "Q" else "P")]
)
def test_malformed_identity_is_a_key_file_error(text: str) -> None:
    with pytest.raises(KeyFileError):
        age.parse_identity(text)


def test_low_order_recipient_is_refused() -> None:
    from ecluse.crypto import _bech32

    with pytest.raises(KeyFileError, match="not a usable"):
        age.parse_recipient(_bech32.encode("age", bytes(32)))


def test_read_identity_file_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "key.txt"
    path.write_text(f"# created: 2026-01-01\n# public key: {RECIPIENT}\n\n{IDENTITY}\n{OTHER_IDENTITY}\n")
    assert age.read_identity_file(path) == [IDENTITY, OTHER_IDENTITY]


def test_read_identity_file_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "key.txt"
    path.write_text(f"# comment\n{IDENTITY}\nAGE-SECRET-KEY-1NOPE\n")
    with pytest.raises(KeyFileError, match="line 3"):
        age.read_identity_file(path)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(KeyFileError, match="no identity"):
        age.read_identity_file(empty)
    with pytest.raises(KeyFileError, match="cannot read"):
        age.read_identity_file(tmp_path / "missing.txt")


def test_no_recipients_is_refused() -> None:
    with pytest.raises(CryptoError, match="no recipient"):
        age.encrypt_bytes(b"x", [])


# --- wrong key and damage ------------------------------------------------------------------


def test_wrong_key_is_no_match() -> None:
    blob = age.encrypt_bytes(b"results", [RECIPIENT])
    with pytest.raises(NoIdentityMatchError, match="not encrypted to any of the given keys"):
        age.decrypt_bytes(blob, [OTHER_IDENTITY])


def test_flipping_any_header_byte_fails() -> None:
    blob = age.encrypt_bytes(b"results", [RECIPIENT])
    for i in range(header_length(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 0x01
        with pytest.raises((DecryptionError, NoIdentityMatchError)):
            age.decrypt_bytes(bytes(damaged), [IDENTITY])


def test_flipped_mac_byte_is_an_hmac_failure() -> None:
    blob = bytearray(age.encrypt_bytes(b"results", [RECIPIENT, OTHER_RECIPIENT]))
    mac_at = blob.index(b"\n--- ") + 5
    blob[mac_at + 10] = ord("A") if blob[mac_at + 10] != ord("A") else ord("B")
    assert decrypt_failure(bytes(blob)).kind == "hmac"


def test_swapped_stanza_is_an_hmac_failure() -> None:
    """Re-ordering stanzas keeps each one valid but breaks the header MAC."""
    blob = age.encrypt_bytes(b"results", [RECIPIENT, OTHER_RECIPIENT])
    lines = blob[: header_length(blob)].split(b"\n")
    swapped = b"\n".join([lines[0], lines[3], lines[4], lines[1], lines[2], *lines[5:]])
    assert decrypt_failure(swapped + blob[header_length(blob) :]).kind == "hmac"


def test_flipping_any_payload_byte_fails() -> None:
    blob = age.encrypt_bytes(os.urandom(2 * CHUNK + 10), [RECIPIENT])
    start = header_length(blob)
    for i in [start, start + 15, start + 16, start + 16 + SEALED - 1, start + 16 + SEALED, len(blob) - 1]:
        damaged = bytearray(blob)
        damaged[i] ^= 0x80
        assert decrypt_failure(bytes(damaged)).kind in {"payload", "header"}


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_truncation_at_every_chunk_boundary_fails(size: int) -> None:
    blob = age.encrypt_bytes(os.urandom(size), [RECIPIENT])
    payload = header_length(blob) + 16
    cuts = {payload + k * SEALED for k in range((len(blob) - payload) // SEALED + 1)}
    cuts |= {c - 1 for c in cuts} | {c + 1 for c in cuts} | {len(blob) - 1, payload - 1}
    for cut in sorted(c for c in cuts if 0 < c < len(blob)):
        with pytest.raises(DecryptionError):
            age.decrypt_bytes(blob[:cut], [IDENTITY])


@pytest.mark.parametrize("extra", [b"\x00", b"garbage", bytes(16), os.urandom(SEALED)])
def test_appended_bytes_fail(extra: bytes) -> None:
    for size in (0, 5, CHUNK):
        blob = age.encrypt_bytes(os.urandom(size), [RECIPIENT])
        assert decrypt_failure(blob + extra).kind == "payload"


def test_reader_keeps_failing_after_a_failure() -> None:
    blob = bytearray(age.encrypt_bytes(os.urandom(3 * CHUNK), [RECIPIENT]))
    blob[header_length(blob) + 16 + SEALED + 3] ^= 1
    reader = age.open_decrypt(io.BytesIO(bytes(blob)), [IDENTITY])
    assert len(reader.read(CHUNK)) == CHUNK
    for _ in range(2):
        with pytest.raises(DecryptionError):
            reader.read(CHUNK)


def test_too_many_stanzas_are_refused() -> None:
    stanza = b"-> grease\n\n"
    over = b"age-encryption.org/v1\n" + stanza * (age.MAX_STANZAS + 1) + b"--- " + b"A" * 43 + b"\n"
    assert decrypt_failure(over).kind == "header"


def test_up_to_the_stanza_cap_is_accepted() -> None:
    recipients = [age.generate_x25519()[1] for _ in range(age.MAX_STANZAS - 1)] + [RECIPIENT]
    blob = age.encrypt_bytes(b"many", recipients)
    assert age.decrypt_bytes(blob, [IDENTITY]) == b"many"


def test_oversized_header_is_refused() -> None:
    body = (b"A" * 64 + b"\n") * (age.MAX_HEADER_BYTES // 65 + 1)
    assert decrypt_failure(b"age-encryption.org/v1\n-> grease\n" + body + b"\n").kind == "header"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_our_errors(data: bytes) -> None:
    for blob in (data, b"age-encryption.org/v1\n" + data):
        with pytest.raises((DecryptionError, NoIdentityMatchError)):
            age.decrypt_bytes(blob, [IDENTITY])
