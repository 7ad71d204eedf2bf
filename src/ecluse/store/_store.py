"""The workspace database behind one interface: SQLite by default, PostgreSQL in production.

SQLAlchemy Core, no ORM: the tables are few and the queries plain. Driver errors are wrapped
once into :class:`StoreError`. The audit log is *not* here: it is kept apart, append-only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ecluse.errors import StoreError

__all__ = ["Store", "StoredMigration", "StoredPerson"]

SCHEMA_VERSION = 1
metadata = sa.MetaData()

meta_t = sa.Table("meta", metadata, sa.Column("key", sa.String(64), primary_key=True),
                  sa.Column("value", sa.Text, nullable=False))
people_t = sa.Table(
    "people", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False, unique=True),
    sa.Column("public_key", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)
migrations_t = sa.Table(
    "migrations", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("mandate_id", sa.String(100), nullable=False),
    sa.Column("mandate_sha256", sa.String(64), nullable=False),
    sa.Column("mandate_toml", sa.Text, nullable=False),
    sa.Column("mandate_sig", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("expires_at", sa.String(40), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("created_by", sa.String(40), nullable=False),
    sa.Column("package_id", sa.String(40)),
    sa.Column("exported_by", sa.String(40)),
)
transitions_t = sa.Table(
    "transitions", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("migration_id", sa.String(40), sa.ForeignKey("migrations.id"), nullable=False),
    sa.Column("from_state", sa.String(20)),
    sa.Column("to_state", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(40), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
)
approvals_t = sa.Table(
    "approvals", metadata,
    sa.Column("migration_id", sa.String(40), sa.ForeignKey("migrations.id"), primary_key=True),
    sa.Column("person_id", sa.String(40), sa.ForeignKey("people.id"), primary_key=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
)
packages_t = sa.Table(
    "packages", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("migration_id", sa.String(40), sa.ForeignKey("migrations.id"), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("deleted_at", sa.String(40)),
)
certificates_t = sa.Table(
    "certificates", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("migration_id", sa.String(40), sa.ForeignKey("migrations.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)


@dataclass(frozen=True, slots=True)
class StoredPerson:
    id: str
    name: str
    email: str
    role: str
    key_id: str
    public_key: str
    created_at: str


@dataclass(frozen=True, slots=True)
class StoredMigration:
    id: str
    mandate_id: str
    mandate_sha256: str
    mandate_toml: str
    mandate_sig: str
    source: str
    state: str
    expires_at: str
    created_at: str
    created_by: str
    package_id: str | None
    exported_by: str | None


class Store:
    """The workspace database. Open with :meth:`open`; every method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        try:
            engine = sa.create_engine(url, future=True)
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            metadata.create_all(engine)
            with engine.begin() as conn:
                row = conn.execute(sa.select(meta_t.c.value).where(meta_t.c.key == "schema")).first()
                if row is None:
                    conn.execute(meta_t.insert().values(key="schema", value=str(SCHEMA_VERSION)))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise StoreError("the workspace database was written by a newer Écluse",
                                     hint="upgrade Écluse before using this workspace")
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open the workspace database ({type(exc).__name__})",
                             hint="check the path or the database URL and that the server runs") from exc
        return cls(engine)

    @classmethod
    def sqlite(cls, path: Path) -> Store:
        return cls.open(f"sqlite:///{path}")

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except sa.exc.IntegrityError as exc:
            raise StoreError("the workspace database refused a duplicate or inconsistent row") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"workspace database error ({type(exc).__name__})") from exc

    # --- people ---------------------------------------------------------------------------
    def add_person(self, person: StoredPerson) -> None:
        with self._tx() as c:
            c.execute(people_t.insert().values(**_asdict(person)))

    def people(self) -> list[StoredPerson]:
        with self._tx() as c:
            return [StoredPerson(**r._mapping) for r in c.execute(people_t.select().order_by(people_t.c.name))]

    def person_by(self, *, email: str | None = None, key_id: str | None = None,
                  id: str | None = None) -> StoredPerson | None:
        col, val = ((people_t.c.email, email) if email is not None
                    else (people_t.c.key_id, key_id) if key_id is not None else (people_t.c.id, id))
        with self._tx() as c:
            row = c.execute(people_t.select().where(col == val)).first()
        return StoredPerson(**row._mapping) if row else None

    # --- migrations -----------------------------------------------------------------------
    def add_migration(self, m: StoredMigration) -> None:
        with self._tx() as c:
            c.execute(migrations_t.insert().values(**_asdict(m)))

    def migration(self, migration_id: str) -> StoredMigration | None:
        with self._tx() as c:
            row = c.execute(migrations_t.select().where(migrations_t.c.id == migration_id)).first()
        return StoredMigration(**row._mapping) if row else None

    def migrations(self, *, states: tuple[str, ...] | None = None) -> list[StoredMigration]:
        q = migrations_t.select().order_by(migrations_t.c.created_at)
        if states is not None:
            q = q.where(migrations_t.c.state.in_(states))
        with self._tx() as c:
            return [StoredMigration(**r._mapping) for r in c.execute(q)]

    def transition(self, migration_id: str, *, expect: str, to: str, actor: str, at: datetime,
                   statement: str, signature: str, **changes: Any) -> None:
        """Move a migration from ``expect`` to ``to`` atomically, recording the signed statement.

        The compare-and-set on ``state`` makes two concurrent steps impossible: the second finds
        the state changed and fails.
        """
        with self._tx() as c:
            res = c.execute(migrations_t.update()
                            .where(migrations_t.c.id == migration_id, migrations_t.c.state == expect)
                            .values(state=to, **changes))
            if res.rowcount != 1:
                raise StoreError("the migration changed state while this step ran",
                                 hint="run 'ecluse status' and retry the step that is due")
            c.execute(transitions_t.insert().values(
                migration_id=migration_id, from_state=expect, to_state=to, actor=actor,
                at=at.isoformat(), statement=statement, signature=signature))

    def add_migration_planned(self, m: StoredMigration, *, actor: str, at: datetime, statement: str,
                              signature: str) -> None:
        """Insert a new migration and its signed 'plan' step in one transaction."""
        with self._tx() as c:
            c.execute(migrations_t.insert().values(**_asdict(m)))
            c.execute(transitions_t.insert().values(
                migration_id=m.id, from_state=None, to_state=m.state, actor=actor, at=at.isoformat(),
                statement=statement, signature=signature))

    def transitions(self, migration_id: str) -> list[Mapping[str, Any]]:
        with self._tx() as c:
            return [dict(r._mapping) for r in c.execute(
                transitions_t.select().where(transitions_t.c.migration_id == migration_id)
                .order_by(transitions_t.c.seq))]

    # --- approvals ------------------------------------------------------------------------
    def add_approval(self, migration_id: str, person_id: str, *, at: datetime, statement: str,
                     signature: str) -> None:
        with self._tx() as c:
            c.execute(approvals_t.insert().values(migration_id=migration_id, person_id=person_id,
                                                  at=at.isoformat(), statement=statement,
                                                  signature=signature))

    def approvals(self, migration_id: str) -> list[str]:
        with self._tx() as c:
            return [r[0] for r in c.execute(sa.select(approvals_t.c.person_id)
                                            .where(approvals_t.c.migration_id == migration_id))]

    # --- packages and certificates ----------------------------------------------------------
    def add_package(self, package_id: str, migration_id: str, *, path: str, manifest_sha256: str,
                    at: datetime) -> None:
        with self._tx() as c:
            c.execute(packages_t.insert().values(id=package_id, migration_id=migration_id, path=path,
                                                 manifest_sha256=manifest_sha256,
                                                 created_at=at.isoformat()))

    def package(self, package_id: str) -> Mapping[str, Any] | None:
        with self._tx() as c:
            row = c.execute(packages_t.select().where(packages_t.c.id == package_id)).first()
        return dict(row._mapping) if row else None

    def mark_package_deleted(self, package_id: str, *, at: datetime) -> None:
        with self._tx() as c:
            c.execute(packages_t.update().where(packages_t.c.id == package_id)
                      .values(deleted_at=at.isoformat()))

    def add_certificate(self, cert_id: str, migration_id: str, *, kind: str, path: str,
                        at: datetime) -> None:
        with self._tx() as c:
            c.execute(certificates_t.insert().values(id=cert_id, migration_id=migration_id, kind=kind,
                                                     path=path, at=at.isoformat()))

    def certificates(self, migration_id: str) -> list[Mapping[str, Any]]:
        with self._tx() as c:
            return [dict(r._mapping) for r in c.execute(
                certificates_t.select().where(certificates_t.c.migration_id == migration_id))]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def _asdict(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
