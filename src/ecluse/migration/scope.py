"""A mandate's scope applied to records, whatever the format they come from.

The legacy-database path applies the scope in SQL (``ecluse.legacy.reader``); this module
applies the same rules to a stream of records read from a file (HPRIM, HL7, CSV), for
``ecluse convert``: sites, collection period, patient fields, free text, sensitive categories.
A patient with no request left in scope is not passed on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from ecluse.formats.records import Patient, Request, Result, minimise_patient
from ecluse.migration.mandate import Scope

__all__ = ["apply_scope", "in_scope"]

Record = Patient | Request | Result
_Group = tuple[Patient, list[tuple[Request, list[Result]]]]


def in_scope(request: Request, scope: Scope) -> bool:
    """A request is in scope when its site is named and its collection date is in the period."""
    if request.site_finess not in scope.sites or not request.collected_at:
        return False
    day = request.collected_at[:10]
    return scope.period_start.isoformat() <= day <= scope.period_end.isoformat()


def _groups(records: Iterable[Record]) -> Iterator[_Group]:
    current: _Group | None = None
    last: tuple[Request, list[Result]] | None = None
    for rec in records:
        if isinstance(rec, Patient):
            if current is not None:
                yield current
            current, last = (rec, []), None
        elif current is None:
            continue  # a request or result before any patient: nothing to attach it to
        elif isinstance(rec, Request):
            last = (rec, [])
            current[1].append(last)
        elif last is not None:
            last[1].append(rec)
    if current is not None:
        yield current


def apply_scope(records: Iterable[Record], scope: Scope) -> Iterator[Record]:
    """Yield only what ``scope`` allows, in the grouped order the writers expect."""
    comments = scope.free_text
    for patient, requests in _groups(records):
        kept = [(r, res) for r, res in requests if in_scope(r, scope)]
        if not kept:
            continue
        yield minimise_patient(patient, scope.patient_fields, comments=comments)
        for req, results in kept:
            yield req if comments else replace(req, comment=None)
            if "Observation" not in scope.resource_types:
                continue
            for res in results:
                if res.category is not None and res.category not in scope.sensitive_categories:
                    continue
                yield res if comments else replace(res, comment=None)
