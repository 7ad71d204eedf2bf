"""Thin commands over the library. Each module registers its commands on :data:`app`."""

from ecluse.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point (``ecluse``)."""
    app()
