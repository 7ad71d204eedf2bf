"""CSV exports read and written through a declarative column mapping (TOML).

A mapping names, for each column, the record field it carries (``patient.nir``,
``request.collected_at``, ``result.value``...), plus the separator, the decimal mark and the
date formats. The default mapping is Écluse's own export: one row per result, the patient's
and the request's columns repeated on each row (a request without results, or a patient
without requests, has one row with the remaining columns empty).
See ``docs/formats/csv.md``.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import date, datetime
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, Final

from ecluse.errors import FormatError
from ecluse.formats._common import Chunker, Group, Record, check_patient, flatten, group_records, split_lines
from ecluse.formats.records import Patient, Request, Result

__all__ = ["DEFAULT_MAPPING", "CsvCodec", "CsvMapping", "load_csv_mapping", "parse_csv_mapping"]

_KINDS: Final[dict[str, type[Patient] | type[Request] | type[Result]]] = {
    "patient": Patient,
    "request": Request,
    "result": Result,
}
#: fields that are implied by the grouping and never mapped to a column
_IMPLIED: Final = frozenset({"request.patient_id", "result.patient_id", "result.request_id"})
_DECIMAL_FIELDS: Final = frozenset({"result.value", "result.ref_low", "result.ref_high"})
_DATE_FIELDS: Final = frozenset({"patient.birth_date"})
_DATETIME_FIELDS: Final = frozenset({"request.collected_at", "request.received_at", "result.observed_at"})
_NUM_DOT: Final = re.compile(r"-?[0-9]+\.[0-9]+")
_NUM_COMMA: Final = re.compile(r"-?[0-9]+,[0-9]+")


def _all_targets() -> list[str]:
    out = []
    for kind, cls in _KINDS.items():
        for f in fields(cls):
            target = f"{kind}.{f.name}"
            if target not in _IMPLIED:
                out.append(target)
    return out


@dataclass(frozen=True, slots=True)
class CsvMapping:
    """Which column carries which record field, and how values are spelled."""

    #: (column name, ``kind.field``), in column order
    columns: tuple[tuple[str, str], ...]
    delimiter: str = ","
    decimal: str = "."
    #: ``iso`` or a ``strftime`` pattern for ``patient.birth_date``
    date_format: str = "iso"
    #: ``iso`` or a ``strftime`` pattern for request and result date-times
    datetime_format: str = "iso"
    encoding: str = "utf-8"


#: Écluse's own export: every field, column named after it.
DEFAULT_MAPPING: Final = CsvMapping(columns=tuple((t, t) for t in _all_targets()))


def parse_csv_mapping(doc: dict[str, Any], *, source: str = "mapping") -> CsvMapping:
    """A :class:`CsvMapping` from a parsed TOML document (tables ``[csv]`` and ``[columns]``)."""
    opts = doc.get("csv", {})
    cols = doc.get("columns")
    if not isinstance(opts, dict) or not isinstance(cols, dict) or not cols:
        raise FormatError("a CSV mapping needs a [columns] table", file=source,
                          hint="map each column name to a record field such as patient.id")
    valid = set(_all_targets())
    seen: set[str] = set()
    pairs = []
    for column, target in cols.items():
        if not isinstance(target, str) or target not in valid:
            raise FormatError("column mapped to an unknown record field", file=source, field=str(column),
                              hint="fields are " + ", ".join(sorted(valid)))
        if target in seen:
            raise FormatError("record field mapped twice", file=source, field=str(column))
        seen.add(target)
        pairs.append((str(column), target))
    if "patient.id" not in seen:
        raise FormatError("a CSV mapping must map patient.id", file=source)
    if any(t.startswith("result.") for t in seen) and "request.id" not in seen:
        raise FormatError("a CSV mapping with results must map request.id", file=source)
    mapping = CsvMapping(
        columns=tuple(pairs),
        delimiter=str(opts.get("delimiter", ",")),
        decimal=str(opts.get("decimal", ".")),
        date_format=str(opts.get("date_format", "iso")),
        datetime_format=str(opts.get("datetime_format", "iso")),
        encoding=str(opts.get("encoding", "utf-8")),
    )
    if len(mapping.delimiter) != 1 or mapping.decimal not in (".", ","):
        raise FormatError("delimiter must be one character and decimal '.' or ','", file=source, field="csv")
    return mapping


def load_csv_mapping(path: Path) -> CsvMapping:
    """Read a CSV mapping file (TOML)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FormatError("cannot read the CSV mapping", file=path.name) from exc
    return parse_csv_mapping(doc, source=path.name)


Conv = Callable[[str], str]


def _getter(attrs: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """``obj -> tuple of attrs`` (always a tuple, even for zero or one attribute)."""
    if not attrs:
        return lambda obj: ()
    if len(attrs) == 1:
        get = attrgetter(attrs[0])
        return lambda obj: (get(obj),)
    return attrgetter(*attrs)


def _getter_items(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """``seq -> tuple of seq[i] for i in positions`` (always a tuple)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda seq: (seq[only],)
    return itemgetter(*positions)


class CsvCodec:
    """Reader and writer of CSV files under a :class:`CsvMapping`."""

    name = "csv"

    def __init__(self, mapping: CsvMapping = DEFAULT_MAPPING) -> None:
        self.mapping = mapping

    # ------------------------------------------------------------------ conversions
    def _read_conv(self, target: str) -> Conv | None:
        m = self.mapping
        if target in _DECIMAL_FIELDS and m.decimal == ",":
            return lambda v: v.replace(",", ".") if _NUM_COMMA.fullmatch(v) else v
        if target in _DATE_FIELDS and m.date_format != "iso":
            fmt = m.date_format
            return lambda v: datetime.strptime(v, fmt).date().isoformat()
        if target in _DATETIME_FIELDS and m.datetime_format != "iso":
            fmt = m.datetime_format
            return lambda v: datetime.strptime(v, fmt).isoformat()
        return None

    def _write_conv(self, target: str) -> Conv | None:
        m = self.mapping
        if target in _DECIMAL_FIELDS and m.decimal == ",":
            return lambda v: v.replace(".", ",") if _NUM_DOT.fullmatch(v) else v
        if target in _DATE_FIELDS and m.date_format != "iso":
            fmt = m.date_format
            return lambda v: date.fromisoformat(v).strftime(fmt)
        if target in _DATETIME_FIELDS and m.datetime_format != "iso":
            fmt = m.datetime_format
            return lambda v: datetime.fromisoformat(v).strftime(fmt)
        return None

    # ------------------------------------------------------------------ read
    def sniff(self, head: bytes) -> bool:
        first = head.split(b"\n", 1)[0].rstrip(b"\r").lstrip(b"\xef\xbb\xbf")
        names = [c for c, _ in self.mapping.columns[:3]]
        want = self.mapping.delimiter.join(names).encode("utf-8")
        return first.startswith(want)

    def read(self, data: bytes, *, filename: str) -> Iterator[Record]:
        return flatten(self.read_groups(data, filename=filename))

    def read_groups(self, data: bytes, *, filename: str) -> Iterator[Group]:
        try:
            text = data.decode(self.mapping.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise FormatError(f"not valid {self.mapping.encoding}", file=filename) from exc
        if text.startswith("\ufeff"):
            text = text[1:]
        if "\x00" in text:
            raise FormatError("NUL character in a CSV file", file=filename)
        return self._groups(text, filename)

    def _groups(self, text: str, filename: str) -> Iterator[Group]:
        delim = self.mapping.delimiter
        rows: Iterator[tuple[int, list[str]]]
        lines = split_lines(text) if '"' not in text else []
        if lines and max(map(len, lines)) <= csv.field_size_limit():
            # fast path: no quote anywhere, so no cell spans lines or holds a delimiter: a row is its
            # line split on the delimiter, as the csv module reads it (an empty line is an empty row;
            # the line break ending the text starts no row)
            if not lines[-1]:
                lines.pop()
            rows = ((k, line.split(delim) if line else []) for k, line in enumerate(lines, 1))
        else:
            # The csv module reads lines with their ends. io.StringIO would copy the text into a
            # buffer of 4 bytes per character (13.9 GB of memory for a 2.3 GB export); lines cut
            # from the text one at a time cost nothing more, when no line ends with a lone CR.
            source: Iterable[str] = (_lines_keepends(text) if text.count("\r") == text.count("\r\n")
                                     else io.StringIO(text, newline=""))
            reader = csv.reader(source, delimiter=delim, strict=True)
            rows = ((reader.line_num, row) for row in reader)
        try:
            header = next(rows, (1, None))[1]
        except csv.Error as exc:
            raise FormatError("malformed CSV header", file=filename, line=1) from exc
        if header is None:
            return
        where = {name: i for i, name in enumerate(header)}
        plan: dict[str, list[tuple[str, int, Conv | None]]] = {k: [] for k in _KINDS}
        for column, target in self.mapping.columns:
            if column not in where:
                raise FormatError("mapped column missing from the header", file=filename, line=1, field=column)
            kind, attr = target.split(".", 1)
            plan[kind].append((attr, where[column], self._read_conv(target)))
        ncol = len(header)
        pid_i = where[next(c for c, t in self.mapping.columns if t == "patient.id")]
        rid_i = next((where[c] for c, t in self.mapping.columns if t == "request.id"), None)
        sid_i = next((where[c] for c, t in self.mapping.columns if t == "result.id"), None)
        has_results = bool(plan["result"])

        # per kind: (attribute, column) pairs, and the conversions of the attributes that have one
        pairs = {k: [(attr, i) for attr, i, _ in plan[k]] for k in _KINDS}
        convs = {k: [(attr, i, conv) for attr, i, conv in plan[k] if conv is not None] for k in _KINDS}

        def build(kind: str, row: list[str], line: int) -> dict[str, Any]:
            out = {attr: row[i] for attr, i in pairs[kind] if row[i]}
            for attr, i, conv in convs[kind]:
                v = row[i]
                if v == "":
                    continue
                try:
                    out[attr] = conv(v)
                except ValueError:
                    raise FormatError("value does not match the mapping's format", file=filename,
                                      line=line, field=header[i]) from None
            return out

        # results without conversions and with an id column: positional construction, the cells
        # picked in the order of Result's fields (an unmapped field picks the "" appended to the row)
        fast = sid_i is not None and not convs["result"]
        where_attr = dict(pairs["result"])
        names = [f.name for f in fields(Result)]
        pick = itemgetter(*[where_attr.get(name, ncol) for name in names])
        at_vt = names.index("value_type")
        if names[1:3] != ["request_id", "patient_id"]:  # pragma: no cover - guards the record layout
            raise RuntimeError("Result fields changed: update the CSV reader")

        patient: Patient | None = None
        reqs: list[tuple[Request, list[Result]]] = []
        request: Request | None = None
        results: list[Result] = []
        line = 1
        try:
            for line, row in rows:
                if not row:
                    continue
                if len(row) != ncol:
                    raise FormatError("row does not have as many cells as the header", file=filename, line=line)
                pid = row[pid_i]
                if not pid:
                    raise FormatError("row without a patient id", file=filename, line=line, field=header[pid_i])
                if patient is None or pid != patient.id:
                    if patient is not None:
                        yield patient, reqs
                    patient = Patient(**build("patient", row, line))
                    reqs, request, results = [], None, []
                rid = row[rid_i] if rid_i is not None else ""
                if not rid:
                    continue
                if request is None or rid != request.id:
                    request = Request(patient_id=pid, **build("request", row, line))
                    results = []
                    reqs.append((request, results))
                if not has_results:
                    continue
                sid = row[sid_i] if sid_i is not None else ""
                if sid_i is not None and not sid:
                    continue
                if fast:
                    row.append("")
                    args: list[Any] = [v or None for v in pick(row)]
                    args[1], args[2] = rid, pid
                    if args[at_vt] is None:
                        args[at_vt] = "NM"
                    results.append(Result(*args))
                    continue
                values = build("result", row, line)
                if sid_i is None:
                    if not values:
                        continue
                    values["id"] = f"{rid}-{len(results) + 1}"
                results.append(Result(patient_id=pid, request_id=rid, **values))
        except csv.Error as exc:
            raise FormatError("malformed CSV row", file=filename, line=line + 1) from exc
        if patient is not None:
            yield patient, reqs

    # ------------------------------------------------------------------ write
    def write(self, records: Iterable[Record]) -> bytes:
        return b"".join(self.write_chunks(records))

    def write_chunks(self, records: Iterable[Record]) -> Iterator[bytes]:
        chunk = Chunker()
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, delimiter=self.mapping.delimiter, lineterminator="\r\n")
        writer.writerow([c for c, _ in self.mapping.columns])
        width = len(self.mapping.columns)
        plan: dict[str, list[tuple[int, str, Conv | None]]] = {k: [] for k in _KINDS}
        for i, (_, target) in enumerate(self.mapping.columns):
            kind, attr = target.split(".", 1)
            plan[kind].append((i, attr, self._write_conv(target)))

        # a row is the patient's, the request's and the result's values (None is written as an
        # empty cell by the csv module) picked in column order
        order: list[int] = []
        getters: dict[str, Callable[[Any], tuple[Any, ...]]] = {}
        fixes: dict[str, list[tuple[int, str, Conv]]] = {}
        for kind in _KINDS:
            attrs = [attr for _, attr, _ in plan[kind]]
            order.extend(i for i, _, _ in plan[kind])
            getters[kind] = _getter(attrs)
            fixes[kind] = [(k, attr, conv) for k, (_, attr, conv) in enumerate(plan[kind]) if conv is not None]
        place = sorted(range(width), key=order.__getitem__)
        pick = _getter_items(place)

        def values(kind: str, obj: Patient | Request | Result) -> tuple[str, ...]:
            vals: tuple[Any, ...] | list[Any] = getters[kind](obj)
            fix = fixes[kind]
            if fix:
                vals = fixed = list(vals)
                for k, attr, conv in fix:
                    v = fixed[k]
                    if v is not None:
                        try:
                            fixed[k] = conv(v)
                        except ValueError:
                            raise FormatError("value does not fit the mapping's format",
                                              record=f"{kind} {obj.id}", field=attr) from None
            return tuple(["" if v is None else v for v in vals])

        # rows are joined here; a row with a cell the csv module would quote goes through it
        delim = self.mapping.delimiter
        seps = width - 1
        lines: list[str] = [buf.getvalue()]
        add = lines.append

        def plain(line: str, n: int) -> bool:
            """Whether ``line``, ``n`` + 1 cells joined, holds no delimiter, quote or line break in a cell."""
            return line.count(delim) == n and '"' not in line and "\r" not in line and "\n" not in line

        def emit(row: tuple[str, ...]) -> None:
            line = delim.join(row)
            if width > 1 and plain(line, seps):
                add(line + "\r\n")
            else:
                buf.seek(0)
                buf.truncate(0)
                writer.writerow(row)
                add(buf.getvalue())

        # fast path when the columns are the patient's, then the request's, then the result's (the
        # default mapping): the patient and request cells are joined once per request
        n_pr = len(plan["patient"]) + len(plan["request"])
        n_s = len(plan["result"])
        joined = (place == list(range(width)) and n_pr > 0 and n_s > 0 and width > 1
                  and not fixes["result"])
        rget = getters["result"]

        none_r = ("",) * len(plan["request"])
        none_s = ("",) * n_s
        for p, reqs in group_records(records):
            check_patient(p)
            pv = values("patient", p)
            if not reqs:
                emit(pick(pv + none_r + none_s))
            for r, results in reqs:
                prv = pv + values("request", r)
                if not results:
                    emit(pick(prv + none_s))
                elif joined:
                    head = delim.join(prv)
                    if plain(head, n_pr - 1):
                        for s in results:
                            tail = delim.join(["" if v is None else v for v in rget(s)])
                            if plain(tail, n_s - 1):
                                add(f"{head}{delim}{tail}\r\n")
                            else:
                                emit(prv + values("result", s))
                    else:
                        for s in results:
                            emit(prv + values("result", s))
                else:
                    for s in results:
                        emit(pick(prv + values("result", s)))
            if len(lines) >= chunk.lines:
                yield self._encode(chunk.take(lines))
        if lines:
            yield self._encode(chunk.take(lines))

    def _encode(self, text: str) -> bytes:
        if "\x00" in text:
            raise FormatError("a value holds a NUL character, which CSV cannot carry")
        try:
            return text.encode(self.mapping.encoding)
        except (UnicodeEncodeError, LookupError) as exc:
            raise FormatError(f"a value cannot be written in {self.mapping.encoding}") from exc


def _lines_keepends(text: str) -> Iterator[str]:
    """The lines of ``text`` (LF or CR LF ends), each with its end, one at a time."""
    find = text.find
    start, end = 0, len(text)
    while start < end:
        i = find("\n", start)
        if i < 0:
            yield text[start:]
            return
        yield text[start:i + 1]
        start = i + 1
