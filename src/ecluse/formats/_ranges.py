"""Reference ranges as text (``12.0 - 16.0``, ``< 5``, ``>60``) to and from low/high bounds."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from ecluse.errors import FormatError

__all__ = ["NUMBER_RE", "format_range", "parse_range", "range_parser", "range_writer"]

#: A number in the canonical form records hold: optional minus, digits, optional ``.`` decimals.
NUMBER_RE: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_N = r"(-?[0-9]+(?:[.,][0-9]+)?)"
_BOTH: Final = re.compile(rf"\s*{_N}\s*-\s*{_N}\s*")
_HIGH: Final = re.compile(rf"\s*(?:<=?|≤)\s*{_N}\s*")
_LOW: Final = re.compile(rf"\s*(?:>=?|≥)\s*{_N}\s*")


def parse_range(text: str) -> tuple[str | None, str | None]:
    """Low and high bounds of a range text; decimal commas become points. A text that is not a
    numeric range gives ``(None, None)`` (lenient: such ranges are free text in real files)."""
    if not text:
        return None, None
    m = _BOTH.fullmatch(text)
    if m:
        return m.group(1).replace(",", "."), m.group(2).replace(",", ".")
    m = _HIGH.fullmatch(text)
    if m:
        return None, m.group(1).replace(",", ".")
    m = _LOW.fullmatch(text)
    if m:
        return m.group(1).replace(",", "."), None
    return None, None


def format_range(low: str | None, high: str | None, *, sep: str, record: str) -> str:
    """``low<sep>high``, ``<high`` or ``>low`` (with spaces when ``sep`` has them)."""
    space = " " if sep.startswith(" ") else ""
    for name, value in (("ref_low", low), ("ref_high", high)):
        if value is not None and value != "" and NUMBER_RE.fullmatch(value) is None:
            raise FormatError("reference bound is not a number", record=record, field=name,
                              hint="reference bounds are written as numbers with a '.' decimal point")
    if low and high:
        return f"{low}{sep}{high}"
    if high:
        return f"<{space}{high}"
    if low:
        return f">{space}{low}"
    return ""


_MEMO_LIMIT: Final = 1 << 12


def range_parser() -> Callable[[str], tuple[str | None, str | None]]:
    """:func:`parse_range` memoised for one file (reference ranges repeat per test)."""
    memo: dict[str, tuple[str | None, str | None]] = {}
    get = memo.get

    def parse(text: str) -> tuple[str | None, str | None]:
        out = get(text)
        if out is None:
            out = parse_range(text)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[text] = out
        return out

    return parse


def range_writer(sep: str) -> Callable[[str | None, str | None, str], str]:
    """:func:`format_range` with ``sep``, memoised for one write, called with the result id (an
    error names ``"Result <id>"``); only valid ranges are remembered."""
    memo: dict[tuple[str | None, str | None], str] = {}
    get = memo.get

    def fmt(low: str | None, high: str | None, ident: str) -> str:
        key = (low, high)
        out = get(key)
        if out is None:
            out = format_range(low, high, sep=sep, record=f"Result {ident}")
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key] = out
        return out

    return fmt
