"""The append-only audit log: ``log.jsonl`` + ``checkpoints.jsonl`` in one directory.

``log.jsonl`` holds one entry per line in canonical JSON (sorted keys, no spaces, UTF-8); the leaf of
entry ``i`` is the RFC 6962 leaf hash of line ``i`` without its newline. ``checkpoints.jsonl`` holds
every checkpoint issued: ``{"note", "root", "size", "time"}``, where ``note`` is a signed C2SP
checkpoint. Both files are only ever appended to, with ``O_APPEND``, an exclusive ``flock`` and
``fsync``. See docs/audit.md.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ecluse.audit.checkpoint import Checkpoint, checkpoint_text
from ecluse.audit.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
)
from ecluse.audit.processors import DEFAULT_PROCESSORS, Event, Processor
from ecluse.crypto.note import NoteSigner, NoteVerifier, sign_note
from ecluse.errors import AuditError, AuditIntegrityError

__all__ = ["CHECKPOINTS_FILE", "LOG_FILE", "AuditLog", "Entry", "VerifyReport"]

LOG_FILE = "log.jsonl"
CHECKPOINTS_FILE = "checkpoints.jsonl"
MAX_LINE = 64 * 1024
INCIDENT_HINT = "restore the log from backup and report a security incident (see docs/audit.md)"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_SHAPE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_ENTRY_KEYS = frozenset({"index", "time", "actor", "action", "objects", "details"})
_CHECKPOINT_KEYS = frozenset({"note", "root", "size", "time"})

Detail = str | int | bool | None


def format_time(now: datetime) -> str:
    """UTC ISO 8601 with microseconds and a ``Z``: the one form the log accepts."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise AuditError("the audit clock gave a naive datetime", hint="pass an aware datetime, e.g. in UTC")
    return now.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Parse the one form :func:`format_time` writes; raises :class:`ValueError` otherwise."""
    if not _TIME_SHAPE.fullmatch(text):
        raise ValueError("not a UTC time in the audit log's form")
    return datetime.fromisoformat(text)


def _canonical(obj: Mapping[str, Any]) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Entry:
    """One audit event. ``objects`` and ``details`` hold ids and small facts, never patient values."""

    index: int
    time: datetime
    actor: str
    action: str
    objects: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Detail] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "actor": self.actor,
            "details": dict(self.details),
            "index": self.index,
            "objects": dict(self.objects),
            "time": format_time(self.time),
        }

    def to_json(self) -> bytes:
        """The canonical line (without newline) whose leaf hash enters the tree."""
        return _canonical(self.to_dict())

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.to_json())

    @classmethod
    def from_dict(cls, obj: object) -> Entry:
        """Rebuild an entry read from the log; raises :class:`ValueError` if it is not one."""
        if not isinstance(obj, dict) or set(obj) != _ENTRY_KEYS:
            raise ValueError("not an entry object with the expected fields")
        index, time, actor, action = obj["index"], obj["time"], obj["actor"], obj["action"]
        objects, details = obj["objects"], obj["details"]
        if type(index) is not int or index < 0:
            raise ValueError("bad index")
        if not isinstance(time, str) or not isinstance(actor, str) or not isinstance(action, str):
            raise ValueError("bad time, actor or action")
        if not isinstance(objects, dict) or not all(isinstance(v, str) for v in objects.values()):
            raise ValueError("bad objects")
        if not isinstance(details, dict) or not all(
            v is None or isinstance(v, str | int | bool) for v in details.values()
        ):
            raise ValueError("bad details")
        return cls(index, parse_time(time), actor, action, objects, details)


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    checkpoints: int
    root_hex: str
    last_checkpoint_size: int | None
    witness_size: int | None = None

    @property
    def unsigned_entries(self) -> int:
        """Entries appended after the last checkpoint: not yet covered by a signature."""
        return self.entries - (self.last_checkpoint_size or 0)


def _integrity(message: str) -> AuditIntegrityError:
    return AuditIntegrityError(message, hint=INCIDENT_HINT)


def _split_lines(data: bytes, name: str) -> list[bytes]:
    lines = data.split(b"\n")
    last = lines.pop()
    if last:
        raise _integrity(f"{name} line {len(lines) + 1} is incomplete (no final newline)")
    return lines


def _append_line(path: Path, line: bytes, expected_size: int | None) -> int:
    """Append ``line`` under an exclusive lock and fsync; return the new file size."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if expected_size is not None and size != expected_size:
            raise AuditError(
                f"{path.name} changed on disk since this log was opened",
                hint="another process wrote to it; open the log again, then run verify",
            )
        written = os.write(fd, line)
        if written != len(line):
            raise AuditError(f"short write to {path.name}", hint="check free disk space, then run verify")
        os.fsync(fd)
        return size + written
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditLog:
    """An append-only, tamper-evident event log with signed checkpoints.

    Open it with :meth:`open`. Appending costs O(log n) hashes plus one fsync; the tree's right
    edge is kept in memory, with the leaf hashes, so that proofs can be served.
    """

    def __init__(
        self,
        directory: Path,
        signer: NoteSigner,
        origin: str,
        processors: Sequence[Processor],
        lines: list[bytes],
        offset: int,
    ) -> None:
        self.directory = directory
        self.origin = origin
        self._signer = signer
        self._processors = tuple(processors)
        self._log_path = directory / LOG_FILE
        self._checkpoints_path = directory / CHECKPOINTS_FILE
        self._leaves = [leaf_hash(line) for line in lines]
        self._frontier = Frontier()
        for leaf in self._leaves:
            self._frontier.append(leaf)
        self._offset = offset

    @classmethod
    def open(
        cls,
        directory: Path,
        signer: NoteSigner,
        *,
        origin: str,
        processors: Iterable[Processor] = DEFAULT_PROCESSORS,
    ) -> AuditLog:
        """Open the log in ``directory``, creating it if missing. Integrity is checked by :meth:`verify`."""
        if not origin or any(ch.isspace() or ch == "+" for ch in origin):
            raise AuditError(
                "a log origin must be non-empty, without spaces or '+'",
                hint="use a schema-less URL such as 'ecluse.example/workspace-1'",
            )
        directory = Path(directory)
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in (LOG_FILE, CHECKPOINTS_FILE):
            path = directory / name
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
                created = True
        if created:
            _fsync_dir(directory)
        data = (directory / LOG_FILE).read_bytes()
        lines = _split_lines(data, LOG_FILE)
        return cls(directory, signer, origin, list(processors), lines, len(data))

    # -- writing ---------------------------------------------------------------------------------

    def append(
        self,
        *,
        actor: str,
        action: str,
        objects: Mapping[str, str] | None = None,
        details: Mapping[str, object] | None = None,
        now: datetime,
    ) -> Entry:
        """Run the processors on the event, then append it. Nothing is written if one refuses it."""
        event: Event = {
            "time": format_time(now),
            "actor": actor,
            "action": action,
            "objects": dict(objects or {}),
            "details": dict(details or {}),
        }
        for processor in self._processors:
            event = processor(event)
        event["index"] = self.size()
        try:
            entry = Entry.from_dict(event)
        except ValueError as exc:
            raise AuditError(
                "a processor produced an invalid entry", hint="check the audit processors list"
            ) from exc
        line = entry.to_json()
        if len(line) >= MAX_LINE:
            raise AuditError(f"the audit entry is larger than {MAX_LINE} bytes", hint="log less detail")
        self._offset = _append_line(self._log_path, line + b"\n", self._offset)
        leaf = leaf_hash(line)
        self._leaves.append(leaf)
        self._frontier.append(leaf)
        return entry

    def checkpoint(self, *, now: datetime) -> Checkpoint:
        """Sign the current tree head, record it in ``checkpoints.jsonl`` and return it.

        Refuses to sign if the current tree does not extend the last checkpoint: a log must never
        sign two inconsistent checkpoints (c2sp.org/tlog-checkpoint).
        """
        time = format_time(now)
        existing = self._read_checkpoints(self._signer.verifier())
        if existing:
            last = existing[-1]
            if last.size > self.size() or root_from_leaves(self._leaves[: last.size]) != last.root:
                raise _integrity(
                    f"the log no longer extends its last checkpoint (size {last.size}); "
                    "refusing to sign an inconsistent checkpoint"
                )
        size, root = self.size(), self.root()
        note = sign_note(checkpoint_text(self.origin, size, root), self._signer)
        record = {"note": note, "root": root.hex(), "size": size, "time": time}
        _append_line(self._checkpoints_path, _canonical(record) + b"\n", None)
        return Checkpoint(
            origin=self.origin, size=size, root_hex=root.hex(), time=parse_time(time), note=note
        )

    # -- reading ---------------------------------------------------------------------------------

    def size(self) -> int:
        return self._frontier.size

    def root(self) -> bytes:
        return self._frontier.root()

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint issued, each signature checked with this log's own key."""
        return self._read_checkpoints(self._signer.verifier())

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[Entry]:
        lines = _split_lines(self._log_path.read_bytes(), LOG_FILE)
        for number, line in enumerate(lines[start:stop], start=start):
            yield _parse_entry(line, number)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return inclusion_proof(self._leaves, index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        return consistency_proof(self._leaves, old_size, new_size)

    # -- verifying -------------------------------------------------------------------------------

    def verify(self, verifier: NoteVerifier, *, witness: Checkpoint | str | None = None) -> VerifyReport:
        """Re-read both files and check everything; raise :class:`AuditIntegrityError` at the first fault.

        Checks: every line is canonical JSON with the next index; every checkpoint is signed by
        ``verifier``, for this origin, in order, and its root equals the root of the log's first
        ``size`` entries; and, given a ``witness`` checkpoint kept elsewhere, the log extends it.
        """
        checkpoints = self._read_checkpoints(verifier)
        lines = _split_lines(self._log_path.read_bytes(), LOG_FILE)
        witness_cp = self._open_witness(witness, verifier) if witness is not None else None

        pending = sorted({cp.size for cp in checkpoints} | ({witness_cp.size} if witness_cp else set()))
        roots: dict[int, bytes] = {}
        leaves: list[bytes] = []
        frontier = Frontier()
        if pending and pending[0] == 0:
            roots[0] = frontier.root()
        for number, line in enumerate(lines):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise _integrity(f"{LOG_FILE} line {number + 1} is not valid JSON") from exc
            entry = _entry_from_obj(obj, number)
            if entry.index != number:
                raise _integrity(
                    f"{LOG_FILE} line {number + 1} holds index {entry.index}, expected {number}: "
                    "entries were deleted, inserted or reordered"
                )
            if _canonical(obj) != line:
                raise _integrity(f"entry {number} is not in canonical form: it was edited")
            leaf = leaf_hash(line)
            leaves.append(leaf)
            frontier.append(leaf)
            if frontier.size in pending:
                roots[frontier.size] = frontier.root()

        previous = 0
        for number, cp in enumerate(checkpoints):
            issued = format_time(cp.time) if cp.time else "at an unknown time"
            where = f"checkpoint {number} (size {cp.size}, issued {issued})"
            if cp.size > frontier.size:
                raise _integrity(
                    f"{where} covers {cp.size} entries but the log holds {frontier.size}: "
                    "entries were deleted from the end of the log"
                )
            if roots[cp.size] != cp.root:
                raise _integrity(
                    f"{where} does not match the log: an entry between index {previous} and "
                    f"{cp.size - 1} was edited, inserted, deleted or reordered"
                )
            previous = cp.size

        if witness_cp is not None:
            self._check_witness(witness_cp, leaves, frontier)

        return VerifyReport(
            entries=frontier.size,
            checkpoints=len(checkpoints),
            root_hex=frontier.root().hex(),
            last_checkpoint_size=checkpoints[-1].size if checkpoints else None,
            witness_size=witness_cp.size if witness_cp else None,
        )

    def _open_witness(self, witness: Checkpoint | str, verifier: NoteVerifier) -> Checkpoint:
        note = witness.note if isinstance(witness, Checkpoint) else witness
        checkpoint = Checkpoint.from_note(note, verifier)
        if checkpoint.origin != self.origin:
            raise _integrity(f"the witness checkpoint is for log '{checkpoint.origin}', not '{self.origin}'")
        return checkpoint

    def _check_witness(self, witness: Checkpoint, leaves: list[bytes], frontier: Frontier) -> None:
        where = f"the witness checkpoint (size {witness.size})"
        if witness.size > frontier.size:
            raise _integrity(
                f"{where} covers more entries than the log holds ({frontier.size}): "
                "the log was truncated after the witness was taken"
            )
        proof = consistency_proof(leaves, witness.size, frontier.size)
        try:
            verify_consistency(witness.size, frontier.size, proof, witness.root, frontier.root())
        except AuditIntegrityError as exc:
            raise _integrity(
                f"the log is not consistent with {where}: its first {witness.size} entries were "
                "rewritten after the witness was taken"
            ) from exc

    def _read_checkpoints(self, verifier: NoteVerifier) -> list[Checkpoint]:
        lines = _split_lines(self._checkpoints_path.read_bytes(), CHECKPOINTS_FILE)
        result: list[Checkpoint] = []
        for number, line in enumerate(lines):
            where = f"checkpoint {number} ({CHECKPOINTS_FILE} line {number + 1})"
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise _integrity(f"{where} is not valid JSON") from exc
            if (
                not isinstance(record, dict)
                or set(record) != _CHECKPOINT_KEYS
                or not isinstance(record["note"], str)
                or not isinstance(record["root"], str)
                or type(record["size"]) is not int
                or not isinstance(record["time"], str)
            ):
                raise _integrity(f"{where} does not have the expected fields")
            try:
                time = parse_time(record["time"])
            except ValueError as exc:
                raise _integrity(f"{where} has a malformed time") from exc
            try:
                checkpoint = Checkpoint.from_note(record["note"], verifier, time=time)
            except AuditIntegrityError as exc:
                raise _integrity(f"{where} is not validly signed by key {verifier.name}") from exc
            if checkpoint.origin != self.origin:
                raise _integrity(f"{where} is for log '{checkpoint.origin}', not '{self.origin}'")
            if checkpoint.size != record["size"] or checkpoint.root_hex != record["root"]:
                raise _integrity(f"{where}: its size or root was edited (they differ from the signed note)")
            if result and (checkpoint.size < result[-1].size or time < (result[-1].time or time)):
                raise _integrity(f"{where} is older or smaller than the one before it: the file was edited")
            result.append(checkpoint)
        return result


def _entry_from_obj(obj: object, number: int) -> Entry:
    try:
        return Entry.from_dict(obj)
    except ValueError as exc:
        raise _integrity(f"{LOG_FILE} line {number + 1} is not a well-formed entry") from exc


def _parse_entry(line: bytes, number: int) -> Entry:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise _integrity(f"{LOG_FILE} line {number + 1} is not valid JSON") from exc
    return _entry_from_obj(obj, number)
