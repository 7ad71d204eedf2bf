"""A small world for the procedure tests: a synthetic LIS, two workspaces, five people, a mandate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ecluse.config import Settings
from ecluse.crypto import age, minisign
from ecluse.identity.people import register_person
from ecluse.legacy import synth
from ecluse.migration import procedure
from ecluse.migration.demo import mandate_text
from ecluse.migration.mandate import sign_mandate
from ecluse.migration.workspace import Actor, Workspace, init_workspace

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PEOPLE = {
    "controller": ("Claire Dubois", "claire.dubois@labo-armor.example", "controller"),
    "op1": ("Julien Moreau", "julien.moreau@vendor.example", "operator"),
    "op2": ("Sophie Bernard", "sophie.bernard@vendor.example", "operator"),
    "approver": ("Marc Lefebvre", "marc.lefebvre@labo.example", "approver"),
    "recipient": ("Karim Haddad", "karim.haddad@nouveau-sil.example", "recipient"),
}


@pytest.fixture(scope="session")
def legacy_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lis") / "legacy.db"
    synth.generate(path, patients=300, seed=7)
    return path


@dataclass
class World:
    root: Path
    source: Path
    sender: Workspace
    receiver: Workspace
    keys: dict[str, minisign.SecretKey]
    identity: str
    recipient: str
    mandate: Path
    sites: list[str]
    now: datetime = NOW
    extra: dict[str, object] = field(default_factory=dict)

    def actor(self, who: str, ws: Workspace | None = None) -> Actor:
        ws = ws or self.sender
        person = ws.store.person_by(key_id=self.keys[who].public_key().key_id_hex)
        assert person is not None
        return Actor(person, self.keys[who])

    def write_mandate(self, name: str = "mandate.toml", *, edit: Callable[[str], str] = lambda t: t,
                      sign: bool = True, expires: datetime | None = None, patients: int = 300) -> Path:
        path = self.root / name
        text = mandate_text(recipient=self.recipient, sites=self.sites,
                             expires=expires or NOW + timedelta(days=30), patients=patients)
        path.write_text(edit(text))
        if sign:
            sign_mandate(path, self.keys["controller"])
        return path

    def planned(self, mandate: Path | None = None) -> str:
        return procedure.plan(self.sender, mandate or self.mandate, self.source, self.actor("op1"),
                              now=self.now).id

    def approved(self) -> str:
        mig = self.planned()
        procedure.approve(self.sender, mig, self.actor("controller"), now=self.now)
        procedure.approve(self.sender, mig, self.actor("approver"), now=self.now)
        return mig

    def exported(self) -> tuple[str, procedure.ExportSummary]:
        mig = self.approved()
        return mig, procedure.export(self.sender, mig, self.actor("op2"), now=self.now)

    def pins(self) -> list[minisign.PublicKey]:
        return [minisign.PublicKey.from_text(p.public_key) for p in self.receiver.store.people()
                if p.role == "operator"]


def _pg_database() -> str | None:
    """A fresh PostgreSQL database on 127.0.0.1:5432, or None when no server answers."""
    import secrets

    import sqlalchemy as sa

    try:
        admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                                 isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2})
        name = "ecluse_t_" + secrets.token_hex(4)
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception:
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path, legacy_db: Path) -> World:
    """The same procedure tests on the embedded default and on PostgreSQL (the sender's store)."""
    url = ""
    if request.param == "postgresql":
        url = _pg_database() or ""
        if not url:
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    sender = init_workspace(Settings(workspace=tmp_path / "vendor", export_workers=2, database_url=url), now=NOW)
    receiver = init_workspace(Settings(workspace=tmp_path / "recipient", export_workers=2), now=NOW)
    keys = {}
    for who, (name, email, role) in PEOPLE.items():
        keys[who] = minisign.generate()
        pub = keys[who].public_key().to_text()
        register_person(sender.store, name=name, email=email, role=role, public_key_text=pub, now=NOW)
        if who in ("recipient", "op2"):
            register_person(receiver.store, name=name, email=email, role=role, public_key_text=pub, now=NOW)
    identity, recipient = age.generate_x25519()
    import sqlite3

    conn = sqlite3.connect(legacy_db)
    sites = [r[0] for r in conn.execute("SELECT finess FROM sites ORDER BY finess")][:-3]
    conn.close()
    w = World(root=tmp_path, source=legacy_db, sender=sender, receiver=receiver, keys=keys,
              identity=identity, recipient=recipient, mandate=tmp_path / "mandate.toml", sites=sites)
    w.write_mandate()
    yield w
    sender.close()
    receiver.close()
    if url:
        import sqlalchemy as sa

        admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()
