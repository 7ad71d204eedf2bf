"""The mandate: the scope a lab (the controller) signs, and the only source of an extraction.

A mandate is a TOML file with a detached minisign signature (``<file>.minisig``) made
with the controller's own key. It is refused when unsigned, altered after signing,
signed by someone other than the registered controller it names, expired, or malformed;
the message names the field or the reason.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

from ecluse.crypto import age, minisign
from ecluse.errors import KeyFileError, MandateError, SignatureError
from ecluse.formats.fhir import RESOURCE_TYPES
from ecluse.formats.records import PATIENT_FIELD_GROUPS, SENSITIVE_CATEGORIES
from ecluse.migration.package import FHIR_NDJSON, LAB_FORMATS

__all__ = ["Mandate", "Party", "Recipient", "Scope", "load_mandate", "parse_mandate", "read_mandate_file",
           "sign_mandate", "verify_mandate"]

MIN_APPROVALS: Final = 2
#: What a recipient may receive (ecluse.migration.package.LAB_FORMATS).
OUTPUT_FORMATS: Final = (FHIR_NDJSON, *LAB_FORMATS)


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    contact: str
    finess: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    email: str
    age_recipient: str
    format: str = FHIR_NDJSON


@dataclass(frozen=True, slots=True)
class Scope:
    sites: tuple[str, ...]
    period_start: date
    period_end: date
    resource_types: tuple[str, ...]
    patient_fields: frozenset[str]
    free_text: bool
    sensitive_categories: frozenset[str]
    max_patients: int
    max_resources: int

    def left_out(self) -> dict[str, list[str]]:
        """What the scope excludes, for the summary a person reads."""
        return {
            "patient_fields": sorted(set(PATIENT_FIELD_GROUPS) - self.patient_fields),
            "sensitive_categories": sorted(set(SENSITIVE_CATEGORIES) - self.sensitive_categories),
            "resource_types": [t for t in RESOURCE_TYPES if t not in self.resource_types],
            "free_text": [] if self.free_text else ["all free-text comments"],
        }


@dataclass(frozen=True, slots=True)
class Mandate:
    id: str
    purpose: str
    expires: datetime
    approvals_required: int
    controller: Party
    processor: Party
    recipients: tuple[Recipient, ...]
    scope: Scope
    sha256: str
    text: str

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires


def _req(table: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in table:
        raise MandateError(f"mandate field '{where}{key}' is missing",
                           hint="see docs/mandate.md for the fields a mandate must have")
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise MandateError(f"mandate field '{where}{key}' has the wrong type",
                           hint="see docs/mandate.md for the type of each field")
    return value


def _str_list(table: dict[str, Any], key: str, where: str, *, default: list[str] | None = None) -> list[str]:
    if key not in table and default is not None:
        return default
    value = _req(table, key, where, list)
    if not all(isinstance(v, str) for v in value):
        raise MandateError(f"mandate field '{where}{key}' must be a list of strings")
    return list(value)


def _as_datetime(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, 23, 59, 59, tzinfo=UTC)
    raise MandateError(f"mandate field '{field}' must be a date or a date-time")


def parse_mandate(data: bytes, *, source: str = "mandate") -> Mandate:
    """Parse and validate a mandate (without its signature)."""
    try:
        text = data.decode("utf-8")
        doc = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MandateError(f"{source} is not a valid UTF-8 TOML file ({exc})",
                           hint="fix the syntax; 'ecluse mandate template' prints a valid example") from exc
    if doc.get("version", 1) != 1:
        raise MandateError("mandate field 'version' must be 1")
    ctl = _req(doc, "controller", "", dict)
    proc = _req(doc, "processor", "", dict)
    controller = Party(name=_req(ctl, "name", "controller.", str),
                       contact=_req(ctl, "contact", "controller.", str),
                       finess=_req(ctl, "finess", "controller.", str),
                       email=_req(ctl, "email", "controller.", str).strip().lower())
    processor = Party(name=_req(proc, "name", "processor.", str),
                      contact=_req(proc, "contact", "processor.", str))
    recipients = []
    for i, r in enumerate(_req(doc, "recipients", "", list)):
        where = f"recipients[{i}]."
        if not isinstance(r, dict):
            raise MandateError(f"mandate field 'recipients[{i}]' must be a table")
        key = _req(r, "age_recipient", where, str)
        try:
            age.parse_recipient(key)
        except KeyFileError as exc:
            raise MandateError(f"mandate field '{where}age_recipient' is not an age X25519 public key",
                               hint="it starts with 'age1'; the recipient gets it from 'ecluse keygen --age'") from exc
        fmt = r.get("format", FHIR_NDJSON)
        if fmt not in OUTPUT_FORMATS:
            raise MandateError(f"mandate field '{where}format' must be one of {', '.join(OUTPUT_FORMATS)}")
        recipients.append(Recipient(name=_req(r, "name", where, str),
                                    email=_req(r, "email", where, str).strip().lower(),
                                    age_recipient=key, format=fmt))
    if not recipients:
        raise MandateError("mandate field 'recipients' must name at least one recipient")
    approvals = _req(doc, "approvals_required", "", int)
    if approvals < MIN_APPROVALS:
        raise MandateError(f"mandate field 'approvals_required' must be at least {MIN_APPROVALS}",
                           hint="two distinct people must approve before anything is extracted")
    sc = _req(doc, "scope", "", dict)
    period = _req(sc, "period", "scope.", dict)
    start = _req(period, "start", "scope.period.", date)
    end = _req(period, "end", "scope.period.", date)
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise MandateError("mandate fields 'scope.period.start/end' must be dates (YYYY-MM-DD)")
    if end < start:
        raise MandateError("mandate field 'scope.period.end' is before 'scope.period.start'")
    sites = _str_list(sc, "sites", "scope.")
    if not sites:
        raise MandateError("mandate field 'scope.sites' must name at least one lab site (FINESS)")
    types = _str_list(sc, "resource_types", "scope.", default=list(RESOURCE_TYPES))
    for t in types:
        if t not in RESOURCE_TYPES:
            raise MandateError(f"mandate field 'scope.resource_types' has an unknown type {t!r}",
                               hint=f"allowed: {', '.join(RESOURCE_TYPES)}")
    if "Patient" not in types:
        raise MandateError("mandate field 'scope.resource_types' must include Patient",
                           hint="results cannot be migrated without the patient they belong to")
    lab_formats = sorted({r.format for r in recipients} - {FHIR_NDJSON})
    if lab_formats and "ServiceRequest" not in types:
        raise MandateError(f"mandate field 'scope.resource_types' must include ServiceRequest for a recipient "
                           f"in {', '.join(lab_formats)}",
                           hint="in HL7 v2.5, HPRIM Santé and CSV a result travels inside its request")
    fields_ = _str_list(sc, "patient_fields", "scope.")
    for f in fields_:
        if f not in PATIENT_FIELD_GROUPS:
            raise MandateError(f"mandate field 'scope.patient_fields' has an unknown field {f!r}",
                               hint=f"allowed: {', '.join(PATIENT_FIELD_GROUPS)}")
    cats = _str_list(sc, "sensitive_categories", "scope.", default=[])
    for c in cats:
        if c not in SENSITIVE_CATEGORIES:
            raise MandateError(f"mandate field 'scope.sensitive_categories' has an unknown category {c!r}",
                               hint=f"allowed: {', '.join(SENSITIVE_CATEGORIES)}")
    free_text = sc.get("free_text", False)
    if not isinstance(free_text, bool):
        raise MandateError("mandate field 'scope.free_text' must be true or false")
    ceiling = _req(sc, "ceiling", "scope.", dict)
    max_patients = _req(ceiling, "patients", "scope.ceiling.", int)
    max_resources = _req(ceiling, "resources", "scope.ceiling.", int)
    if max_patients <= 0 or max_resources <= 0:
        raise MandateError("mandate fields 'scope.ceiling.*' must be positive")
    scope = Scope(sites=tuple(sites), period_start=start, period_end=end, resource_types=tuple(types),
                  patient_fields=frozenset(fields_), free_text=free_text,
                  sensitive_categories=frozenset(cats), max_patients=max_patients,
                  max_resources=max_resources)
    mandate_id = _req(doc, "id", "", str)
    if not mandate_id or len(mandate_id) > 100 or not mandate_id.replace("-", "").replace("_", "").isalnum():
        raise MandateError("mandate field 'id' must be letters, digits, '-' or '_' (at most 100)")
    return Mandate(id=mandate_id, purpose=_req(doc, "purpose", "", str),
                   expires=_as_datetime(_req(doc, "expires", "", (date, datetime)), "expires"),
                   approvals_required=approvals, controller=controller, processor=processor,
                   recipients=tuple(recipients), scope=scope,
                   sha256=hashlib.sha256(data).hexdigest(), text=text)


def trusted_comment(mandate_id: str, sha256: str) -> str:
    return f"ecluse-mandate id={mandate_id} sha256={sha256}"


def sign_mandate(path: Path, secret_key: minisign.SecretKey) -> Path:
    """Sign a mandate file; writes ``<path>.minisig`` (verifiable with the minisign CLI)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MandateError(f"cannot read the mandate file {path.name}", hint="check the path") from exc
    mandate = parse_mandate(data, source=path.name)
    sig = minisign.sign(secret_key, data, trusted_comment=trusted_comment(mandate.id, mandate.sha256),
                        untrusted_comment=f"mandate {mandate.id} signed by the controller")
    out = path.with_name(path.name + ".minisig")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(sig)
    tmp.replace(out)
    return out


def read_mandate_file(path: Path) -> tuple[bytes, str | None]:
    """The mandate's bytes and its detached signature (None when ``<path>.minisig`` is absent)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MandateError(f"cannot read the mandate file {path}",
                           hint="give the path of the signed mandate (its .minisig beside it)") from exc
    sig_path = path.with_name(path.name + ".minisig")
    return data, sig_path.read_text() if sig_path.is_file() else None


def load_mandate(path: Path, controller_key: Path, *, now: datetime) -> Mandate:
    """Read, check the signature against the controller's ``.pub`` file and the expiry."""
    data, sig = read_mandate_file(path)
    return verify_mandate(data, sig, minisign.PublicKey.from_file(controller_key), now=now, source=path.name)


def verify_mandate(data: bytes, signature: str | None, controller_key: minisign.PublicKey, *,
                   now: datetime, source: str = "mandate") -> Mandate:
    """Parse, check the controller's signature and the expiry. Raises MandateError."""
    if signature is None:
        raise MandateError(f"{source} is not signed (no {source}.minisig beside it)",
                           hint="the controller signs it with 'ecluse mandate sign FILE --key KEY'")
    mandate = parse_mandate(data, source=source)
    try:
        comment = minisign.verify(controller_key, data, signature)
    except SignatureError as exc:
        raise MandateError(f"{source}: the signature does not verify with the controller's key: "
                           f"it was altered after signing, or signed by someone else",
                           hint="ask the controller to sign the mandate again") from exc
    if comment != trusted_comment(mandate.id, mandate.sha256):
        raise MandateError(f"{source}: the signature's trusted comment does not match this mandate",
                           hint="ask the controller to sign the mandate again")
    if mandate.is_expired(now):
        raise MandateError(f"mandate {mandate.id} expired on {mandate.expires.isoformat()}",
                           hint="the controller must issue and sign a new mandate")
    return mandate
