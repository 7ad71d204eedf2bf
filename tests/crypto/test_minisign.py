"""ecluse.crypto.minisign: round trips, key files, and every way a signature can be wrong."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecluse.crypto import minisign
from ecluse.errors import KeyFileError, SignatureError

SK = minisign.generate()
PK = SK.public_key()
COMMENT = "package:PKG-0001\tscope:sha256:ab12\tto:lab-b\ttimestamp:1767225600"


def test_sign_verify_round_trip_returns_the_trusted_comment() -> None:
    sig = minisign.sign(SK, b"payload", trusted_comment=COMMENT)
    assert minisign.verify(PK, b"payload", sig) == COMMENT
    lines = sig.split("\n")
    assert lines[0] == "untrusted comment: signature from ecluse secret key"
    assert base64.b64decode(lines[1])[:2] == b"ED"
    assert lines[2] == "trusted comment: " + COMMENT
    assert sig.endswith("\n") and len(lines) == 5


@settings(max_examples=40, deadline=None)
@given(blocks=st.lists(st.binary(max_size=300), max_size=6), comment=st.text(max_size=80))
def test_blocks_and_whole_data_sign_the_same(blocks: list[bytes], comment: str) -> None:
    comment = comment.replace("\n", " ").replace("\r", " ")
    whole = b"".join(blocks)
    sig = minisign.sign(SK, iter(blocks), trusted_comment=comment)
    assert minisign.verify(PK, whole, sig) == comment
    assert minisign.verify(PK, iter(blocks), sig) == comment


def test_legacy_signatures_verify() -> None:
    sig = minisign.sign(SK, b"payload", trusted_comment="t", prehash=False)
    assert base64.b64decode(sig.split("\n")[1])[:2] == b"Ed"
    assert minisign.verify(PK, [b"pay", b"load"], sig) == "t"


def test_tampered_data_fails() -> None:
    sig = minisign.sign(SK, b"payload", trusted_comment=COMMENT)
    with pytest.raises(SignatureError, match="not what was signed"):
        minisign.verify(PK, b"payloaD", sig)


def test_tampered_trusted_comment_fails() -> None:
    sig = minisign.sign(SK, b"payload", trusted_comment=COMMENT)
    altered = sig.replace("to:lab-b", "to:lab-x")
    with pytest.raises(SignatureError, match="trusted comment"):
        minisign.verify(PK, b"payload", altered)


def test_untrusted_comment_is_not_covered() -> None:
    sig = minisign.sign(SK, b"payload", trusted_comment=COMMENT)
    assert minisign.verify(PK, b"payload", sig.replace("from ecluse", "from someone")) == COMMENT


def test_tampered_signature_bytes_fail() -> None:
    sig = minisign.sign(SK, b"payload", trusted_comment=COMMENT)
    lines = sig.split("\n")
    for index in (1, 3):
        raw = bytearray(base64.b64decode(lines[index]))
        raw[-1] ^= 1
        damaged = list(lines)
        damaged[index] = base64.b64encode(bytes(raw)).decode()
        with pytest.raises(SignatureError):
            minisign.verify(PK, b"payload", "\n".join(damaged))


def test_wrong_key_names_both_key_ids() -> None:
    other = minisign.generate()
    sig = minisign.sign(other, b"payload", trusted_comment=COMMENT)
    with pytest.raises(SignatureError) as info:
        minisign.verify(PK, b"payload", sig)
    assert other.key_id_hex in str(info.value) and PK.key_id_hex in str(info.value)


def test_same_key_id_other_key_fails() -> None:
    impostor = minisign.SecretKey(SK.key_id, minisign.generate().seed)
    sig = minisign.sign(impostor, b"payload", trusted_comment=COMMENT)
    with pytest.raises(SignatureError):
        minisign.verify(PK, b"payload", sig)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "untrusted comment: x\n",
        "hello\nworld\ntrusted comment: x\nAAAA\n",
        "untrusted comment: x\nnot base64!\ntrusted comment: x\nAAAA\n",
        "untrusted comment: x\n"
        + base64.b64encode(b"XX" + bytes(72)).decode()
        + "\ntrusted comment: x\n"
        + base64.b64encode(bytes(64)).decode()
        + "\n",
    ],
)
def test_malformed_signature_files_raise_signature_error(text: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        minisign.verify(PK, b"payload", text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_signature_text_raises_only_signature_error(text: str) -> None:
    with pytest.raises(SignatureError):
        minisign.verify(PK, b"payload", text)


def test_crlf_signature_file_verifies() -> None:
    sig = minisign.sign(SK, b"payload", trusted_comment=COMMENT)
    assert minisign.verify(PK, b"payload", sig.replace("\n", "\r\n")) == COMMENT


@pytest.mark.parametrize("comment", ["two\nlines", "cr\rhere", "x" * 9000])
def test_trusted_comment_must_be_one_short_line(comment: str) -> None:
    with pytest.raises(ValueError):
        minisign.sign(SK, b"payload", trusted_comment=comment)
    with pytest.raises(ValueError):
        minisign.sign(SK, b"payload", trusted_comment="ok", untrusted_comment=comment)


def test_sign_file_and_verify_file_stream(tmp_path: Path) -> None:
    path = tmp_path / "package.age"
    path.write_bytes(b"\x00" * (3 * 1024 * 1024 + 7))
    sig = minisign.sign_file(SK, path, trusted_comment=COMMENT)
    assert minisign.verify(PK, path.read_bytes(), sig) == COMMENT
    assert minisign.verify_file(PK, path, sig) == COMMENT
    path.write_bytes(b"\x00" * (3 * 1024 * 1024 + 8))
    with pytest.raises(SignatureError):
        minisign.verify_file(PK, path, sig)


# --- key files -----------------------------------------------------------------------------


def test_public_key_text_round_trip(tmp_path: Path) -> None:
    text = PK.to_text()
    assert text.startswith(f"untrusted comment: minisign public key {PK.key_id_hex}\n")
    assert PK.key_id_hex == PK.key_id[::-1].hex().upper()
    assert minisign.PublicKey.from_text(text) == PK
    assert minisign.PublicKey.from_text(PK.to_base64()) == PK
    PK.to_file(tmp_path / "k.pub")
    assert minisign.PublicKey.from_file(tmp_path / "k.pub") == PK


@pytest.mark.parametrize("passphrase", [None, "correct horse"])
def test_secret_key_file_round_trip(tmp_path: Path, passphrase: str | None) -> None:
    path = tmp_path / "k.key"
    SK.to_file(path, passphrase, kdf=minisign.INTERACTIVE_KDF)
    assert path.stat().st_mode & 0o777 == 0o600
    assert minisign.SecretKey.from_file(path, passphrase) == SK
    assert SK.seed.hex() not in repr(SK)


def test_wrong_passphrase_is_a_key_file_error(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    SK.to_file(path, "right", kdf=minisign.INTERACTIVE_KDF)
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        minisign.SecretKey.from_file(path, "wrong")
    with pytest.raises(KeyFileError, match="passphrase is needed"):
        minisign.SecretKey.from_file(path, None)


def test_corrupted_unencrypted_key_is_detected() -> None:
    lines = SK.to_text(None).split("\n")
    raw = bytearray(base64.b64decode(lines[1]))
    raw[60] ^= 1
    with pytest.raises(KeyFileError, match="corrupted"):
        minisign.SecretKey.from_text(f"{lines[0]}\n{base64.b64encode(bytes(raw)).decode()}\n", None)


@pytest.mark.parametrize("text", ["", "just one line", "untrusted comment: x\nAAAA\n", "a\nb\nc\n"])
def test_malformed_key_files_raise_key_file_error(text: str) -> None:
    with pytest.raises(KeyFileError):
        minisign.SecretKey.from_text(text, None)
    with pytest.raises(KeyFileError):
        minisign.PublicKey.from_text(text)


def test_kdf_param_selection_matches_libsodium() -> None:
    assert minisign.DEFAULT_KDF.scrypt_params() == (20, 8, 1)
    assert minisign.INTERACTIVE_KDF.scrypt_params() == (14, 8, 1)
    # opslimit-bound branch: p = 1, N from opslimit / (4 r)
    assert minisign.KdfParams(opslimit=32768, memlimit=1 << 30).scrypt_params() == (10, 8, 1)
    # memory-bound branch with p > 1
    assert minisign.KdfParams(opslimit=1 << 30, memlimit=1 << 24).scrypt_params() == (14, 8, 2048)


def test_key_file_demanding_excessive_work_is_refused() -> None:
    raw = bytearray(base64.b64decode(SK.to_text("pw", kdf=minisign.INTERACTIVE_KDF).split("\n")[1]))
    raw[38:46] = (1 << 40).to_bytes(8, "little")
    raw[46:54] = (1 << 34).to_bytes(8, "little")  # N = 2^24: 16 GiB
    text = "untrusted comment: x\n" + base64.b64encode(bytes(raw)).decode() + "\n"
    with pytest.raises(KeyFileError, match="more key-derivation work"):
        minisign.SecretKey.from_text(text, "pw")
