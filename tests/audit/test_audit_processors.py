"""Each processor alone: what it accepts, what it refuses, and that refusals never echo the value."""

from __future__ import annotations

from typing import Any

import pytest

from ecluse.audit.processors import check_shapes, reject_patient_like_values, require_fields
from ecluse.errors import AuditError


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "time": "2025-01-02T03:04:05.000000Z",
        "actor": "alice@lab.example",
        "action": "package.export",
        "objects": {"migration": "mig-42", "package": "pkg-7f3a9c"},
        "details": {"records": 1200, "dry_run": False, "note": None},
    }
    base.update(overrides)
    return base


def test_a_normal_event_passes_every_processor_unchanged() -> None:
    e = event()
    assert reject_patient_like_values(check_shapes(require_fields(dict(e)))) == e


@pytest.mark.parametrize("field", ["time", "actor", "action"])
@pytest.mark.parametrize("value", ["", "   ", None, 3])
def test_require_fields_refuses_missing_or_empty(field: str, value: object) -> None:
    with pytest.raises(AuditError, match=field):
        require_fields(event(**{field: value}))


@pytest.mark.parametrize("action", ["export", "Package.Export", "package.", ".x", "package export"])
def test_require_fields_refuses_actions_that_are_not_dotted_names(action: str) -> None:
    with pytest.raises(AuditError, match="dotted"):
        require_fields(event(action=action))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("objects", {"package": 3}),
        ("objects", {"bad key": "x"}),
        ("objects", {"": "x"}),
        ("details", {"ratio": 0.5}),
        ("details", {"nested": {"a": 1}}),
        ("details", {"big": 2**64}),
        ("details", {f"k{i}": i for i in range(33)}),
        ("details", {"long": "x" * 513}),
        ("details", ["not", "a", "mapping"]),
    ],
)
def test_check_shapes_refuses_what_is_not_small_and_flat(field: str, value: object) -> None:
    with pytest.raises(AuditError):
        check_shapes(event(**{field: value}))


NIRS = [
    "1850578006084",  # 13 digits
    "185057800608436",  # 15 digits, with key
    "1 85 05 78 006 084 36",
    "2.85.05.78.006.084",
    "2 85 05 2A 006 084 36",  # Corsica
    "185052B00608436",
]
PHONES = [
    "0612345678",
    "06 12 34 56 78",
    "06.12.34.56.78",
    "+33 6 12 34 56 78",
    "+33612345678",
    "0033612345678",
]


@pytest.mark.parametrize("value", NIRS + PHONES)
@pytest.mark.parametrize("field", ["objects", "details"])
def test_patient_like_numbers_are_refused_and_the_error_names_the_key_not_the_value(
    field: str, value: str
) -> None:
    with pytest.raises(AuditError) as info:
        reject_patient_like_values(event(**{field: {"thing": f"ref {value} here"}}))
    assert f"{field}['thing']" in info.value.message
    assert value not in info.value.message
    assert value not in (info.value.hint or "")


def test_a_nir_given_as_an_integer_is_refused() -> None:
    with pytest.raises(AuditError, match="NIR"):
        reject_patient_like_values(event(details={"n": 1850578006084}))


def test_a_nir_as_actor_is_refused() -> None:
    with pytest.raises(AuditError, match="actor"):
        reject_patient_like_values(event(actor="185057800608436"))


def test_email_in_details_is_refused_but_staff_email_as_actor_or_object_is_accepted() -> None:
    with pytest.raises(AuditError, match=r"details\['contact'\]"):
        reject_patient_like_values(event(details={"contact": "jean.dupont@example.org"}))
    reject_patient_like_values(event(actor="bob@lab.example", objects={"account": "carol@lab.example"}))


@pytest.mark.parametrize(
    "value",
    [
        "mig-2025-01-02-0001",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # sha-256 hex
        "123e4567-e89b-12d3-a456-426614174000",
        "export-20250102.csv",
        "2025-01-02T03:04:05.000000Z",
        "2147483648",
        "record 12345",
    ],
)
def test_ordinary_ids_hashes_dates_and_sizes_are_accepted(value: str) -> None:
    reject_patient_like_values(event(objects={"thing": value}, details={"thing": value, "bytes": 2147483648}))
