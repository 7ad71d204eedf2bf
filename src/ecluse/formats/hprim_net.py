"""HPRIM Médecins / "HPRIM Net": the lab-to-GP report (12-line header, free text, an optional
``****LAB****`` block of ``RES`` and ``TEX`` lines, ``****FIN****``, ``****FINFICHIER****``).

The format carries less than our records (no INS, sex, times, units in UCUM...): see
``docs/formats/hprim-net.md`` for what survives a round trip. Its NIR line is always read as a
NIR, never as an INS.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Final

import cython

from ecluse.errors import FormatError
from ecluse.formats._common import (
    Chunker,
    Group,
    Record,
    check_patient,
    decode_lenient,
    flatten,
    group_records,
    split_lines,
)
from ecluse.formats.records import Patient, Request, Result

__all__ = ["HprimNetCodec"]

LAB: Final = "****LAB****"
FIN: Final = "****FIN****"
FINFICHIER: Final = "****FINFICHIER****"
_MARKERS: Final = (LAB, FIN, FINFICHIER)
_MARKER_SET: Final = frozenset(_MARKERS)
#: entries a per-file memo table holds before it is emptied
_MEMO_LIMIT: Final = 1 << 14
_FINESS_RE: Final = re.compile(r"[0-9][0-9AB][0-9]{7}")
_RPPS_RE: Final = re.compile(r"[0-9]{11}")
_LOINC_RE: Final = re.compile(r"[0-9]{1,7}-[0-9]")
_CP_CITY_RE: Final = re.compile(r"([0-9]{5})(?: (.*))?")
_DMY_RE: Final = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_YMD_RE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_NUM_DOT: Final = re.compile(r"-?[0-9]+\.[0-9]+")
_NUM_COMMA: Final = re.compile(r"-?[0-9]+,[0-9]+")
_TYPES_OUT: Final = {"NM": "N"}
_PAD: Final[list[str]] = [""] * 14


@functools.lru_cache(maxsize=4096)
def _point(bound: str) -> str:
    """A number with a decimal comma as records hold it (with a point); other text unchanged."""
    return bound.replace(",", ".") if _NUM_COMMA.fullmatch(bound) else bound


@functools.lru_cache(maxsize=4096)
def _iso(value: str) -> str | None:
    """``JJ/MM/AAAA`` or ``AAAA-MM-JJ`` as ISO text; ``None`` for anything else."""
    m = _DMY_RE.fullmatch(value)
    if m:
        return f"{m.group(3)}-{m.group(2)}-{m.group(1)}"
    if _YMD_RE.fullmatch(value):
        return value
    return None


def _date_in(value: str, file: str, line: int) -> str | None:
    if not value:
        return None
    out = _iso(value)
    if out is None:
        raise FormatError("not a date (JJ/MM/AAAA)", file=file, line=line, record="header")
    return out


@functools.lru_cache(maxsize=4096)
def _dmy(value: str) -> str | None:
    m = _YMD_RE.match(value)
    return None if m is None else f"{m.group(3)}/{m.group(2)}/{m.group(1)}"


def _date_out(value: str | None, record: str, field: str) -> str:
    if not value:
        return ""
    out = _dmy(value)
    if out is None:
        raise FormatError("not an ISO date", record=record, field=field)
    return out


def _attach(target: Request | Result, comment: list[str]) -> None:
    """Add the TEX lines of ``comment`` to ``target``'s comment and empty the list."""
    text = "\n".join(comment)
    target.comment = f"{target.comment}\n{text}" if target.comment else text
    comment.clear()


def _next_is_res(lines: list[str], k: int, end: int) -> bool:
    """Whether the next non-blank line from ``k`` (before ``end``) is a RES line."""
    while k < end:
        line = lines[k]
        if line and not line.isspace():
            return line.startswith("RES|")
        k += 1
    return False


def _title(line: str) -> bool:
    """A TEX line naming a section (``TEX|HEMATOLOGIE``): no lower-case letter."""
    text = line[4:]
    return bool(text.strip()) and not any(c.islower() for c in text)


@cython.cclass
class _Reader:
    # declared attributes: compiled (a Cython extension type), the methods read them without a dict
    lines: list[str]
    file: str
    loincs: dict[str, str | None]

    def __init__(self, text: str, filename: str) -> None:
        self.lines = split_lines(text)
        self.file = filename
        #: test code -> the code if it is a LOINC code, else None
        self.loincs = {}

    def groups(self) -> Iterator[Group]:
        lines = self.lines
        n = len(lines)
        i = 0
        current: Patient | None = None
        reqs: list[tuple[Request, list[Result]]] = []
        # the marker lines (every marker holds "****": only those lines are stripped), in order
        marks: list[tuple[int, str]] = []
        line: str
        k: cython.Py_ssize_t
        for k, line in enumerate(lines):
            # a marker line starts with its asterisks or with blanks: test the first character first
            if line and (line[0] == "*" or line[0].isspace()) and "****" in line:
                m = line.strip()
                if m in _MARKER_SET:
                    marks.append((k, m))
        nmarks = len(marks)
        mp = 0
        patient_lines: list[str] = []
        while i < n:
            s = lines[i].strip()
            if not s or s in (FIN, FINFICHIER):
                i += 1
                continue
            start = i
            header = [x.strip() for x in lines[i:i + 12]]
            if len(header) < 12 or not _MARKER_SET.isdisjoint(header):
                raise FormatError("report header shorter than 12 lines", file=self.file, line=start + 1,
                                  record="header")
            i += 12
            # the next report of the same patient repeats the patient's eight lines: read them once
            if current is not None and header[:8] == patient_lines:
                patient = current
            else:
                patient = self.patient(header, start)
                patient_lines = header[:8]
            # the report runs to the next FIN or FINFICHIER line (or the end); its body is what comes
            # before the first LAB line, its LAB block the non-blank lines after the last one
            while mp < nmarks and marks[mp][0] < i:
                mp += 1
            first_lab = last_lab = -1
            end = n
            while mp < nmarks:
                k, mark = marks[mp]
                mp += 1
                if mark == LAB:
                    if first_lab < 0:
                        first_lab = k
                    last_lab = k
                else:
                    end = k
                    break
            lab_end = end
            i = end + 1
            if current is not None and patient is not current and patient != current:
                yield current, reqs
                current, reqs = None, []
            if current is None:
                current, reqs = patient, []
            rid = header[8]
            if rid:
                req = Request(id=rid, patient_id=patient.id)
                req.collected_at = _date_in(header[9], self.file, start + 10)
                sender = header[10].split(None, 1)
                if sender and _FINESS_RE.fullmatch(sender[0]):
                    req.site_finess = sender[0]
                recipient = header[11].split(None, 1)
                if recipient and _RPPS_RE.fullmatch(recipient[0]):
                    req.prescriber_rpps = recipient[0]
                results: list[Result] = []
                if last_lab < 0:
                    text = "\n".join(lines[start + 12:lab_end]).strip("\n")
                    req.comment = text or None
                else:
                    self.lab(last_lab + 1, lab_end, req, results)
                reqs.append((req, results))
        if current is not None:
            yield current, reqs

    def patient(self, h: list[str], start: int) -> Patient:
        if not h[0]:
            raise FormatError("report without a patient id", file=self.file, line=start + 1, record="header")
        p = Patient(id=h[0], birth_name=h[1] or None, given_names=h[2] or None)
        address = "\n".join([x for x in (h[3], h[4]) if x])
        p.address = address or None
        m = _CP_CITY_RE.fullmatch(h[5])
        if m:
            p.postcode, p.city = m.group(1), m.group(2) or None
        else:
            p.city = h[5] or None
        p.birth_date = _date_in(h[6], self.file, start + 7)
        # line 8 is a NIR, whoever it belongs to: never an INS
        p.nir = h[7].replace(" ", "") or None
        return p

    def lab(self, first: int, end: int, req: Request, results: list[Result]) -> None:
        """The RES and TEX lines ``first`` to ``end`` (excluded) of a LAB block; blank lines are skipped."""
        comment: list[str] = []
        target: Request | Result = req
        lines = self.lines
        loincs = self.loincs
        pad = _PAD
        rid, pid = req.id, req.patient_id
        prefix = rid + "-"  # a result's id: the request's and its rank
        # declared types let the compiled module (Cython) call str and list methods directly
        line: str
        f: list[str]
        k: cython.Py_ssize_t
        for k in range(first, end):
            line = lines[k]
            if line.startswith("RES|"):
                if comment:
                    _attach(target, comment)
                f = line.split("|")
                if len(f) < 14:
                    f.extend(pad[:14 - len(f)])
                vt = "NM" if f[3] == "N" else "ST"
                value = f[4]
                if vt == "NM" and "," in value and _NUM_COMMA.fullmatch(value):
                    value = value.replace(",", ".")
                low, high = f[6], f[7]
                if "," in low:
                    low = _point(low)
                if "," in high:
                    high = _point(high)
                code = f[2]
                if code:
                    loinc = loincs.get(code, "")
                    if loinc == "":
                        if len(loincs) >= _MEMO_LIMIT:
                            loincs.clear()
                        loinc = loincs[code] = code if _LOINC_RE.fullmatch(code) else None
                else:
                    loinc = None
                res = Result(f"{prefix}{len(results) + 1}", rid, pid, loinc, f[1] or None,
                             value or None, vt, f[5] or None, low or None, high or None, f[8] or None,
                             f[9] or None)
                results.append(res)
                target = res
            elif line.startswith("TEX|"):
                if _title(line) and _next_is_res(lines, k + 1, end):
                    continue
                comment.append(line[4:])
            elif line and not line.isspace():
                raise FormatError("line in the LAB block is neither RES nor TEX", file=self.file, line=k + 1,
                                  record=line[:3])
        if comment:
            _attach(target, comment)


def _clean(value: str | None, record: str, field: str, *, pipe: bool = False) -> str:
    if not value:
        return ""
    if "\n" in value or "\r" in value or (pipe and "|" in value) or value.strip() in _MARKERS:
        raise FormatError("value cannot be written on one HPRIM Net line", record=record, field=field,
                          hint="HPRIM Net has no escapes: choose HPRIM Santé, HL7 or CSV for this data")
    return value


def _comma(bound: str | None) -> str:
    """A bound as HPRIM Net prints it: a number with a decimal comma (the inverse of :func:`_point`);
    other text unchanged; ``""`` for none."""
    if not bound:
        return ""
    return bound.replace(".", ",") if "." in bound and _NUM_DOT.fullmatch(bound) else bound


def _res_parts(s: Result) -> tuple[str, str, str, str] | None:
    """The RES line and the text line of ``s`` before and after its value, or ``None`` when a field
    other than the value needs the checks of the slow path."""
    low, high = _comma(s.ref_low), _comma(s.ref_high)
    before = f"RES|{s.label or ''}|{s.loinc or ''}|{_TYPES_OUT.get(s.value_type, 'A')}|"
    after = f"|{s.unit or ''}|{low}|{high}|{s.flag or ''}|{s.status or ''}||||"
    line = before + after
    if line.count("|") != 13 or "\n" in line or "\r" in line or "****" in line:
        return None
    norm = f" ({low}-{high})" if low or high else ""
    return before, after, f"{s.label or s.loinc or ''} : ", f" {s.unit or ''}{norm}"


class HprimNetCodec:
    """Reader and writer of HPRIM Net reports."""

    name = "hprim-net"

    def __init__(self, *, encoding: str = "cp1252", sender: tuple[str, str] = ("ECLUSE", "ECLUSE"),
                 recipient: tuple[str, str] = ("DEST", "DESTINATAIRE")) -> None:
        self.encoding = encoding
        self.sender = sender
        self.recipient = recipient

    def sniff(self, head: bytes) -> bool:
        if LAB.encode() in head or FIN.encode() in head:
            return True
        # the header alone: a birth date on line 7 and a report date on line 10
        lines = split_lines(head.decode("iso-8859-1"))
        if len(lines) < 11:
            return False
        return all(_DMY_RE.fullmatch(lines[i].strip()) or _YMD_RE.fullmatch(lines[i].strip()) for i in (6, 9))

    def read(self, data: bytes, *, filename: str) -> Iterator[Record]:
        return flatten(self.read_groups(data, filename=filename))

    def read_groups(self, data: bytes, *, filename: str) -> Iterator[Group]:
        text, _ = decode_lenient(data, ("utf-8", "cp1252", "iso-8859-1"))
        return _Reader(text, filename).groups()

    def write(self, records: Iterable[Record]) -> bytes:
        return b"".join(self.write_chunks(records))

    def write_chunks(self, records: Iterable[Record]) -> Iterator[bytes]:
        chunk = Chunker()
        out: list[str] = []
        add = out.append
        res_parts: dict[tuple[str | None, ...], tuple[str, str, str, str] | None] = {}
        for p, reqs in group_records(records):
            check_patient(p)
            who = f"Patient {p.id}"
            address = (p.address or "").split("\n")
            if len(address) > 2:
                raise FormatError("address has more than two lines", record=who, field="address")
            address += [""] * (2 - len(address))
            cp_city = " ".join([x for x in (_clean(p.postcode, who, "postcode"), _clean(p.city, who, "city")) if x])
            head = [_clean(p.id, who, "id"), _clean(p.birth_name, who, "birth_name"),
                    _clean(p.given_names, who, "given_names"), address[0], address[1], cp_city,
                    _date_out(p.birth_date, who, "birth_date"), _clean(p.nir, who, "nir")]
            if not head[0]:
                raise FormatError("patient without an id", record="Patient", field="id")
            for part in address:
                _clean(part, who, "address")
            todo: list[tuple[Request | None, list[Result]]] = list(reqs) or [(None, [])]
            for r, results in todo:
                if r is None:
                    out.extend(head)
                    out.extend(["", "", f"{self.sender[0]:<10} {self.sender[1]}",
                                f"{self.recipient[0]:<10} {self.recipient[1]}", FIN])
                    continue
                rwho = f"Request {r.id}"
                sender = (r.site_finess, "") if r.site_finess else self.sender
                recipient = (r.prescriber_rpps, "") if r.prescriber_rpps else self.recipient
                out.extend(head)
                add(_clean(r.id, rwho, "id"))
                add(_date_out(r.collected_at, rwho, "collected_at"))
                add(f"{_clean(sender[0], rwho, 'site_finess'):<10} {sender[1]}".rstrip())
                add(f"{_clean(recipient[0], rwho, 'prescriber_rpps'):<10} {recipient[1]}".rstrip())
                add("")
                add(f"Dossier {r.id}")
                add("")
                lab = [LAB]
                if r.comment:
                    lab.extend("TEX|" + _clean(x, rwho, "comment") for x in r.comment.split("\n"))
                for s in results:
                    value = s.value or ""
                    key = (s.label, s.loinc, s.value_type, s.unit, s.ref_low, s.ref_high, s.flag, s.status)
                    try:
                        parts = res_parts[key]
                    except KeyError:
                        parts = _res_parts(s)
                        if len(res_parts) >= _MEMO_LIMIT:
                            res_parts.clear()
                        res_parts[key] = parts
                    if parts is not None and "|" not in value and "\n" not in value and "\r" not in value \
                            and "****" not in value:
                        # fast path: the fields around the value are known to be writable
                        lab.append(f"{parts[0]}{value}{parts[1]}")
                        add(f"{parts[2]}{value}{parts[3]}".rstrip())
                        if s.comment:
                            lab.extend("TEX|" + _clean(x, f"Result {s.id}", "comment")
                                       for x in s.comment.split("\n"))
                        continue
                    low, high = _comma(s.ref_low), _comma(s.ref_high)
                    line = (f"RES|{s.label or ''}|{s.loinc or ''}|{_TYPES_OUT.get(s.value_type, 'A')}|"
                            f"{s.value or ''}|{s.unit or ''}|{low}|{high}|{s.flag or ''}|{s.status or ''}||||")
                    if line.count("|") != 13 or "\n" in line or "\r" in line or "****" in line:
                        # slow path: find the field that cannot be written, or the marker-like value
                        swho = f"Result {s.id}"
                        fields = [
                            "RES", _clean(s.label, swho, "label", pipe=True),
                            _clean(s.loinc, swho, "loinc", pipe=True),
                            _TYPES_OUT.get(s.value_type, "A"), _clean(s.value, swho, "value", pipe=True),
                            _clean(s.unit, swho, "unit", pipe=True), _clean(low, swho, "ref_low", pipe=True),
                            _clean(high, swho, "ref_high", pipe=True), _clean(s.flag, swho, "flag", pipe=True),
                            _clean(s.status, swho, "status", pipe=True), "", "", "", "",
                        ]
                        line = "|".join(fields)
                    lab.append(line)
                    norm = f" ({low}-{high})" if low or high else ""
                    add(f"{s.label or s.loinc or ''} : {s.value or ''} {s.unit or ''}{norm}".rstrip())
                    if s.comment:
                        lab.extend("TEX|" + _clean(x, f"Result {s.id}", "comment") for x in s.comment.split("\n"))
                add("")
                out.extend(lab)
                add(FIN)
            if len(out) >= chunk.lines:
                yield self._encode(chunk.take(out, "\r\n"))
        add(FINFICHIER)
        yield self._encode(chunk.take(out, "\r\n"))

    def _encode(self, text: str) -> bytes:
        try:
            return text.encode(self.encoding)
        except (UnicodeEncodeError, LookupError) as exc:
            raise FormatError(f"a value cannot be written in {self.encoding}",
                              hint="write HPRIM Net in utf-8, or choose another format") from exc
