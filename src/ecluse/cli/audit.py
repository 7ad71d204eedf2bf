"""Commands over the audit log: verify it, show it, hand out a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from ecluse.cli._common import WorkspaceOpt, now, open_workspace
from ecluse.cli.app import app, console, handle_errors
from ecluse.errors import AuditError

audit_app = typer.Typer(help="Verify and read the tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _witness_text(path: Path) -> str:
    """A witness is a checkpoint note, or a deletion certificate that carries one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"cannot read the witness file {path.name}") from exc
    if data.lstrip().startswith(b"{"):
        try:
            note = orjson.loads(data)["audit_checkpoint"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise AuditError(f"{path.name} is neither a checkpoint nor a deletion certificate") from exc
        return str(note)
    return data.decode("utf-8", errors="strict")


@audit_app.command("verify")
@handle_errors
def verify(
    witness: Annotated[Path | None, typer.Option(
        help="A checkpoint you were handed earlier, or a deletion certificate carrying one.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Recompute the Merkle tree and check every signed checkpoint (and a witness, if given)."""
    with open_workspace(workspace, sweep=False) as ws:
        report = ws.audit.verify(ws.note_verifier, witness=_witness_text(witness) if witness else None)
        console.print(f"audit log intact: {report.entries} entries, {report.checkpoints} signed checkpoints, "
                      f"root {report.root_hex[:16]}…"
                      + (" — consistent with the witness" if witness else ""))


@audit_app.command("show")
@handle_errors
def show(
    last: Annotated[int, typer.Option(help="Show the last N entries (0: all).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON entry per line.")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List audit entries: who, when, what, on which objects."""
    with open_workspace(workspace, sweep=False) as ws:
        size = ws.audit.size()
        start = 0 if last <= 0 else max(0, size - last)
        entries = list(ws.audit.entries(start))
        if as_json:
            for e in entries:
                typer.echo(e.to_json().decode())
            return
        t = Table("#", "time", "actor", "action", "objects", "details")
        for e in entries:
            t.add_row(str(e.index), e.time.isoformat()[:19], e.actor, e.action,
                      " ".join(f"{k}={v}" for k, v in e.objects.items()),
                      " ".join(f"{k}={v}" for k, v in e.details.items()))
        console.print(t)


@audit_app.command("checkpoint")
@handle_errors
def checkpoint(workspace: WorkspaceOpt = None) -> None:
    """Sign a checkpoint of the log now and print it (give it to a witness)."""
    with open_workspace(workspace, sweep=False) as ws:
        cp = ws.checkpoint(now())
        typer.echo(cp.note, nl=False)
