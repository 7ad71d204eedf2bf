"""minisign-compatible Ed25519 signatures and key files (https://jedisct1.github.io/minisign/).

Files written here are read by the ``minisign`` command-line tool and the other way round:
public keys, secret keys (scrypt-encrypted with a passphrase, or unencrypted like
``minisign -W``) and ``.minisig`` signatures, prehashed (``ED``, the default) or legacy
(``Ed``, accepted when verifying).

A signature covers the data and, through the *global signature*, the trusted comment, which
therefore carries what must not be altered (package id, scope hash, time). :func:`verify`
returns that comment or raises :class:`~ecluse.errors.SignatureError`; it never returns a bool.

Formats (all integers little-endian)::

    public key   base64("Ed" || key_id[8] || ed25519_pk[32])
    secret key   base64("Ed" || kdf "Sc"|00 00 || "B2" || salt[32] || opslimit[8] || memlimit[8]
                        || (key_id[8] || seed[32] || pk[32] || chk[32]) XOR scrypt-stream[104])
                 chk = BLAKE2b-256("Ed" || key_id || seed || pk); minisign -W leaves it all-zero
    signature    base64("ED" || key_id || Ed25519(BLAKE2b-512(data)))
                 "trusted comment: " comment
                 base64(Ed25519(signature || comment))
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ecluse.errors import KeyFileError, SignatureError

__all__ = [
    "DEFAULT_KDF",
    "INTERACTIVE_KDF",
    "KdfParams",
    "PublicKey",
    "SecretKey",
    "generate",
    "sign",
    "sign_file",
    "verify",
    "verify_file",
]

_ALG = b"Ed"
_ALG_HASHED = b"ED"
_KDF_SCRYPT = b"Sc"
_KDF_NONE = b"\x00\x00"
_CHK_BLAKE2B = b"B2"
_UNTRUSTED_PREFIX = "untrusted comment: "
_TRUSTED_PREFIX = "trusted comment: "
# minisign reads comment lines into 1024- and 8192-byte buffers, prefix and newline included.
_MAX_UNTRUSTED = 1024 - len(_UNTRUSTED_PREFIX) - 2
_MAX_TRUSTED = 8192 - len(_TRUSTED_PREFIX) - 2
_SECRET_KEY_COMMENT = "minisign encrypted secret key"  # noqa: S105 (a file comment, not a secret)
_KEYNUM_SK_SIZE = 8 + 64 + 32
_SECRET_KEY_SIZE = 2 + 2 + 2 + 32 + 8 + 8 + _KEYNUM_SK_SIZE
_READ_SIZE = 1024 * 1024
# Refuse key files asking for more scrypt work than minisign's own (N = 2^20, 1 GiB).
_MAX_SCRYPT_MEMORY = 1 << 30
_MAX_SCRYPT_LOG_N = 20
_MAX_SCRYPT_P = 16


@dataclass(frozen=True)
class KdfParams:
    """libsodium ``crypto_pwhash_scryptsalsa208sha256`` limits, as stored in a minisign key file."""

    opslimit: int
    memlimit: int

    def scrypt_params(self) -> tuple[int, int, int]:
        """Return ``(log2 N, r, p)`` exactly as libsodium's ``pickparams`` derives them."""
        opslimit = max(self.opslimit, 32768)
        r = 8
        if opslimit < self.memlimit // 32:
            p = 1
            max_n = opslimit // (r * 4)
        else:
            max_n = self.memlimit // (r * 128)
        log_n = 1
        while log_n < 63 and (1 << log_n) <= max_n // 2:
            log_n += 1
        if not opslimit < self.memlimit // 32:
            max_rp = min((opslimit // 4) // (1 << log_n), 0x3FFFFFFF)
            p = max_rp // r
        return log_n, r, p


DEFAULT_KDF = KdfParams(opslimit=33554432, memlimit=1073741824)
"""minisign's own limits (libsodium 'sensitive'): N = 2^20, r = 8, p = 1, 1 GiB, seconds per use."""
INTERACTIVE_KDF = KdfParams(opslimit=524288, memlimit=16777216)
"""libsodium 'interactive' limits: N = 2^14, 16 MiB. For tests and demos, not for real keys."""


def _scrypt_stream(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    log_n, r, p = kdf.scrypt_params()
    memory = 128 * r * ((1 << log_n) + p + 2)
    if log_n > _MAX_SCRYPT_LOG_N or p > _MAX_SCRYPT_P or p < 1 or memory > _MAX_SCRYPT_MEMORY + (1 << 20):
        raise KeyFileError(
            "this secret key asks for more key-derivation work than minisign ever uses",
            hint="The key file was not written by minisign or Écluse; regenerate the key.",
        )
    return hashlib.scrypt(
        passphrase.encode("utf-8"),
        salt=salt,
        n=1 << log_n,
        r=r,
        p=p,
        maxmem=memory + (1 << 20),
        dklen=_KEYNUM_SK_SIZE,
    )


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(len(a), "little")


def _b64decode(text: str, size: int) -> bytes | None:
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if len(data) == size else None


def _key_id_hex(key_id: bytes) -> str:
    return key_id[::-1].hex().upper()


def _check_comment(comment: str, limit: int, what: str) -> None:
    if "\n" in comment or "\r" in comment:
        raise ValueError(f"the {what} must be a single line")
    if len(comment.encode("utf-8")) > limit:
        raise ValueError(f"the {what} is longer than minisign accepts ({limit} bytes)")


def _write_atomically(path: str | os.PathLike[str], text: str, mode: int) -> None:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_text(path: str | os.PathLike[str], what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(
            f"cannot read {what} {os.fspath(path)}: {exc.__class__.__name__}",
            hint="Check the path and that it is a minisign key file.",
        ) from exc


def _key_lines(text: str, what: str) -> list[str]:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) != 2 or not lines[0].startswith(_UNTRUSTED_PREFIX):
        raise KeyFileError(
            f"malformed minisign {what}: expected an 'untrusted comment:' line and one base64 line",
            hint=f"Copy the {what} file again, unchanged.",
        )
    return lines


# --- keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicKey:
    """A minisign public key: an 8-byte key id and an Ed25519 public key."""

    key_id: bytes
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key_id) != 8 or len(self.key) != 32:
            raise KeyFileError("a minisign public key is an 8-byte key id and a 32-byte Ed25519 key")

    @property
    def key_id_hex(self) -> str:
        """The key id as minisign prints it (16 upper-case hex digits)."""
        return _key_id_hex(self.key_id)

    def to_base64(self) -> str:
        """The one-line form that ``minisign -P`` takes."""
        return base64.b64encode(_ALG + self.key_id + self.key).decode("ascii")

    @classmethod
    def from_base64(cls, text: str) -> PublicKey:
        raw = _b64decode(text, 42)
        if raw is None or raw[:2] != _ALG:
            raise KeyFileError(
                "malformed minisign public key",
                hint="A minisign public key is 56 base64 characters starting with RW; copy it again.",
            )
        return cls(raw[2:10], raw[10:])

    def to_text(self) -> str:
        return f"{_UNTRUSTED_PREFIX}minisign public key {self.key_id_hex}\n{self.to_base64()}\n"

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        """Parse a ``.pub`` file's text, or the bare base64 line."""
        if "\n" not in text.strip():
            return cls.from_base64(text)
        return cls.from_base64(_key_lines(text, "public key")[1])

    def to_file(self, path: str | os.PathLike[str]) -> None:
        _write_atomically(path, self.to_text(), 0o644)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PublicKey:
        try:
            return cls.from_text(_read_text(path, "public key file"))
        except KeyFileError as exc:
            raise KeyFileError(f"{exc.message} (file {os.fspath(path)})", hint=exc.hint) from None


@dataclass(frozen=True)
class SecretKey:
    """A minisign secret key. Its repr never shows the key."""

    key_id: bytes
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key_id) != 8 or len(self.seed) != 32:
            raise KeyFileError("a minisign secret key is an 8-byte key id and a 32-byte Ed25519 seed")

    @property
    def key_id_hex(self) -> str:
        return _key_id_hex(self.key_id)

    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    def public_key(self) -> PublicKey:
        return PublicKey(self.key_id, self._private().public_key().public_bytes_raw())

    def _checksum(self) -> bytes:
        return hashlib.blake2b(
            _ALG + self.key_id + self.seed + self.public_key().key, digest_size=32
        ).digest()

    def to_text(self, passphrase: str | None, *, kdf: KdfParams = DEFAULT_KDF) -> str:
        """The secret key file's text: scrypt-encrypted, or unencrypted if ``passphrase`` is None."""
        keynum_sk = self.key_id + self.seed + self.public_key().key + self._checksum()
        if passphrase is None:
            raw = _ALG + _KDF_NONE + _CHK_BLAKE2B + bytes(48) + keynum_sk
        else:
            if not passphrase:
                raise ValueError("empty passphrase: pass None for an unencrypted key")
            salt = os.urandom(32)
            stream = _scrypt_stream(passphrase, salt, kdf)
            raw = (
                _ALG
                + _KDF_SCRYPT
                + _CHK_BLAKE2B
                + salt
                + kdf.opslimit.to_bytes(8, "little")
                + kdf.memlimit.to_bytes(8, "little")
                + _xor(keynum_sk, stream)
            )
        return f"{_UNTRUSTED_PREFIX}{_SECRET_KEY_COMMENT}\n{base64.b64encode(raw).decode('ascii')}\n"

    @classmethod
    def from_text(cls, text: str, passphrase: str | None) -> SecretKey:
        raw = _b64decode(_key_lines(text, "secret key")[1], _SECRET_KEY_SIZE)
        if raw is None or raw[:2] != _ALG or raw[4:6] != _CHK_BLAKE2B:
            raise KeyFileError(
                "malformed minisign secret key", hint="Restore the secret key file from its backup."
            )
        kdf_alg, salt = raw[2:4], raw[6:38]
        keynum_sk = raw[54:]
        if kdf_alg == _KDF_SCRYPT:
            if passphrase is None:
                raise KeyFileError(
                    "this minisign secret key is encrypted: a passphrase is needed",
                    hint="Give the passphrase chosen when the key was created.",
                )
            kdf = KdfParams(int.from_bytes(raw[38:46], "little"), int.from_bytes(raw[46:54], "little"))
            keynum_sk = _xor(keynum_sk, _scrypt_stream(passphrase, salt, kdf))
        elif kdf_alg != _KDF_NONE:
            raise KeyFileError(
                "unsupported key derivation in minisign secret key",
                hint="Re-create the key with minisign or Écluse.",
            )
        key_id, seed, public, checksum = keynum_sk[:8], keynum_sk[8:40], keynum_sk[40:72], keynum_sk[72:]
        key = cls(key_id, seed)
        # minisign -W writes an all-zero checksum into unencrypted keys and never checks it there.
        checksum_ok = hmac.compare_digest(key._checksum(), checksum) or (
            kdf_alg == _KDF_NONE and checksum == bytes(32)
        )
        if not checksum_ok or key.public_key().key != public:
            if kdf_alg == _KDF_SCRYPT:
                raise KeyFileError(
                    "wrong passphrase for this minisign secret key",
                    hint="Type the passphrase again; it is the one chosen when the key was created.",
                )
            raise KeyFileError(
                "minisign secret key is corrupted (checksum mismatch)",
                hint="Restore the secret key file from its backup.",
            )
        return key

    def to_file(
        self, path: str | os.PathLike[str], passphrase: str | None, *, kdf: KdfParams = DEFAULT_KDF
    ) -> None:
        """Write the key file (mode 0600) via a temporary name and a rename."""
        _write_atomically(path, self.to_text(passphrase, kdf=kdf), 0o600)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], passphrase: str | None) -> SecretKey:
        try:
            return cls.from_text(_read_text(path, "secret key file"), passphrase)
        except KeyFileError as exc:
            raise KeyFileError(f"{exc.message} (file {os.fspath(path)})", hint=exc.hint) from None


def generate() -> SecretKey:
    """A new key pair with a random key id."""
    return SecretKey(os.urandom(8), Ed25519PrivateKey.generate().private_bytes_raw())


# --- signatures ----------------------------------------------------------------------------


def _blocks(data: bytes | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data) if not isinstance(data, bytes) else data
    else:
        yield from data


def _prehash(data: bytes | Iterable[bytes]) -> bytes:
    digest = hashlib.blake2b(digest_size=64)
    for block in _blocks(data):
        digest.update(block)
    return digest.digest()


def sign(
    sk: SecretKey,
    data: bytes | Iterable[bytes],
    *,
    trusted_comment: str,
    untrusted_comment: str = "signature from ecluse secret key",
    prehash: bool = True,
) -> str:
    """Sign ``data`` (bytes, or an iterable of blocks) and return the ``.minisig`` text.

    Prehashed (``ED``) by default, as minisign does; ``prehash=False`` gives the legacy
    ``Ed`` form, which needs the whole message in memory.
    """
    _check_comment(trusted_comment, _MAX_TRUSTED, "trusted comment")
    _check_comment(untrusted_comment, _MAX_UNTRUSTED, "untrusted comment")
    private = sk._private()
    if prehash:
        alg, message = _ALG_HASHED, _prehash(data)
    else:
        alg, message = _ALG, b"".join(_blocks(data))
    signature = private.sign(message)
    global_signature = private.sign(signature + trusted_comment.encode("utf-8"))
    return (
        f"{_UNTRUSTED_PREFIX}{untrusted_comment}\n"
        f"{base64.b64encode(alg + sk.key_id + signature).decode('ascii')}\n"
        f"{_TRUSTED_PREFIX}{trusted_comment}\n"
        f"{base64.b64encode(global_signature).decode('ascii')}\n"
    )


@dataclass(frozen=True)
class _Signature:
    alg: bytes
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes


def _malformed(reason: str) -> SignatureError:
    return SignatureError(
        f"malformed minisign signature: {reason}",
        hint="Get the .minisig file again, unchanged, from the signer.",
    )


def _parse_signature(text: str) -> _Signature:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) != 4:
        raise _malformed("expected 4 lines")
    if not lines[0].startswith(_UNTRUSTED_PREFIX):
        raise _malformed("the first line must start with 'untrusted comment: '")
    if not lines[2].startswith(_TRUSTED_PREFIX):
        raise _malformed("the third line must start with 'trusted comment: '")
    raw = _b64decode(lines[1], 74)
    global_signature = _b64decode(lines[3], 64)
    if raw is None or global_signature is None:
        raise _malformed("bad base64")
    if raw[:2] not in (_ALG, _ALG_HASHED):
        raise _malformed("unsupported signature algorithm")
    return _Signature(raw[:2], raw[2:10], raw[10:], lines[2][len(_TRUSTED_PREFIX) :], global_signature)


def verify(pk: PublicKey, data: bytes | Iterable[bytes], signature: str) -> str:
    """Check ``signature`` over ``data`` and its trusted comment; return the trusted comment.

    Raises SignatureError if the signature is malformed, from another key, does not match the
    data, or if the trusted comment was altered.
    """
    sig = _parse_signature(signature)
    if not hmac.compare_digest(sig.key_id, pk.key_id):
        raise SignatureError(
            f"signed by key {_key_id_hex(sig.key_id)}, but the public key given is {pk.key_id_hex}",
            hint="Verify with the signer's public key, or ask which key signed this file.",
        )
    public = Ed25519PublicKey.from_public_bytes(pk.key)
    message = _prehash(data) if sig.alg == _ALG_HASHED else b"".join(_blocks(data))
    try:
        public.verify(sig.signature, message)
    except InvalidSignature:
        raise SignatureError(
            "signature verification failed: the data is not what was signed",
            hint="The file was altered or is not the one this signature is for; do not use it.",
        ) from None
    try:
        public.verify(sig.global_signature, sig.signature + sig.trusted_comment.encode("utf-8"))
    except InvalidSignature:
        raise SignatureError(
            "the trusted comment of this signature was altered",
            hint="Do not trust this signature file; get it again from the signer.",
        ) from None
    return sig.trusted_comment


def _file_blocks(path: str | os.PathLike[str]) -> Iterator[bytes]:
    with open(path, "rb") as inp:
        while block := inp.read(_READ_SIZE):
            yield block


def sign_file(
    sk: SecretKey,
    path: str | os.PathLike[str],
    *,
    trusted_comment: str,
    untrusted_comment: str = "signature from ecluse secret key",
) -> str:
    """Sign a file, streaming it through BLAKE2b-512; return the ``.minisig`` text."""
    return sign(sk, _file_blocks(path), trusted_comment=trusted_comment, untrusted_comment=untrusted_comment)


def verify_file(pk: PublicKey, path: str | os.PathLike[str], signature: str) -> str:
    """Verify a file against ``signature`` (``.minisig`` text), streaming it; return the trusted comment."""
    return verify(pk, _file_blocks(path), signature)
