"""Scoped, streaming reads from the synthetic legacy LIS (``schema.sql``).

The query is built from the scope so that the database never hands over what the mandate
does not allow: columns outside the allowed patient fields are selected as ``NULL``, free
text is selected only when comments are allowed, rows outside the sites, period and
categories are filtered in SQL; a result with no category is kept only if its code and label
reveal no category outside the scope (``ecluse.formats.categories``). Patients come grouped
with their requests and results, in patient order, over a range of patient ids so that
several processes can share the work.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from ecluse.errors import ConfigError
from ecluse.formats.categories import classify
from ecluse.formats.records import PATIENT_FIELD_GROUPS, Patient, Request, Result

__all__ = ["Counts", "Group", "LegacyQuery", "connect", "count", "iter_groups", "split_ranges"]

_PATIENT_COLS = (
    "nir", "nir_owner", "ins", "ins_oid", "identity_status", "birth_name", "used_name",
    "given_names", "sex", "birth_date", "birth_place", "address", "postcode", "city",
    "phone", "email", "blood_group",
)
_RESULT_COLS = ("loinc", "label", "value", "value_type", "unit", "ref_low", "ref_high",
                "flag", "status", "category", "observed_at")


@dataclass(frozen=True, slots=True)
class LegacyQuery:
    """What may be read: sites, collection period (inclusive dates), patient field groups,
    sensitive categories, whether free text comes along, and whether results are wanted."""

    sites: tuple[str, ...]
    period_start: str  # YYYY-MM-DD
    period_end: str  # YYYY-MM-DD, inclusive
    patient_fields: frozenset[str]
    categories: frozenset[str] = frozenset()
    comments: bool = False
    results: bool = True


@dataclass(frozen=True, slots=True)
class Counts:
    patients: int
    requests: int
    results: int


Group = tuple[Patient, list[tuple[Request, list[Result]]]]


@dataclass(slots=True)
class _Sql:
    where: str
    params: Sequence[object] = field(default_factory=list)


def connect(path: Path) -> sqlite3.Connection:
    """Open a legacy LIS read-only; a missing or foreign file is a ConfigError."""
    if not path.is_file():
        raise ConfigError(f"legacy database not found: {path}",
                          hint="create one with 'ecluse synth PATH --patients N' or give the right path")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("SELECT ipp FROM patients LIMIT 0")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ConfigError(f"{path.name} is not a legacy LIS database of the expected schema",
                          hint="see docs/synthetic-lis.md for the schema") from exc
    return conn


def _next_day(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _request_filter(q: LegacyQuery, alias: str) -> _Sql:
    marks = ",".join("?" * len(q.sites))
    return _Sql(
        f"{alias}.site_finess IN ({marks}) AND {alias}.collected_at >= ? AND {alias}.collected_at < ?",
        [*q.sites, q.period_start, _next_day(q.period_end)],
    )


def _category_filter(q: LegacyQuery) -> _Sql:
    if not q.categories:
        return _Sql("s.category IS NULL")
    marks = ",".join("?" * len(q.categories))
    return _Sql(f"(s.category IS NULL OR s.category IN ({marks}))", sorted(q.categories))


def count(conn: sqlite3.Connection, q: LegacyQuery) -> Counts:
    """How many patients, requests and results the query would read (for the volume ceiling)."""
    rf = _request_filter(q, "r")
    n_req, n_pat = conn.execute(
        f"SELECT count(*), count(DISTINCT r.patient_id) FROM requests r WHERE {rf.where}", rf.params
    ).fetchone()
    n_res = 0
    if q.results:
        cf = _category_filter(q)
        (n_res,) = conn.execute(
            f"SELECT count(*) FROM results s JOIN requests r ON s.request_id = r.id "
            f"WHERE {rf.where} AND {cf.where}", [*rf.params, *cf.params]
        ).fetchone()
    return Counts(int(n_pat), int(n_req), int(n_res))


def split_ranges(conn: sqlite3.Connection, parts: int) -> list[tuple[int, int]]:
    """Split the patient id space into ``parts`` inclusive ranges of similar size."""
    lo, hi = conn.execute("SELECT min(id), max(id) FROM patients").fetchone()
    if lo is None:
        return []
    step = max(1, (hi - lo + parts) // parts)
    return [(a, min(hi, a + step - 1)) for a in range(lo, hi + 1, step)]


def iter_groups(conn: sqlite3.Connection, q: LegacyQuery, id_range: tuple[int, int]) -> Iterator[Group]:
    """Yield each in-scope patient of ``id_range`` with its in-scope requests and results."""
    allowed = {"id"}
    for group in q.patient_fields:
        allowed.update(PATIENT_FIELD_GROUPS[group])
    pcols = ", ".join(c if c in allowed else "NULL" for c in _PATIENT_COLS)
    pcomment = "p.comment" if q.comments else "NULL"
    rcomment = "r.comment" if q.comments else "NULL"
    scomment = "s.comment" if q.comments else "NULL"
    rf = _request_filter(q, "r")
    lo, hi = id_range

    patients = conn.execute(
        f"SELECT p.id, p.ipp, {pcols}, {pcomment} FROM patients p "
        f"WHERE p.id BETWEEN ? AND ? AND EXISTS (SELECT 1 FROM requests r "
        f"WHERE r.patient_id = p.id AND {rf.where}) ORDER BY p.id",
        [lo, hi, *rf.params],
    )
    requests = conn.cursor().execute(
        f"SELECT r.patient_id, r.id, r.request_no, r.site_finess, r.prescriber_rpps, r.collected_at, "
        f"r.received_at, r.specimen_type, r.status, {rcomment} FROM requests r "
        f"WHERE r.patient_id BETWEEN ? AND ? AND {rf.where} ORDER BY r.patient_id, r.id",
        [lo, hi, *rf.params],
    )
    results: Iterator[tuple[object, ...]] = iter(())
    if q.results:
        cf = _category_filter(q)
        results = conn.cursor().execute(
            f"SELECT s.patient_id, s.request_id, CAST(s.id AS TEXT), {', '.join('s.' + c for c in _RESULT_COLS)}, "
            f"{scomment} FROM results s JOIN requests r ON s.request_id = r.id "
            f"WHERE s.patient_id BETWEEN ? AND ? AND {rf.where} AND {cf.where} "
            # (patient_id, rowid) is the order of the results_patient index: no sort. Results are
            # put back under their request below, in id order.
            f"ORDER BY s.patient_id, s.id",
            [lo, hi, *rf.params, *cf.params],
        )
    # Rows come in patient order from the three cursors; groupby (in C) cuts them per patient.
    req_groups = groupby(requests, itemgetter(0))
    res_groups = groupby(results, itemgetter(0))
    next_req = next(req_groups, None)
    next_res = next(res_groups, None)
    make_req, make_res = Request, Result
    cats = q.categories
    drop: dict[tuple[object, object], bool] = {}  # (code, label) -> leave out; few distinct pairs
    for prow in patients:
        pid = prow[0]
        pat = Patient(*prow[1:])
        ipp = pat.id
        reqs: list[tuple[Request, list[Result]]] = []
        by_id: dict[Any, tuple[str, list[Result]]] = {}
        if next_req is not None and next_req[0] == pid:
            for row in next_req[1]:
                lst: list[Result] = []
                reqs.append((make_req(row[2], ipp, *row[3:]), lst))
                by_id[row[1]] = (row[2], lst)
            next_req = next(req_groups, None)
        if next_res is not None and next_res[0] == pid:
            for row in next_res[1]:
                # A result the LIS left without a category may still be sensitive by its code or
                # label (ecluse.formats.categories): the same rule as for every other source.
                if row[12] is None:
                    key = (row[3], row[4])
                    leave_out = drop.get(key)
                    if leave_out is None:
                        cat = classify(row[3], row[4])
                        leave_out = drop[key] = cat is not None and cat not in cats
                    if leave_out:
                        continue
                name, lst = by_id[row[1]]
                lst.append(make_res(row[2], name, ipp, *row[3:]))  # type: ignore[arg-type]
            next_res = next(res_groups, None)
        yield pat, reqs
