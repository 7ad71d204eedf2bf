"""The workspace store: the same tests on SQLite and on PostgreSQL (127.0.0.1:5432)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ecluse.errors import StoreError
from ecluse.store import Store, StoredMigration, StoredPerson

NOW = datetime(2026, 11, 1, tzinfo=UTC)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store.sqlite(tmp_path / "ws.db")
        yield s
        s.close()
        return
    request.getfixturevalue("postgres_admin_url")  # skips when no server answers
    name = "ecluse_test_" + secrets.token_hex(4)
    admin = sa.create_engine(PG_URL.format(db="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    s = Store.open(PG_URL.format(db=name))
    yield s
    s.close()
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _person(n: int) -> StoredPerson:
    return StoredPerson(id=f"P-{n}", name=f"Person Number{n}", email=f"p{n}.x@lab.example", role="operator",
                        key_id=f"{n:016x}", public_key="pk", created_at=NOW.isoformat())


def _migration() -> StoredMigration:
    return StoredMigration(id="MIG-1", mandate_id="M", mandate_sha256="0" * 64, mandate_toml="", mandate_sig="",
                           source="x", state="planned", expires_at=NOW.isoformat(), created_at=NOW.isoformat(),
                           created_by="P-1", package_id=None, exported_by=None)


def test_people_roundtrip_and_unique_keys(store: Store) -> None:
    store.add_person(_person(1))
    assert store.person_by(key_id=f"{1:016x}") == _person(1)
    dup = StoredPerson(id="P-2", name="Other Person", email="other.person@lab.example", role="operator",
                       key_id=f"{1:016x}", public_key="pk", created_at=NOW.isoformat())
    with pytest.raises(StoreError, match="duplicate"):
        store.add_person(dup)


def test_transition_is_compare_and_set(store: Store) -> None:
    store.add_person(_person(1))
    store.add_migration(_migration())
    store.transition("MIG-1", expect="planned", to="approved", actor="P-1", at=NOW, statement="{}", signature="s")
    with pytest.raises(StoreError, match="changed state"):
        store.transition("MIG-1", expect="planned", to="approved", actor="P-1", at=NOW, statement="{}",
                         signature="s")
    m = store.migration("MIG-1")
    assert m is not None and m.state == "approved"
    assert [t["to_state"] for t in store.transitions("MIG-1")] == ["approved"]


def test_approvals_are_one_per_person(store: Store) -> None:
    store.add_person(_person(1))
    store.add_migration(_migration())
    store.add_approval("MIG-1", "P-1", at=NOW, statement="{}", signature="s")
    with pytest.raises(StoreError):
        store.add_approval("MIG-1", "P-1", at=NOW, statement="{}", signature="s")
    assert store.approvals("MIG-1") == ["P-1"]
