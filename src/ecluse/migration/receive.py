"""Receiving a package: verify, decrypt, validate, import atomically, sign a receipt.

Order matters: the manifest signature is checked against the sender's pinned key, then
every file's size and SHA-256, and only then is anything decrypted. Decrypted resources
are validated and counted as they stream into a temporary place inside the target; the
import becomes visible by one rename (NDJSON directory) or one transaction (SQLite). On any
failure the temporary place is removed: nothing is imported, no plaintext is left behind.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ecluse.crypto import age, minisign
from ecluse.errors import (
    DecryptionError,
    ImportConflictError,
    NoIdentityMatchError,
    PackageError,
)
from ecluse.formats import fhir
from ecluse.formats.codec import Record, get_codec
from ecluse.formats.records import Patient, Request, Result
from ecluse.migration.package import FHIR_NDJSON, Manifest, PackageFile, check_files, load_manifest

__all__ = ["ReceiveResult", "receipt_comment", "receive_package", "write_receipt"]

RECEIPT_FORMAT = "ecluse-receipt/v1"


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    manifest: Manifest
    counts: dict[str, int]
    target: Path
    seconds: float
    #: the files of the package encrypted to this recipient (the ones imported)
    files: tuple[PackageFile, ...] = ()


def _iter_lines(package_dir: Path, pf: PackageFile, identities: list[str]) -> Iterator[tuple[int, bytes]]:
    with (package_dir / pf.name).open("rb") as raw, age.open_decrypt(raw, identities) as dec:
        rest = b""
        line_no = 0
        for chunk in dec.iter_chunks():
            data = rest + chunk if rest else chunk
            lines = data.split(b"\n")
            rest = lines.pop()
            for line in lines:
                line_no += 1
                yield line_no, line
        if rest:
            line_no += 1
            yield line_no, rest


def _check_file_to(package_dir: str, pf: PackageFile, identities: list[str], out: str | None) -> int:
    """Decrypt and validate one file; write its plaintext to ``out`` (inside the target) if given."""
    if pf.format != FHIR_NDJSON:
        return _check_lab_file_to(package_dir, pf, identities, out)
    pdir = Path(package_dir)
    name = pf.name.removesuffix(".age")
    count = 0
    sink = open(out, "xb") if out else None  # noqa: SIM115 - closed in finally
    try:
        buf: list[bytes] = []
        for line_no, line in _iter_lines(pdir, pf, identities):
            res = fhir.parse_ndjson_line(line, file=name, line_no=line_no)
            fhir.validate_resource(res, pf.type, file=name, line_no=line_no)
            count += 1
            if sink is not None:
                buf.append(line)
                buf.append(b"\n")
                if len(buf) >= 4096:
                    sink.write(b"".join(buf))
                    buf.clear()
        if sink is not None and buf:
            sink.write(b"".join(buf))
    finally:
        if sink is not None:
            sink.close()
    _check_count(name, count, pf)
    return count


def _check_count(name: str, count: int, pf: PackageFile) -> None:
    if count != pf.count:
        what = "resources" if pf.format == FHIR_NDJSON else "records"
        raise PackageError(f"{name}: holds {count} {what}, the manifest says {pf.count}",
                           hint="the package is inconsistent; ask the sender to export again")


def _lab_data(package_dir: Path, pf: PackageFile, identities: list[str]) -> bytes:
    """The plaintext of one lab-format file (the codecs parse whole files; memory: one part)."""
    with (package_dir / pf.name).open("rb") as raw, age.open_decrypt(raw, identities) as dec:
        return b"".join(dec.iter_chunks())


def _lab_records(data: bytes, pf: PackageFile) -> Iterator[Record]:
    """The records of one lab-format file, parsed with the format's strict reader; the count is
    checked against the manifest when the file is exhausted."""
    name = pf.name.removesuffix(".age")
    n = 0
    for rec in get_codec(pf.format).read(data, filename=name):
        n += 1
        yield rec
    _check_count(name, n, pf)


def _check_lab_file_to(package_dir: str, pf: PackageFile, identities: list[str], out: str | None) -> int:
    data = _lab_data(Path(package_dir), pf, identities)
    for _ in _lab_records(data, pf):
        pass
    if out is not None:
        with open(out, "xb") as sink:
            sink.write(data)
    return pf.count


Advance = Callable[[int, int], None]


def _run_parallel(tasks: list[tuple[Any, ...]], workers: int, advance: Advance | None) -> list[int]:
    """Run one task per file; ``advance(done, total)`` counts resources of finished files."""
    total = sum(t[1].count for t in tasks)
    if workers <= 1 or len(tasks) <= 1:
        out, done = [], 0
        for t in tasks:
            out.append(_check_file_to(*t))
            done += t[1].count
            if advance:
                advance(done, total)
        return out
    ctx = mp.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(_check_file_to, *t) for t in tasks]
        if advance:
            done = 0
            for fut in as_completed(futures):
                done += tasks[futures.index(fut)][1].count
                advance(done, total)
        return [f.result() for f in futures]


def receive_package(package_dir: Path, *, identities: list[str], sender_keys: list[minisign.PublicKey],
                    target: Path, workers: int = 2, now: datetime | None = None,
                    progress: Callable[[str], None] | None = None,
                    advance: Advance | None = None) -> ReceiveResult:
    """Verify and import ``package_dir`` into ``target`` (a directory, or a ``.db``/``.sqlite`` file)."""
    start = time.perf_counter()
    if not package_dir.is_dir():
        raise PackageError(f"no package directory at {package_dir}",
                           hint="give the directory that holds manifest.json")
    manifest = load_manifest(package_dir, sender_keys)
    if progress:
        progress("manifest signature verified")
    if now is not None and datetime.fromisoformat(manifest.expires) <= now:
        raise PackageError(f"package {manifest.package_id} expired with its mandate on {manifest.expires}",
                           hint="nothing was imported; the controller must issue a new mandate")
    check_files(package_dir, manifest)
    if progress:
        progress("file hashes and sizes verified")
    # Only the files encrypted to this recipient (each format goes to the recipients that asked
    # for it). Wrong key: fail before any plaintext is produced.
    mine = {age.recipient_of(i) for i in identities}
    files = tuple(f for f in manifest.files if mine & set(f.recipients))
    if not files:
        raise NoIdentityMatchError(f"package {manifest.package_id} is not encrypted to the given identity",
                                   hint="use the age identity whose recipient the mandate names")
    for pf in files[:1]:
        with (package_dir / pf.name).open("rb") as raw:
            try:
                age.open_decrypt(raw, identities).close()
            except NoIdentityMatchError as exc:
                raise NoIdentityMatchError(
                    f"package {manifest.package_id} is not encrypted to the given identity",
                    hint="use the age identity whose recipient the mandate names") from exc
    is_db = target.suffix in (".db", ".sqlite", ".sqlite3")
    try:
        if is_db:
            counts = _import_sqlite(package_dir, manifest, files, identities, target)
        else:
            counts = _import_directory(package_dir, manifest, files, identities, target, workers, advance)
    except DecryptionError as exc:
        raise PackageError(f"package {manifest.package_id}: a file cannot be decrypted: it was altered "
                           f"or truncated after signing, or the signature check was bypassed",
                           hint="nothing was imported; ask the sender to export again") from exc
    if progress:
        progress("decrypted, validated and imported")
    return ReceiveResult(manifest, counts, target, time.perf_counter() - start, files)


# --- FHIR NDJSON directory ---------------------------------------------------------------

def _import_directory(package_dir: Path, manifest: Manifest, files: tuple[PackageFile, ...],
                      identities: list[str], target: Path, workers: int,
                      advance: Advance | None = None) -> dict[str, int]:
    target.mkdir(parents=True, exist_ok=True)
    final = target / manifest.package_id
    if final.exists():
        raise ImportConflictError(f"the target already holds package {manifest.package_id}",
                                  hint="a package is imported once; nothing was changed")
    tmp = target / f".partial-{manifest.package_id}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        tasks = [(str(package_dir), pf, identities, str(tmp / pf.name.removesuffix(".age")))
                 for pf in files]
        got = _run_parallel(tasks, workers, advance)
        counts: dict[str, int] = {}
        for pf, n in zip(files, got, strict=True):
            counts[pf.type] = counts.get(pf.type, 0) + n
        bulk = {
            "transactionTime": manifest.created,
            "request": f"ecluse:package/{manifest.package_id}",
            "requiresAccessToken": False,
            "output": [{"type": pf.type, "url": pf.name.removesuffix(".age"), "count": pf.count}
                       for pf in files if pf.format == FHIR_NDJSON],
            "ecluse_lab_files": [{"format": pf.format, "url": pf.name.removesuffix(".age"), "records": pf.count}
                                 for pf in files if pf.format != FHIR_NDJSON],
            "error": [],
        }
        (tmp / "manifest.json").write_bytes(orjson.dumps(bulk, option=orjson.OPT_INDENT_2))
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts


# --- SQLite target -------------------------------------------------------------------------

def _columns(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


_TABLES: dict[str, type] = {"patients": Patient, "requests": Request, "results": Result}


def _target_schema(conn: sqlite3.Connection) -> None:
    for table, cls in _TABLES.items():
        cols = ", ".join(f"{c} TEXT" + (" PRIMARY KEY" if c == "id" else "") for c in _columns(cls))
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
    conn.execute("CREATE TABLE IF NOT EXISTS ecluse_imports (package_id TEXT PRIMARY KEY, "
                 "manifest_sha256 TEXT NOT NULL, imported_at TEXT NOT NULL, counts TEXT NOT NULL)")


#: each record type's field names, in order: the columns of its table
_FIELD_NAMES: dict[type, list[str]] = {cls: _columns(cls) for cls in _TABLES.values()}


def astuple(rec: Patient | Request | Result) -> tuple[Any, ...]:
    """A flat record as a row (``dataclasses.astuple`` deep-copies; these are flat)."""
    return tuple(getattr(rec, name) for name in _FIELD_NAMES[type(rec)])


def _insert(conn: sqlite3.Connection, table: str, rows: list[tuple[Any, ...]], package_id: str) -> None:
    cols = _columns(_TABLES[table])
    try:
        conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
    except sqlite3.IntegrityError as exc:
        raise ImportConflictError(f"the target already holds some {table} of package {package_id}",
                                  hint="nothing was imported; check which package brought them with "
                                  "'SELECT * FROM ecluse_imports'") from exc


def _stream(package_dir: Path, files: tuple[PackageFile, ...], identities: list[str], rtype: str,
            counts: dict[str, int]) -> Iterator[dict[str, Any]]:
    """Every resource of one type, parsed and validated, file by file; counts checked per file."""
    for pf in files:
        if pf.type != rtype or pf.format != FHIR_NDJSON:
            continue
        name = pf.name.removesuffix(".age")
        n = 0
        for line_no, line in _iter_lines(package_dir, pf, identities):
            res = fhir.parse_ndjson_line(line, file=name, line_no=line_no)
            fhir.validate_resource(res, pf.type, file=name, line_no=line_no)
            n += 1
            yield res
        if n != pf.count:
            raise PackageError(f"{name}: holds {n} resources, the manifest says {pf.count}",
                               hint="the package is inconsistent; ask the sender to export again")
        counts[rtype] = counts.get(rtype, 0) + n


def _import_sqlite(package_dir: Path, manifest: Manifest, files: tuple[PackageFile, ...],
                   identities: list[str], target: Path) -> dict[str, int]:
    """Stream the package into the target in one transaction, in batches (memory stays flat).

    Requests are inserted from the ServiceRequests, then completed from the Specimens and
    DiagnosticReports that share their id; results from the Observations.
    """
    batch = 5000
    pid = manifest.package_id
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("BEGIN IMMEDIATE")
        _target_schema(conn)
        if conn.execute("SELECT 1 FROM ecluse_imports WHERE package_id = ?", (pid,)).fetchone():
            raise ImportConflictError(f"the target already holds package {pid}",
                                      hint="a package is imported once; nothing was changed")
        counts: dict[str, int] = {}
        rows: list[tuple[Any, ...]] = []
        for res in _stream(package_dir, files, identities, "Patient", counts):
            rows.append(astuple(fhir.record_from_patient(res)))
            if len(rows) >= batch:
                _insert(conn, "patients", rows, pid)
                rows.clear()
        _insert(conn, "patients", rows, pid)
        rows.clear()
        for res in _stream(package_dir, files, identities, "ServiceRequest", counts):
            rows.append(astuple(fhir.record_from_service_request(res, None, None)))
            if len(rows) >= batch:
                _insert(conn, "requests", rows, pid)
                rows.clear()
        _insert(conn, "requests", rows, pid)
        rows.clear()
        updates: list[tuple[Any, ...]] = []
        for res in _stream(package_dir, files, identities, "Specimen", counts):
            r = fhir.record_from_service_request({"id": res["id"]}, res, None)
            updates.append((r.specimen_type, r.received_at, r.id))
            if len(updates) >= batch:
                conn.executemany("UPDATE requests SET specimen_type = ?, received_at = ? WHERE id = ?", updates)
                updates.clear()
        conn.executemany("UPDATE requests SET specimen_type = ?, received_at = ? WHERE id = ?", updates)
        updates.clear()
        for res in _stream(package_dir, files, identities, "DiagnosticReport", counts):
            updates.append((res.get("status"), res["id"]))
            if len(updates) >= batch:
                conn.executemany("UPDATE requests SET status = ? WHERE id = ?", updates)
                updates.clear()
        conn.executemany("UPDATE requests SET status = ? WHERE id = ?", updates)
        for res in _stream(package_dir, files, identities, "Observation", counts):
            rows.append(astuple(fhir.record_from_observation(res)))
            if len(rows) >= batch:
                _insert(conn, "results", rows, pid)
                rows.clear()
        _insert(conn, "results", rows, pid)
        _import_lab_files(conn, package_dir, files, identities, pid, counts, batch)
        conn.execute("INSERT INTO ecluse_imports VALUES (?, ?, datetime('now'), ?)",
                     (pid, manifest.sha256, orjson.dumps(counts).decode()))
        conn.execute("COMMIT")
        return counts
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _import_lab_files(conn: sqlite3.Connection, package_dir: Path, files: tuple[PackageFile, ...],
                      identities: list[str], pid: str, counts: dict[str, int], batch: int) -> None:
    """The records of every lab-format file, into the same three tables."""
    tables = {Patient: "patients", Request: "requests", Result: "results"}
    for pf in files:
        if pf.format == FHIR_NDJSON:
            continue
        n = 0
        pending: dict[str, list[tuple[Any, ...]]] = {t: [] for t in tables.values()}
        for rec in _lab_records(_lab_data(package_dir, pf, identities), pf):
            n += 1
            table = tables[type(rec)]
            pending[table].append(astuple(rec))
            if len(pending[table]) >= batch:
                _insert(conn, table, pending[table], pid)
                pending[table].clear()
        for table, rows in pending.items():  # patients before requests before results
            _insert(conn, table, rows, pid)
        counts[pf.type] = counts.get(pf.type, 0) + n


# --- receipt -------------------------------------------------------------------------------

def receipt_comment(package_id: str, manifest_sha256: str) -> str:
    return f"ecluse-receipt package={package_id} manifest={manifest_sha256}"


def write_receipt(result: ReceiveResult, signer: minisign.SecretKey, *, signer_email: str,
                  out: Path, now: datetime) -> Path:
    """Write ``out`` (JSON) and ``out.minisig``, signed by the receiving person."""
    m = result.manifest
    doc = {
        "format": RECEIPT_FORMAT, "package_id": m.package_id, "migration_id": m.migration_id,
        "manifest_sha256": m.sha256, "mandate_sha256": m.mandate_sha256,
        "files": [{"name": f.name, "sha256": f.sha256, "count": f.count} for f in (result.files or m.files)],
        "counts": result.counts, "received_at": now.isoformat(),
        "receiver": {"email": signer_email, "key_id": signer.public_key().key_id_hex},
    }
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    sig = minisign.sign(signer, data, trusted_comment=receipt_comment(m.package_id, m.sha256),
                        untrusted_comment=f"receipt signed by {signer_email}")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    sig_path = out.with_name(out.name + ".minisig")
    sig_tmp = sig_path.with_name(sig_path.name + ".tmp")
    sig_tmp.write_text(sig)
    tmp.replace(out)
    sig_tmp.replace(sig_path)
    return out

