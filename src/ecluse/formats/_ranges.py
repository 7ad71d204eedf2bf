"""Reference ranges as text (``12.0 - 16.0``, ``< 5``, ``>60``) to and from low/high bounds."""

from __future__ import annotations

import re
from typing import Final

from ecluse.errors import FormatError

__all__ = ["NUMBER_RE", "format_range", "parse_range"]

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
