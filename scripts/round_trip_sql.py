"""A synthetic lab goes SQL -> each format -> SQL, and the records read back are compared with the source.

    .venv/bin/python scripts/round_trip_sql.py                      # 500,000 patients, every format
    .venv/bin/python scripts/round_trip_sql.py --db /tmp/lis-500k.db
    .venv/bin/python scripts/round_trip_sql.py --patients 2000 --formats hl7v25,csv --keep /tmp/rt
    .venv/bin/python scripts/round_trip_sql.py --target-url postgresql+psycopg://postgres@127.0.0.1:5432/rt

For each format, four steps, each timed:

1. the source LIS is read through the ``synth-lis`` mapping (``read_database``) and written as one file with
   the codec's streaming writer (``write_chunks``, to a temporary name renamed at the end), while a digest of
   the source records is taken;
2. the file is read back with the codec and loaded with ``write_database`` into a fresh target made for this
   format (the LIS schema; its reference tables of sites and prescribers copied from the source; secondary
   indexes built after the load, as ``ecluse synth`` does);
3. the target is read back through the same mapping and digested;
4. the two digests are compared: record counts per type, an order-preserving SHA-256 over the canonical
   records (type and every field) and an order-independent sum of per-record BLAKE2b hashes (to tell
   "same records, other order" from "different records"). On a difference, source and target are read
   again side by side to name the first differing record (type and id) and its fields; never a value.

HPRIM Net carries only a subset of the fields (docs/formats/hprim-net.md, "What it carries"): it is
compared on that subset, the one ``benchmarks/bench_formats.py`` uses (``_net_subset``), on both sides.

Targets: without ``--target-url``, a fresh SQLite file per format in the work directory. With a SQLite URL
``sqlite:///DIR/NAME.db``, the files are ``DIR/NAME-<format>.db``; with a PostgreSQL URL, databases
``<NAME>_<format>`` are created on that server (as the tests do, through its ``postgres`` database) and
dropped at the end unless ``--keep`` is given. An existing target is never reused nor overwritten.

Memory: records stream from end to end (one patient and one batch of rows at a time); the codecs' readers
take a file's bytes, so the file being read back is held in memory, decoded, during step 2.

Exit status: 0 when every format is IDENTICAL, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import importlib.util
import itertools
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from ecluse.formats._common import Group, Record, flatten, group_records
from ecluse.formats.codec import CODECS, Codec, get_codec
from ecluse.formats.hprim_net import HprimNetCodec
from ecluse.formats.records import Patient, Request, Result
from ecluse.legacy import synth
from ecluse.legacy.sqlmap import Mapping, load_mapping, read_database, write_database

ROOT: Final = Path(__file__).resolve().parent.parent
FORMATS: Final = tuple(CODECS)  # hl7v25, hprim-sante, csv, hprim-net
SUBSET: Final = "hprim-net"


def _bench_formats() -> Any:
    spec = importlib.util.spec_from_file_location("_bench_formats", ROOT / "benchmarks" / "bench_formats.py")
    if spec is None or spec.loader is None:
        raise SystemExit("benchmarks/bench_formats.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


#: What HPRIM Net carries of grouped records: the benchmark's own definition, reused.
net_subset: Callable[[Iterable[Group]], Iterator[Record]] = _bench_formats()._net_subset


def codec_for(name: str) -> Codec:
    # the synthetic lab has β (β-hCG), which cp1252 lacks: HPRIM Net in UTF-8 (as the benchmark)
    return HprimNetCodec(encoding="utf-8") if name == SUBSET else get_codec(name)


def view(name: str) -> Callable[[Iterable[Group]], Iterator[Record]]:
    """The records compared for format ``name``: every field, or the HPRIM Net subset."""
    return net_subset if name == SUBSET else flatten


# ---------------------------------------------------------------- digests

_GET: Final = {cls: attrgetter(*(f.name for f in fields(cls))) for cls in (Patient, Request, Result)}
_NAMES: Final = {cls: tuple(f.name for f in fields(cls)) for cls in (Patient, Request, Result)}
_MASK: Final = (1 << 128) - 1


def canonical(rec: Record) -> bytes:
    return repr((type(rec).__name__, _GET[type(rec)](rec))).encode("utf-8", "surrogatepass")


@dataclass
class Digest:
    """Counts per record type, an order-preserving SHA-256 and an order-independent sum of hashes."""

    counts: Counter[str] = field(default_factory=Counter)
    ordered: Any = field(default_factory=hashlib.sha256)
    unordered: int = 0

    def add(self, records: Iterable[Record]) -> None:
        counts, ordered, total = self.counts, self.ordered, self.unordered
        blake = hashlib.blake2b
        for rec in records:
            h = blake(canonical(rec), digest_size=16).digest()
            ordered.update(h)
            total += int.from_bytes(h, "big")
            counts[type(rec).__name__] += 1
        self.unordered = total & _MASK

    @property
    def records(self) -> int:
        return sum(self.counts.values())

    def same(self, other: Digest) -> bool:
        return self.counts == other.counts and self.ordered.digest() == other.ordered.digest()

    def same_set(self, other: Digest) -> bool:
        return self.counts == other.counts and self.unordered == other.unordered


class Clock:
    """Time spent inside an iterator (pulling from it), apart from the time of its consumer."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, it: Iterable[Any]) -> Iterator[Any]:
        pc = time.perf_counter
        source = iter(it)
        while True:
            t = pc()
            try:
                x = next(source)
            except StopIteration:
                self.seconds += pc() - t
                return
            self.seconds += pc() - t
            yield x


# ---------------------------------------------------------------- source and targets

def source_url(db: Path) -> str:
    return f"sqlite:///file:{db.resolve()}?mode=ro&uri=true"


def source_groups(url: str, mapping: Mapping, patients: int | None) -> Iterator[Group]:
    groups = group_records(read_database(url, mapping))
    return groups if patients is None else itertools.islice(groups, patients)


def _schema() -> tuple[list[str], list[str]]:
    """The LIS schema as (tables, secondary indexes): indexes are built after the load."""
    text = importlib.resources.files("ecluse.legacy").joinpath("schema.sql").read_text("utf-8")
    # comments dropped first (one holds a ';'); the schema has no "--" inside a string
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    stmts = [body.strip() for body in code.split(";") if body.strip()]
    return ([s for s in stmts if not s.upper().startswith("CREATE INDEX")],
            [s for s in stmts if s.upper().startswith("CREATE INDEX")])


@dataclass
class Target:
    url: str
    indexes: list[str]
    path: Path | None = None  # SQLite
    drop: Callable[[], None] = lambda: None

    def size(self) -> int | None:
        return self.path.stat().st_size if self.path is not None and self.path.exists() else None

    def build_indexes(self) -> None:
        engine = sa.create_engine(self.url, hide_parameters=True)
        try:
            with engine.begin() as conn:
                for stmt in self.indexes:
                    conn.exec_driver_sql(stmt)
        finally:
            engine.dispose()


def create_target(base: str | None, work: Path, fmt: str, src: str, keep: bool) -> Target:
    """A fresh, empty target for ``fmt`` with the LIS tables and the source's reference tables."""
    tables, indexes = _schema()
    slug = fmt.replace("-", "_")
    if base is None:
        base = f"sqlite:///{work / 'target.db'}"
    url = sa.make_url(base)
    if url.get_backend_name() == "sqlite":
        if not url.database:
            raise SystemExit("--target-url: a SQLite URL needs a file path")
        p = Path(url.database)
        path = p.with_name(f"{p.stem}-{fmt}{p.suffix or '.db'}")
        if path.exists():
            raise SystemExit(f"target {path} already exists: it is never overwritten")
        target = Target(url.set(database=str(path)).render_as_string(hide_password=False), indexes, path=path)
    elif url.get_backend_name() == "postgresql":
        name = f"{url.database or 'ecluse_rt'}_{slug}"
        admin_url = url.set(database="postgres")

        def admin(stmt: str) -> None:
            eng = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", hide_parameters=True)
            try:
                with eng.connect() as c:
                    c.exec_driver_sql(stmt)
            finally:
                eng.dispose()

        try:
            admin(f'CREATE DATABASE "{name}"')
        except sa.exc.ProgrammingError as exc:
            raise SystemExit(f"target database {name} cannot be created (it may exist: it is never reused)") from exc
        drop = (lambda: None) if keep else (lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        target = Target(url.set(database=name).render_as_string(hide_password=False), indexes, drop=drop)
    else:
        raise SystemExit("--target-url: SQLite or PostgreSQL only")
    engine = sa.create_engine(target.url, hide_parameters=True)
    source = sa.create_engine(src, hide_parameters=True)
    try:
        with engine.begin() as conn, source.connect() as sconn:
            for stmt in tables:
                conn.exec_driver_sql(stmt)
            md = sa.MetaData()
            for ref in ("sites", "prescribers"):  # requests point to them (enforced on PostgreSQL)
                if not sa.inspect(sconn).has_table(ref):
                    continue
                rows = [dict(r._mapping) for r in sconn.execute(sa.select(sa.Table(ref, md, autoload_with=sconn)))]
                if rows:
                    conn.execute(sa.insert(sa.Table(ref, sa.MetaData(), autoload_with=conn)), rows)
    finally:
        engine.dispose()
        source.dispose()
    return target


# ---------------------------------------------------------------- the round trip

@dataclass
class Outcome:
    fmt: str
    source: Digest
    target: Digest
    identical: bool
    #: step -> seconds
    times: dict[str, float]
    file_bytes: int
    target_bytes: int | None
    difference: str | None = None


def export_file(src: str, mapping: Mapping, fmt: str, path: Path, patients: int | None,
                times: dict[str, float]) -> Digest:
    """Step 1: source -> file (temporary name, renamed at the end); the digest of what was written."""
    codec, digest, sql = codec_for(fmt), Digest(), Clock()
    to_view = view(fmt)

    def tapped(groups: Iterator[Group]) -> Iterator[Group]:
        for g in groups:
            digest.add(to_view((g,)))
            yield g

    tmp = path.with_name(f".{path.name}.tmp")
    t = time.perf_counter()
    try:
        with tmp.open("wb") as out:
            for chunk in codec.write_chunks(flatten(tapped(sql.wrap(source_groups(src, mapping, patients))))):
                out.write(chunk)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    total = time.perf_counter() - t
    times["SQL read"] = sql.seconds
    times[f"{fmt} write"] = total - sql.seconds
    return digest


def import_file(path: Path, fmt: str, target: Target, mapping: Mapping, times: dict[str, float]) -> int:
    """Step 2: file -> fresh target; the number of patients written."""
    codec, parse = codec_for(fmt), Clock()
    t = time.perf_counter()
    # the bytes are not kept here: the reader holds them (decoded) only while it runs
    n = write_database(target.url, mapping, parse.wrap(codec.read(path.read_bytes(), filename=path.name)),
                       fresh=True)
    total = time.perf_counter() - t
    times[f"{fmt} read"] = parse.seconds
    times["SQL write"] = total - parse.seconds
    t = time.perf_counter()
    target.build_indexes()
    times["SQL indexes"] = time.perf_counter() - t
    return n


def digest_database(url: str, mapping: Mapping, fmt: str, patients: int | None = None) -> Digest:
    digest = Digest()
    digest.add(view(fmt)(source_groups(url, mapping, patients)))
    return digest


def first_difference(src: str, tgt: str, mapping: Mapping, fmt: str, patients: int | None) -> str:
    """The first record that differs between source and target (compared view), by type, id and field
    names: never a value."""
    to_view = view(fmt)
    left = to_view(source_groups(src, mapping, patients))
    right = to_view(source_groups(tgt, mapping, None))
    for i, (a, b) in enumerate(itertools.zip_longest(left, right)):
        if a == b:
            continue
        if a is None or b is None:
            there = a if a is not None else b
            assert there is not None
            side = "source" if b is None else "target"
            return f"record #{i}: {type(there).__name__} {there.id} only in the {side} (the other side ends)"
        if type(a) is not type(b) or a.id != b.id:
            return (f"record #{i}: source {type(a).__name__} {a.id}, "
                    f"target {type(b).__name__} {b.id}")
        names = [n for n in _NAMES[type(a)] if getattr(a, n) != getattr(b, n)]
        return f"record #{i}: {type(a).__name__} {a.id}, field(s) {', '.join(names)}"
    return "no record differs when read again side by side"


def round_trip(src: str, fmt: str, *, work: Path, mapping: Mapping, patients: int | None = None,
               target_url: str | None = None, keep: bool = False) -> Outcome:
    """SQL -> ``fmt`` -> SQL for one format, compared with the source."""
    times: dict[str, float] = {}
    path = work / f"lis.{fmt}"
    source = export_file(src, mapping, fmt, path, patients, times)
    file_bytes = path.stat().st_size
    target = create_target(target_url, work, fmt, src, keep)
    try:
        import_file(path, fmt, target, mapping, times)
        if not keep:
            path.unlink()
        t = time.perf_counter()
        back = digest_database(target.url, mapping, fmt)
        times["SQL read back + digest"] = time.perf_counter() - t
        identical = source.same(back)
        difference = None
        if not identical:
            t = time.perf_counter()
            difference = first_difference(src, target.url, mapping, fmt, patients)
            if source.same_set(back):
                difference += " (the same records, in another order)"
            times["locate difference"] = time.perf_counter() - t
        size = target.size()
        if not keep and target.path is not None:
            target.path.unlink()
        return Outcome(fmt, source, back, identical, times, file_bytes, size, difference)
    finally:
        target.drop()


# ---------------------------------------------------------------- output

def _counts(d: Digest) -> str:
    return ", ".join(f"{k} {d.counts[k]:,}" for k in ("Patient", "Request", "Result"))


def report(o: Outcome) -> None:
    what = "the HPRIM Net subset (docs/formats/hprim-net.md)" if o.fmt == SUBSET else "every field"
    print(f"{o.fmt}: compared on {what}")
    print(f"  source  {o.source.records:>12,} records ({_counts(o.source)})")
    print(f"  target  {o.target.records:>12,} records ({_counts(o.target)})")
    print(f"  file {o.file_bytes / 1e6:,.1f} MB" + (f", target database {o.target_bytes / 1e6:,.1f} MB"
                                                  if o.target_bytes is not None else ""))
    for step, s in o.times.items():
        rate = o.source.records / s if s > 0 else 0.0
        print(f"  {step:<24} {s:>8.1f} s  {rate:>12,.0f} records/s")
    print(f"  total                    {sum(o.times.values()):>8.1f} s")
    print(f"  {'IDENTICAL' if o.identical else 'DIFFERENT'}  sha256 {o.target.ordered.hexdigest()[:16]}…"
          + (f"\n  first difference: {o.difference}" if o.difference else ""), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=500_000,
                    help="patients to generate, or the first ones of --db (default 500000)")
    ap.add_argument("--db", type=Path, help="an existing synthetic LIS made by `ecluse synth` (opened read-only)")
    ap.add_argument("--formats", default=",".join(FORMATS), help=f"comma-separated (default {','.join(FORMATS)})")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="work in DIR (created if needed) and keep the files and targets there")
    ap.add_argument("--target-url", help="SQLAlchemy URL of the targets' base (SQLite or PostgreSQL)")
    ap.add_argument("--seed", type=int, default=1, help="seed of a generated LIS (default 1)")
    args = ap.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in CODECS]
    if unknown or not formats:
        ap.error(f"--formats: one or more of {', '.join(FORMATS)}")
    if args.patients < 1:
        ap.error("--patients must be at least 1")
    mapping = load_mapping("synth-lis")
    tmp = None
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        work = args.keep
    else:
        tmp = tempfile.mkdtemp(prefix="ecluse-rt-")
        work = Path(tmp)
    try:
        db = args.db
        patients: int | None = args.patients
        if db is None:
            db = work / "lis.db"
            t = time.perf_counter()
            synth.generate(db, patients=args.patients, seed=args.seed)
            print(f"generated a synthetic LIS of {args.patients:,} patients in {time.perf_counter() - t:.0f} s")
            patients = None
        elif not db.is_file():
            ap.error(f"--db: {db} is not a file")
        print(f"SQL -> format -> SQL through the synth-lis mapping: {db.name}, "
              f"{'every' if patients is None else f'the first {patients:,}'} patients; formats: {', '.join(formats)}",
              flush=True)
        outcomes = []
        for fmt in formats:
            outcomes.append(round_trip(source_url(db), fmt, work=work, mapping=mapping, patients=patients,
                                       target_url=args.target_url, keep=args.keep is not None))
            report(outcomes[-1])
        print("\nsummary")
        for o in outcomes:
            note = "  (HPRIM Net subset)" if o.fmt == SUBSET else ""
            print(f"  {o.fmt:<12} {o.source.records:>12,} records {sum(o.times.values()):>8.1f} s  "
                  f"{'IDENTICAL' if o.identical else 'DIFFERENT'}{note}")
        return 0 if all(o.identical for o in outcomes) else 1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
