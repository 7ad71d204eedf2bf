"""Refuse to test a stale build: a compiled module older than its Python source would be tested in
place of the code that was edited (run `make build`, which `make test` does first)."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

from ecluse import _compiled

# The scanner's compiled cue databases are cached between runs (ecluse.scan.default_cache_dir, read by `ecluse scan`):
# here in a directory of this test session, not in the user's ~/.cache.
os.environ.setdefault("ECLUSE_CACHE_DIR", tempfile.mkdtemp(prefix="ecluse-test-cache-"))


def pytest_sessionstart(session: pytest.Session) -> None:
    if _compiled.pure_python():
        return
    stale = []
    for name in _compiled.MODULES:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        if origin is None or origin.suffix == ".py":
            continue
        source = origin.with_name(name.rpartition(".")[2] + ".py")
        if source.is_file() and source.stat().st_mtime > origin.stat().st_mtime:
            stale.append(name)
    if stale:
        raise pytest.UsageError(
            f"compiled modules older than their source: {', '.join(stale)}; run `make build` "
            "(or set ECLUSE_PURE_PYTHON=1 to test the Python source)"
        )


#: The PostgreSQL server of the machine (trust authentication), its maintenance database.
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The URL of the local PostgreSQL server's ``postgres`` database; the test is skipped, with the
    reason, when no server answers on 127.0.0.1:5432."""
    sa = pytest.importorskip("sqlalchemy")
    try:
        eng = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 2})
        with eng.connect():
            pass
        eng.dispose()
    except Exception:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return POSTGRES_ADMIN_URL
