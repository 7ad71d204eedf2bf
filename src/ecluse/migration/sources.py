"""Where a migration reads from: the synthetic LIS, any SQL database through a mapping, or
files in a lab format (HL7 v2.5, HPRIM Santé, HPRIM Net, CSV).

Every source hands the export the same thing: patient groups
(:data:`~ecluse.legacy.reader.Group`) already reduced to the mandate's scope. The synthetic
LIS applies the scope in SQL (``ecluse.legacy.reader``); the others pass their groups through
:func:`ecluse.migration.scope.scope_groups`. A source is described by a :class:`SourceSpec`,
stored with the migration at ``plan`` (as JSON) and opened again by ``export`` and by each
export worker, so it holds nothing but names: paths, a database URL without password, a
format, a mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import orjson

from ecluse.errors import ConfigError, EcluseError, FormatError
from ecluse.formats._common import group_records
from ecluse.formats.codec import CODECS, Codec, get_codec, sniff_codec
from ecluse.formats.records import Patient
from ecluse.legacy import reader
from ecluse.legacy.reader import Counts, Group, LegacyQuery
from ecluse.migration.scope import scope_groups

__all__ = ["KINDS", "Source", "SourceSpec", "describe", "open_source", "spec_for"]

#: Source kinds: the synthetic LIS (SQLite, scope in SQL), any SQL database through a mapping,
#: files in a lab format.
KINDS: Final = ("lis", "sql", "files")
_MAX_FILE: Final = 4 * 2**30  # a source file is read whole: refuse what cannot be


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source by name only: what ``plan`` stores and ``export`` opens again."""

    kind: str
    #: absolute path (``lis``, ``files``: a file or a directory of files) or SQLAlchemy URL (``sql``)
    location: str
    #: ``files``: the codec name, or ``None`` to recognise each file's format
    format: str | None = None
    #: ``sql``: a shipped mapping name or a mapping file; ``files`` in CSV: a column-mapping file
    mapping: str | None = None

    def stored(self) -> str:
        return orjson.dumps({"kind": self.kind, "location": self.location, "format": self.format,
                             "mapping": self.mapping}, option=orjson.OPT_SORT_KEYS).decode()

    @classmethod
    def from_stored(cls, text: str) -> SourceSpec:
        """The spec ``plan`` stored; a bare path (migrations planned before sources had kinds) is a LIS."""
        if not text.startswith("{"):
            return cls("lis", text)
        doc = orjson.loads(text)
        return cls(doc["kind"], doc["location"], doc.get("format"), doc.get("mapping"))


def describe(spec: SourceSpec) -> dict[str, str]:
    """What the audit log and status may show of a source: kind, format, file or host names.

    Never a password (a URL with one is refused at ``plan``) and never a full path."""
    out = {"kind": spec.kind}
    if spec.kind == "sql":
        from sqlalchemy.engine import make_url

        url = make_url(spec.location)
        out["database"] = f"{url.get_backend_name()}:{Path(url.database or '').name if url.host is None else url.host}"
        out["mapping"] = Path(spec.mapping or "").name
    else:
        out["name"] = Path(spec.location).name
    if spec.format:
        out["format"] = spec.format
    return out


class Source(Protocol):
    """What the export asks of a source."""

    spec: SourceSpec

    def count(self, q: LegacyQuery) -> Counts:
        """How many patients, requests and results the scoped read would hand over (the ceiling check)."""
        ...

    def parts(self, n: int) -> list[Any]:
        """Up to ``n`` picklable parts that workers read independently."""
        ...

    def groups(self, q: LegacyQuery, part: Any) -> Iterator[Group]:
        """The scoped patient groups of one part; opens and closes its own connection or files."""
        ...

    def sample_names(self, limit: int) -> list[str]:
        """Up to ``limit`` birth names of the source's patients, for the residual scan (never logged)."""
        ...


def _count(groups: Iterator[Group]) -> Counts:
    p = r = s = 0
    for _, reqs in groups:
        p += 1
        r += len(reqs)
        s += sum(len(res) for _, res in reqs)
    return Counts(p, r, s)


def _names(patients: Iterator[Patient], limit: int) -> list[str]:
    out: list[str] = []
    for p in patients:
        if p.birth_name:
            out.append(p.birth_name)
            if len(out) >= limit:
                break
    return out


class LisSource:
    """The synthetic LIS (``ecluse synth``): scope applied in SQL, parts are patient-id ranges."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.path = Path(spec.location)

    def check(self) -> None:
        reader.connect(self.path).close()

    def count(self, q: LegacyQuery) -> Counts:
        conn = reader.connect(self.path)
        try:
            return reader.count(conn, q)
        finally:
            conn.close()

    def parts(self, n: int) -> list[Any]:
        conn = reader.connect(self.path)
        try:
            return list(reader.split_ranges(conn, n))
        finally:
            conn.close()

    def groups(self, q: LegacyQuery, part: Any) -> Iterator[Group]:
        conn = reader.connect(self.path)
        try:
            yield from reader.iter_groups(conn, q, part)
        finally:
            conn.close()

    def sample_names(self, limit: int) -> list[str]:
        conn = reader.connect(self.path)
        try:
            rows = conn.execute("SELECT DISTINCT birth_name FROM patients WHERE birth_name IS NOT NULL "
                                "LIMIT ?", (limit,)).fetchall()
        finally:
            conn.close()
        return [r[0] for r in rows]


class SqlSource:
    """Any database SQLAlchemy reaches, read through a declarative mapping (``ecluse.legacy.sqlmap``)."""

    def __init__(self, spec: SourceSpec) -> None:
        from ecluse.legacy import sqlmap

        self.spec = spec
        self.mapping = sqlmap.load_mapping(spec.mapping or "")

    def _records(self, q: LegacyQuery | None) -> Iterator[Any]:
        from ecluse.legacy import sqlmap

        where = None if q is None else sqlmap.SqlFilter(collected_from=q.period_start, collected_to=q.period_end,
                                                        sites=frozenset(q.sites))
        return sqlmap.read_database(self.spec.location, self.mapping, where=where)

    def check(self) -> None:
        for _ in self._records(None):
            break

    def count(self, q: LegacyQuery) -> Counts:
        return _count(self.groups(q, 0))

    def parts(self, n: int) -> list[Any]:
        return [0]  # one ordered read: the mapping gives no id ranges to split on

    def groups(self, q: LegacyQuery, part: Any) -> Iterator[Group]:
        return scope_groups(group_records(self._records(q)), q)

    def sample_names(self, limit: int) -> list[str]:
        return _names((r for r in self._records(None) if isinstance(r, Patient)), limit)


class FileSource:
    """Files in a lab format: one file, or every regular file of a directory (not following links)."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        root = Path(spec.location)
        if root.is_dir():
            self.files = sorted(p for p in root.iterdir() if p.is_file() and not p.is_symlink()
                                and not p.name.startswith("."))
        elif root.is_file():
            self.files = [root]
        else:
            raise ConfigError(f"source not found: {root.name}", hint="give an existing file or directory")
        if not self.files:
            raise ConfigError(f"the source directory {root.name} holds no file",
                              hint="put the archive's files in it, or give one file")
        self._mapping: Any = None
        if spec.mapping:
            from ecluse.formats.csvfile import load_csv_mapping

            self._mapping = load_csv_mapping(Path(spec.mapping))

    def _codec(self, path: Path, head: bytes) -> Codec:
        fmt = self.spec.format
        codec = sniff_codec(head, filename=path.name) if fmt is None else get_codec(fmt)
        if self._mapping is not None and codec.name == "csv":
            from ecluse.formats.csvfile import CsvCodec

            return CsvCodec(self._mapping)
        return codec

    def _read(self, path: Path) -> Iterator[Group]:
        size = path.stat().st_size
        if size > _MAX_FILE:
            raise FormatError(f"the file is larger than {_MAX_FILE // 2**30} GiB", file=path.name,
                              hint="split the archive into several files in one directory")
        data = path.read_bytes()
        codec = self._codec(path, data[:4096])
        read_groups = getattr(codec, "read_groups", None)
        if read_groups is not None:
            yield from read_groups(data, filename=path.name)
        else:
            yield from group_records(codec.read(data, filename=path.name))

    def check(self) -> None:
        """Every file is read through once, so that a malformed archive is refused at ``plan``, before
        anyone approves, with the file, line, record and field of the first error."""
        for path in self.files:
            try:
                for _ in self._read(path):
                    pass
            except FormatError as exc:
                if exc.hint is None:
                    exc.hint = (f"run 'ecluse inspect {path.name}' for its counts and first error; fix the "
                                "file or leave it out of the source, then plan again")
                raise

    def count(self, q: LegacyQuery) -> Counts:
        return _count(self.groups(q, [str(p) for p in self.files]))

    def parts(self, n: int) -> list[Any]:
        """Files dealt to ``n`` parts, largest first, each to the lightest part."""
        n = max(1, min(n, len(self.files)))
        parts: list[list[str]] = [[] for _ in range(n)]
        loads = [0] * n
        for size, path in sorted(((p.stat().st_size, p) for p in self.files), reverse=True):
            i = loads.index(min(loads))
            parts[i].append(str(path))
            loads[i] += size
        return [sorted(p) for p in parts if p]

    def groups(self, q: LegacyQuery, part: Any) -> Iterator[Group]:
        for name in part:
            yield from scope_groups(self._read(Path(name)), q)

    def sample_names(self, limit: int) -> list[str]:
        out: list[str] = []
        for path in self.files:
            try:
                out += _names((p for p, _ in self._read(path)), limit - len(out))
            except EcluseError:
                continue
            if len(out) >= limit:
                break
        return out


def open_source(spec: SourceSpec) -> LisSource | SqlSource | FileSource:
    if spec.kind == "lis":
        return LisSource(spec)
    if spec.kind == "sql":
        return SqlSource(spec)
    if spec.kind == "files":
        return FileSource(spec)
    raise ConfigError(f"unknown source kind {spec.kind!r}", hint=f"kinds are: {', '.join(KINDS)}")


def _is_lis(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            return False
    try:
        reader.connect(path).close()
    except ConfigError:
        return False
    return True


def spec_for(*, path: Path | None = None, url: str | None = None, fmt: str | None = None,
             mapping: str | None = None) -> SourceSpec:
    """The source spec the ``plan`` options describe, checked: the source opens and reads.

    ``path`` alone: a synthetic LIS, or lab-format files recognised by their first bytes.
    ``path`` and ``fmt``: files in that format (``csv`` with an optional column ``mapping``).
    ``url`` and ``mapping``: any SQL database through a mapping. The URL must not hold a password.
    """
    if (path is None) == (url is None):
        raise ConfigError("give either a source path or a database URL",
                          hint="--source FILE|DIR for a LIS or lab files, --source-url URL --mapping M for SQL")
    if url is not None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError("the source database URL is not a SQLAlchemy URL",
                              hint="e.g. postgresql+psycopg://user@host/dbname or sqlite:///path/lis.db") from exc
        if parsed.password:
            raise ConfigError("the source database URL holds a password: it would be stored with the "
                              "migration and shown in its status",
                              hint="leave it out of the URL and give it to the driver another way "
                              "(PostgreSQL: PGPASSWORD or ~/.pgpass)")
        if not mapping:
            raise ConfigError("a SQL source needs a mapping", hint="--mapping NAME|FILE (see docs/formats/sql.md)")
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            url = parsed.set(database=str(Path(parsed.database).resolve())).render_as_string(hide_password=False)
        spec = SourceSpec("sql", url, None, mapping if not Path(mapping).is_file() else str(Path(mapping).resolve()))
        source: LisSource | SqlSource | FileSource = SqlSource(spec)
    else:
        assert path is not None
        resolved = path.resolve()
        if fmt is not None and fmt not in CODECS:
            raise ConfigError(f"unknown source format {fmt!r}", hint="formats are: " + ", ".join(CODECS))
        if fmt is None and mapping is None and _is_lis(resolved):
            spec = SourceSpec("lis", str(resolved))
        else:
            if not resolved.exists():
                raise ConfigError(f"source not found: {path.name}",
                                  hint="give the LIS database, or the lab-format file or directory of files, "
                                  "by a path that exists ('ecluse synth PATH' makes a LIS to practise on)")
            spec = SourceSpec("files", str(resolved), fmt, str(Path(mapping).resolve()) if mapping else None)
        source = open_source(spec)
    source.check()
    return spec

