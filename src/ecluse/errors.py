"""One exception tree for the whole of Écluse.

Every error raised by the library derives from :class:`EcluseError`. Each capability has
its own base, and the CLI and the web layer translate a class into an exit code or an HTTP
status once, at the edge. Messages never contain a patient value: they name files, record
ids, line and field numbers.

::

    EcluseError
    ├── ConfigError                 bad settings or workspace layout
    ├── FormatError                 a file or record does not parse (file, line, record, field)
    ├── CryptoError
    │   ├── DecryptionError         opaque: wrong key, tampered or truncated ciphertext
    │   ├── NoIdentityMatchError    the file is not addressed to any of the given keys
    │   ├── SignatureError          a signature does not verify, or is from an unknown key
    │   └── KeyFileError            a key file is malformed, or its passphrase is wrong
    ├── StoreError                  the workspace database failed or is inconsistent
    ├── AuditError
    │   └── AuditIntegrityError     the audit log was edited, reordered or truncated
    ├── IdentityError               a person cannot be registered or is unknown
    ├── MigrationError
    │   ├── MandateError            unsigned, altered, expired or malformed mandate
    │   ├── TransitionError         a step out of order (says which step is due)
    │   ├── ScopeError              the extraction would exceed the mandate
    │   ├── PackageError            a package is incomplete, altered or inconsistent
    │   ├── ReceiptError            a receipt does not match the package or its signer
    │   └── ImportConflictError     the target already holds this package
    └── ScanError                   the residual-data scanner cannot read its input
"""

from __future__ import annotations

__all__ = [
    "AuditError",
    "AuditIntegrityError",
    "ConfigError",
    "CryptoError",
    "DecryptionError",
    "EcluseError",
    "FormatError",
    "IdentityError",
    "ImportConflictError",
    "KeyFileError",
    "MandateError",
    "MigrationError",
    "NoIdentityMatchError",
    "PackageError",
    "ReceiptError",
    "ScanError",
    "ScopeError",
    "SignatureError",
    "StoreError",
    "TransitionError",
]


class EcluseError(Exception):
    """Root of every Écluse error.

    ``hint`` tells a person what to do next; the CLI prints it under the message.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(EcluseError):
    exit_code = 2


class FormatError(EcluseError):
    """A file or record does not parse. Carries where, never what."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        record: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"line {line}" if line is not None else "",
                f"record {record}" if record else "",
                f"field {field}" if field else "",
            )
            if part
        )
        super().__init__(f"{message} ({where})" if where else message, hint=hint)
        self.file = file
        self.file = file
        self.line = line
        self.record = record
        self.field = field


class CryptoError(EcluseError):
    exit_code = 4


class DecryptionError(CryptoError):
    """Opaque on purpose: it never says which check failed."""


class NoIdentityMatchError(CryptoError):
    pass


class SignatureError(CryptoError):
    pass


class KeyFileError(CryptoError):
    pass


class StoreError(EcluseError):
    exit_code = 5


class AuditError(EcluseError):
    exit_code = 6


class AuditIntegrityError(AuditError):
    exit_code = 7


class IdentityError(EcluseError):
    exit_code = 8


class MigrationError(EcluseError):
    exit_code = 10


class MandateError(MigrationError):
    exit_code = 11


class TransitionError(MigrationError):
    exit_code = 12


class ScopeError(MigrationError):
    exit_code = 13


class PackageError(MigrationError):
    exit_code = 14


class ReceiptError(MigrationError):
    exit_code = 15


class ImportConflictError(MigrationError):
    exit_code = 16


class ScanError(EcluseError):
    exit_code = 20
