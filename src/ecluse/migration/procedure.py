"""The steps of a migration, each signed by the person who takes it and audited.

plan → approve (×N) → export → record_receipt → close; purge_expired at the start of every
command. Transitions are checked by :mod:`ecluse.migration.states` and written with a
compare-and-set, so a step cannot be skipped, repeated or raced.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ecluse.crypto import minisign
from ecluse.errors import (
    IdentityError,
    MandateError,
    MigrationError,
    PackageError,
    ReceiptError,
    ScopeError,
    SignatureError,
)
from ecluse.legacy.reader import Counts
from ecluse.migration import states
from ecluse.migration.export import Output, export_streams
from ecluse.migration.mandate import Mandate, read_mandate_file, verify_mandate
from ecluse.migration.package import (
    MANIFEST,
    SIGNATURE,
    check_files,
    load_manifest,
    manifest_bytes,
    package_comment,
    sha256_file,
)
from ecluse.migration.receive import receipt_comment
from ecluse.migration.scope import query_of
from ecluse.migration.sources import SourceSpec, describe, open_source, spec_for
from ecluse.migration.workspace import Actor, Workspace
from ecluse.store import StoredMigration

__all__ = [
    "ExportSummary",
    "approve",
    "check_ceiling",
    "close",
    "export",
    "load_migration",
    "outputs_of",
    "plan",
    "purge_expired",
    "record_receipt",
    "utcnow",
]


def _statement(step: str, migration: str, actor: Actor, now: datetime, **extra: Any) -> bytes:
    doc = {"step": step, "migration": migration, "by": actor.person.email,
           "key_id": actor.person.key_id, "at": now.isoformat(), **extra}
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _signed(actor: Actor, step: str, migration: str, now: datetime, **extra: Any) -> tuple[str, str]:
    st = _statement(step, migration, actor, now, **extra)
    sig = actor.sign_statement(st, comment=f"ecluse-step {step} migration={migration}")
    # the key was found through the registered public key: check the pair before trusting it
    minisign.verify(minisign.PublicKey.from_text(actor.person.public_key), st, sig)
    return st.decode(), sig


def new_id(prefix: str, nbytes: int) -> str:
    """A random id, hex, with at least one letter: an all-digit id can look like a phone number or
    a NIR, and the audit log refuses those (``ecluse.audit.processors``)."""
    while True:
        tail = secrets.token_hex(nbytes)
        if not tail.isdigit():
            return prefix + tail


def _require_role(actor: Actor, roles: tuple[str, ...], step: str) -> None:
    if actor.person.role not in roles:
        raise IdentityError(f"{actor.person.email} is registered as {actor.person.role} and cannot {step}",
                            hint=f"this step is for: {', '.join(roles)}")


def load_migration(ws: Workspace, migration_id: str) -> StoredMigration:
    m = ws.store.migration(migration_id)
    if m is None:
        raise MigrationError(f"no migration {migration_id} in this workspace",
                             hint="list them with 'ecluse status'")
    return m


def _mandate_of(ws: Workspace, m: StoredMigration, now: datetime) -> Mandate:
    controller = _controller_key(ws, m.mandate_toml.encode())
    return verify_mandate(m.mandate_toml.encode(), m.mandate_sig, controller, now=now, source=m.mandate_id)


def _controller_key(ws: Workspace, data: bytes) -> minisign.PublicKey:
    from ecluse.migration.mandate import parse_mandate

    mandate = parse_mandate(data)
    assert mandate.controller.email is not None
    person = ws.store.person_by(email=mandate.controller.email)
    if person is None or person.role != "controller":
        raise MandateError(f"the mandate's controller {mandate.controller.email} is not a registered controller",
                           hint="register the controller with 'ecluse person add --role controller'")
    return minisign.PublicKey.from_text(person.public_key)


# --- plan ----------------------------------------------------------------------------------

def plan(ws: Workspace, mandate_path: Path, source: Path | SourceSpec, actor: Actor, *,
         now: datetime) -> StoredMigration:
    """Register a migration from a signed mandate (state: planned).

    ``source`` is a synthetic LIS path, or a :class:`SourceSpec` from
    :func:`ecluse.migration.sources.spec_for` (lab-format files, any SQL database)."""
    _require_role(actor, ("operator",), "plan a migration")
    data, sig = read_mandate_file(mandate_path)
    mandate = verify_mandate(data, sig, _controller_key(ws, data), now=now, source=mandate_path.name)
    spec = source if isinstance(source, SourceSpec) else spec_for(path=source)
    mig_id = new_id("MIG-", 5)
    st, sg = _signed(actor, "plan", mig_id, now, mandate_sha256=mandate.sha256)
    m = StoredMigration(id=mig_id, mandate_id=mandate.id, mandate_sha256=mandate.sha256,
                        mandate_toml=mandate.text, mandate_sig=sig or "", source=spec.stored(),
                        state="planned", expires_at=mandate.expires.isoformat(),
                        created_at=now.isoformat(), created_by=actor.person.id, package_id=None,
                        exported_by=None)
    ws.store.add_migration_planned(m, actor=actor.person.id, at=now, statement=st, signature=sg)
    ws.record(actor.person.email, "migration.plan",
              objects={"migration": mig_id, "mandate": mandate.id, "mandate_sha256": mandate.sha256},
              details={"statement_sha256": hashlib.sha256(st.encode()).hexdigest(),
                       **{f"source_{k}": v for k, v in describe(spec).items()}}, now=now)
    return m


# --- approve --------------------------------------------------------------------------------

def approve(ws: Workspace, migration_id: str, actor: Actor, *, now: datetime) -> tuple[int, int]:
    """Record one person's signed approval; move to approved when enough distinct people did."""
    m = load_migration(ws, migration_id)
    if m.state != "planned":
        states.check_step("approve", m.state)
    mandate = _mandate_of(ws, m, now)
    if actor.person.role not in ("approver", "controller", "operator"):
        raise IdentityError(f"{actor.person.email} is registered as {actor.person.role} and cannot approve")
    done = ws.store.approvals(migration_id)
    if actor.person.id in done:
        raise IdentityError(f"{actor.person.email} has already approved {migration_id}",
                            hint=f"{mandate.approvals_required} distinct people must approve; "
                            "ask another registered person")
    st, sg = _signed(actor, "approve", migration_id, now, mandate_sha256=m.mandate_sha256)
    ws.store.add_approval(migration_id, actor.person.id, at=now, statement=st, signature=sg)
    count = len(done) + 1
    ws.record(actor.person.email, "migration.approve", objects={"migration": migration_id},
              details={"approvals": count, "required": mandate.approvals_required}, now=now)
    if count >= mandate.approvals_required:
        ws.store.transition(migration_id, expect="planned", to="approved", actor=actor.person.id, at=now,
                            statement=st, signature=sg)
        ws.record(actor.person.email, "migration.state", objects={"migration": migration_id},
                  details={"from": "planned", "to": "approved"}, now=now)
    return count, mandate.approvals_required


# --- export ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExportSummary:
    package_id: str
    path: Path
    counts: dict[str, int]
    seconds: float
    left_out: dict[str, list[str]]
    bytes: int


def outputs_of(mandate: Mandate) -> tuple[Output, ...]:
    """One output per format the recipients ask for, encrypted to those recipients only."""
    by_format: dict[str, list[str]] = {}
    for r in mandate.recipients:
        by_format.setdefault(r.format, []).append(r.age_recipient)
    return tuple(Output(fmt, tuple(keys)) for fmt, keys in by_format.items())


def check_ceiling(mandate: Mandate, counts: Counts) -> int:
    types = mandate.scope.resource_types
    resources = (counts.patients + counts.requests * sum(t in types for t in
                                                         ("ServiceRequest", "Specimen", "DiagnosticReport"))
                 + (counts.results if "Observation" in types else 0))
    if counts.patients > mandate.scope.max_patients:
        raise ScopeError(f"the extraction would hold {counts.patients} patients, above the mandate's ceiling "
                         f"of {mandate.scope.max_patients}; nothing was written",
                         hint="the controller must sign a mandate with a narrower scope or a higher ceiling")
    if resources > mandate.scope.max_resources:
        raise ScopeError(f"the extraction would hold {resources} resources, above the mandate's ceiling "
                         f"of {mandate.scope.max_resources}; nothing was written",
                         hint="the controller must sign a mandate with a narrower scope or a higher ceiling")
    return resources


def export(ws: Workspace, migration_id: str, actor: Actor, *, now: datetime,
           progress: Callable[[int, int], None] | None = None) -> ExportSummary:
    """Extract what the mandate allows into an encrypted, signed package in the staging area."""
    _require_role(actor, ("operator",), "export")
    m = load_migration(ws, migration_id)
    states.check_step("export", m.state)
    if actor.person.id in ws.store.approvals(migration_id):
        raise IdentityError(f"{actor.person.email} approved this migration and cannot also export it",
                            hint="the export is run by an operator who did not approve (four-eyes rule)")
    mandate = _mandate_of(ws, m, now)
    query = query_of(mandate.scope)
    spec = SourceSpec.from_stored(m.source)
    counts = open_source(spec).count(query)
    check_ceiling(mandate, counts)
    package_id = new_id("PKG-", 8)
    tmp = ws.staging / f".partial-{package_id}"
    recipients = [r.age_recipient for r in mandate.recipients]
    result = export_streams(spec, query, tmp, outputs=outputs_of(mandate), types=mandate.scope.resource_types,
                            workers=ws.settings.export_workers, total_patients=counts.patients,
                            progress=progress)
    try:
        scope_summary = {
            "sites": list(mandate.scope.sites),
            "period": [mandate.scope.period_start.isoformat(), mandate.scope.period_end.isoformat()],
            "resource_types": list(mandate.scope.resource_types),
            "patient_fields": sorted(mandate.scope.patient_fields),
            "free_text": mandate.scope.free_text,
            "sensitive_categories": sorted(mandate.scope.sensitive_categories),
        }
        data = manifest_bytes(
            package_id=package_id, migration_id=migration_id, mandate_id=mandate.id,
            mandate_sha256=mandate.sha256, recipients=tuple(recipients), created=now.isoformat(),
            expires=mandate.expires.isoformat(), scope=scope_summary, files=result.files,
            signer_email=actor.person.email, signer_key_id=actor.person.key_id)
        (tmp / MANIFEST).write_bytes(data)
        sig = minisign.sign(actor.key, data,
                            trusted_comment=package_comment(package_id, mandate.sha256, tuple(recipients)),
                            untrusted_comment=f"package {package_id} signed by {actor.person.email}")
        (tmp / SIGNATURE).write_text(sig)
        final = ws.staging / package_id
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest_sha = hashlib.sha256(data).hexdigest()
    ws.store.add_package(package_id, migration_id, path=str(final.resolve()), manifest_sha256=manifest_sha, at=now)
    st, sg = _signed(actor, "export", migration_id, now, package=package_id, manifest_sha256=manifest_sha)
    ws.store.transition(migration_id, expect="approved", to="exported", actor=actor.person.id, at=now,
                        statement=st, signature=sg, package_id=package_id, exported_by=actor.person.id)
    per_type: dict[str, int] = {}
    for f in result.files:
        per_type[f.type] = per_type.get(f.type, 0) + f.count
    ws.record(actor.person.email, "package.export",
              objects={"migration": migration_id, "package": package_id, "manifest_sha256": manifest_sha},
              details={**{f"count_{t}": n for t, n in per_type.items()},
                       "files": len(result.files), "milliseconds": int(result.seconds * 1000)}, now=now)
    return ExportSummary(package_id=package_id, path=final, counts=per_type, seconds=result.seconds,
                         left_out=mandate.scope.left_out(), bytes=sum(f.size for f in result.files))


# --- receipt --------------------------------------------------------------------------------

def record_receipt(ws: Workspace, migration_id: str, receipt_path: Path, *, now: datetime) -> str:
    """Check the recipient's signed receipt against the package; move to received."""
    m = load_migration(ws, migration_id)
    states.check_step("receipt", m.state)
    mandate = _mandate_of(ws, m, now)
    try:
        data = receipt_path.read_bytes()
        sig = receipt_path.with_name(receipt_path.name + ".minisig").read_text()
    except FileNotFoundError as exc:
        raise ReceiptError(f"receipt or its signature not found: {Path(exc.filename or '').name}",
                           hint="the recipient sends both FILE and FILE.minisig") from exc
    try:
        doc = orjson.loads(data)
        package_id = doc["package_id"]
        receiver_key_id = doc["receiver"]["key_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ReceiptError("the receipt is malformed", hint="ask the recipient for a new receipt") from exc
    if package_id != m.package_id:
        raise ReceiptError(f"the receipt is for package {package_id}, not for this migration's "
                           f"package {m.package_id}", hint="give the receipt of this migration's package")
    person = ws.store.person_by(key_id=str(receiver_key_id))
    allowed = {r.email for r in mandate.recipients}
    if person is None or person.role != "recipient" or person.email not in allowed:
        raise ReceiptError("the receipt is not signed by a registered recipient named in the mandate",
                           hint="the receiving person registered with role recipient must sign it")
    pkg = ws.store.package(package_id)
    assert pkg is not None
    try:
        comment = minisign.verify(minisign.PublicKey.from_text(person.public_key), data, sig)
    except SignatureError as exc:
        raise ReceiptError("the receipt signature does not verify with the recipient's key "
                           "(altered, or signed by someone else)",
                           hint="ask the recipient for a new receipt") from exc
    if comment != receipt_comment(package_id, pkg["manifest_sha256"]) or \
            doc.get("manifest_sha256") != pkg["manifest_sha256"]:
        raise ReceiptError("the receipt does not match the package manifest that was sent",
                           hint="ask the recipient for a receipt of this exact package")
    manifest = orjson.loads(Path(pkg["path"], MANIFEST).read_bytes())
    # Each recipient receives (and acknowledges) the files of its own format.
    keys = {r.age_recipient for r in mandate.recipients if r.email == person.email}
    sent = {f["name"]: f["sha256"] for f in manifest["files"]
            if keys & set(f.get("recipients", manifest["recipients"]))}
    got = {f["name"]: f["sha256"] for f in doc.get("files", [])}
    if sent != got:
        raise ReceiptError("the receipt's file hashes differ from the package that was sent",
                           hint="the recipient did not receive this package intact; re-send it")
    keep = ws.receipts_dir / f"{package_id}.{person.id}.receipt.json"
    if keep.exists():
        raise ReceiptError(f"{person.email}'s receipt for {package_id} is already recorded",
                           hint="each recipient's receipt is recorded once")
    keep.write_bytes(data)
    keep.with_name(keep.name + ".minisig").write_text(sig)
    covered = {f["name"] for r in _receipts(ws, package_id) for f in orjson.loads(r.read_bytes())["files"]}
    missing = {f["name"] for f in manifest["files"]} - covered
    ws.record(person.email, "package.receipt",
              objects={"migration": migration_id, "package": package_id},
              details={"receipt_sha256": hashlib.sha256(data).hexdigest(), "files": len(got),
                       "files_not_yet_received": len(missing)}, now=now)
    if not missing:
        ws.store.transition(migration_id, expect="exported", to="received", actor=person.id, at=now,
                            statement=data.decode(), signature=sig)
    return str(package_id)


def _receipts(ws: Workspace, package_id: str) -> list[Path]:
    """The receipts recorded for a package, one per receiving person."""
    return sorted(ws.receipts_dir.glob(f"{package_id}.*receipt.json"))


# --- deletion, close, expiry -----------------------------------------------------------------

def _shred(path: Path) -> None:
    """Overwrite a staged file once with random bytes, sync, then unlink it."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


def _delete_package(ws: Workspace, m: StoredMigration, now: datetime) -> list[dict[str, Any]]:
    if not m.package_id:
        return []
    pkg = ws.store.package(m.package_id)
    if pkg is None or pkg["deleted_at"]:
        return []
    pdir = Path(pkg["path"])
    staging = ws.staging.resolve()
    if not pdir.resolve().is_relative_to(staging):
        raise PackageError("the recorded package path is outside the staging area; refusing to delete",
                           hint="the workspace database was altered: report a security incident")
    deleted: list[dict[str, Any]] = []
    if pdir.is_dir():
        for p in sorted(pdir.iterdir()):
            if p.is_file() and not p.is_symlink():
                deleted.append({"name": p.name, "size": p.stat().st_size, "sha256": sha256_file(p)})
                _shred(p)
            else:
                p.unlink()
        pdir.rmdir()
    if pdir.exists():
        raise PackageError(f"package {m.package_id} could not be removed from the staging area",
                           hint="check permissions of the staging area and run the command again")
    ws.store.mark_package_deleted(m.package_id, at=now)
    return deleted


def _residual_scan(ws: Workspace, names: list[str], *, exclude: Path | None = None) -> dict[str, Any]:
    """Scan the staging area (but ``exclude``) for NIRs and ``names`` (the source's patients)."""
    from ecluse.scan import scan_paths

    paths = ([ws.staging] if exclude is None else
             [p for p in ws.staging.iterdir() if p.resolve() != exclude.resolve()])
    # The compiled pattern databases are kept in the workspace (never those holding the names).
    report = scan_paths(paths, min_confidence=ws.settings.residual_min_confidence, extra_terms=names,
                        cache_dir=ws.root / "cache")
    floor = ws.settings.residual_min_confidence
    return {"files_scanned": report.files_scanned, "protected_files": len(report.protected_files),
            "findings": report.count(floor), "names_checked": len(names),
            "kinds": sorted(report.counts_by_kind(floor))}


def _sample_names(stored_source: str, limit: int = 2000) -> list[str]:
    """Up to ``limit`` birth names of the source's patients, for the residual scan (never logged)."""
    try:
        names = open_source(SourceSpec.from_stored(stored_source)).sample_names(limit * 2)
    except Exception:  # the source may be gone after a migration: scan for NIRs only
        return []
    return sorted({n for n in names if len(n) >= 4})[:limit]


def _certificate(ws: Workspace, m: StoredMigration, *, reason: str, deleted: list[dict[str, Any]],
                 residual: dict[str, Any], by: str, now: datetime,
                 receipts: list[str] | None = None) -> Path:
    cert_id = new_id("CERT-", 6)
    ws.record(by, "package.delete",
              objects={"migration": m.id, "package": m.package_id or "none", "certificate": cert_id},
              details={"reason": reason, "files": len(deleted), "residual_findings": residual["findings"]},
              now=now)
    cp = ws.checkpoint(now)
    doc = {
        "format": "ecluse-deletion-certificate/v1", "certificate_id": cert_id, "reason": reason,
        "migration_id": m.id, "mandate": {"id": m.mandate_id, "sha256": m.mandate_sha256},
        "package_id": m.package_id, "deleted_files": deleted, "deleted_at": now.isoformat(),
        "receipt_sha256": receipts[0] if receipts else None, "receipts_sha256": receipts or [],
        "residual_scan": residual,
        "audit_checkpoint": cp.note, "issued_by": {"workspace": ws.note_signer.name,
                                                   "key_id": ws.cert_public_key.key_id_hex},
    }
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    sig = minisign.sign(ws.cert_key, data,
                        trusted_comment=f"ecluse-certificate id={cert_id} migration={m.id} reason={reason}",
                        untrusted_comment="deletion certificate signed by the Écluse workspace")
    out = ws.certificates_dir / f"{cert_id}.json"
    out.write_bytes(data)
    out.with_name(out.name + ".minisig").write_text(sig)
    ws.store.add_certificate(cert_id, m.id, kind=reason, path=str(out), at=now)
    ws.record("system", "certificate.issue", objects={"migration": m.id, "certificate": cert_id}, now=now)
    return out


def _check_staged(ws: Workspace, m: StoredMigration, actor: Actor, now: datetime) -> None:
    """The staged package must still be the one that was signed; otherwise the migration fails."""
    assert m.package_id is not None
    pkg = ws.store.package(m.package_id)
    assert pkg is not None
    pdir = Path(pkg["path"])
    if pkg["deleted_at"]:
        return
    try:
        manifest = load_manifest(pdir, [minisign.PublicKey.from_text(_exporter(ws, m).public_key)])
        check_files(pdir, manifest)
    except PackageError as exc:
        deleted = _delete_package(ws, m, now)
        residual = _residual_scan(ws, _sample_names(m.source))
        cert = _certificate(ws, m, reason="failed", deleted=deleted, residual=residual,
                            by=actor.person.email, now=now)
        st, sg = _signed(actor, "fail", m.id, now, reason="staged package integrity")
        ws.store.transition(m.id, expect=m.state, to="failed", actor=actor.person.id, at=now,
                            statement=st, signature=sg)
        ws.record(actor.person.email, "migration.state", objects={"migration": m.id},
                  details={"from": m.state, "to": "failed"}, now=now)
        raise PackageError(f"the staged package of {m.id} no longer matches what was signed "
                           f"({exc.message}); the migration has failed",
                           hint=f"the package was deleted (certificate {cert.name}); report a security "
                           "incident and start again from a new mandate") from exc


def _exporter(ws: Workspace, m: StoredMigration) -> Any:
    person = ws.store.person_by(id=m.exported_by or "")
    if person is None:
        raise MigrationError(f"the exporter of {m.id} is not registered any more")
    return person


def close(ws: Workspace, migration_id: str, actor: Actor, *, now: datetime) -> Path:
    """Delete the package and every trace of it, check nothing remains, issue a certificate."""
    _require_role(actor, ("operator",), "close a migration")
    m = load_migration(ws, migration_id)
    states.check_step("close", m.state)
    assert m.package_id is not None
    receipts = [sha256_file(r) for r in _receipts(ws, m.package_id)]
    _check_staged(ws, m, actor, now)
    pkg = ws.store.package(m.package_id)
    names = _sample_names(m.source)  # read once, for the scans before and after deletion
    before = _residual_scan(ws, names, exclude=Path(pkg["path"]) if pkg else None)
    if before["findings"]:  # plaintext beside the package: nothing is deleted until it is dealt with
        raise PackageError(f"the staging area holds {before['findings']} likely patient-data findings "
                           f"({', '.join(before['kinds'])}) besides the encrypted package; nothing was deleted",
                           hint=f"run 'ecluse scan {ws.staging}' to see where, remove them, then close again")
    deleted = _delete_package(ws, m, now)
    residual = _residual_scan(ws, names)
    if residual["findings"]:
        raise PackageError(f"after deletion the staging area still holds {residual['findings']} "
                           f"likely patient-data findings ({', '.join(residual['kinds'])})",
                           hint=f"run 'ecluse scan {ws.staging}', remove them, then close again; "
                           "report a security incident")
    st, sg = _signed(actor, "close", migration_id, now, package=m.package_id)
    ws.store.transition(migration_id, expect="received", to="closed", actor=actor.person.id, at=now,
                        statement=st, signature=sg)
    ws.record(actor.person.email, "migration.state", objects={"migration": migration_id},
              details={"from": "received", "to": "closed"}, now=now)
    return _certificate(ws, m, reason="closed", deleted=deleted, residual=residual, by=actor.person.email,
                        now=now, receipts=receipts)


def purge_expired(ws: Workspace, *, now: datetime) -> list[Path]:
    """Delete the package of every migration whose mandate has expired, with a certificate each."""
    out = []
    for m in ws.store.migrations(states=("planned", "approved", "exported", "received")):
        if datetime.fromisoformat(m.expires_at) > now:
            continue
        deleted = _delete_package(ws, m, now)
        residual = _residual_scan(ws, _sample_names(m.source))
        cert = _certificate(ws, m, reason="expired", deleted=deleted, residual=residual, by="system", now=now)
        statement = orjson.dumps({"step": "expire", "migration": m.id, "at": now.isoformat()}).decode()
        sig = minisign.sign(ws.cert_key, statement.encode(), trusted_comment=f"ecluse-step expire migration={m.id}")
        ws.store.transition(m.id, expect=m.state, to="expired", actor="system", at=now, statement=statement,
                            signature=sig)
        ws.record("system", "migration.state", objects={"migration": m.id},
                  details={"from": m.state, "to": "expired"}, now=now)
        out.append(cert)
    return out


def utcnow() -> datetime:
    return datetime.now(UTC)

