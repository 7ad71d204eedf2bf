"""Pure parsers and writers: bytes or rows in, typed records out. No I/O policy, no DB, no crypto."""

from ecluse.formats.records import (
    IDENTITY_STATUSES,
    INS_OIDS,
    PATIENT_FIELD_GROUPS,
    SENSITIVE_CATEGORIES,
    Patient,
    Request,
    Result,
    minimise_patient,
)

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
