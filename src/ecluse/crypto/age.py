"""The age v1 file format (https://c2sp.org/age): X25519 recipients, binary, streaming.

Only what Écluse needs: X25519 recipients and identities, no armor, no passphrases, no
plugins. Files we write are read by the ``age`` command-line tool and the other way round.

Encrypting::

    with open(tmp, "wb") as out, encrypt_to(out, [recipient]) as writer:
        for block in blocks:
            writer.write(block)          # sealed in 64 KiB STREAM chunks as data arrives

Decrypting::

    with open(path, "rb") as inp, open_decrypt(inp, [identity]) as reader:
        for chunk in reader.iter_chunks():
            ...

Every failure to decrypt a file that is addressed to us is one opaque
:class:`~ecluse.errors.DecryptionError`; a file addressed to none of the given keys raises
:class:`~ecluse.errors.NoIdentityMatchError`. Decrypted bytes are released chunk by chunk,
each one authenticated, and the end of the file is authenticated too: a reader that reaches
the end without an error has seen the whole, unaltered file. A caller that stops at an
error must discard what it has read.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ecluse.crypto import _bech32
from ecluse.errors import CryptoError, DecryptionError, KeyFileError, NoIdentityMatchError

__all__ = [
    "CHUNK_SIZE",
    "MAX_STANZAS",
    "DecryptingReader",
    "EncryptingWriter",
    "X25519Identity",
    "X25519Recipient",
    "decrypt_bytes",
    "encrypt_bytes",
    "encrypt_to",
    "generate_x25519",
    "open_decrypt",
    "parse_identity",
    "parse_recipient",
    "read_identity_file",
    "recipient_of",
]

CHUNK_SIZE = 64 * 1024
"""Plaintext bytes per STREAM chunk."""
MAX_STANZAS = 128
"""Headers with more recipient stanzas are refused (a 50,000-stanza header is a DoS)."""
MAX_HEADER_BYTES = 1024 * 1024
"""Headers longer than this are refused."""

_TAG_SIZE = 16
_ENC_CHUNK_SIZE = CHUNK_SIZE + _TAG_SIZE
_LAST_COUNTER = (1 << 88) - 1
_VERSION_LINE = b"age-encryption.org/v1\n"
_MAX_LINE = 4096
_X25519_INFO = b"age-encryption.org/v1/X25519"
_ZERO_NONCE = bytes(12)
_IDENTITY_HRP = "age-secret-key-"
_RECIPIENT_HRP = "age"
_B64_RE = re.compile(rb"[A-Za-z0-9+/]*")
_ARG_RE = re.compile(rb"[\x21-\x7e]+")

_OPAQUE_MESSAGE = "cannot decrypt: the file was altered, truncated or is not an age file"
_OPAQUE_HINT = (
    "Discard anything already read from it and ask the sender to send the file again; "
    "check that it is the file you expect."
)

FailureKind = Literal["header", "hmac", "payload"]


class _DecryptionFailure(DecryptionError):
    """The one decryption error. ``kind`` exists for tests; the message never says it."""

    def __init__(self, kind: FailureKind) -> None:
        super().__init__(_OPAQUE_MESSAGE, hint=_OPAQUE_HINT)
        self.kind: FailureKind = kind


def _no_match() -> NoIdentityMatchError:
    return NoIdentityMatchError(
        "this file is not encrypted to any of the given keys",
        hint="Use the identity (AGE-SECRET-KEY-1...) whose recipient the sender encrypted to, "
        "or ask the sender to encrypt to your recipient.",
    )


# --- base64 and HKDF helpers -------------------------------------------------------------


def _b64encode(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _b64decode(text: bytes) -> bytes | None:
    """Canonical, unpadded standard base64, or None."""
    if not _B64_RE.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        return None
    if _b64encode(data) != text:
        return None
    return data


def _hkdf(ikm: bytes, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def _header_mac(file_key: bytes, header: bytes) -> bytes:
    mac = hmac.HMAC(_hkdf(file_key, None, b"header"), hashes.SHA256())
    mac.update(header)
    return mac.finalize()


# --- keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class X25519Recipient:
    """An age X25519 recipient (public key). ``str()`` gives the ``age1...`` form."""

    key: bytes

    def __str__(self) -> str:
        return _bech32.encode(_RECIPIENT_HRP, self.key)


@dataclass(frozen=True)
class X25519Identity:
    """An age X25519 identity (secret key). Its repr never shows the key."""

    secret: bytes = field(repr=False)

    @property
    def recipient(self) -> X25519Recipient:
        private = X25519PrivateKey.from_private_bytes(self.secret)
        return X25519Recipient(private.public_key().public_bytes_raw())

    def __str__(self) -> str:
        return _bech32.encode(_IDENTITY_HRP, self.secret).upper()


def generate_x25519() -> tuple[str, str]:
    """Return a new ``(identity, recipient)`` pair: ``AGE-SECRET-KEY-1...``, ``age1...``."""
    identity = X25519Identity(X25519PrivateKey.generate().private_bytes_raw())
    return str(identity), str(identity.recipient)


def recipient_of(identity: str) -> str:
    """Return the ``age1...`` recipient of an ``AGE-SECRET-KEY-1...`` identity."""
    return str(parse_identity(identity).recipient)


def _decode_key(text: str, hrp: str, what: str, example: str) -> bytes:
    text = text.strip()
    try:
        got_hrp, data = _bech32.decode(text)
    except ValueError as exc:
        raise KeyFileError(
            f"malformed age {what}: {exc}", hint=f"An age {what} looks like {example}; copy it again."
        ) from None
    if got_hrp != hrp or len(data) != 32:
        raise KeyFileError(
            f"not an age X25519 {what}", hint=f"An age {what} looks like {example}; copy it again."
        )
    return data


def parse_recipient(s: str) -> X25519Recipient:
    """Parse an ``age1...`` recipient; raise KeyFileError if it is malformed."""
    key = _decode_key(s, _RECIPIENT_HRP, "recipient", "age1... (62 characters)")
    try:
        # Refuse low-order points now rather than at encryption time.
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(key))
    except ValueError:
        raise KeyFileError(
            "this age recipient is not a usable X25519 public key",
            hint="Ask its owner for their recipient again (age-keygen -y prints it).",
        ) from None
    return X25519Recipient(key)


def parse_identity(s: str) -> X25519Identity:
    """Parse an ``AGE-SECRET-KEY-1...`` identity; raise KeyFileError if it is malformed."""
    return X25519Identity(_decode_key(s, _IDENTITY_HRP, "identity", "AGE-SECRET-KEY-1... (74 characters)"))


def read_identity_file(path: str | os.PathLike[str]) -> list[str]:
    """Read identities from an ``age-keygen`` file: one per line, ``#`` comments and blanks ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(
            f"cannot read identity file {os.fspath(path)}: {exc.__class__.__name__}",
            hint="Check the path and that the file is an age-keygen key file.",
        ) from exc
    identities: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            parse_identity(line)
        except KeyFileError as exc:
            raise KeyFileError(
                f"{exc.message} (file {os.fspath(path)}, line {number})", hint=exc.hint
            ) from None
        identities.append(line)
    if not identities:
        raise KeyFileError(
            f"no identity found in {os.fspath(path)}",
            hint="An identity file holds lines starting with AGE-SECRET-KEY-1 (make one with age-keygen).",
        )
    return identities


# --- encryption --------------------------------------------------------------------------


def _stanza_x25519(recipient: X25519Recipient, file_key: bytes) -> bytes:
    ephemeral = X25519PrivateKey.generate()
    share = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient.key))
    wrap_key = _hkdf(shared, share + recipient.key, _X25519_INFO)
    body = _b64encode(ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None))
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    if len(lines[-1]) == 64:
        lines.append(b"")
    return b"-> X25519 " + _b64encode(share) + b"\n" + b"".join(line + b"\n" for line in lines)


def _nonce(counter: int, last: bool) -> bytes:
    return ((counter << 8) | last).to_bytes(12, "big")


class EncryptingWriter:
    """File-like sink that seals what it is given into 64 KiB STREAM chunks.

    ``close()`` writes the final chunk; the underlying stream is left open. Leaving a ``with``
    block on an exception abandons the file without a final chunk, so a reader sees it as
    truncated instead of accepting a partial payload.
    """

    def __init__(self, out: BinaryIO, payload_key: bytes) -> None:
        self._out = out
        self._aead = ChaCha20Poly1305(payload_key)
        self._buf = bytearray(CHUNK_SIZE)
        self._view = memoryview(self._buf)
        self._fill = 0
        self._counter = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return True

    def _seal(self, data: memoryview, last: bool) -> None:
        if self._counter > _LAST_COUNTER:
            raise CryptoError("age payload too large", hint="Split the data into several files.")
        self._out.write(self._aead.encrypt(_nonce(self._counter, last), data, None))
        self._counter += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer ``data``, sealing every chunk known not to be the last one. Returns ``len(data)``."""
        if self._closed:
            raise ValueError("write to a closed age writer")
        src = memoryview(data).cast("B")
        size = len(src)
        pos = 0
        fill = self._fill
        if fill:
            take = min(CHUNK_SIZE - fill, size)
            self._buf[fill : fill + take] = src[:take]
            fill += take
            pos = take
            if fill == CHUNK_SIZE and pos < size:
                self._seal(self._view, last=False)
                fill = 0
        # The buffer is empty here unless all of ``data`` went into it: seal full chunks
        # straight from the caller's memory, keeping back the last one, which may be final.
        while size - pos > CHUNK_SIZE:
            self._seal(src[pos : pos + CHUNK_SIZE], last=False)
            pos += CHUNK_SIZE
        if pos < size:
            rest = size - pos
            self._buf[:rest] = src[pos:]
            fill = rest
        self._fill = fill
        return size

    def flush(self) -> None:
        """No-op: a chunk cannot be sealed before it is known whether it is the last."""

    def close(self) -> None:
        """Seal the final chunk. Idempotent. Does not close the underlying stream."""
        if self._closed:
            return
        self._seal(self._view[: self._fill], last=True)
        self._closed = True
        self._fill = 0

    def abandon(self) -> None:
        """Stop without a final chunk: the output will never decrypt."""
        self._closed = True
        self._fill = 0

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()


def _write_header(out: BinaryIO, recipients: Sequence[str]) -> bytes:
    if isinstance(recipients, str):
        raise TypeError("recipients must be a sequence of strings, not one string")
    parsed = [parse_recipient(r) for r in recipients]
    if not parsed:
        raise CryptoError(
            "no recipient given: nobody could decrypt this file", hint="Pass at least one age1... recipient."
        )
    file_key = os.urandom(16)
    header = bytearray(_VERSION_LINE)
    for recipient in parsed:
        header += _stanza_x25519(recipient, file_key)
    header += b"---"
    mac = _header_mac(file_key, bytes(header))
    nonce = os.urandom(16)
    out.write(bytes(header) + b" " + _b64encode(mac) + b"\n" + nonce)
    return _hkdf(file_key, nonce, b"payload")


def encrypt_to(out: BinaryIO, recipients: Sequence[str]) -> EncryptingWriter:
    """Write an age header for ``recipients`` to ``out`` and return a writer for the payload."""
    return EncryptingWriter(out, _write_header(out, recipients))


class _BytesSink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)


def encrypt_bytes(data: bytes, recipients: Sequence[str]) -> bytes:
    """Encrypt ``data`` in memory to ``recipients``."""
    sink = _BytesSink()
    writer = encrypt_to(sink, recipients)  # type: ignore[arg-type]
    writer.write(data)
    writer.close()
    return b"".join(sink.parts)


# --- decryption --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stanza:
    args: list[bytes]
    body: bytes


def _read_line(inp: BinaryIO, header_size: int) -> bytes:
    line = inp.readline(_MAX_LINE)
    if not line.endswith(b"\n") or header_size + len(line) > MAX_HEADER_BYTES:
        raise _DecryptionFailure("header")
    return line


def _parse_header(inp: BinaryIO) -> tuple[list[_Stanza], bytes, bytes]:
    """Return the stanzas, the bytes the MAC covers and the MAC."""
    line = inp.readline(len(_VERSION_LINE))
    if line != _VERSION_LINE:
        raise _DecryptionFailure("header")
    header = bytearray(line)
    stanzas: list[_Stanza] = []
    while True:
        line = _read_line(inp, len(header))
        if line.startswith(b"-> "):
            if len(stanzas) >= MAX_STANZAS:
                raise _DecryptionFailure("header")
            header += line
            args = line[3:-1].split(b" ")
            if not all(_ARG_RE.fullmatch(arg) for arg in args):
                raise _DecryptionFailure("header")
            body_lines: list[bytes] = []
            while True:
                body_line = _read_line(inp, len(header))
                header += body_line
                content = body_line[:-1]
                if len(content) > 64:
                    raise _DecryptionFailure("header")
                body_lines.append(content)
                if len(content) < 64:
                    break
            body = _b64decode(b"".join(body_lines))
            if body is None:
                raise _DecryptionFailure("header")
            stanzas.append(_Stanza(args, body))
        elif line.startswith(b"---"):
            header += b"---"
            mac = _b64decode(line[4:-1]) if line.startswith(b"--- ") else None
            if mac is None or len(mac) != 32 or not stanzas:
                raise _DecryptionFailure("header")
            return stanzas, bytes(header), mac
        else:
            raise _DecryptionFailure("header")


def _unwrap_file_key(stanzas: list[_Stanza], identities: list[X25519Identity]) -> bytes:
    if len(stanzas) > 1 and any(stanza.args[0] == b"scrypt" for stanza in stanzas):
        raise _DecryptionFailure("header")  # spec: an scrypt stanza must be alone
    candidates: list[tuple[bytes, bytes]] = []
    for stanza in stanzas:
        if stanza.args[0] != b"X25519":
            continue
        share = _b64decode(stanza.args[1]) if len(stanza.args) == 2 else None
        if share is None or len(share) != 32 or len(stanza.body) != 32:
            raise _DecryptionFailure("header")
        candidates.append((share, stanza.body))
    keys = [(X25519PrivateKey.from_private_bytes(i.secret), i.recipient.key) for i in identities]
    for share, body in candidates:
        peer = X25519PublicKey.from_public_bytes(share)
        for private, public in keys:
            try:
                shared = private.exchange(peer)
            except ValueError:  # all-zero shared secret: low-order share
                raise _DecryptionFailure("header") from None
            wrap_key = _hkdf(shared, share + public, _X25519_INFO)
            try:
                return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, None)
            except InvalidTag:
                continue
    raise _no_match()


class DecryptingReader:
    """File-like source of decrypted bytes, authenticated one 64 KiB chunk at a time.

    ``read()`` returns ``b""`` only after the final chunk has been authenticated; any
    alteration, truncation or trailing data raises DecryptionError instead.
    """

    def __init__(self, inp: BinaryIO, payload_key: bytes) -> None:
        self._inp = inp
        readinto: Callable[[memoryview], int | None] | None = getattr(inp, "readinto", None)
        self._readinto = readinto
        self._aead = ChaCha20Poly1305(payload_key)
        # One chunk plus one byte: the extra byte tells a full chunk from a full final chunk.
        self._buf = bytearray(_ENC_CHUNK_SIZE + 1)
        self._view = memoryview(self._buf)
        self._have = 0
        self._counter = 0
        self._done = False
        self._failed = False
        self._chunk = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def _fill(self) -> int:
        want = _ENC_CHUNK_SIZE + 1
        have = self._have
        while have < want:
            if self._readinto is not None:
                got = self._readinto(self._view[have:want])
            else:
                data = self._inp.read(want - have)
                got = len(data)
                self._buf[have : have + got] = data
            if not got:
                break
            have += got
        self._have = have
        return have

    def _next_chunk(self) -> bytes:
        if self._failed:
            raise _DecryptionFailure("payload")
        have = self._fill()
        last = have <= _ENC_CHUNK_SIZE
        if last and have < _TAG_SIZE:
            self._failed = True
            raise _DecryptionFailure("payload")
        sealed = self._view[:have] if last else self._view[:_ENC_CHUNK_SIZE]
        try:
            plain = self._aead.decrypt(_nonce(self._counter, last), sealed, None)
        except InvalidTag:
            self._failed = True
            raise _DecryptionFailure("payload") from None
        if last:
            if not plain and self._counter:
                self._failed = True  # only an empty file may end with an empty chunk
                raise _DecryptionFailure("payload")
            self._done = True
            self._have = 0
        else:
            self._buf[0] = self._buf[_ENC_CHUNK_SIZE]
            self._have = 1
        self._counter += 1
        return plain

    def iter_chunks(self) -> Iterator[bytes]:
        """Yield the remaining plaintext, one authenticated chunk at a time."""
        if self._pos < len(self._chunk):
            yield self._chunk[self._pos :]
        self._chunk, self._pos = b"", 0
        while not self._done:
            chunk = self._next_chunk()
            if chunk:
                yield chunk

    def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all that remains if ``n`` < 0); ``b""`` once the end is verified."""
        if n < 0:
            return b"".join(self.iter_chunks())
        parts: list[bytes] = []
        need = n
        while need > 0:
            avail = len(self._chunk) - self._pos
            if avail == 0:
                if self._done:
                    break
                self._chunk, self._pos = self._next_chunk(), 0
                continue
            take = min(avail, need)
            if self._pos == 0 and take == avail:
                parts.append(self._chunk)
            else:
                parts.append(self._chunk[self._pos : self._pos + take])
            self._pos += take
            need -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill ``buffer`` with up to ``len(buffer)`` bytes; return the count (0 at the end)."""
        dest = memoryview(buffer).cast("B")
        size = len(dest)
        written = 0
        while written < size:
            avail = len(self._chunk) - self._pos
            if avail == 0:
                if self._done:
                    break
                self._chunk, self._pos = self._next_chunk(), 0
                continue
            take = min(avail, size - written)
            dest[written : written + take] = memoryview(self._chunk)[self._pos : self._pos + take]
            self._pos += take
            written += take
        return written

    def close(self) -> None:
        """Release buffers. Does not close the underlying stream."""
        self._chunk = b""
        self._done = True

    def __enter__(self) -> DecryptingReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_decrypt(inp: BinaryIO, identities: Sequence[str]) -> DecryptingReader:
    """Parse and authenticate the age header from ``inp``; return a reader for the payload.

    Raises NoIdentityMatchError if no stanza is addressed to ``identities`` and
    DecryptionError if the header is malformed or fails its MAC.
    """
    if isinstance(identities, str):
        raise TypeError("identities must be a sequence of strings, not one string")
    parsed = [parse_identity(i) for i in identities]
    stanzas, header, mac = _parse_header(inp)
    file_key = _unwrap_file_key(stanzas, parsed)
    if len(file_key) != 16:
        raise _DecryptionFailure("header")
    verifier = hmac.HMAC(_hkdf(file_key, None, b"header"), hashes.SHA256())
    verifier.update(header)
    try:
        verifier.verify(mac)
    except InvalidSignature:
        raise _DecryptionFailure("hmac") from None
    nonce = b""
    while len(nonce) < 16:
        more = inp.read(16 - len(nonce))
        if not more:
            raise _DecryptionFailure("header")
        nonce += more
    return DecryptingReader(inp, _hkdf(file_key, nonce, b"payload"))


def decrypt_bytes(data: bytes, identities: Sequence[str]) -> bytes:
    """Decrypt an age file held in memory."""
    with open_decrypt(io.BytesIO(data), identities) as reader:
        return reader.read()
