"""HPRIM Santé 2.x (ORU): H, P, OBR, OBX, C, A, L records.

See ``docs/formats/hprim-sante.md`` for the field mapping, the Écluse profile for identity
(INS, OID and identity status in repetitions of P.5) and the strict/lenient rules.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Final

import cython

from ecluse.errors import FormatError
from ecluse.formats._common import (
    REQUEST_STATUS_FROM_CODE,
    REQUEST_STATUS_TO_CODE,
    Chunker,
    Group,
    Record,
    check_patient,
    decode_lenient,
    escape_function,
    flatten,
    group_records,
    same,
    split_lines,
    ts_reader,
    ts_writer,
    unescaper,
)
from ecluse.formats._ranges import range_parser, range_writer
from ecluse.formats.records import Patient, Request, Result

__all__ = ["HprimSanteCodec"]

_DELIMS: Final = "|~^\\&"  # field, component, repetition, escape, sub-component
_HEAD_RE: Final = re.compile(rb"[\xef\xbb\xbf\x02\r\n ]*H([^A-Za-z0-9\r\n])([^A-Za-z0-9\r\n]{4})")
_WRAP: Final = 220
_PAD: Final[list[str]] = [""] * 40
#: entries a per-file memo table holds before it is emptied
_MEMO_LIMIT: Final = 1 << 14


def _hex_escape(exc: UnicodeError) -> tuple[str, int]:
    """Encoding error handler: a character the charset lacks becomes ``\\X<UTF-8 hex>\\``."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    chunk = exc.object[exc.start:exc.end]
    try:
        raw = chunk.encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError("a value holds a lone surrogate and cannot be written") from None
    return f"\\X{raw.hex().upper()}\\", exc.end


codecs.register_error("ecluse-hprim-hex", _hex_escape)


def _test_fields(comps: list[str]) -> tuple[str | None, str | None]:
    """LOINC and label of OBX.4 (its components)."""
    nc = len(comps)
    loinc = label = None
    if nc > 2 and comps[2] == "LN":
        loinc = comps[0] or None
    elif nc > 5 and comps[5] == "LN":
        loinc = comps[3] or None
    if nc > 1:
        label = comps[1] or None
    return loinc, label


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _parts(text: str, sep: str, un: Callable[[str], str]) -> list[str]:
    """``text`` split on ``sep``, each part unescaped by ``un`` (not called when it is ``same``: a
    record without escape characters)."""
    parts = text.split(sep)
    return parts if un is same else [un(x) for x in parts]


def _at(fields: list[str], i: int) -> str:
    return fields[i] if i < len(fields) else ""


@cython.cclass
class _Reader:
    """One pass over the logical records of a decoded file."""

    # declared attributes: compiled (a Cython extension type), the methods read them without a dict
    text: str
    file: str
    charset: str
    fs: str
    cs: str
    rs: str
    es: str
    std: bool
    un: Callable[[str], str]
    tsm: Callable[[str, int, str, str], str | None]
    range: Callable[[str], tuple[str | None, str | None]]

    def __init__(self, text: str, filename: str, charset: str) -> None:
        self.text = text
        self.file = filename
        self.charset = charset
        self.fs = "|"
        self.cs = "~"
        self.rs = "^"
        self.es = "\\"
        self.std = True
        self.un: Callable[[str], str] = unescaper("|", "~", "^", "\\", "&", charset, hex_utf8=True)
        self.tsm = ts_reader(filename)
        self.range = range_parser()

    def err(self, message: str, line: int, record: str, field: str | None = None) -> FormatError:
        return FormatError(message, file=self.file, line=line, record=record, field=field)

    def logical_records(self) -> Iterator[tuple[int, str]]:
        pending: tuple[int, str] | None = None
        seen_header = False
        line: str
        no: int
        for no, line in enumerate(split_lines(self.text), 1):
            if not line:
                continue
            if line[0] in "\ufeff\x02":
                line = line.lstrip("\ufeff\x02")
                if not line:
                    continue
            if seen_header and line[0] == "A" and line[1:2] == self.fs:
                if pending is None:
                    raise self.err("continuation record with nothing to continue", no, "A")
                pending = (pending[0], pending[1] + line[2:])
                continue
            if line[0] == "H" and len(line) >= 6 and line[1] not in "\x03\x04":
                d = line[1:6]
                if len(set(d)) != 5 or any(c.isalnum() or c in " \t" for c in d):
                    raise self.err("header delimiters are not five distinct special characters", no, "H",
                                   "H.2")
                if pending is not None:
                    yield pending
                    pending = None
                self.fs, self.cs, self.rs = d[0], d[1], d[2]
                self.std = d == _DELIMS
                self.un = unescaper(d[0], d[1], d[2], d[3], d[4], self.charset, hex_utf8=True)
                self.es = d[3]
                seen_header = True
                pending = (no, line)
                continue
            if not seen_header:
                raise self.err("file does not start with an H record", no, line[:3].strip(self.fs) or "?")
            if pending is not None:
                yield pending
            pending = (no, line)
        if pending is not None:
            yield pending

    def groups(self) -> Iterator[Group]:
        patient: Patient | None = None
        reqs: list[tuple[Request, list[Result]]] = []
        request: Request | None = None
        results: list[Result] = []
        # where C records attach: the last P, OBR or OBX
        target: Patient | Request | Result | None = None
        comment_lines: list[str] = []

        def flush_comment() -> None:
            nonlocal comment_lines
            if target is not None and comment_lines:
                text = "\n".join(comment_lines)
                target.comment = f"{target.comment}\n{text}" if target.comment else text
            comment_lines = []

        ended = False
        # fast path for OBX records with the standard delimiters and no escape character: the
        # fields that repeat from result to result (test code, range) are memoised by their raw text
        tests: dict[tuple[str, str], tuple[str | None, ...]] = {}
        test_get = tests.get
        # the results of a request share their observation time: the last one is remembered (the
        # time stamp reader remembers the others by date and time of day)
        last_obs = ""
        last_when: str | None = None
        pad = _PAD
        # declared types let the compiled module (Cython) call str and list methods directly
        rec: str
        f: list[str]
        fields: list[str]
        no: int
        # the delimiters are standard: set again at each H record (logical_records reads its delimiters
        # before it yields it)
        std = self.std
        for no, rec in self.logical_records():
            if std and request is not None and rec.startswith("OBX|") and "\\" not in rec:
                if comment_lines:
                    flush_comment()
                f = rec.split("|")
                if len(f) < 15:
                    f.extend(pad[:15 - len(f)])
                key = (f[3], f[7])
                test = test_get(key)
                if test is None:
                    test = self.obx_test(key)
                    if len(tests) >= _MEMO_LIMIT:
                        tests.clear()
                    tests[key] = test
                vt = f[2] or "ST"
                value: str | None = f[5]
                if not value:
                    value = None
                elif vt == "TX":
                    value = value.replace("^", "\n").replace("~", "\n")
                elif vt in ("CE", "CWE"):
                    value = value.replace("~", "^")
                obs = f[14]
                if obs:
                    if obs != last_obs:
                        last_when = self.tsm(obs, no, "OBX", "OBX.15")
                        last_obs = obs
                    when = last_when
                else:
                    when = None
                result = Result(f[4] or f"{request.id}-{f[1] or len(results) + 1}", request.id,
                                request.patient_id, test[0], test[1], value, vt, f[6] or None, test[2], test[3],
                                f[8] or None, f[11] or None, f[13] or None, when)
                results.append(result)
                target = result
                continue
            fields = rec.split(self.fs)
            kind = fields[0]
            if kind == "C":
                if target is None:
                    raise self.err("comment record before any P, OBR or OBX", no, "C")
                raw = _at(fields, 3)
                comment_lines.extend(self.un(r) for r in raw.split(self.rs))
                continue
            flush_comment()
            if kind == "OBX":
                if request is None:
                    raise self.err("OBX record outside a request", no, "OBX")
                if patient is None:  # pragma: no cover - request implies patient
                    raise self.err("OBX record outside a patient", no, "OBX")
                result = self.result(fields, no, patient.id, request.id, len(results) + 1,
                                     self.un if self.es in rec else same)
                results.append(result)
                target = result
            elif kind == "OBR":
                if patient is None:
                    raise self.err("OBR record outside a patient", no, "OBR")
                request = self.request(fields, no, patient.id, self.un if self.es in rec else same)
                results = []
                reqs.append((request, results))
                target = request
            elif kind == "P":
                if patient is not None:
                    yield patient, reqs
                patient = self.patient(fields, no, self.un if self.es in rec else same)
                reqs, request, results = [], None, []
                target = patient
            elif kind == "H":
                std = self.std
                ended = False
                if patient is not None:
                    yield patient, reqs
                patient, reqs, request, results, target = None, [], None, [], None
            elif kind == "L":
                ended = True
                if patient is not None:
                    yield patient, reqs
                patient, reqs, request, results, target = None, [], None, [], None
            else:
                # other records (Q, M, S, FAC, REG, AP, AC...) carry nothing we map: skipped
                target = None
        flush_comment()
        if patient is not None:
            yield patient, reqs
        _ = ended

    def obx_test(self, key: tuple[str, str]) -> tuple[str | None, ...]:
        """LOINC, label, low and high bounds of an OBX record without escapes, from OBX.4 and OBX.8
        (standard delimiters)."""
        test, rng = key
        loinc, label = _test_fields(test.split("~")) if test else (None, None)
        low, high = self.range(rng) if rng else (None, None)
        return loinc, label, low, high

    def patient(self, f: list[str], no: int, un: Callable[[str], str]) -> Patient:
        """``un`` unescapes a value (``same`` when the record holds no escape character)."""
        if len(f) < 15:
            f = f + _PAD[:15 - len(f)]
        cs, rs = self.cs, self.rs
        p3 = un(f[2].split(cs, 1)[0]) or un(f[3].split(cs, 1)[0])
        if not p3:
            raise self.err("patient without an id", no, "P", "P.3")
        pat = Patient(p3)
        if f[4]:
            for rep in f[4].split(rs):
                c = _parts(rep, cs, un)
                kind = c[1] if len(c) > 1 else ""
                if kind == "INS":
                    pat.ins = c[0] or None
                    pat.ins_oid = _at(c, 2) or None
                    pat.identity_status = _at(c, 3) or None
                elif kind == "NIR":
                    pat.nir = c[0] or None
                    pat.nir_owner = _at(c, 2) or None
        name = _parts(f[5], cs, un)
        first = name[0] or None
        p7 = f[6]
        if p7 == '""':
            pat.used_name = first
        elif p7:
            pat.birth_name = un(p7.split(cs, 1)[0]) or None
            pat.used_name = first
        else:
            pat.birth_name = first
        if len(name) > 1:
            pat.given_names = " ".join([g for g in name[1:] if g]) or None
        if f[7]:
            pat.birth_date = self.tsm(f[7], no, "P", "P.8")
        pat.sex = un(f[8]) or None
        if f[10]:
            for rep in f[10].split(rs):
                if not rep:
                    continue
                c = _parts(rep, cs, un)
                if _at(c, 6) == "BDL":
                    pat.birth_place = _at(c, 8) or None
                else:
                    street = "\n".join([s for s in c[:2] if s])
                    pat.address = street or None
                    pat.city = _at(c, 2) or None
                    pat.postcode = _at(c, 4) or None
        if f[12]:
            for rep in f[12].split(rs):
                if not rep:
                    continue
                c = _parts(rep, cs, un)
                if _at(c, 1) == "NET":
                    pat.email = c[0] or None
                elif pat.phone is None:
                    pat.phone = c[0] or None
        pat.blood_group = un(f[14]) or None
        return pat

    def request(self, f: list[str], no: int, patient_id: str, un: Callable[[str], str]) -> Request:
        """``un`` unescapes a value (``same`` when the record holds no escape character)."""
        if len(f) < 26:
            f = f + _PAD[:26 - len(f)]
        cs = self.cs
        lab = f[3].split(cs)
        req_id = un(lab[1]) if len(lab) > 1 else ""
        if not req_id:
            req_id = un(lab[0])
        if not req_id:
            asked = f[2].split(cs)
            req_id = (un(asked[1]) if len(asked) > 1 else "") or un(asked[0])
        if not req_id:
            raise self.err("request without an id", no, "OBR", "OBR.4")
        tsm = self.tsm
        collected = tsm(f[7], no, "OBR", "OBR.8")
        received = tsm(f[14], no, "OBR", "OBR.15")
        doctor = f[16].split(self.rs, 1)[0].split(cs)
        d0 = un(doctor[0])
        rpps = None
        if (len(doctor) > 2 and un(doctor[2]) == "RPPS") or (len(d0) == 11 and d0.isascii() and d0.isdigit()):
            rpps = d0 or None
        status = f[25]
        word = None
        if status:
            word = REQUEST_STATUS_FROM_CODE.get(status)
            if word is None:
                raise self.err("unknown report status", no, "OBR", "OBR.26")
        return Request(req_id, patient_id, un(f[10].split(cs, 1)[0]) or None, rpps,
                       collected, received,
                       un(f[15].split(cs, 1)[0]) or None, word, un(f[13]) or None)

    def result(self, f: list[str], no: int, patient_id: str, request_id: str, pos: int,
               un: Callable[[str], str]) -> Result:
        """``un`` unescapes a value (``same`` when the record holds no escape character)."""
        if len(f) < 15:
            f = f + _PAD[:15 - len(f)]
        rid = un(f[4]) or f"{request_id}-{f[1] or pos}"
        vtype = un(f[2]) or "ST"
        cs = self.cs
        test = f[3]
        loinc, label = _test_fields(_parts(test, cs, un)) if test else (None, None)
        raw = f[5]
        value = None
        if raw:
            if vtype == "TX":
                value = "\n".join([un(c) for rep in raw.split(self.rs) for c in rep.split(cs)])
            elif vtype in ("CE", "CWE"):
                value = "^".join([un(c) for c in raw.split(cs)])
            else:
                value = un(raw)
        rng = f[7]
        low, high = self.range(un(rng)) if rng else (None, None)
        return Result(rid, request_id, patient_id, loinc, label, value, vtype, un(f[6]) or None, low, high,
                      un(f[8]) or None, un(f[11]) or None, un(f[13]) or None,
                      self.tsm(f[14], no, "OBX", "OBX.15"))


class HprimSanteCodec:
    """Reader and writer of HPRIM Santé 2.x ORU files."""

    name = "hprim-sante"

    def __init__(
        self,
        *,
        encoding: str = "iso-8859-1",
        sender: tuple[str, str] = ("ECLUSE", "ECLUSE"),
        receiver: tuple[str, str] = ("DEST", "DESTINATAIRE"),
        file_name: str = "ECLUSE.HPR",
        processing: str = "P",
        now: Callable[[], datetime] = _utcnow,
        wrap: int = _WRAP,
    ) -> None:
        if encoding.lower().replace("_", "-") not in ("iso-8859-1", "latin-1", "latin1", "cp1252",
                                                       "windows-1252"):
            raise FormatError("HPRIM Santé is written in ISO-8859-1 or cp1252",
                              hint="choose encoding iso-8859-1 or cp1252")
        if wrap < 20:
            raise FormatError("line width too small", hint="wrap lines at 20 characters or more")
        self.encoding = encoding
        self.sender = sender
        self.receiver = receiver
        self.file_name = file_name
        self.processing = processing
        self.now = now
        self.wrap = wrap

    # ------------------------------------------------------------------ read
    def sniff(self, head: bytes) -> bool:
        m = _HEAD_RE.match(head)
        if m is None:
            return False
        d = m.group(1) + m.group(2)
        return len(set(d)) == 5

    def read(self, data: bytes, *, filename: str) -> Iterator[Record]:
        return flatten(self.read_groups(data, filename=filename))

    def read_groups(self, data: bytes, *, filename: str) -> Iterator[Group]:
        # ISO-8859-1 by the standard, cp1252 in practice; UTF-8 only when a BOM says so
        order = ("utf-8-sig",) if data.startswith(b"\xef\xbb\xbf") else ("cp1252", "iso-8859-1")
        text, charset = decode_lenient(data, order)
        return _Reader(text, filename, charset).groups()

    # ------------------------------------------------------------------ write
    def write(self, records: Iterable[Record]) -> bytes:
        return b"".join(self.write_chunks(records))

    def write_chunks(self, records: Iterable[Record]) -> Iterator[bytes]:
        e, search = escape_function("|", "~", "^", "\\", "&")
        chunk = Chunker()

        ts = ts_writer()
        rfmt = range_writer(" - ")

        lines: list[str] = []
        add = lines.append

        def comment(text: str | None) -> None:
            if text:
                for i, part in enumerate(text.split("\n"), 1):
                    add(f"C|{i}|L|{e(part)}".rstrip("|"))

        # the OBX fields that repeat from result to result (type, test, unit, range, flag, status,
        # category), written once per distinct combination; the results of a request share their
        # observation time: the last one is remembered (``ts`` remembers the others by halves)
        obx_parts: dict[tuple[str | None, ...], tuple[str, str]] = {}
        parts_get = obx_parts.get
        last_obs: str | None = None
        last_when = ""

        stamp = self.now().strftime("%Y%m%d%H%M%S")
        add(f"H|~^\\&|{e(self.file_name)}||{e(self.sender[0])}~{e(self.sender[1])}||ORU|||"
            f"{e(self.receiver[0])}~{e(self.receiver[1])}||{e(self.processing)}|H2.2~C|{stamp}")
        for n, (p, reqs) in enumerate(group_records(records), 1):
            check_patient(p)
            ids = []
            if p.ins or p.ins_oid or p.identity_status:
                ids.append(f"{e(p.ins)}~INS~{e(p.ins_oid)}~{e(p.identity_status)}")
            if p.nir or p.nir_owner:
                ids.append(f"{e(p.nir)}~NIR~{e(p.nir_owner)}")
            if p.used_name:
                # '""' (explicit null) in P.7 says "no birth name"; a birth name spelled '""' is escaped
                first: str | None = p.used_name
                p7 = ('\\X22\\"' if p.birth_name == '""' else e(p.birth_name)) if p.birth_name else '""'
            else:
                first, p7 = p.birth_name, ""
            p6 = e(first) + (f"~{e(p.given_names)}" if p.given_names else "")
            addr = []
            if p.address or p.city or p.postcode:
                addr.append(f"{e(p.address)}~~{e(p.city)}~~{e(p.postcode)}")
            if p.birth_place:
                addr.append(f"~~~~~~BDL~~{e(p.birth_place)}")
            phones = []
            if p.phone:
                phones.append(e(p.phone))
            if p.email:
                phones.append(f"{e(p.email)}~NET")
            add("|".join((
                "P", str(n), e(p.id), "", "^".join(ids), p6, p7, ts(p.birth_date, "Patient", p.id, "birth_date"),
                e(p.sex), "", "^".join(addr), "", "^".join(phones), "", e(p.blood_group),
            )).rstrip("|"))
            comment(p.comment)
            for i, (r, results) in enumerate(reqs, 1):
                rwho = f"Request {r.id}"
                status = ""
                if r.status:
                    code = REQUEST_STATUS_TO_CODE.get(r.status)
                    if code is None:
                        raise FormatError("unknown request status", record=rwho, field="status",
                                          hint="request status is one of " + ", ".join(REQUEST_STATUS_TO_CODE))
                    status = code
                f = [""] * 26
                f[0], f[1], f[3] = "OBR", str(i), f"~{e(r.id)}"
                f[7] = ts(r.collected_at, "Request", r.id, "collected_at")
                f[10] = e(r.site_finess)
                f[14] = ts(r.received_at, "Request", r.id, "received_at")
                f[15] = e(r.specimen_type)
                if r.prescriber_rpps:
                    f[16] = f"{e(r.prescriber_rpps)}~~RPPS"
                f[25] = status
                add("|".join(f).rstrip("|"))
                comment(r.comment)
                for j, s in enumerate(results, 1):
                    value = s.value or ""
                    vt = s.value_type
                    sid = s.id
                    if search(f"{sid}{value}") is not None:
                        sid = e(sid)
                        if vt == "TX":
                            value = "~".join([e(part) for part in value.split("\n")])
                        elif vt in ("CE", "CWE"):
                            value = "~".join([e(part) for part in value.split("^")])
                        else:
                            value = e(value)
                    key = (vt, s.loinc, s.label, s.unit, s.ref_low, s.ref_high, s.flag, s.status, s.category)
                    parts = parts_get(key)
                    if parts is None:
                        parts = self._obx_parts(e, rfmt, s)
                        if len(obx_parts) >= _MEMO_LIMIT:
                            obx_parts.clear()
                        obx_parts[key] = parts
                    obs = s.observed_at
                    if obs:
                        if obs != last_obs:
                            last_when = ts(obs, "Result", s.id, "observed_at")
                            last_obs = obs
                        when = last_when
                    else:
                        when = ""
                    if when:
                        add(f"OBX|{j}|{parts[0]}|{sid}|{value}|{parts[1]}|{when}")
                    else:
                        add(f"OBX|{j}|{parts[0]}|{sid}|{value}|{parts[1]}".rstrip("|"))
                    if s.comment:
                        comment(s.comment)
            if len(lines) >= chunk.lines:
                yield self._encode(lines, chunk)
        add("L|1")
        yield self._encode(lines, chunk)

    @staticmethod
    def _obx_parts(e: Callable[[str | None], str], rfmt: Callable[[str | None, str | None, str], str],
                   s: Result) -> tuple[str, str]:
        """OBX.3-4 and OBX.7-14 of ``s``, escaped: the fields between which the id and the value go."""
        if s.loinc:
            test = f"{e(s.loinc)}~{e(s.label)}~LN"
        elif s.label:
            test = f"~{e(s.label)}~L"
        else:
            test = ""
        return (f"{e(s.value_type)}|{test}",
                f"{e(s.unit)}|{rfmt(s.ref_low, s.ref_high, s.id)}|{e(s.flag)}|||{e(s.status)}||{e(s.category)}")

    def _encode(self, lines: list[str], chunk: Chunker) -> bytes:
        """``lines`` (emptied) with CR LF, long lines wrapped with ``A|`` continuations, in the
        file's charset."""
        width = self.wrap
        if max(map(len, lines)) > width:
            out: list[str] = []
            step = width - 2
            for line in lines:
                if len(line) <= width:
                    out.append(line)
                else:
                    out.append(line[:width])
                    for k in range(width, len(line), step):
                        out.append("A|" + line[k:k + step])
            lines[:] = out
        # a character the charset lacks is written as \X<UTF-8 hex>\ (Écluse profile)
        return chunk.take(lines, "\r\n").encode(self.encoding, "ecluse-hprim-hex")
