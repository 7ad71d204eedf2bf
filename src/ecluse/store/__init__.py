"""Persistence behind one interface; SQLite by default, PostgreSQL in production."""

from ecluse.store._store import Store, StoredMigration, StoredPerson

__all__ = ["Store", "StoredMigration", "StoredPerson"]
