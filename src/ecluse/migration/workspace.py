"""A workspace: the database, the audit log, the staging area and the workspace's own keys.

Layout of a workspace directory (created by ``ecluse init``)::

    ecluse.db            the workspace database (unless ECLUSE_DATABASE_URL names another)
    audit/               the append-only audit log (log.jsonl, checkpoints.jsonl)
    keys/                the workspace's signing keys (mode 0600): certificates and checkpoints
    staging/             encrypted packages, and nothing else
    certificates/        signed deletion certificates, for the controller
    receipts/            receipts received from recipients

Opening a workspace runs the expiry sweep first: a migration whose mandate expired is purged
before any other command does anything (see :func:`ecluse.migration.procedure.purge_expired`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ecluse.audit import AuditLog, Checkpoint
from ecluse.config import Settings
from ecluse.crypto import minisign
from ecluse.crypto.note import NoteSigner, NoteVerifier
from ecluse.errors import ConfigError, IdentityError, KeyFileError
from ecluse.store import Store, StoredPerson

__all__ = ["Actor", "Workspace", "init_workspace"]

_DIRS = ("audit", "keys", "staging", "certificates", "receipts")


@dataclass(frozen=True, slots=True)
class Actor:
    """A registered person holding their unlocked signing key for one command."""

    person: StoredPerson
    key: minisign.SecretKey

    def sign_statement(self, statement: bytes, *, comment: str) -> str:
        return minisign.sign(self.key, statement, trusted_comment=comment,
                             untrusted_comment=f"signed by {self.person.email}")


class Workspace:
    def __init__(self, root: Path, settings: Settings, store: Store, audit: AuditLog,
                 note_signer: NoteSigner, cert_key: minisign.SecretKey) -> None:
        self.root = root
        self.settings = settings
        self.store = store
        self.audit = audit
        self.note_signer = note_signer
        self.cert_key = cert_key

    # --- layout ---------------------------------------------------------------------------
    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def certificates_dir(self) -> Path:
        return self.root / "certificates"

    @property
    def receipts_dir(self) -> Path:
        return self.root / "receipts"

    @property
    def note_verifier(self) -> NoteVerifier:
        return self.note_signer.verifier()

    @property
    def cert_public_key(self) -> minisign.PublicKey:
        return self.cert_key.public_key()

    @classmethod
    def open(cls, settings: Settings) -> Workspace:
        root = settings.workspace
        if not (root / "keys" / "workspace.note").is_file():
            raise ConfigError(f"no Écluse workspace at {root}",
                              hint="create one with 'ecluse init' or pass --workspace DIR")
        store = Store.open(settings.database_url or f"sqlite:///{root / 'ecluse.db'}")
        note_signer = NoteSigner.from_private_bytes(
            _read_text(root / "keys" / "workspace.name").strip(),
            bytes.fromhex(_read_text(root / "keys" / "workspace.note").strip()))
        cert_key = minisign.SecretKey.from_file(root / "keys" / "certificates.key", None)
        audit = AuditLog.open(root / "audit", note_signer, origin=note_signer.name)
        return cls(root, settings, store, audit, note_signer, cert_key)

    def close(self) -> None:
        self.store.close()

    # --- people and keys --------------------------------------------------------------------
    def actor(self, key_path: Path, passphrase: str | None) -> Actor:
        """Unlock a person's signing key and find the registered person it belongs to."""
        try:
            key = minisign.SecretKey.from_file(key_path, passphrase)
        except FileNotFoundError as exc:
            raise KeyFileError(f"signing key file not found: {key_path}") from exc
        person = self.store.person_by(key_id=key.public_key().key_id_hex)
        if person is None:
            raise IdentityError(f"the key in {key_path.name} belongs to no registered person",
                                hint="register the person first: 'ecluse person add ...'")
        return Actor(person, key)

    def record(self, actor: str, action: str, *, objects: Mapping[str, str] | None = None,
               details: Mapping[str, object] | None = None, now: datetime) -> None:
        """Append one event to the audit log (ids and small facts only, never patient values)."""
        self.audit.append(actor=actor, action=action, objects=objects, details=details, now=now)

    def checkpoint(self, now: datetime) -> Checkpoint:
        return self.audit.checkpoint(now=now)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(f"workspace file missing or unreadable: {path.name}",
                          hint="the workspace is damaged; restore it from backup") from exc


def _write_secret(path: Path, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)


def init_workspace(settings: Settings, *, now: datetime) -> Workspace:
    """Create a workspace directory with its keys; refuse to touch an existing one."""
    root = settings.workspace
    if (root / "keys").exists():
        raise ConfigError(f"{root} already holds an Écluse workspace",
                          hint="use it as it is, or choose another directory")
    root.mkdir(parents=True, exist_ok=True)
    for d in _DIRS:
        (root / d).mkdir(mode=0o700, exist_ok=True)
    name = f"ecluse-workspace/{secrets.token_hex(4)}"
    signer = NoteSigner.generate(name)
    _write_secret(root / "keys" / "workspace.name", name + "\n")
    _write_secret(root / "keys" / "workspace.note", signer.private_bytes().hex() + "\n")
    cert_key = minisign.generate()
    cert_key.to_file(root / "keys" / "certificates.key", None)
    cert_key.public_key().to_file(root / "keys" / "certificates.pub")
    (root / "keys" / "checkpoints.vkey").write_text(signer.verifier().to_text() + "\n")
    ws = Workspace.open(settings)
    ws.record("system", "workspace.init", details={"origin": name}, now=now)
    ws.checkpoint(now)
    return ws
