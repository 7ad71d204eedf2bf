"""Audit log checkpoints: C2SP ``tlog-checkpoint`` notes signed with :mod:`ecluse.crypto.note`.

The note text is exactly three lines, as c2sp.org/tlog-checkpoint specifies::

    <origin>
    <tree size in decimal>
    <base64 of the RFC 6962 root hash>

The issue time is kept next to the note in ``checkpoints.jsonl``; it is not part of the signed
text (extension lines are not recommended by the spec). Entry times are covered by the root.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from ecluse.crypto.note import NoteVerifier, open_note
from ecluse.errors import AuditIntegrityError, SignatureError

__all__ = ["Checkpoint", "checkpoint_text", "parse_checkpoint_text"]

_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_WITNESS_HINT = "check that the checkpoint text was copied whole, from this log, with this log's key"


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    """``(origin, size, root)`` from a checkpoint note's text; extension lines are ignored."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
        raise AuditIntegrityError("malformed checkpoint text", hint=_WITNESS_HINT)
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not _SIZE.fullmatch(size_text):
        raise AuditIntegrityError("malformed tree size in checkpoint", hint=_WITNESS_HINT)
    try:
        root = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise AuditIntegrityError("malformed root hash in checkpoint", hint=_WITNESS_HINT) from exc
    if len(root) != 32:
        raise AuditIntegrityError("the checkpoint root hash is not 32 bytes", hint=_WITNESS_HINT)
    return origin, int(size_text), root


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "the log ``origin`` had ``size`` entries with root ``root_hex``"."""

    origin: str
    size: int
    root_hex: str
    time: datetime | None
    note: str

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.root_hex)

    @classmethod
    def from_note(cls, note: str, verifier: NoteVerifier, *, time: datetime | None = None) -> Checkpoint:
        """Open a signed checkpoint note; raises :class:`AuditIntegrityError` if it does not verify."""
        try:
            text = open_note(note, verifier)
        except SignatureError as exc:
            raise AuditIntegrityError(
                f"the checkpoint is not validly signed by key {verifier.name}: {exc.message}",
                hint=_WITNESS_HINT,
            ) from exc
        origin, size, root = parse_checkpoint_text(text)
        return cls(origin=origin, size=size, root_hex=root.hex(), time=time, note=note)
