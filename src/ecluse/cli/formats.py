"""``ecluse inspect FILE`` and ``ecluse convert IN OUT --to FORMAT``: thin commands over
:mod:`ecluse.formats`. Nothing here prints a value from the data: only formats, encodings,
counts, and where errors are (file, line, record, field)."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ecluse.cli.app import app, console, handle_errors, hint_for
from ecluse.errors import EcluseError, FormatError
from ecluse.formats._common import Record
from ecluse.formats.codec import CODECS, Codec, get_codec, sniff_codec
from ecluse.migration.mandate import load_mandate
from ecluse.migration.scope import apply_scope

__all__ = ["convert", "inspect"]


def _read(path: Path, fmt: str | None) -> tuple[Codec, bytes]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError("cannot read the file", file=path.name) from exc
    codec = get_codec(fmt) if fmt else sniff_codec(data[:4096], filename=path.name)
    return codec, data


@app.command()
@handle_errors
def inspect(
    file: Annotated[Path, typer.Argument(help="A lab data file (HPRIM Santé, HPRIM Net, HL7 v2.5, CSV).")],
    fmt: Annotated[str | None, typer.Option("--format", help="Format name; sniffed when omitted.")] = None,
) -> None:
    """Report a file's format, encoding, record counts and errors, never a value."""
    codec, data = _read(file, fmt)
    counts: Counter[str] = Counter()
    error: FormatError | None = None
    try:
        for rec in codec.read(data, filename=file.name):
            counts[type(rec).__name__] += 1
    except FormatError as exc:
        error = exc
    encoding = "utf-8"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        encoding = "cp1252/iso-8859-1"
    console.print(f"format: {codec.name}")
    console.print(f"encoding: {encoding}")
    console.print(f"size: {len(data)} bytes")
    for kind in ("Patient", "Request", "Result"):
        console.print(f"{kind.lower()}s: {counts[kind]}")
    if error is not None:
        console.print(f"error: {error.message}", highlight=False, markup=False)
        hint = hint_for(error)
        if hint:
            console.print(f"what to do: {hint}", highlight=False, markup=False)
        raise typer.Exit(error.exit_code)


@app.command()
@handle_errors
def convert(
    source: Annotated[Path, typer.Argument(help="Input file.")],
    target: Annotated[Path, typer.Argument(help="Output file (written under a temporary name, then renamed).")],
    to: Annotated[str, typer.Option("--to", help="Output format: " + ", ".join(CODECS))],
    fmt: Annotated[str | None, typer.Option("--from", help="Input format; sniffed when omitted.")] = None,
    mandate: Annotated[Path | None, typer.Option(
        "--mandate", help="Apply this signed mandate's scope (MANDATE.minisig beside it).")] = None,
    controller_key: Annotated[Path | None, typer.Option(
        help="The controller's public key (.pub) that signed the mandate.")] = None,
    unscoped: Annotated[bool, typer.Option(
        "--unscoped", help="Convert everything, with no mandate (only for data you may hold whole).")] = False,
) -> None:
    """Convert a lab data file from one format to another, under a mandate's scope."""
    if mandate is None and not unscoped:
        raise EcluseError("convert needs the mandate whose scope applies",
                          hint="pass --mandate MANDATE --controller-key CONTROLLER.pub, or --unscoped if you "
                          "may hold the whole file")
    codec, data = _read(source, fmt)
    out_codec = get_codec(to)
    records: Iterable[Record] = codec.read(data, filename=source.name)
    if mandate is not None:
        if controller_key is None:
            raise EcluseError("--mandate needs --controller-key", hint="give the controller's .pub file")
        m = load_mandate(mandate, controller_key, now=datetime.now(UTC))
        records = apply_scope(records, m.scope)
    payload = out_codec.write(records)
    target = target.resolve()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    console.print(f"wrote {target.name} ({out_codec.name}, {len(payload)} bytes)")
