"""The package: encrypted files plus a signed manifest (docs/package-format.md).

::

    <package id>/
        manifest.json           what the package holds (no patient value)
        manifest.json.minisig   minisign signature by the exporting person; its trusted
                                comment binds package id, mandate hash and recipients
        Patient.1.ndjson.age    age v1 (X25519) encrypted FHIR R4 Bulk Data NDJSON
        Observation.1.ndjson.age ...
        hl7v25.1.hl7.age        a lab format (HL7 v2.5, HPRIM Santé, CSV), for the
        hprim-sante.1.hpr.age   recipients that asked for it: one whole file per part
        csv.1.csv.age
"""

from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from ecluse.crypto import minisign
from ecluse.errors import PackageError, SignatureError

__all__ = ["FORMAT", "MANIFEST", "SIGNATURE", "Manifest", "PackageFile", "check_files", "load_manifest",
           "package_comment", "sha256_file"]

FORMAT: Final = "ecluse-package/v1"
MANIFEST: Final = "manifest.json"
SIGNATURE: Final = "manifest.json.minisig"
#: The output formats: FHIR R4 Bulk NDJSON, and the lab formats a package may carry besides
#: (codec name -> file extension). HPRIM Net is read only: it cannot carry every field of a record.
FHIR_NDJSON: Final = "fhir-ndjson"
LAB_FORMATS: Final = {"hl7v25": "hl7", "hprim-sante": "hpr", "csv": "csv"}
#: Media type of each output format, for the manifest.
MEDIA_TYPES: Final = {FHIR_NDJSON: "application/fhir+ndjson", "hl7v25": "x-application/hl7-v2+er7",
                      "hprim-sante": "text/x-hprim-sante", "csv": "text/csv"}
_NAME = re.compile(r"^(?:(Patient|ServiceRequest|Specimen|Observation|DiagnosticReport)\.[0-9]{1,4}\.ndjson|"
                   + "|".join(f"{re.escape(f)}\\.[0-9]{{1,4}}\\.{ext}" for f, ext in LAB_FORMATS.items())
                   + r")\.age$")


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file of a package. ``type`` is the FHIR resource type (``fhir-ndjson``) or the
    format name (lab formats); ``count`` counts resources, or records (patients, requests
    and results) in a lab format; ``recipients`` are the age recipients it is encrypted to."""

    name: str
    type: str
    count: int
    sha256: str
    size: int
    format: str = FHIR_NDJSON
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Manifest:
    package_id: str
    migration_id: str
    mandate_id: str
    mandate_sha256: str
    recipients: tuple[str, ...]
    created: str
    expires: str
    scope: dict[str, Any]
    files: tuple[PackageFile, ...]
    signer_email: str
    signer_key_id: str
    sha256: str

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            out[f.type] = out.get(f.type, 0) + f.count
        return out

    def to_json(self) -> bytes:
        return manifest_bytes(
            package_id=self.package_id, migration_id=self.migration_id, mandate_id=self.mandate_id,
            mandate_sha256=self.mandate_sha256, recipients=self.recipients, created=self.created,
            expires=self.expires, scope=self.scope, files=self.files, signer_email=self.signer_email,
            signer_key_id=self.signer_key_id)


def manifest_bytes(*, package_id: str, migration_id: str, mandate_id: str, mandate_sha256: str,
                   recipients: tuple[str, ...], created: str, expires: str, scope: dict[str, Any],
                   files: tuple[PackageFile, ...], signer_email: str, signer_key_id: str) -> bytes:
    doc = {
        "format": FORMAT, "package_id": package_id, "migration_id": migration_id,
        "mandate": {"id": mandate_id, "sha256": mandate_sha256},
        "recipients": list(recipients), "created": created, "expires": expires,
        "output_formats": sorted({MEDIA_TYPES[f.format] for f in files}),
        "encryption": "age-encryption.org/v1 X25519", "scope": scope,
        "files": [{"name": f.name, "type": f.type, "count": f.count, "sha256": f.sha256, "size": f.size,
                   "format": f.format, "recipients": list(f.recipients or recipients)} for f in files],
        "signer": {"email": signer_email, "key_id": signer_key_id},
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def package_comment(package_id: str, mandate_sha256: str, recipients: tuple[str, ...]) -> str:
    return f"ecluse-package id={package_id} mandate={mandate_sha256} recipients={','.join(recipients)}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 << 20):
            h.update(chunk)
    return h.hexdigest()


def _bad(message: str) -> PackageError:
    return PackageError(message, hint="do not use this package; ask the sender to export it again")


def load_manifest(package_dir: Path, sender_keys: list[minisign.PublicKey]) -> Manifest:
    """Verify the manifest signature against the pinned sender keys, then parse it.

    Nothing is decrypted before this returns. Raises PackageError.
    """
    try:
        data = (package_dir / MANIFEST).read_bytes()
        sig = (package_dir / SIGNATURE).read_text()
    except FileNotFoundError as exc:
        raise _bad(f"{package_dir.name}: {Path(exc.filename or '').name} is missing from the package") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(f"{package_dir.name}: the manifest or its signature cannot be read") from exc
    comment = None
    for key in sender_keys:
        try:
            comment = minisign.verify(key, data, sig)
            break
        except SignatureError:
            continue
    if comment is None:
        raise PackageError(f"{package_dir.name}: the manifest signature does not verify with the "
                           f"sender's pinned key: it was edited, or signed by an unknown key",
                           hint="do not open this package; check the sender key you pinned and ask "
                           "the sender to export again")
    try:
        doc = orjson.loads(data)
        files = tuple(PackageFile(name=f["name"], type=f["type"], count=int(f["count"]),
                                  sha256=f["sha256"], size=int(f["size"]), format=f.get("format", FHIR_NDJSON),
                                  recipients=tuple(f.get("recipients", doc["recipients"])))
                      for f in doc["files"])
        manifest = Manifest(
            package_id=doc["package_id"], migration_id=doc["migration_id"],
            mandate_id=doc["mandate"]["id"], mandate_sha256=doc["mandate"]["sha256"],
            recipients=tuple(doc["recipients"]), created=doc["created"], expires=doc["expires"],
            scope=doc["scope"], files=files, signer_email=doc["signer"]["email"],
            signer_key_id=doc["signer"]["key_id"], sha256=hashlib.sha256(data).hexdigest())
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise _bad(f"{package_dir.name}: the manifest is malformed") from exc
    if doc.get("format") != FORMAT:
        raise _bad(f"{package_dir.name}: unknown package format")
    if comment != package_comment(manifest.package_id, manifest.mandate_sha256, manifest.recipients):
        raise _bad(f"{package_dir.name}: the signed trusted comment does not match the manifest")
    for f in files:
        match = _NAME.match(f.name)
        if not match or not f.name.startswith(f.type + ".") or \
                (f.format == FHIR_NDJSON) != (match.group(1) is not None) or \
                (f.format != FHIR_NDJSON and f.format != f.type):
            raise _bad(f"{package_dir.name}: the manifest lists an invalid file name")
        if not f.recipients or not set(f.recipients) <= set(manifest.recipients):
            raise _bad(f"{package_dir.name}: a file of the manifest is encrypted to a recipient the "
                       f"package does not name")
    return manifest


def check_files(package_dir: Path, manifest: Manifest) -> None:
    """Every file listed is there with its size and SHA-256; nothing else is in the package."""
    present = {p.name for p in package_dir.iterdir()}
    expected = {f.name for f in manifest.files} | {MANIFEST, SIGNATURE}
    extra = sorted(present - expected)
    if extra:
        raise _bad(f"{package_dir.name}: files not listed in the manifest: {', '.join(extra)}")
    missing = sorted(expected - present)
    if missing:
        raise _bad(f"{package_dir.name}: files missing from the package: {', '.join(missing)}")
    for f in manifest.files:
        path = package_dir / f.name
        if path.is_symlink() or not path.is_file():
            raise _bad(f"{package_dir.name}/{f.name} is not a regular file")
        if path.stat().st_size != f.size:
            raise _bad(f"{package_dir.name}/{f.name} has the wrong size (truncated or replaced)")
    # hashlib releases the GIL on large buffers: hash the files on every core at once
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        digests = list(pool.map(sha256_file, [package_dir / f.name for f in manifest.files]))
    for f, digest in zip(manifest.files, digests, strict=True):
        if digest != f.sha256:
            raise _bad(f"{package_dir.name}/{f.name} does not match its SHA-256 in the manifest "
                       f"(altered or replaced)")
