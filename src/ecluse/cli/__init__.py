"""Thin commands over the library. Each module registers its commands on :data:`app`."""

from ecluse.cli import audit as _audit  # noqa: F401
from ecluse.cli import demo as _demo  # noqa: F401
from ecluse.cli import formats as _formats  # noqa: F401
from ecluse.cli import migration as _migration  # noqa: F401
from ecluse.cli import scan as _scan  # noqa: F401
from ecluse.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point (``ecluse``)."""
    app()
