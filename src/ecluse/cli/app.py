"""The Typer application and the one place where library errors become exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ecluse.errors import EcluseError, FormatError

__all__ = ["app", "console", "err_console", "handle_errors", "hint_for"]

app = typer.Typer(
    name="ecluse",
    help="Move a medical lab's patient data under a signed scope, encrypted end to end, "
    "deleted with proof afterwards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if not value:
        return
    import ecluse
    from ecluse import _compiled

    state = _compiled.compiled()
    done = sum(state.values())
    if done == len(state):
        how = f"compiled: all {done} hot modules (Cython)"
    elif _compiled.pure_python():
        how = f"interpreted: {_compiled.PURE_ENV} is set"
    else:
        how = (f"compiled: {done} of {len(state)} hot modules; the others run interpreted, more slowly "
               "(built without a C compiler? run `make build`, docs/decisions/0005-compiled-hot-paths.md)")
    console.print(f"ecluse {ecluse.__version__} · Python {sys.version.split()[0]} · {how}", highlight=False)
    raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version, and whether the hot modules are compiled, then exit."),
) -> None:
    """Move a medical lab's patient data under a signed scope, encrypted end to end, deleted with proof
    afterwards."""

P = ParamSpec("P")
R = TypeVar("R")


def hint_for(exc: EcluseError) -> str | None:
    """What to do about ``exc``: its own hint, or for a record that does not parse in a named file
    (readers name the place, never the value), where to correct it."""
    if exc.hint is None and isinstance(exc, FormatError) and exc.file:
        return f"correct this record in the system that produced {exc.file}, then export the file again"
    return exc.hint


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Translate an :class:`EcluseError` into its message, its hint and its exit code.

    Messages of the library never carry patient values, so they can be printed as they are.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except EcluseError as exc:
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
            hint = hint_for(exc)
            if hint:
                err_console.print(f"[yellow]what to do:[/] {escape(hint)}", highlight=False)
            sys.exit(exc.exit_code)

    return wrapper
