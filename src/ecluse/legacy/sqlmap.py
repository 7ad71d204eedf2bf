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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from operator import attrgetter, itemgetter
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
        shipped = ", ".join(sorted(q.stem for q in MAPPINGS_DIR.glob("*.toml")))
        raise ConfigError(f"cannot read the SQL mapping {p.name}",
                          hint=f"give a mapping file (docs/formats/sql.md) or a shipped mapping: {shipped}") from exc
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


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    """What to select of one table and how to turn a row into record fields."""

    table: str
    names: tuple[str, ...]
    columns: tuple[sa.ColumnElement[Any], ...]
    #: (position, conversion) of the values that need one: text columns are read as they are
    convs: tuple[tuple[int, Conv], ...]
    defaults: dict[str, str]


def _read_plan(t: TableMap, m: Mapping, table: sa.Table) -> _ReadPlan:
    text = _reader_conv("text", m.translations)
    convs: list[tuple[int, Conv]] = []
    for i, (name, col) in enumerate(t.fields.items()):
        if name in t.convert:
            convs.append((i, _reader_conv(t.convert[name], m.translations)))
        elif not isinstance(table.c[col].type, sa.String):
            convs.append((i, text))
    return _ReadPlan(t.table, tuple(t.fields), tuple(table.c[c] for c in t.fields.values()), tuple(convs),
                     dict(t.defaults))


def _fields(plan: _ReadPlan, row: Sequence[Any], skip: int) -> dict[str, Any]:
    """Record fields of ``row[skip:]``; a value that does not convert names the table and field only."""
    vals: Sequence[Any] = row[skip:]
    if plan.convs:
        vals = list(vals)
        for i, conv in plan.convs:
            try:
                vals[i] = conv(vals[i])
            except ValueError:
                # from None: the conversion's own message quotes the value
                raise FormatError("a value does not convert with this mapping", record=plan.table,
                                  field=plan.names[i]) from None
    kw: dict[str, Any] = dict(plan.defaults)
    kw.update(zip(plan.names, vals, strict=True))
    return kw


def _engine(url: str) -> sa.Engine:
    try:
        # hide_parameters: a driver error's text never carries the values of the statement
        return sa.create_engine(url, hide_parameters=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigError("cannot open the legacy database URL") from exc


def read_database(url: str, mapping: Mapping, *, where: SqlFilter | None = None) -> Iterator[Record]:
    """Every patient of the legacy database, grouped with its requests and results, streamed in the
    order of the patient key."""
    engine = _engine(url)
    try:
        yield from _read(engine, mapping, where)
    except sa.exc.SQLAlchemyError as exc:
        raise FormatError("the legacy database cannot be read with this mapping", file=mapping.name) from exc
    finally:
        engine.dispose()


def _rows(result: sa.CursorResult[Any]) -> Iterator[Sequence[Any]]:
    for part in result.partitions():
        yield from part


def _read(engine: sa.Engine, m: Mapping, where: SqlFilter | None) -> Iterator[Record]:
    md = sa.MetaData()
    P, Q, S = m.patients, m.requests, m.results
    with engine.connect() as conn:
        tp = sa.Table(P.table, md, autoload_with=conn)
        tq = sa.Table(Q.table, md, autoload_with=conn)
        ts = sa.Table(S.table, md, autoload_with=conn)
        assert Q.parent is not None and S.parent is not None  # _table requires them
        pp, qp, sp = _read_plan(P, m, tp), _read_plan(Q, m, tq), _read_plan(S, m, ts)
        opts = {"stream_results": True, "yield_per": 2000}
        prows = _rows(conn.execution_options(**opts).execute(
            sa.select(tp.c[P.key], *pp.columns).order_by(tp.c[P.key])))
        qrows = _rows(conn.execution_options(**opts).execute(
            sa.select(tq.c[Q.parent], tq.c[Q.key], *qp.columns).order_by(tq.c[Q.parent], tq.c[Q.key])))
        srows = _rows(conn.execution_options(**opts).execute(
            sa.select(tq.c[Q.parent], ts.c[S.parent], *sp.columns)
            .select_from(ts.join(tq, ts.c[S.parent] == tq.c[Q.key]))
            .order_by(tq.c[Q.parent], tq.c[Q.key], ts.c[S.key])))
        q = next(qrows, None)
        s = next(srows, None)
        for row in prows:
            pkey = row[0]
            patient = Patient(**_fields(pp, row, 1))
            pid = patient.id
            reqs: list[tuple[Request, list[Result]]] = []
            while q is not None and q[0] == pkey:
                qkey = q[1]
                req = Request(patient_id=pid, **_fields(qp, q, 2))
                rid = req.id
                results: list[Result] = []
                while s is not None and s[0] == pkey and s[1] == qkey:
                    sv = _fields(sp, s, 2)
                    if sv.get("value_type") is None:
                        sv["value_type"] = "NM"
                    results.append(Result(request_id=rid, patient_id=pid, **sv))
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


# ---------------------------------------------------------------- write

class _Keys:
    """The key of each row of one table, as it is written: the record id when the key column
    holds it (for an integer column, an id written as a plain integer), else the next integer
    after the largest key present or written so far. A key already taken makes the insert fail:
    nothing is ever overwritten."""

    def __init__(self, t: TableMap, table: sa.Table, largest: Any) -> None:
        self.from_id = t.fields.get("id") == t.key
        self.integer = isinstance(table.c[t.key].type, sa.Integer)
        self.last = _as_int(largest)

    def __call__(self, rid: str) -> Any:
        if self.from_id:
            if not self.integer:
                return rid
            k = _as_int(rid, None)
            if k is not None:
                self.last = max(self.last, k)
                return k
        # an id the integer key cannot hold as it is (HPRIM Net numbers results <request>-<n>)
        self.last += 1
        return self.last


def _as_int(v: Any, default: int | None = 0) -> Any:
    """``v`` as an int when it is one written canonically (``"12"``, not ``"012"``, ``"1_2"`` nor ``"١"``)."""
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit() and v.isascii() and (v[0] != "0" or v == "0"):
        return int(v)
    return default


Row = tuple[Any, ...]


def _getter(names: Sequence[str | int], attr: bool) -> Callable[[Any], Row]:
    """``attrgetter``/``itemgetter`` of ``names``, always giving a tuple."""
    if len(names) == 1:
        one = names[0]
        return (lambda o: (getattr(o, str(one)),)) if attr else (lambda o: (o[one],))
    if not names:
        return lambda o: ()
    return attrgetter(*(str(n) for n in names)) if attr else itemgetter(*names)


@dataclass(frozen=True, slots=True)
class _WritePlan:
    """How records of one kind become rows: the mapped fields (the id left out when the key column
    holds it), their conversions, then the key, the parent key and the patient key columns."""

    table: sa.Table
    record: str
    names: tuple[str, ...]
    get: Callable[[Any], Row]
    convs: tuple[tuple[int, Callable[[str | None], Any]], ...]
    columns: list[str]

    def values(self, obj: Patient | Request | Result) -> Row:
        vals = self.get(obj)
        if not self.convs:
            return vals
        out = list(vals)
        for i, conv in self.convs:
            try:
                out[i] = conv(out[i])
            except ValueError:
                # from None: the conversion's own message quotes the value
                raise FormatError("a value does not convert back with this mapping",
                                  record=f"{self.record} {obj.id}", field=self.names[i]) from None
        return tuple(out)


def _write_plan(t: TableMap, m: Mapping, table: sa.Table, record: str) -> _WritePlan:
    items = [(n, c) for n, c in t.fields.items() if not (n == "id" and c == t.key)]
    names = tuple(n for n, _ in items)
    convs = tuple((i, _writer_conv(t.convert[n], m.translations)) for i, n in enumerate(names)
                  if n in t.convert)
    extra = [c for c in (t.key, t.parent, t.patient_key) if c]
    return _WritePlan(table, record, names, _getter(names, attr=True), convs, [c for _, c in items] + extra)


def _inserter(conn: sa.Connection, table: sa.Table, columns: list[str]) -> Callable[[list[Row]], None]:
    """An executemany of ``INSERT INTO table (columns)``, compiled by SQLAlchemy for the dialect.

    When no column type processes its values for this driver (text and integers: the usual case),
    the rows go to the driver's ``executemany`` as they are, about three times faster than Core's
    per-row parameter processing; otherwise through Core."""
    stmt = sa.insert(table)
    compiled = stmt.compile(dialect=conn.dialect, column_keys=columns)
    sql = str(compiled)
    if any(table.c[c].type.bind_processor(conn.dialect) is not None for c in columns):
        def through_core(rows: list[Row]) -> None:
            conn.execute(stmt, [dict(zip(columns, r, strict=True)) for r in rows])
        return through_core
    if compiled.positional and compiled.positiontup is not None:
        order = [columns.index(name) for name in compiled.positiontup]
        if order == list(range(len(columns))):
            def in_order(rows: list[Row]) -> None:
                conn.exec_driver_sql(sql, rows)
            return in_order
        pick = _getter(order, attr=False)

        def positional(rows: list[Row]) -> None:
            conn.exec_driver_sql(sql, list(map(pick, rows)))
        return positional
    names = [compiled.escaped_bind_names.get(c, c) for c in columns]

    def named(rows: list[Row]) -> None:
        conn.exec_driver_sql(sql, [dict(zip(names, r, strict=True)) for r in rows])
    return named


def write_database(url: str, mapping: Mapping, records: Iterable[Record], *, batch: int = 5000,
                   fresh: bool = False) -> int:
    """Insert grouped records into the mapped tables (which must exist), in one transaction; returns
    the number of patients written. Integer keys are assigned after the largest key present.

    Rows go in batches of ``batch`` rows through the driver's ``executemany``; memory holds one
    batch and one patient. A target that already holds rows gets new ones after them; a key or
    unique column already taken fails the whole write, which leaves the target as it was.

    ``fresh=True`` says the caller has just created the target for this write: it is refused
    (:class:`ConfigError`) unless every mapped table is empty, and on SQLite durability is relaxed
    for this connection (``synchronous=OFF``, a larger page cache), so a crash midway leaves a
    target to throw away, not to repair."""
    if batch < 1:
        raise ConfigError("batch must be at least 1")
    engine = _engine(url)
    m = mapping
    P, Q, S = m.patients, m.requests, m.results
    n = 0
    try:
        with engine.begin() as conn:
            md = sa.MetaData()
            tp = sa.Table(P.table, md, autoload_with=conn)
            tq = sa.Table(Q.table, md, autoload_with=conn)
            ts = sa.Table(S.table, md, autoload_with=conn)
            if fresh:
                _prepare_fresh(conn, (tp, tq, ts))
            kp, kq, ks = (_Keys(t, table, conn.execute(sa.select(sa.func.max(table.c[t.key]))).scalar())
                          for t, table in ((P, tp), (Q, tq), (S, ts)))
            wp, wq, ws = _write_plan(P, m, tp, "Patient"), _write_plan(Q, m, tq, "Request"), \
                _write_plan(S, m, ts, "Result")
            ins = [_inserter(conn, w.table, w.columns) for w in (wp, wq, ws)]
            bp: list[Row] = []
            bq: list[Row] = []
            bs: list[Row] = []
            bufs = (bp, bq, bs)
            with_patient_key = S.patient_key is not None
            for patient, reqs in group_records(records):
                n += 1
                pkey = kp(patient.id)
                bp.append((*wp.values(patient), pkey))
                for req, results in reqs:
                    qkey = kq(req.id)
                    bq.append((*wq.values(req), qkey, pkey))
                    for res in results:
                        if with_patient_key:
                            bs.append((*ws.values(res), ks(res.id), qkey, pkey))
                        else:
                            bs.append((*ws.values(res), ks(res.id), qkey))
                if len(bs) + len(bq) + len(bp) >= batch:
                    for insert, buf in zip(ins, bufs, strict=True):
                        if buf:
                            insert(buf)
                            buf.clear()
            for insert, buf in zip(ins, bufs, strict=True):
                if buf:
                    insert(buf)
    except sa.exc.SQLAlchemyError as exc:
        raise FormatError("the records cannot be written with this mapping", file=m.name) from exc
    finally:
        engine.dispose()
    return n


def _prepare_fresh(conn: sa.Connection, tables: Iterable[sa.Table]) -> None:
    for table in tables:
        if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None:
            raise ConfigError(f"the target table {table.name} already holds rows: a fresh load is refused",
                              hint="load into an empty database, or without fresh to add to it")
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA synchronous = OFF")
        conn.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MiB
