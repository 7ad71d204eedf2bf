"""The internal records every format reads into and writes from.

Three record types carry a lab's data: :class:`Patient`, :class:`Request` (one lab request:
it becomes a FHIR ServiceRequest, Specimen and DiagnosticReport) and :class:`Result` (one
observation). Values are kept as text exactly as the source gave them (numbers in canonical
``.`` decimal form), dates as ISO 8601 text, so that every conversion is lossless and cheap.

The scope of a mandate (``ecluse.migration.scope``) works on these records, whatever the
source or target format: it removes patient fields, free-text comments and results of
sensitive categories that the mandate does not allow.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Final

import cython

__all__ = [
    "IDENTITY_STATUSES",
    "INS_OIDS",
    "PATIENT_FIELD_GROUPS",
    "SENSITIVE_CATEGORIES",
    "Patient",
    "Request",
    "Result",
    "minimise_patient",
]

#: INS OIDs (formats.md §0.5): production INS-NIR, INS-NIA, test INS-NIR, demo INS-NIR.
INS_OIDS: Final[dict[str, str]] = {
    "1.2.250.1.213.1.4.8": "INS-NIR",
    "1.2.250.1.213.1.4.9": "INS-NIA",
    "1.2.250.1.213.1.4.10": "INS-NIR-TEST",
    "1.2.250.1.213.1.4.11": "INS-NIR-DEMO",
}

#: RNIV identity statuses, as HL7 table 0445 / FR Core codes.
#: PROV provisional, RECUP retrieved (INSi, not validated), VALI validated, QUAL qualified.
IDENTITY_STATUSES: Final[tuple[str, ...]] = ("PROV", "RECUP", "VALI", "QUAL")

#: Categories of results that the leak exposed; excluded unless a mandate names them.
SENSITIVE_CATEGORIES: Final[tuple[str, ...]] = (
    "hiv",
    "genetic",
    "pregnancy",
    "tumour_marker",
    "drug_monitoring",
)


@cython.dataclasses.dataclass
@cython.cclass
class Patient:
    """A patient as the lab knows them. ``id`` is the lab's own patient id (IPP)."""

    id: str
    nir: str | None = None
    #: whose NIR the legacy system holds: "patient" (their own) or "insured" (ouvrant droit)
    nir_owner: str | None = None
    ins: str | None = None
    ins_oid: str | None = None
    identity_status: str | None = None
    birth_name: str | None = None
    used_name: str | None = None
    #: birth first names, space separated, first one first
    given_names: str | None = None
    sex: str | None = None  # M, F, U
    birth_date: str | None = None  # YYYY-MM-DD
    birth_place: str | None = None  # INSEE COG code of the commune
    address: str | None = None
    postcode: str | None = None
    city: str | None = None
    phone: str | None = None
    email: str | None = None
    blood_group: str | None = None  # "A+", "O-", ...
    comment: str | None = None  # free text


@cython.dataclasses.dataclass
@cython.cclass
class Request:
    """One lab request: a sample taken at a site, prescribed by someone, with its results."""

    id: str
    patient_id: str
    site_finess: str | None = None
    prescriber_rpps: str | None = None
    collected_at: str | None = None  # ISO 8601 with offset
    received_at: str | None = None
    specimen_type: str | None = None  # HL7 table 0487: BLD, SER, PLAS, UR ...
    status: str | None = None  # final, partial, corrected ...
    comment: str | None = None  # free text (clinical information)


@cython.dataclasses.dataclass
@cython.cclass
class Result:
    """One observation of a request."""

    id: str
    request_id: str
    patient_id: str
    loinc: str | None = None
    label: str | None = None  # French label as the lab prints it
    value: str | None = None
    value_type: str = "NM"  # NM numeric, ST string, CE coded
    unit: str | None = None  # UCUM code
    ref_low: str | None = None
    ref_high: str | None = None
    flag: str | None = None  # HL7 table 0078: L H LL HH N A ...
    status: str | None = None  # F, P, C ...
    category: str | None = None  # one of SENSITIVE_CATEGORIES, or None
    observed_at: str | None = None
    comment: str | None = None  # free text


#: Patient fields a mandate can allow, by group. ``id`` is always kept: it is the lab's
#: pseudonymous key that links requests and results.
PATIENT_FIELD_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "ins": ("ins", "ins_oid", "identity_status"),
    "nir": ("nir", "nir_owner"),
    "names": ("birth_name", "used_name", "given_names"),
    "sex": ("sex",),
    "birth_date": ("birth_date",),
    "birth_place": ("birth_place",),
    "address": ("address", "postcode", "city"),
    "phone": ("phone",),
    "email": ("email",),
    "blood_group": ("blood_group",),
}

_ALL_PATIENT_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(Patient))


def minimise_patient(patient: Patient, allowed: frozenset[str], *, comments: bool) -> Patient:
    """Return a copy of ``patient`` with every field outside ``allowed`` (names of
    :data:`PATIENT_FIELD_GROUPS`) emptied, and the free-text comment kept only if
    ``comments`` is true."""
    keep = {"id"}
    for group in allowed:
        keep.update(PATIENT_FIELD_GROUPS[group])
    if comments:
        keep.add("comment")
    changes: dict[str, Any] = {name: None for name in _ALL_PATIENT_FIELDS if name not in keep}
    return replace(patient, **changes) if changes else patient

