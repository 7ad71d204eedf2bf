"""A mandate's scope applied to records, whatever the format or database they come from.

The synthetic LIS applies the scope in SQL (``ecluse.legacy.reader``); every other source (an
HL7, HPRIM or CSV file, a foreign SQL database read through a mapping) hands over patient
groups that pass through :func:`scope_groups` here: sites, collection period, patient fields,
free text, sensitive categories, results or not. Both paths decide a result's category the
same way: the category it carries, else the one its LOINC code or label reveals
(:mod:`ecluse.formats.categories`), so that an HIV serology read from another lab's archive,
which carries no category, is left out unless the mandate names ``hiv``.
A patient with no request left in scope is not passed on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from ecluse.formats._common import Record, flatten, group_records
from ecluse.formats.categories import category_of
from ecluse.formats.records import Request, Result, minimise_patient
from ecluse.legacy.reader import Group, LegacyQuery
from ecluse.migration.mandate import Scope

__all__ = ["apply_scope", "in_scope", "query_of", "result_allowed", "scope_groups"]


def query_of(scope: Scope) -> LegacyQuery:
    """The mandate's scope as the query every source applies."""
    return LegacyQuery(sites=scope.sites, period_start=scope.period_start.isoformat(),
                       period_end=scope.period_end.isoformat(), patient_fields=scope.patient_fields,
                       categories=scope.sensitive_categories, comments=scope.free_text,
                       results="Observation" in scope.resource_types)


def in_scope(request: Request, q: LegacyQuery) -> bool:
    """A request is in scope when its site is named and its collection date is in the period."""
    if request.site_finess not in q.sites or not request.collected_at:
        return False
    day = request.collected_at[:10]
    return q.period_start <= day <= q.period_end


def result_allowed(result: Result, q: LegacyQuery) -> bool:
    """A result goes when its category (carried, or revealed by its code or label) is allowed."""
    cat = category_of(result.category, result.loinc, result.label)
    return cat is None or cat in q.categories


def scope_groups(groups: Iterable[Group], q: LegacyQuery) -> Iterator[Group]:
    """Only what ``q`` allows of each patient group; patients with no request left are dropped."""
    comments = q.comments
    for patient, requests in groups:
        kept: list[tuple[Request, list[Result]]] = []
        for req, results in requests:
            if not in_scope(req, q):
                continue
            if not comments and req.comment is not None:
                req = replace(req, comment=None)
            out: list[Result] = []
            if q.results:
                for res in results:
                    if not result_allowed(res, q):
                        continue
                    out.append(res if comments or res.comment is None else replace(res, comment=None))
            kept.append((req, out))
        if kept:
            yield minimise_patient(patient, q.patient_fields, comments=comments), kept


def apply_scope(records: Iterable[Record], scope: Scope) -> Iterator[Record]:
    """Yield only what ``scope`` allows, in the grouped order the writers expect."""
    return flatten(scope_groups(group_records(records), query_of(scope)))
