"""``ecluse scan``: look for plaintext health data under paths, report it, optionally remove it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ecluse.cli._common import progress_bar
from ecluse.cli.app import app, console, err_console, handle_errors
from ecluse.errors import ScanError
from ecluse.scan import ScanLimits, ScanReport, default_cache_dir, scan_paths
from ecluse.scan.remediate import quarantine, shred
from ecluse.scan.report import Baseline, to_html, to_json, to_sarif

__all__ = ["FINDINGS_EXIT_CODE", "scan"]

#: Exit code when findings reach ``--fail-on`` (ScanError itself exits 20).
FINDINGS_EXIT_CODE = 21
_DEFAULTS = ScanLimits()


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _table(report: ScanReport, limit: int) -> None:
    t = Table(
        title=f"{report.count()} findings in {report.files_scanned} files ({report.bytes_scanned / 1e6:.1f} MB)"
    )
    for col in ("file", "location", "kind", "conf.", "excerpt (masked)"):
        t.add_column(col, overflow="fold")
    for f in report.findings[:limit]:
        t.add_row(escape(f.file), escape(f.location), f.kind, f"{f.confidence:.2f}", escape(f.excerpt))
    console.print(t)
    if report.count() > limit:
        console.print(f"… {report.count() - limit} more (use --json or --html for the listed ones)")
    if report.truncated:
        console.print(f"{report.omitted_count()} findings are counted but not listed (past the limit per file "
                      "and kind; counts and risk scores include them)")
    for p in report.protected_files:
        console.print(
            f"[green]protected[/] {escape(p.file)}{' ' + escape(p.member) if p.member else ''}: {escape(p.reason)}"
        )
    for s in report.skipped:
        console.print(
            f"[yellow]skipped[/] {escape(s.file)}{' ' + escape(s.member) if s.member else ''}: {escape(s.reason)}"
        )


@app.command("scan")
@handle_errors
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to scan.")],
    min_confidence: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Report findings at or above this confidence (0 to 1).")
    ] = 0.5,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON.")] = None,
    sarif_out: Annotated[Path | None, typer.Option("--sarif", help="Write the report as SARIF 2.1.0.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report.")] = None,
    fail_on: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0,
                     help=f"Exit {FINDINGS_EXIT_CODE} if --fail-count findings reach this confidence (0 to 1)."),
    ] = None,
    fail_count: Annotated[int, typer.Option(min=1, help="How many findings at --fail-on make the scan fail.")] = 1,
    baseline: Annotated[Path | None, typer.Option(help="Suppress the findings accepted in this file.")] = None,
    write_baseline: Annotated[
        Path | None, typer.Option(help="Accept every current finding: write (or extend) this baseline file.")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=0, help="Processes scanning files in parallel; 0 (the default): one per CPU.")
    ] = 0,
    max_depth: Annotated[int, typer.Option(help="Deepest archive nesting opened.")] = _DEFAULTS.max_depth,
    max_ratio: Annotated[float, typer.Option(help="Largest compression ratio accepted.")] = _DEFAULTS.max_ratio,
    quarantine_to: Annotated[
        str | None,
        typer.Option(
            "--quarantine", help="Encrypt each file with findings to this age recipient, removing the plaintext."
        ),
    ] = None,
    shred_files: Annotated[bool, typer.Option("--shred", help="Overwrite and delete each file with findings.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Show what --quarantine or --shred would do.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    quiet: Annotated[bool, typer.Option(help="Do not print the findings table.")] = False,
) -> None:
    """Find plaintext health data (NIR, INS, phones, birth dates, clinical terms...) under PATHS."""
    if quarantine_to and shred_files:
        raise ScanError("--quarantine and --shred exclude each other", hint="Choose one.")
    base = Baseline.load(baseline) if baseline else None
    if base is None and write_baseline is not None:
        base = Baseline.load(write_baseline) if write_baseline.exists() else Baseline.new()
    limits = ScanLimits(max_depth=max_depth, max_ratio=max_ratio)
    workers = workers or os.cpu_count() or 1
    with progress_bar("scanning (MB on disk)") as update:
        report = scan_paths(
            paths,
            min_confidence=min_confidence,
            limits=limits,
            workers=workers,
            fingerprint_key=base.key if base else None,
            progress=lambda done, total: update(done >> 20, total >> 20),
            cache_dir=default_cache_dir(os.environ),
        )
    if write_baseline is not None and base is not None:
        base.save(write_baseline, report.findings)
    if baseline is not None and base is not None:
        base.apply(report)
    if json_out:
        _write(json_out, to_json(report))
    if sarif_out:
        _write(sarif_out, to_sarif(report))
    if html_out:
        _write(html_out, to_html(report).encode())
    if not quiet:
        _table(report, limit=200)

    targets = sorted({Path(f.file) for f in report.findings})
    if (quarantine_to or shred_files) and targets:
        action = "encrypt to the age recipient" if quarantine_to else "overwrite and delete"
        if not dry_run and not yes:
            err_console.print(f"About to {action} {len(targets)} file(s):")
            for t in targets:
                err_console.print(f"  {escape(str(t))}")
            if not typer.confirm("Proceed?", default=False, err=True):
                raise ScanError("remediation cancelled", hint="Nothing was changed.")
        done = quarantine(targets, quarantine_to, dry_run=dry_run) if quarantine_to else shred(targets, dry_run=dry_run)
        for r in done:
            console.print(f"{r.action}: {escape(r.file)}{' -> ' + escape(r.result) if r.result else ''}")

    if fail_on is not None:
        hits = report.count(fail_on)  # listed and counted-only findings alike
        if hits >= fail_count:
            err_console.print(f"{hits} finding(s) at confidence ≥ {fail_on}")
            raise typer.Exit(FINDINGS_EXIT_CODE)
