"""Signed notes in the C2SP ``signed-note`` format, with Ed25519 keys.

A note is UTF-8 text ending in a newline, a blank line, then signature lines::

    <text ending in \\n>
    <blank line>
    — <key name> base64(4-byte key ID || Ed25519 signature)

The key ID is ``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` (signature type
``0x01``, Ed25519). A verifier key is written ``<name>+<key ID hex>+base64(0x01 || public key)``,
the "vkey" format of ``golang.org/x/mod/sumdb/note``, so checkpoints signed here can be checked
by Go transparency-log tooling and the other way round.

Spec: https://github.com/C2SP/C2SP/blob/main/signed-note.md (c2sp.org/signed-note@v1.0.0).

:func:`open_note` never returns a bool: it returns the text or raises :class:`SignatureError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ecluse.errors import KeyFileError, SignatureError

__all__ = ["NoteSigner", "NoteVerifier", "open_note", "sign_note"]

ALG_ED25519 = 0x01
EM_DASH = "\u2014"
MAX_NOTE_CHARS = 1 << 20
MAX_SIGNATURES = 100
_SIG_PREFIX = EM_DASH + " "


def _check_name(name: str) -> None:
    if not name or any(ch.isspace() or ch == "+" for ch in name) or _has_control(name):
        raise KeyFileError(
            "a note key name must be non-empty, without spaces, '+' or control characters",
            hint="use a schema-less URL such as 'ecluse.example/workspace-1'",
        )


def _has_control(text: str) -> bool:
    return any(ord(ch) < 0x20 and ch != "\n" for ch in text)


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public).digest()[:4]


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class NoteVerifier:
    """An Ed25519 note verifier key: a name and a public key."""

    def __init__(self, name: str, public_bytes: bytes) -> None:
        _check_name(name)
        if len(public_bytes) != 32:
            raise KeyFileError("an Ed25519 public key is 32 bytes", hint="check the verifier key text")
        self.name = name
        self.public_bytes = bytes(public_bytes)
        self.key_id = _key_id(name, self.public_bytes)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_bytes)

    @property
    def key_hash(self) -> int:
        """The key ID as the big-endian uint32 the spec describes."""
        return int.from_bytes(self.key_id, "big")

    def to_text(self) -> str:
        """``<name>+<key ID hex>+base64(0x01 || public key)``."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_bytes).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_text(cls, text: str) -> NoteVerifier:
        hint = "a verifier key reads <name>+<8 hex digits>+<base64 key>; copy it again from its source"
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise KeyFileError("malformed note verifier key", hint=hint)
        name, id_hex, key_b64 = parts
        try:
            key_id = bytes.fromhex(id_hex)
            raw = _b64decode(key_b64)
        except (ValueError, binascii.Error) as exc:
            raise KeyFileError("malformed note verifier key", hint=hint) from exc
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise KeyFileError("the note verifier key is not an Ed25519 key", hint=hint)
        verifier = cls(name, raw[1:])
        if not hmac.compare_digest(verifier.key_id, key_id):
            raise KeyFileError("the note verifier key's ID does not match its name and key", hint=hint)
        return verifier

    def verify(self, text: str, signature: bytes) -> None:
        """Raise :class:`SignatureError` unless ``signature`` signs ``text`` with this key."""
        try:
            self._key.verify(signature, text.encode("utf-8"))
        except InvalidSignature as exc:
            raise SignatureError(
                f"the note's signature by key {self.name} does not verify",
                hint="the note was altered or signed by another key; obtain it again from its issuer",
            ) from exc

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, NoteVerifier)
            and other.name == self.name
            and other.public_bytes == self.public_bytes
        )

    def __hash__(self) -> int:
        return hash((self.name, self.public_bytes))

    def __repr__(self) -> str:
        return f"NoteVerifier({self.to_text()!r})"


class NoteSigner:
    """An Ed25519 note signer: a key name and a private key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        self._verifier = NoteVerifier(
            name, private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        )

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, name: str, private_bytes: bytes) -> NoteSigner:
        """Load the 32-byte Ed25519 seed returned by :meth:`private_bytes`."""
        if len(private_bytes) != 32:
            raise KeyFileError(
                "an Ed25519 private key is 32 bytes", hint="check the key file; it may be truncated"
            )
        return cls(name, Ed25519PrivateKey.from_private_bytes(private_bytes))

    def private_bytes(self) -> bytes:
        """The raw 32-byte seed. Store it encrypted."""
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def verifier(self) -> NoteVerifier:
        return self._verifier

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    def sign(self, text: str) -> bytes:
        return self._key.sign(text.encode("utf-8"))

    def __repr__(self) -> str:
        return f"NoteSigner(name={self.name!r}, key_id={self.key_id.hex()})"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise SignatureError("a note's text must end with a newline", hint="append '\\n' to the text")
    if _has_control(text):
        raise SignatureError(
            "a note's text must not contain control characters other than newline",
            hint="remove tabs, carriage returns and other control characters",
        )


def sign_note(text: str, signer: NoteSigner) -> str:
    """Return ``text`` signed by ``signer`` as a C2SP signed note."""
    _check_text(text)
    signature = base64.b64encode(signer.key_id + signer.sign(text)).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{signer.name} {signature}\n"


def open_note(note: str, verifier: NoteVerifier) -> str:
    """Return the text of ``note`` if it carries a valid signature by ``verifier``.

    Signatures by other keys are ignored, as the spec requires. A signature by this key
    that fails to verify rejects the whole note. Raises :class:`SignatureError`.
    """
    malformed = "malformed signed note"
    hint = "a signed note is text, a blank line, then lines '— <key name> <base64>'"
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise SignatureError(malformed, hint=hint)
    if _has_control(note) or not note.endswith("\n"):
        raise SignatureError(malformed, hint=hint)
    split = note.rfind("\n\n")
    if split < 0:
        raise SignatureError(malformed, hint=hint)
    text = note[: split + 1]
    lines = note[split + 2 : -1].split("\n")
    if not lines or len(lines) > MAX_SIGNATURES:
        raise SignatureError(malformed, hint=hint)
    verified = False
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise SignatureError(malformed, hint=hint)
        name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or not name or " " in encoded:
            raise SignatureError(malformed, hint=hint)
        try:
            raw = _b64decode(encoded)
        except (ValueError, binascii.Error) as exc:
            raise SignatureError(malformed, hint=hint) from exc
        if len(raw) < 5:
            raise SignatureError(malformed, hint=hint)
        if name != verifier.name or not hmac.compare_digest(raw[:4], verifier.key_id):
            continue
        verifier.verify(text, raw[4:])
        verified = True
    if not verified:
        raise SignatureError(
            f"the note is not signed by key {verifier.name}",
            hint="check that you hold the right verifier key for this note",
        )
    return text
