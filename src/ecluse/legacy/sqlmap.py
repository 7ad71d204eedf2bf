"""Any SQL legacy database reachable through SQLAlchemy, read into records through a
declarative TOML mapping (tables and columns to record fields, with conversions).

A mapping names three tables (patients, requests, results), the key and parent-key columns
that link them, the column of each record field, and per-field conversions:

* ``decimal_comma``: ``7,20`` in the database is ``7.20`` in the record;
* ``date:<strftime>`` / ``datetime:<strftime>``: dates stored as text in another format;
* ``translate:<name>``: a local code looked up in ``[translations.<name>]`` (local code to
  LOINC, for instance); an unknown code reads as ``None``, the label stays.

``defaults`` give a constant for a field the legacy system does not hold (``nir_owner =
"insured"`` when its NIR is the insured person's). See ``docs/formats/sql.md``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from ecluse.errors import ConfigError, FormatError
from ecluse.formats._common import Record, group_records
from ecluse.formats.records import Patient, Request, Result

__all__ = ["MAPPINGS_DIR", "Mapping", "SqlFilter", "TableMap", "load_mapping", "read_database",
           "write_database"]

#: Mappings shipped with Écluse (``synth-lis.toml``: the synthetic LIS of ``schema.sql``).
MAPPINGS_DIR: Final = Path(__file__).parent / "mappings"
_RECORDS: Final = {"patients": Patient, "requests": Request, "results": Result}
_IMPLIED: Final = {"requests": {"patient_id"}, "results": {"patient_id", "request_id"}}


@dataclass(frozen=True, slots=True)
class TableMap:
    table: str
    key: str
    #: column holding the parent's key (requests: patient key; results: request key)
    parent: str | None
    fields: dict[str, str]
    convert: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    #: results only: a column holding the patient key, filled on write
    patient_key: str | None = None


@dataclass(frozen=True, slots=True)
class Mapping:
    name: str
    patients: TableMap
    requests: TableMap
    results: TableMap
    translations: dict[str, dict[str, str]]


@dataclass(frozen=True, slots=True)
class SqlFilter:
    """Which requests to read (applied to converted records): collection dates inclusive
    (``YYYY-MM-DD``) and sites. Patients with no request left are not read."""

    collected_from: str | None = None
    collected_to: str | None = None
    sites: frozenset[str] | None = None

    def keep(self, r: Request) -> bool:
        day = (r.collected_at or "")[:10]
        if self.collected_from and (not day or day < self.collected_from):
            return False
        if self.collected_to and (not day or day > self.collected_to):
            return False
        return not (self.sites is not None and r.site_finess not in self.sites)


def _table(doc: dict[str, Any], section: str, source: str) -> TableMap:
    t = doc.get(section)
    if not isinstance(t, dict):
        raise ConfigError(f"mapping has no [{section}] table", hint=f"see docs/formats/sql.md ({source})")
    valid = {f.name for f in fields(_RECORDS[section])} - _IMPLIED.get(section, set())
    fmap = t.get("fields", {})
    for name in (*fmap, *t.get("convert", {}), *t.get("defaults", {})):
        if name not in valid:
            raise ConfigError(f"[{section}] maps an unknown record field: {name}", hint=f"fields: {sorted(valid)}")
    if "id" not in fmap:
        raise ConfigError(f"[{section}.fields] must map id")
    for name, conv in t.get("convert", {}).items():
        kind = str(conv).split(":", 1)[0]
        if kind not in ("decimal_comma", "date", "datetime", "translate", "text"):
            raise ConfigError(f"[{section}.convert] {name}: unknown conversion {kind}")
        if kind == "translate" and str(conv).split(":", 1)[1] not in doc.get("translations", {}):
            raise ConfigError(f"[{section}.convert] {name}: no such translation table")
    parent = t.get("parent")
    if section != "patients" and not parent:
        raise ConfigError(f"[{section}] needs parent = <column holding the parent's key>")
    return TableMap(table=str(t["table"]), key=str(t.get("key", "id")), parent=parent,
                    fields={str(k): str(v) for k, v in fmap.items()},
                    convert={str(k): str(v) for k, v in t.get("convert", {}).items()},
                    defaults={str(k): str(v) for k, v in t.get("defaults", {}).items()},
                    patient_key=t.get("patient_key"))


def load_mapping(path: Path | str) -> Mapping:
    """Read a mapping file; a bare name (``synth-lis``) is looked up among the shipped ones."""
    p = Path(path)
    if not p.suffix and not p.exists():
        p = MAPPINGS_DIR / f"{p.name}.toml"
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the SQL mapping {p.name}") from exc
    translations = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in doc.get("translations", {}).items()}
    return Mapping(name=str(doc.get("name", p.stem)), patients=_table(doc, "patients", p.name),
                   requests=_table(doc, "requests", p.name), results=_table(doc, "results", p.name),
                   translations=translations)


Conv = Callable[[Any], str | None]


def _reader_conv(spec: str, translations: dict[str, dict[str, str]]) -> Conv:
    kind, _, arg = spec.partition(":")
    if kind == "decimal_comma":
        return lambda v: None if v is None else str(v).replace(",", ".")
    if kind == "date":
        return lambda v: None if v in (None, "") else datetime.strptime(str(v), arg).date().isoformat()
    if kind == "datetime":
        return lambda v: None if v in (None, "") else datetime.strptime(str(v), arg).isoformat()
    if kind == "translate":
        table = translations[arg]
        return lambda v: None if v is None else table.get(str(v))
    return lambda v: None if v is None else str(v)


def _writer_conv(spec: str, translations: dict[str, dict[str, str]]) -> Callable[[str | None], Any]:
    kind, _, arg = spec.partition(":")
    if kind == "decimal_comma":
        return lambda v: None if v is None else v.replace(".", ",")
    if kind == "date":
        return lambda v: None if v is None else date.fromisoformat(v).strftime(arg)
    if kind == "datetime":
        return lambda v: None if v is None else datetime.fromisoformat(v).strftime(arg)
    if kind == "translate":
        back = {b: a for a, b in translations[arg].items()}
        return lambda v: None if v is None else back.get(v, v)
    return lambda v: v


def _plan(t: TableMap, m: Mapping) -> list[tuple[str, str, Conv]]:
    text = _reader_conv("text", m.translations)
    return [(name, col, _reader_conv(t.convert[name], m.translations) if name in t.convert else text)
            for name, col in t.fields.items()]


def _engine(url: str) -> sa.Engine:
    try:
        return sa.create_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigError("cannot open the legacy database URL") from exc


def read_database(url: str, mapping: Mapping, *, where: SqlFilter | None = None) -> Iterator[Record]:
    """Every patient of the legacy database, grouped with its requests and results."""
    engine = _engine(url)
    try:
        yield from _read(engine, mapping, where)
    except sa.exc.SQLAlchemyError as exc:
        raise FormatError("the legacy database cannot be read with this mapping", file=mapping.name) from exc
    finally:
        engine.dispose()


def _read(engine: sa.Engine, m: Mapping, where: SqlFilter | None) -> Iterator[Record]:
    md = sa.MetaData()
    P, Q, S = m.patients, m.requests, m.results
    with engine.connect() as conn:
        tp = sa.Table(P.table, md, autoload_with=conn)
        tq = sa.Table(Q.table, md, autoload_with=conn)
        ts = sa.Table(S.table, md, autoload_with=conn)
        assert Q.parent is not None and S.parent is not None
        pplan, qplan, splan = _plan(P, m), _plan(Q, m), _plan(S, m)
        pcols = [tp.c[P.key], *(tp.c[c] for _, c, _ in pplan)]
        qcols = [tq.c[Q.parent], tq.c[Q.key], *(tq.c[c] for _, c, _ in qplan)]
        scols = [tq.c[Q.parent], ts.c[S.parent], *(ts.c[c] for _, c, _ in splan)]
        opts = {"stream_results": True, "yield_per": 2000}
        prow = conn.execution_options(**opts).execute(sa.select(*pcols).order_by(tp.c[P.key]))
        qrows = iter(conn.execution_options(**opts).execute(
            sa.select(*qcols).order_by(tq.c[Q.parent], tq.c[Q.key])))
        srows = iter(conn.execution_options(**opts).execute(
            sa.select(*scols).select_from(ts.join(tq, ts.c[S.parent] == tq.c[Q.key]))
            .order_by(tq.c[Q.parent], tq.c[Q.key], ts.c[S.key])))
        q = next(qrows, None)
        s = next(srows, None)
        for row in prow:
            pkey = row[0]
            pv: dict[str, Any] = dict(P.defaults)
            for (name, _, conv), v in zip(pplan, row[1:], strict=True):
                pv[name] = conv(v)
            patient = Patient(**pv)
            reqs: list[tuple[Request, list[Result]]] = []
            while q is not None and q[0] == pkey:
                qkey = q[1]
                qv: dict[str, Any] = dict(Q.defaults)
                for (name, _, conv), v in zip(qplan, q[2:], strict=True):
                    qv[name] = conv(v)
                req = Request(patient_id=patient.id, **qv)
                results: list[Result] = []
                while s is not None and s[0] == pkey and s[1] == qkey:
                    sv: dict[str, Any] = dict(S.defaults)
                    for (name, _, conv), v in zip(splan, s[2:], strict=True):
                        sv[name] = conv(v)
                    if sv.get("value_type") is None:
                        sv["value_type"] = "NM"
                    results.append(Result(request_id=req.id, patient_id=patient.id, **sv))
                    s = next(srows, None)
                if where is None or where.keep(req):
                    reqs.append((req, results))
                q = next(qrows, None)
            if where is not None and not reqs:
                continue
            yield patient
            for req, results in reqs:
                yield req
                yield from results


def write_database(url: str, mapping: Mapping, records: Iterable[Record], *, batch: int = 5000) -> int:
    """Insert grouped records into the mapped tables (which must exist); returns the number of
    patients written. Integer keys are assigned after the largest key present."""
    engine = _engine(url)
    m = mapping
    P, Q, S = m.patients, m.requests, m.results
    wp = {n: _writer_conv(c, m.translations) for n, c in P.convert.items()}
    wq = {n: _writer_conv(c, m.translations) for n, c in Q.convert.items()}
    ws = {n: _writer_conv(c, m.translations) for n, c in S.convert.items()}

    def row(obj: Patient | Request | Result, t: TableMap,
            conv: dict[str, Callable[[str | None], Any]]) -> dict[str, Any]:
        out = {}
        for name, col in t.fields.items():
            if name == "id" and col == t.key:
                continue
            v = getattr(obj, name)
            out[col] = conv[name](v) if name in conv else v
        return out

    n = 0
    try:
        with engine.begin() as conn:
            md = sa.MetaData()
            tp = sa.Table(P.table, md, autoload_with=conn)
            tq = sa.Table(Q.table, md, autoload_with=conn)
            ts = sa.Table(S.table, md, autoload_with=conn)
            keys = [conn.execute(sa.select(sa.func.max(t.c[k]))).scalar() or 0
                    for t, k in ((tp, P.key), (tq, Q.key), (ts, S.key))]
            pk, qk, sk = (int(k) for k in keys)
            bp: list[dict[str, Any]] = []
            bq: list[dict[str, Any]] = []
            bs: list[dict[str, Any]] = []

            def flush() -> None:
                for t, b in ((tp, bp), (tq, bq), (ts, bs)):
                    if b:
                        conn.execute(sa.insert(t), b)
                        b.clear()

            for patient, reqs in group_records(records):
                n += 1
                pk += 1
                r = row(patient, P, wp)
                if P.fields.get("id") != P.key:
                    r[P.key] = pk
                else:
                    pk -= 1
                bp.append(r)
                pkey = r.get(P.key, patient.id)
                for req, results in reqs:
                    qk += 1
                    rq = row(req, Q, wq)
                    if Q.fields.get("id") != Q.key:
                        rq[Q.key] = qk
                    assert Q.parent is not None and S.parent is not None
                    rq[Q.parent] = pkey
                    bq.append(rq)
                    qkey = rq.get(Q.key, req.id)
                    for res in results:
                        rs = row(res, S, ws)
                        if S.fields.get("id") == S.key:
                            rs[S.key] = res.id
                        else:
                            sk += 1
                            rs[S.key] = sk
                        rs[S.parent] = qkey
                        if S.patient_key:
                            rs[S.patient_key] = pkey
                        bs.append(rs)
                if len(bs) + len(bq) + len(bp) >= batch:
                    flush()
            flush()
    except sa.exc.SQLAlchemyError as exc:
        raise FormatError("the records cannot be written with this mapping", file=m.name) from exc
    finally:
        engine.dispose()
    return n
