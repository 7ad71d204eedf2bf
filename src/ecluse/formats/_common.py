"""Helpers shared by the codecs: text decoding, dates, escapes, grouping and checks.

Nothing here ever puts a value from the data into an error message: errors name the file,
line, record and field only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeVar

from ecluse.errors import FormatError
from ecluse.formats.records import IDENTITY_STATUSES, Patient, Request, Result

__all__ = [
    "CHUNK_SIZE",
    "NIR_OWNERS",
    "REQUEST_STATUS_FROM_CODE",
    "REQUEST_STATUS_TO_CODE",
    "Chunker",
    "Group",
    "Record",
    "check_patient",
    "decode_lenient",
    "escape_function",
    "escaper",
    "flatten",
    "group_records",
    "iso_to_ts",
    "none_if_empty",
    "same",
    "split_lines",
    "ts_reader",
    "ts_to_iso",
    "ts_writer",
    "unescaper",
]

Record = Patient | Request | Result
#: A patient with its requests, each with its results: the unit every writer works on.
Group = tuple[Patient, list[tuple[Request, list[Result]]]]

#: Whose NIR a legacy system holds. Anything else is refused by the writers.
NIR_OWNERS: Final[tuple[str, ...]] = ("patient", "insured")

#: Request status (records) <-> report status letter (HL7 OBR-25, HPRIM OBR.26).
REQUEST_STATUS_TO_CODE: Final[dict[str, str]] = {
    "final": "F",
    "partial": "P",
    "corrected": "C",
    "cancelled": "X",
    "registered": "I",
}
REQUEST_STATUS_FROM_CODE: Final[dict[str, str]] = {
    **{v: k for k, v in REQUEST_STATUS_TO_CODE.items()},
    "A": "partial",  # HL7 0123 "some results available": read leniently as partial
}


#: Characters of text from which a streaming writer yields a chunk (about 256 KB).
CHUNK_SIZE: Final = 1 << 18


class Chunker:
    """When a streaming writer yields: once its pending list holds :attr:`lines` items (lines,
    segments or rows), a number adapted after each chunk to the mean size of its items, so that
    chunks hold about :data:`CHUNK_SIZE` characters without measuring every line."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines = 2048

    def take(self, pending: list[str], end: str = "") -> str:
        """The pending items, each followed by ``end``, joined; ``pending`` is emptied (in place:
        writers bind its ``append``)."""
        text = end.join(pending) + end if end else "".join(pending)
        n = len(pending)
        pending.clear()
        if text:
            self.lines = max(16, min(1 << 16, CHUNK_SIZE * n // len(text)))
        return text


def same(value: str) -> str:
    """The unescaping of a value that holds no escape character: the value itself. Readers pass it
    where they would pass an unescaper; compiled, it is a cheaper call than ``str``."""
    return value


def none_if_empty(value: str) -> str | None:
    return value if value else None


def split_lines(text: str) -> list[str]:
    """Split on CR LF, CR or LF only (``str.splitlines`` also splits on NEL, FS, GS...)."""
    if "\r" not in text:
        return text.split("\n")
    if "\n" not in text:
        return text.split("\r")
    lines = text.split("\r\n")
    line: str
    for line in lines:
        if "\r" in line or "\n" in line:  # a lone CR or LF: mixed line ends
            return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines


def decode_lenient(data: bytes, order: tuple[str, ...]) -> tuple[str, str]:
    """Decode ``data`` with the first encoding of ``order`` that accepts it strictly.

    The last encoding should be ``iso-8859-1``, which accepts any byte string.
    """
    for encoding in order:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("iso-8859-1"), "iso-8859-1"


# ---------------------------------------------------------------- dates

_ISO_RE: Final = re.compile(
    r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?)?)?)?)?"
    r"(?:([+-])([0-9]{2}):([0-9]{2}))?"
)
_TS_RE: Final = re.compile(
    r"([0-9]{4})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(?:([0-9]{2})(\.[0-9]+)?)?)?)?)?)?(?:([+-])([0-9]{2})([0-9]{2}))?"
)


def iso_to_ts(value: str, *, record: str, field: str) -> str:
    """ISO 8601 text (``2024-01-15T08:15:00+01:00``) to an HL7/HPRIM TS, keeping its precision."""
    if len(value) == 25 and value[19] in "+-" and value.isascii():
        # fast path: the common full form YYYY-MM-DDTHH:MM:SS+HH:MM
        v = value
        if v[4] == "-" and v[7] == "-" and v[10] == "T" and v[13] == ":" and v[16] == ":" and v[22] == ":":
            out = f"{v[0:4]}{v[5:7]}{v[8:10]}{v[11:13]}{v[14:16]}{v[17:19]}{v[19]}{v[20:22]}{v[23:25]}"
            if out[:14].isdigit() and out[15:].isdigit():
                return out
    if len(value) == 10 and value[4] == "-" and value[7] == "-" and value.isascii():
        # fast path: a date YYYY-MM-DD
        out = value[0:4] + value[5:7] + value[8:10]
        if out.isdigit():
            return out
    m = _ISO_RE.fullmatch(value)
    if m is None:
        raise FormatError("not an ISO 8601 date or date-time", record=record, field=field,
                          hint="dates are written as YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]")
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    out = y + (mo or "") + (d or "") + (h or "") + (mi or "") + (s or "") + (frac or "")
    if sign:
        out += sign + oh + om
    return out


def ts_to_iso(value: str, *, file: str | None = None, line: int | None = None, record: str | None = None,
              field: str | None = None) -> str:
    """An HL7/HPRIM TS (``YYYY[MM[DD[HH[MM[SS[.S]]]]]][+ZZZZ]``) to ISO 8601 text."""
    if len(value) == 19 and value[14] in "+-" and value.isascii() and value[:14].isdigit() \
            and value[15:].isdigit():
        # fast path: the common full form YYYYMMDDHHMMSS+ZZZZ
        v = value
        return f"{v[0:4]}-{v[4:6]}-{v[6:8]}T{v[8:10]}:{v[10:12]}:{v[12:14]}{v[14]}{v[15:17]}:{v[17:19]}"
    if len(value) == 8 and value.isascii() and value.isdigit():
        # fast path: a date YYYYMMDD
        return f"{value[0:4]}-{value[4:6]}-{value[6:8]}"
    m = _TS_RE.fullmatch(value)
    if m is None:
        raise FormatError("not a date/time (YYYYMMDD[HHMM[SS]])", file=file, line=line, record=record,
                          field=field)
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    out = y
    if mo:
        out += "-" + mo
        if d:
            out += "-" + d
            if h:
                out += "T" + h
                if mi:
                    out += ":" + mi
                    if s:
                        out += ":" + s + (frac or "")
    if sign:
        out += f"{sign}{oh}:{om}"
    return out


# ---------------------------------------------------------------- HL7-style escapes

def escaper(field: str, comp: str, rep: str, esc: str, sub: str) -> tuple[re.Pattern[str], dict[int, str]]:
    """A search pattern and a ``str.translate`` table escaping delimiters and control characters."""
    table: dict[int, str] = {}
    for c in range(0x20):
        table[c] = f"{esc}X{c:02X}{esc}"
    table[0x7F] = f"{esc}X7F{esc}"
    for c in range(0x80, 0xA0):  # C1 controls: as their UTF-8 bytes (cp1252 would misread them)
        table[c] = f"{esc}X{chr(c).encode('utf-8').hex().upper()}{esc}"
    table[ord("\n")] = f"{esc}.br{esc}"
    table[ord(field)] = f"{esc}F{esc}"
    table[ord(comp)] = f"{esc}S{esc}"
    table[ord(rep)] = f"{esc}R{esc}"
    table[ord(sub)] = f"{esc}T{esc}"
    table[ord(esc)] = f"{esc}E{esc}"
    chars = "".join(re.escape(chr(c)) for c in table)
    return re.compile(f"[{chars}]"), table


def escape_function(
    field: str, comp: str, rep: str, esc: str, sub: str
) -> tuple[Callable[[str | None], str], Callable[[str], re.Match[str] | None]]:
    """``(escape, search)``. ``escape(value)``: ``""`` for an empty value, the value as it is when it holds
    nothing to escape, else the value with delimiters and control characters escaped (see
    :func:`escaper`); ``search(text)`` finds the first character that would need escaping, so a writer
    can test several values joined at once."""
    pattern, table = escaper(field, comp, rep, esc, sub)
    search = pattern.search

    def escape(value: str | None) -> str:
        if not value:
            return ""
        return value.translate(table) if search(value) else value

    return escape, search


def unescaper(field: str, comp: str, rep: str, esc: str, sub: str, charset: str, *,
              hex_utf8: bool = False) -> Callable[[str], str]:
    """A function decoding HL7-style escape sequences; unknown or broken sequences are kept as text.

    ``\\Xhh..\\`` holds bytes in ``charset``; with ``hex_utf8`` (the HPRIM Santé profile),
    bytes that are valid UTF-8 are read as UTF-8 first (a character the file's charset cannot hold).
    """
    charsets = ("utf-8", charset) if hex_utf8 else (charset,)
    simple = {"F": field, "S": comp, "R": rep, "T": sub, "E": esc, ".br": "\n", "H": "", "N": "",
              ".sp": "\n", ".fi": "", ".nf": "", ".ce": "\n"}
    seq_re = re.compile(re.escape(esc) + r"([^" + re.escape(esc) + r"]+?)" + re.escape(esc))

    def repl(m: re.Match[str]) -> str:
        body = m.group(1)
        known = simple.get(body)
        if known is not None:
            return known
        if body[:1] == "X" and len(body) > 1 and len(body) % 2 == 1:
            try:
                raw = bytes.fromhex(body[1:])
            except ValueError:
                return m.group(0)
            for cs in charsets:
                try:
                    return raw.decode(cs)
                except (UnicodeDecodeError, LookupError):
                    continue
            return m.group(0)
        if body[:3] in (".sp", ".in", ".ti", ".sk"):
            return "\n" if body.startswith(".sp") else ""
        return m.group(0)

    def unescape(value: str) -> str:
        if esc not in value:
            return value
        return seq_re.sub(repl, value)

    return unescape


# ---------------------------------------------------------------- checks and grouping

def check_patient(p: Patient) -> None:
    """Refuse identity fields a writer would otherwise have to guess about."""
    if p.nir_owner is not None and p.nir_owner not in NIR_OWNERS:
        raise FormatError("unknown NIR owner", record=f"Patient {p.id}", field="nir_owner",
                          hint="nir_owner is 'patient', 'insured' or empty")
    if p.identity_status is not None and p.identity_status not in IDENTITY_STATUSES:
        raise FormatError("unknown identity status", record=f"Patient {p.id}", field="identity_status",
                          hint="identity_status is one of " + ", ".join(IDENTITY_STATUSES))


def group_records(records: Iterable[Record]) -> Iterator[Group]:
    """Group a stream in the codec order (a Patient, then its Requests, each followed by its
    Results) into one tuple per patient; refuse a stream out of that order."""
    patient: Patient | None = None
    reqs: list[tuple[Request, list[Result]]] = []
    current: list[Result] | None = None
    current_id: str | None = None
    for rec in records:
        if type(rec) is Result:  # the common case first, without the isinstance chain
            if patient is None or current is None or rec.request_id != current_id \
                    or rec.patient_id != patient.id:
                raise FormatError("result out of order: it does not follow its request",
                                  record=f"Result {rec.id}", field="request_id")
            current.append(rec)
        elif isinstance(rec, Patient):
            if patient is not None:
                yield patient, reqs
            patient, reqs, current, current_id = rec, [], None, None
        elif isinstance(rec, Request):
            if patient is None or rec.patient_id != patient.id:
                raise FormatError("request out of order: it does not follow its patient",
                                  record=f"Request {rec.id}", field="patient_id")
            current = []
            current_id = rec.id
            reqs.append((rec, current))
        elif isinstance(rec, Result):
            if patient is None or current is None or rec.request_id != current_id \
                    or rec.patient_id != patient.id:
                raise FormatError("result out of order: it does not follow its request",
                                  record=f"Result {rec.id}", field="request_id")
            current.append(rec)
        else:
            raise FormatError("not a record", record=type(rec).__name__)
    if patient is not None:
        yield patient, reqs


def flatten(groups: Iterable[Group]) -> Iterator[Record]:
    for patient, reqs in groups:
        yield patient
        for req, results in reqs:
            yield req
            yield from results


# ---------------------------------------------------------------- per-file memo tables

#: Entries a memo table holds before it is emptied (bounded memory on any file size).
_MEMO_LIMIT: Final = 1 << 14


_Ctx = TypeVar("_Ctx")
_Empty = TypeVar("_Empty", str, None)


def _stamp_memo(convert: Callable[[str, _Ctx, str, str], str], empty: _Empty, *, full: int, cut: int,
                out_full: int, out_cut: int, mark: int,
                marks: str) -> Callable[[str | None, _Ctx, str, str], str | _Empty]:
    """``convert(value, context, record, field)`` memoised for one file: ``empty`` for an empty value.

    The full form (``full`` characters, ``marks`` at index ``mark``) seldom repeats as a whole (about
    one per request) but its first ``cut`` characters (the date) and the rest (the time of day) do: it
    is remembered by both halves, in two small tables, each half from a value that converted
    successfully to ``out_full`` characters (the date its first ``out_cut``); other forms are
    remembered whole. Only successful
    conversions are remembered. Compiled, the tables' own ``get`` is a direct C call."""
    memo: dict[str, str] = {}
    dates: dict[str, str] = {}
    times: dict[str, str] = {}

    def ts(value: str | None, context: _Ctx, record: str, field: str) -> str | _Empty:
        if not value:
            return empty
        whole = len(value) == full
        if whole:
            day = dates.get(value[:cut])
            if day is not None:
                clock = times.get(value[cut:])
                if clock is not None:
                    return day + clock
        else:
            out = memo.get(value)
            if out is not None:
                return out
        out = convert(value, context, record, field)
        if whole and len(out) == out_full and value[mark] in marks:
            if len(dates) >= _MEMO_LIMIT:
                dates.clear()
            if len(times) >= _MEMO_LIMIT:
                times.clear()
            dates[value[:cut]] = out[:out_cut]
            times[value[cut:]] = out[out_cut:]
        else:
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[value] = out
        return out

    return ts


def ts_reader(file: str | None) -> Callable[[str, int, str, str], str | None]:
    """:func:`ts_to_iso` for one file, memoised (timestamps repeat within a request), called with
    the line, record and field an error names; an empty value is ``None``. The full form
    YYYYMMDDHHMMSS+ZZZZ is remembered by its date and its time of day."""

    def convert(value: str, line: int, record: str, field: str) -> str:
        return ts_to_iso(value, file=file, line=line, record=record, field=field)

    return _stamp_memo(convert, None, full=19, cut=8, out_full=25, out_cut=10, mark=14, marks="+-")


def ts_writer() -> Callable[[str | None, str, str, str], str]:
    """:func:`iso_to_ts` memoised for one write, called with the record's kind and id (an error
    names ``"<kind> <id>"``); an empty value is ``""``. The full form YYYY-MM-DDTHH:MM:SS+HH:MM is
    remembered by its date and its time of day."""

    def convert(value: str, kind: str, ident: str, field: str) -> str:
        return iso_to_ts(value, record=f"{kind} {ident}", field=field)

    return _stamp_memo(convert, "", full=25, cut=10, out_full=19, out_cut=8, mark=10, marks="T")
