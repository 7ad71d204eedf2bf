"""``ecluse synth`` and ``ecluse demo``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ecluse.cli.app import app, console, err_console, handle_errors
from ecluse.legacy import synth as synth_lib
from ecluse.migration.demo import STEPS, DemoReport, run_demo


def _bar(out: Console = err_console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=out, transient=True)


@app.command()
@handle_errors
def synth(
    path: Annotated[Path, typer.Argument(help="The SQLite file to create (never overwritten).")],
    patients: Annotated[int, typer.Option(help="Number of patients (about 2 requests and 12 results each).")]
    = 5000,
    seed: Annotated[int, typer.Option(help="Same seed, same database.")] = 0,
) -> None:
    """Create a synthetic legacy LIS shaped like a French lab's (all data synthetic)."""
    with _bar() as bar:
        task = bar.add_task("synthesising patients", total=patients)
        stats = synth_lib.generate(path, patients=patients, seed=seed,
                                   progress=lambda d, t: bar.update(task, completed=d, total=t))
    console.print(f"{stats.path}: {stats.patients:,} patients, {stats.requests:,} requests, "
                  f"{stats.results:,} results, {stats.sites} sites ({stats.size_bytes / 1e6:.1f} MB)")


@app.command()
@handle_errors
def demo(
    patients: Annotated[int, typer.Option(help="Patients in the synthetic LIS.")] = 3000,
    keep: Annotated[Path | None, typer.Option(help="Keep every workspace, key and file in this directory.")]
    = None,
    until: Annotated[str, typer.Option(help=f"Stop after this step: {', '.join(STEPS)}.")] = "closed",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic LIS.")] = 1,
) -> None:
    """Run the whole procedure on a synthetic LIS and print what happened."""
    root = keep or Path(tempfile.mkdtemp(prefix="ecluse-demo-"))
    with _bar(console) as bar:  # one console for bars and messages, so they do not interleave
        tasks: dict[str, TaskID] = {}
        finished: set[str] = set()

        def progress(what: str, done: int, total: int) -> None:
            if what in finished:
                return
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)
            if done >= total:
                bar.remove_task(tasks[what])
                finished.add(what)

        report = run_demo(root, patients=patients, seed=seed, until=until, progress=progress,
                          say=lambda m: bar.console.print(f"[green]✓[/] {m}"))
    _summary(report)
    console.print(f"everything the demo made (synthetic data only) is in {root}")


def _summary(r: DemoReport) -> None:
    console.rule("[bold]Écluse demo")
    if r.synth:
        console.print(f"legacy LIS: {r.synth.patients:,} patients, {r.synth.requests:,} requests, "
                      f"{r.synth.results:,} results")
    if r.exported:
        t = Table("resource type", "exported", "received", title=f"package {r.package_id}")
        for k, n in r.exported.items():
            t.add_row(k, f"{n:,}", f"{r.received.get(k, 0):,}" if r.received else "—")
        console.print(t)
        console.print(f"package size (encrypted): {r.package_bytes / 1e6:.1f} MB")
    if r.left_out:
        console.print("[bold]left out by the mandate:[/]")
        for what, items in r.left_out.items():
            if items:
                console.print(f"  {what}: {', '.join(items)}")
        for what, n in r.excluded_rows.items():
            console.print(f"  {what}: {n:,} rows in the LIS")
    t = Table("step", "seconds", title="timings")
    for k, v in r.timings.items():
        t.add_row(k, f"{v:.2f}")
    console.print(t)
    if r.certificate:
        console.print(f"deletion certificate: [bold]{r.certificate}[/] (+ .minisig, for the controller)")
        a = r.audit_entries
        console.print(f"audit logs verified: vendor {a.get('vendor', 0)} entries, recipient "
                      f"{a.get('recipient', 0)} entries; the vendor log is consistent with the checkpoint "
                      "the certificate carries")
    if r.stopped_after != "closed":
        console.print(f"stopped after [bold]{r.stopped_after}[/]; everything is in {r.root}; "
                      f"continue by hand with the commands in {r.root / 'NEXT.md'}")
