"""Signed notes: the Go sumdb/note reference vector, round trips, and every way a note can be wrong."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecluse.crypto.note import NoteSigner, NoteVerifier, open_note, sign_note
from ecluse.errors import KeyFileError, SignatureError

# Reference vector from golang.org/x/mod/sumdb/note (note.go package documentation and note_test.go).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n"
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def go_signer() -> NoteSigner:
    name, _id, encoded = GO_SKEY.removeprefix("PRIVATE+KEY+").split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    return NoteSigner.from_private_bytes(name, raw[1:])


def test_signing_reproduces_the_go_reference_note_byte_for_byte() -> None:
    signer = go_signer()
    assert signer.verifier().to_text() == GO_VKEY
    assert signer.verifier().key_hash == 0xC74F20A3
    assert sign_note(GO_TEXT, signer) == GO_NOTE


def test_the_go_reference_note_opens_with_the_reference_verifier_key() -> None:
    assert open_note(GO_NOTE, NoteVerifier.from_text(GO_VKEY)) == GO_TEXT


def test_verifier_text_round_trips() -> None:
    verifier = NoteSigner.generate("ecluse.example/workspace-1").verifier()
    assert NoteVerifier.from_text(verifier.to_text()) == verifier


def test_private_bytes_round_trip() -> None:
    signer = NoteSigner.generate("ecluse.example/w")
    again = NoteSigner.from_private_bytes("ecluse.example/w", signer.private_bytes())
    assert again.verifier() == signer.verifier()


@given(st.lists(st.text(alphabet=st.characters(min_codepoint=0x20, exclude_categories=["Cs"])), min_size=1))
def test_any_text_round_trips(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    signer = SIGNER
    assert open_note(sign_note(text, signer), signer.verifier()) == text


SIGNER = NoteSigner.generate("ecluse.example/test")


def test_an_altered_body_is_rejected() -> None:
    note = sign_note("ecluse.example/log\n3\nAAAA\n", SIGNER)
    with pytest.raises(SignatureError):
        open_note(note.replace("\n3\n", "\n4\n"), SIGNER.verifier())


def test_a_note_signed_by_another_key_is_rejected() -> None:
    other = NoteSigner.generate("ecluse.example/test")
    with pytest.raises(SignatureError, match="not signed by key"):
        open_note(sign_note("hello\n", other), SIGNER.verifier())


def test_a_forged_signature_with_the_right_key_id_is_rejected() -> None:
    note = sign_note("hello\n", SIGNER)
    sig_line = note.splitlines()[-1]
    raw = bytearray(base64.b64decode(sig_line.split(" ")[2]))
    raw[10] ^= 1
    forged = note.replace(sig_line, f"\u2014 {SIGNER.name} {base64.b64encode(bytes(raw)).decode()}")
    with pytest.raises(SignatureError, match="does not verify"):
        open_note(forged, SIGNER.verifier())


def test_unknown_signatures_are_ignored_when_a_known_one_verifies() -> None:
    other = NoteSigner.generate("witness.example/w")
    note = sign_note("hello\n", SIGNER)
    cosigned = note + sign_note("hello\n", other).split("\n\n", 1)[1]
    assert open_note(cosigned, SIGNER.verifier()) == "hello\n"
    assert open_note(cosigned, other.verifier()) == "hello\n"


@pytest.mark.parametrize(
    "note",
    [
        "",
        "hello\n",
        "hello\n\n",
        "hello\n\n\u2014 name\n",
        "hello\n\n- ecluse.example/test AAAAAAAA\n",
        "hello\n\n\u2014 ecluse.example/test not*base64\n",
        "hello\n\n\u2014 ecluse.example/test AAAA\n",
        "hello\n\n\u2014 ecluse.example/test AAAAAAAA",
        "hel\tlo\n\n\u2014 ecluse.example/test AAAAAAAA\n",
        "hello\n\n\u2014 ecluse.example/test AAAAAAAA extra\n",
    ],
)
def test_malformed_notes_raise_signature_error(note: str) -> None:
    with pytest.raises(SignatureError):
        open_note(note, SIGNER.verifier())


@given(st.text())
def test_arbitrary_input_raises_only_signature_error(note: str) -> None:
    with pytest.raises(SignatureError):
        open_note(note, SIGNER.verifier())


@pytest.mark.parametrize("text", ["no final newline", "tab\there\n", "cr\r\n"])
def test_sign_refuses_text_the_format_cannot_carry(text: str) -> None:
    with pytest.raises(SignatureError):
        sign_note(text, SIGNER)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\t"])
def test_bad_key_names_are_refused(name: str) -> None:
    with pytest.raises(KeyFileError):
        NoteSigner.generate(name)


@pytest.mark.parametrize(
    "text",
    [
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+zzzzzzzz+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T!",
    ],
)
def test_malformed_verifier_keys_raise_key_file_error(text: str) -> None:
    with pytest.raises(KeyFileError):
        NoteVerifier.from_text(text)


def test_private_bytes_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(KeyFileError):
        NoteSigner.from_private_bytes("a", b"\x00" * 31)
