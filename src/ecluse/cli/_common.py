"""Options and helpers shared by the commands: workspace, clock, passphrases, progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ecluse.cli.app import console, err_console
from ecluse.config import Settings
from ecluse.errors import KeyFileError
from ecluse.migration.procedure import purge_expired
from ecluse.migration.workspace import Actor, Workspace

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace directory (default: $ECLUSE_WORKSPACE or .ecluse).",
                 show_default=False),
]
KeyOpt = Annotated[Path, typer.Option("--key", "-k", help="Your own minisign secret key file.")]
PassOpt = Annotated[
    Path | None,
    typer.Option("--passphrase-file", help="Read the key's passphrase from this file "
                 "(default: $ECLUSE_PASSPHRASE, else a prompt).", show_default=False),
]


def now() -> datetime:
    return datetime.now(UTC)


def settings(workspace: Path | None) -> Settings:
    return Settings.from_env(workspace=workspace)


def passphrase(path: Path | None, *, what: str = "your signing key", confirm: bool = False) -> str:
    if path is not None:
        try:
            return path.read_text().rstrip("\r\n")
        except OSError as exc:
            raise KeyFileError(f"cannot read the passphrase file {path.name}") from exc
    env = os.environ.get("ECLUSE_PASSPHRASE")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise KeyFileError(f"a passphrase is needed for {what}",
                           hint="pass --passphrase-file FILE or set ECLUSE_PASSPHRASE")
    return str(typer.prompt(f"Passphrase for {what}", hide_input=True, confirmation_prompt=confirm))


@contextmanager
def open_workspace(workspace: Path | None, *, sweep: bool = True) -> Iterator[Workspace]:
    """Open the workspace and run the expiry sweep before anything else."""
    ws = Workspace.open(settings(workspace))
    try:
        if sweep:
            for cert in purge_expired(ws, now=now()):
                err_console.print(f"[yellow]expired mandate:[/] package deleted, certificate {cert}")
        yield ws
    finally:
        ws.close()


def actor(ws: Workspace, key: Path, passphrase_file: Path | None) -> Actor:
    return ws.actor(key, passphrase(passphrase_file, what=key.name))


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on the console messages go to (so they do not interleave);
    yields a ``progress(done, total)`` callback."""
    # MofNCompleteColumn: the total is None until the first update, which "{task.total:,}" cannot format
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


__all__ = ["KeyOpt", "PassOpt", "WorkspaceOpt", "actor", "console", "now", "open_workspace", "passphrase",
           "progress_bar", "settings"]
