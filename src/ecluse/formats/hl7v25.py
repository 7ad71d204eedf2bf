"""HL7 v2.5 ORU^R01 with the French (IHE PAM-FR) identity conventions.

Read: MSH, PID, PV1, ORC, OBR, OBX, NTE, SPM (other segments are skipped), escape sequences,
MLLP framing, files of several messages. Write: one ORU^R01 message per patient, UTF-8,
optionally MLLP-framed. See ``docs/formats/hl7v25.md`` for the mapping and the profile.
"""

from __future__ import annotations

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
from ecluse.formats.records import INS_OIDS, Patient, Request, Result

__all__ = ["Hl7Codec", "ins_namespace"]

_CHARSETS: Final[dict[str, str]] = {
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "UTF-8": "utf-8",
    "8859/1": "iso-8859-1",
    "8859/15": "iso-8859-15",
    "ASCII": "ascii",
}
_NIR_OWNER_NS: Final[dict[str | None, str]] = {None: "NIR", "patient": "NIR-PATIENT", "insured": "NIR-INSURED"}
_NIR_OWNER_FROM_NS: Final[dict[str, str]] = {"NIR-PATIENT": "patient", "NIR-INSURED": "insured"}
_INS_TYPES: Final = frozenset({"INS", "INS-NIR", "INS-NIA"})
#: NTE-4 comment type marking the NTE after PID that carries the blood group (Écluse profile)
BLOOD_GROUP_NTE: Final = "BG"
_SN_RE: Final = re.compile(r"(<=|>=|<>|<|>|=)?(-?[0-9]+(?:\.[0-9]+)?)?(?:([-+/.:])(-?[0-9]+(?:\.[0-9]+)?))?")
_MLLP_START: Final = b"\x0b"
_MLLP_END: Final = b"\x1c\r"
_PAD: Final[list[str]] = [""] * 40
#: OBX value types whose value is read as it is (no component or repetition structure)
_PLAIN_TYPES: Final = frozenset({"NM", "ST", "DT", "TS", "TM", "DTM", "ID", "IS"})
#: entries a per-file memo table holds before it is emptied
_MEMO_LIMIT: Final = 1 << 14
#: the reader pads every segment to this many fields (PID-32 is the last one read)
_NFIELDS: Final = 33


def _sn(value: str, ident: str) -> str:
    """A structured numeric value (``<5``, ``1:128``, ``10-20``) as SN components."""
    m = _SN_RE.fullmatch(value)
    if m is None:
        raise FormatError("structured numeric value does not parse", record=f"Result {ident}",
                          field="value", hint="SN values look like <5, >=10, 1:128, 10-20")
    return "^".join([x or "" for x in m.groups()]).rstrip("^")


def _code_fields(code: list[str], un: Callable[[str], str]) -> tuple[str | None, str | None]:
    """LOINC and label of OBX-3 (its components)."""
    nc = len(code)
    loinc = None
    if nc > 2 and code[2] == "LN":
        loinc = un(code[0]) or None
    elif nc > 5 and code[5] == "LN":
        loinc = un(code[3]) or None
    label = un(code[4]) if nc > 5 and code[5] == "L" else ""
    if not label and nc > 1:
        label = un(code[1])
    return loinc, label or None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def ins_namespace(oid: str | None) -> str:
    """The PAM-FR assigning-authority namespace for an INS OID."""
    return "ASIP-SANTE-INS-NIA" if INS_OIDS.get(oid or "") == "INS-NIA" else "ASIP-SANTE-INS-NIR"


def _comps(rep: str, cs: str) -> list[str]:
    """The components of ``rep``, padded to 12 so that any index up to 11 exists (missing ones are
    empty)."""
    c = rep.split(cs)
    n = len(c)
    if n < 12:
        c.extend(_PAD[:12 - n])
    return c


def _at(seq: list[str], i: int) -> str:
    return seq[i] if i < len(seq) else ""


def _charset(data: bytes) -> str | None:
    start = data.find(b"MSH")
    if start < 0 or len(data) < start + 8:
        return None
    end = len(data)
    for stop in (b"\r", b"\n"):
        k = data.find(stop, start)
        if 0 <= k < end:
            end = k
    fs = data[start + 3:start + 4]
    fields = data[start:end].split(fs)
    if len(fields) <= 17:
        return None
    label = fields[17].split(data[start + 4:start + 5])[0].decode("ascii", "replace").strip().upper()
    return _CHARSETS.get(label)


@cython.cclass
class _Reader:
    # declared attributes: compiled (a Cython extension type), the methods read them without a dict
    text: str
    file: str
    charset: str
    tsm: Callable[[str, int, str, str], str | None]
    range: Callable[[str], tuple[str | None, str | None]]

    def __init__(self, text: str, filename: str, charset: str) -> None:
        self.text = text
        self.file = filename
        self.charset = charset
        self.tsm = ts_reader(filename)
        self.range = range_parser()

    def err(self, message: str, line: int, record: str, field: str | None = None) -> FormatError:
        return FormatError(message, file=self.file, line=line, record=record, field=field)

    def groups(self) -> Iterator[Group]:
        fs, cs, rs, es, ss = "|", "^", "~", "\\", "&"
        un = unescaper(fs, cs, rs, es, ss, self.charset)
        patient: Patient | None = None
        reqs: list[tuple[Request, list[Result]]] = []
        request: Request | None = None
        results: list[Result] = []
        target: Patient | Request | Result | None = None
        site: str | None = None
        in_message = False
        nres = 0
        # fast path for OBX segments with the standard delimiters and no escape character: the
        # fields that repeat from result to result (test code, unit, range) are memoised by their
        # raw text
        std = True
        tests: dict[tuple[str, str, str], tuple[str | None, ...]] = {}
        test_get = tests.get
        # the results of a request share their observation time: the last one is remembered (the
        # time stamp reader remembers the others by date and time of day)
        last_obs = ""
        last_when: str | None = None
        plain_types = _PLAIN_TYPES
        pad = _PAD
        # declared types let the compiled module (Cython) call str and list methods directly
        seg: str
        f: list[str]
        fields: list[str]
        no: cython.Py_ssize_t
        for no, seg in enumerate(split_lines(self.text), 1):
            if std and request is not None and seg.startswith("OBX|") and "\\" not in seg:
                f = seg.split("|")
                if len(f) < 15:
                    f.extend(pad[:15 - len(f)])
                key = (f[3], f[6], f[7])
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
                elif vt not in plain_types:
                    if vt in ("CE", "CWE", "CNE", "CF"):
                        value = value.split("~")[0]
                    elif vt == "SN":
                        value = value.replace("^", "")
                    elif vt in ("TX", "FT"):
                        value = value.replace("~", "\n")
                flag: str | None = f[8]
                if not flag:
                    flag = None
                elif "~" in flag:
                    flag = flag.split("~", 1)[0] or None
                status: str | None = f[11]
                if not status or status == '""':
                    status = None
                obs = f[14]
                if obs:
                    if obs != last_obs:
                        last_when = self.tsm(obs, no, "OBX", "OBX-14")
                        last_obs = obs
                    when = last_when
                else:
                    when = None
                nres += 1
                res = Result(f[4] or f"{request.id}-{f[1] or nres}", request.id, request.patient_id, test[0],
                             test[1], value, vt, test[2], test[3], test[4], flag, status, f[13] or None, when)
                results.append(res)
                target = res
                continue
            if not seg:
                continue
            if seg[0] == "\ufeff":
                seg = seg[1:]
            name = seg[:3]
            if name == "MSH":
                if len(seg) < 8:
                    raise self.err("MSH segment too short for its delimiters", no, "MSH", "MSH-2")
                d = seg[3:8]
                std = d == "|^~\\&"
                if not std and (len(set(d)) != 5 or any(c.isalnum() or c in " \t" for c in d)):
                    raise self.err("MSH delimiters are not five distinct special characters", no, "MSH",
                                   "MSH-2")
                if (fs, cs, rs, es, ss) != (d[0], d[1], d[2], d[3], d[4]):
                    # each message has its own delimiters: set them again, standard ones included
                    fs, cs, rs, es, ss = d[0], d[1], d[2], d[3], d[4]
                    un = unescaper(fs, cs, rs, es, ss, self.charset)
                fields = seg.split(fs)
                mtype = _at(fields, 8).split(cs)
                if mtype[0] != "ORU" or _at(mtype, 1) not in ("R01", ""):
                    raise self.err("not an ORU^R01 message", no, "MSH", "MSH-9")
                in_message = True
                request, results, target, site = None, [], None, None
                continue
            if not in_message:
                if name in ("FHS", "BHS", "FTS", "BTS"):
                    continue
                raise self.err("segment before any MSH", no, name)
            fields = seg.split(fs)
            if len(fields) < _NFIELDS:
                fields.extend(_PAD[:_NFIELDS - len(fields)])
            u = un if es in seg else same
            if name == "OBX":
                if request is None:
                    raise self.err("OBX segment outside an OBR", no, "OBX")
                if patient is None:  # pragma: no cover - request implies patient
                    raise self.err("OBX segment outside a patient", no, "OBX")
                nres += 1
                res = self.result(fields, no, patient.id, request.id, nres, u, cs, rs, ss)
                results.append(res)
                target = res
            elif name == "NTE":
                if target is None:
                    continue  # an NTE after MSH or SPM: nothing of ours to attach it to
                text = "\n".join([u(r) for r in fields[3].split(rs)])
                kind = fields[4].split(cs)[0]
                if kind == BLOOD_GROUP_NTE and isinstance(target, Patient):
                    target.blood_group = text or None
                else:
                    target.comment = f"{target.comment}\n{text}" if target.comment is not None else text
            elif name == "OBR":
                if patient is None:
                    raise self.err("OBR segment outside a patient", no, "OBR")
                request = self.request(fields, no, patient.id, u, cs, ss)
                if request.site_finess is None:
                    request.site_finess = site
                site = None
                results = []
                nres = 0
                reqs.append((request, results))
                target = request
            elif name == "ORC":
                site = u(_at(fields[21].split(cs), 9)) or None
            elif name == "SPM":
                if request is not None:
                    spec = u(fields[4].split(cs)[0])
                    if spec and request.specimen_type is None:
                        request.specimen_type = spec
                    if request.collected_at is None and fields[17]:
                        request.collected_at = self.tsm(fields[17].split(cs)[0], no, "SPM", "SPM-17")
                    if request.received_at is None and fields[18]:
                        request.received_at = self.tsm(fields[18], no, "SPM", "SPM-18")
                target = None
            elif name == "PID":
                new = self.patient(fields, no, u, cs, rs, ss)
                if patient is not None:
                    if new == patient:
                        # the same patient again in the next message: one group
                        request, results, target = None, [], patient
                        continue
                    yield patient, reqs
                patient, reqs, request, results, target = new, [], None, [], new
            else:
                # PV1, PD1, NK1, TQ1, CTD, FT1, CTI, DSC...: nothing we map
                keep = name in ("PV1", "PV2", "PD1", "NK1") and target is patient
                target = patient if keep else None
        if patient is not None:
            yield patient, reqs

    def obx_test(self, key: tuple[str, str, str]) -> tuple[str | None, ...]:
        """LOINC, label, unit, low and high bounds of an OBX segment without escapes, from OBX-3,
        OBX-6 and OBX-7 (standard delimiters)."""
        code, unit, rng = key
        loinc, label = _code_fields(code.split("^"), same)
        low, high = self.range(rng) if rng else (None, None)
        return loinc, label, unit.split("^", 1)[0] or None, low, high

    def patient(self, f: list[str], no: int, un: Callable[[str], str], cs: str, rs: str, ss: str) -> Patient:
        pid = ""
        other = ""
        ins = oid = nir = owner = None
        has_ins = False
        for rep in f[3].split(rs):
            if not rep:
                continue
            c = _comps(rep, cs)
            value = un(c[0])
            kind = c[4]
            if kind in _INS_TYPES:
                has_ins = True
                auth = c[3].split(ss)
                ins = value or None
                oid = un(_at(auth, 1)) or None
            elif kind == "NH":
                nir = value or None
                owner = _NIR_OWNER_FROM_NS.get(un(c[3].split(ss)[0]))
            elif kind == "PI" and not pid:
                pid = value
            elif not other:
                other = value
        pid = pid or other or un(f[2].split(cs)[0])
        if not pid:
            raise self.err("patient without an id", no, "PID", "PID-3")
        p = Patient(id=pid, nir=nir, nir_owner=owner)
        if has_ins:
            p.ins, p.ins_oid = ins, oid
        given_l = given_d = None
        for rep in f[5].split(rs):
            if not rep or rep == '""':
                continue
            c = _comps(rep, cs)
            kind = c[6]
            given = un(c[2]) or un(c[1]) or None
            if kind == "D":
                p.used_name = un(c[0]) or None
                given_d = given
            elif kind == "L" or (not kind and given_l is None and p.birth_name is None):
                p.birth_name = un(c[0]) or None
                given_l = given
        p.given_names = given_l if given_l is not None else given_d
        if f[7]:
            p.birth_date = self.tsm(f[7], no, "PID", "PID-7")
        p.sex = un(f[8]) or None
        for rep in f[11].split(rs):
            if not rep:
                continue
            c = _comps(rep, cs)
            if c[6] == "BDL":
                p.birth_place = un(c[8]) or None
            elif p.address is None and p.city is None and p.postcode is None:
                street = "\n".join([un(s) for s in c[:2] if s])
                p.address = street or None
                p.city = un(c[2]) or None
                p.postcode = un(c[4]) or None
        for rep in f[13].split(rs):
            if not rep:
                continue
            c = _comps(rep, cs)
            if c[1] == "NET" or c[2] == "Internet":
                p.email = p.email or un(c[3]) or None
            elif p.phone is None:
                p.phone = un(c[11]) or un(c[0]) or None
        p.identity_status = un(f[32].split(rs)[0]) or None
        return p

    def request(self, f: list[str], no: int, patient_id: str, un: Callable[[str], str], cs: str,
                ss: str) -> Request:
        rid = un(f[3].split(cs)[0]) or un(f[2].split(cs)[0])
        if not rid:
            raise self.err("request without a filler or placer order number", no, "OBR", "OBR-3")
        r = Request(id=rid, patient_id=patient_id)
        r.collected_at = self.tsm(f[7], no, "OBR", "OBR-7")
        r.received_at = self.tsm(f[14], no, "OBR", "OBR-14")
        doctor = f[16].split("~")[0].split(cs)
        ident = un(doctor[0])
        kind = _at(doctor, 12)
        if kind == "IDNPS" and ident[:1] == "8":
            r.prescriber_rpps = ident[1:] or None
        elif kind == "RPPS" or (len(ident) == 11 and ident.isascii() and ident.isdigit()):
            r.prescriber_rpps = ident or None
        status = f[25]
        if status:
            word = REQUEST_STATUS_FROM_CODE.get(status)
            if word is None:
                raise self.err("unknown result status", no, "OBR", "OBR-25")
            r.status = word
        return r

    def result(self, f: list[str], no: int, patient_id: str, request_id: str, pos: int,
               un: Callable[[str], str], cs: str, rs: str, ss: str) -> Result:
        vt = f[2] or "ST"
        rid = un(f[4]) or f"{request_id}-{f[1] or pos}"
        loinc, label = _code_fields(f[3].split(cs), un)
        raw = f[5]
        value = None
        if raw:
            if vt in ("CE", "CWE", "CNE", "CF"):
                value = "^".join([un(c) for c in raw.split(rs)[0].split(cs)])
            elif vt == "SN":
                value = "".join([un(c) for c in raw.split(cs)])
            elif vt in ("TX", "FT"):
                value = "\n".join([un(r) for r in raw.split(rs)])
            else:
                value = un(raw)
        unit = f[6]
        if unit:
            if cs in unit:
                unit = unit.split(cs, 1)[0]
            unit = un(unit)
        rng = f[7]
        low, high = self.range(un(rng)) if rng else (None, None)
        flag = f[8]
        if flag:
            if rs in flag:
                flag = flag.split(rs, 1)[0]
            flag = un(flag)
        status = f[11]
        if status == '""':
            status = ""
        elif status:
            status = un(status)
        category = f[13]
        if category:
            category = un(category)
        return Result(rid, request_id, patient_id, loinc, label, value, vt, unit or None, low, high,
                      flag or None, status or None, category or None, self.tsm(f[14], no, "OBX", "OBX-14"))


class Hl7Codec:
    """Reader and writer of HL7 v2.5 ORU^R01 (French profile)."""

    name = "hl7v25"

    def __init__(
        self,
        *,
        mllp: bool = False,
        sending_application: str = "ECLUSE",
        sending_facility: str = "",
        receiving_application: str = "",
        receiving_facility: str = "",
        processing_id: str = "P",
        control_prefix: str = "ECL",
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.mllp = mllp
        self.sending_application = sending_application
        self.sending_facility = sending_facility
        self.receiving_application = receiving_application
        self.receiving_facility = receiving_facility
        self.processing_id = processing_id
        self.control_prefix = control_prefix
        self.now = now

    def sniff(self, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf\x0b\r\n ").startswith((b"MSH", b"FHS", b"BHS"))

    def read(self, data: bytes, *, filename: str) -> Iterator[Record]:
        return flatten(self.read_groups(data, filename=filename))

    def read_groups(self, data: bytes, *, filename: str) -> Iterator[Group]:
        if b"\x0b" in data or b"\x1c" in data:
            data = data.replace(b"\x0b", b"").replace(b"\x1c", b"\r")
        declared = _charset(data)
        order = tuple(dict.fromkeys((declared or "utf-8", "utf-8", "cp1252", "iso-8859-1")))
        text, charset = decode_lenient(data, order)
        return _Reader(text, filename, charset).groups()

    def write(self, records: Iterable[Record]) -> bytes:
        return b"".join(self.write_chunks(records))

    def write_chunks(self, records: Iterable[Record]) -> Iterator[bytes]:
        e, search = escape_function("|", "^", "~", "\\", "&")
        chunk = Chunker()

        ts = ts_writer()
        rfmt = range_writer("-")

        # the OBX fields that repeat from result to result (type, test, unit, range, flag, status,
        # category), written once per distinct combination; observation times likewise
        obx_parts: dict[tuple[str | None, ...], tuple[str, str]] = {}
        whens: dict[str, str] = {}
        parts_get, when_get = obx_parts.get, whens.get

        stamp = self.now().strftime("%Y%m%d%H%M%S")
        head = (f"MSH|^~\\&|{e(self.sending_application)}|{e(self.sending_facility)}|"
                f"{e(self.receiving_application)}|{e(self.receiving_facility)}|{stamp}||ORU^R01^ORU_R01|")
        tail = f"|{e(self.processing_id)}|2.5^FRA|||AL|NE|FRA|UNICODE UTF-8\r"
        out: list[str] = []
        add = out.append
        start, end = ("\x0b", "\x1c\r") if self.mllp else ("", "")
        for n, (p, reqs) in enumerate(group_records(records), 1):
            check_patient(p)
            add(f"{start}{head}{e(self.control_prefix)}{n:08d}{tail}")
            ids = [f"{e(p.id)}^^^^PI"]
            if p.ins or p.ins_oid:
                auth = f"{ins_namespace(p.ins_oid)}&{e(p.ins_oid)}&ISO" if p.ins_oid else ins_namespace(None)
                ids.append(f"{e(p.ins)}^^^{auth}^INS")
            if p.nir or p.nir_owner:
                ids.append(f"{e(p.nir)}^^^{_NIR_OWNER_NS[p.nir_owner]}^NH")
            given = e(p.given_names)
            first = e(p.given_names.split(" ")[0]) if p.given_names else ""
            names = []
            if p.birth_name or p.given_names:
                names.append(f"{e(p.birth_name)}^{first}^{given}^^^^L")
            if p.used_name:
                names.append(f"{e(p.used_name)}^{first}^{given}^^^^D")
            addr = []
            if p.address or p.city or p.postcode:
                addr.append(f"{e(p.address)}^^{e(p.city)}^^{e(p.postcode)}^^H")
            if p.birth_place:
                addr.append(f"^^^^^^BDL^^{e(p.birth_place)}")
            tel = []
            if p.phone:
                tel.append(f"^PRN^PH^^^^^^^^^{e(p.phone)}")
            if p.email:
                tel.append(f"^NET^Internet^{e(p.email)}")
            # PID-5 is required: no name at all is written as the HL7 null ""
            pid = ["PID", "1", "", "~".join(ids), "", "~".join(names) or '""', "",
                   ts(p.birth_date, "Patient", p.id, "birth_date"), e(p.sex), "", "", "~".join(addr), "",
                   "~".join(tel)]
            if p.identity_status:
                pid.extend([""] * (32 - len(pid)))
                pid.append(e(p.identity_status))
            add("|".join(pid).rstrip("|") + "\r")
            k = 0
            if p.comment is not None and p.comment != "":
                k += 1
                add(f"NTE|{k}||{e(p.comment)}\r")
            if p.blood_group:
                k += 1
                add(f"NTE|{k}||{e(p.blood_group)}|{BLOOD_GROUP_NTE}^Blood group^99ECL\r")
            for i, (r, results) in enumerate(reqs, 1):
                status = ""
                if r.status:
                    code = REQUEST_STATUS_TO_CODE.get(r.status)
                    if code is None:
                        raise FormatError("unknown request status", record=f"Request {r.id}", field="status",
                                          hint="request status is one of " + ", ".join(REQUEST_STATUS_TO_CODE))
                    status = code
                rid = e(r.id)
                orc = f"ORC|RE||{rid}"
                if r.site_finess:
                    orc += "|" * 18 + f"^^^^^^FINEG^^^{e(r.site_finess)}"
                add(orc + "\r")
                doctor = ""
                if r.prescriber_rpps:
                    doctor = (f"8{e(r.prescriber_rpps)}^^^^^^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO"
                              "^D^^^IDNPS")
                collected = ts(r.collected_at, "Request", r.id, "collected_at")
                received = ts(r.received_at, "Request", r.id, "received_at")
                add(f"OBR|{i}||{rid}|11502-2^Laboratory report^LN|||{collected}"
                    f"|||||||{received}||{doctor}|||||||||{status}\r")
                if r.comment:
                    add(f"NTE|1||{e(r.comment)}\r")
                for j, s in enumerate(results, 1):
                    vt = s.value_type
                    value = s.value or ""
                    sid = s.id
                    if search(f"{sid}{value}") is not None:
                        sid = e(sid)
                        if value:
                            if vt in ("CE", "CWE", "CNE", "CF"):
                                value = "^".join([e(c) for c in value.split("^")])
                            elif vt == "SN":
                                value = _sn(value, s.id)
                            elif vt in ("TX", "FT"):
                                value = "~".join([e(x) for x in value.split("\n")])
                            else:
                                value = e(value)
                    elif value and vt == "SN":
                        value = _sn(value, s.id)
                    key = (vt, s.loinc, s.label, s.unit, s.ref_low, s.ref_high, s.flag, s.status, s.category)
                    parts = parts_get(key)
                    if parts is None:
                        parts = _obx_parts(e, rfmt, s)
                        if len(obx_parts) >= _MEMO_LIMIT:
                            obx_parts.clear()
                        obx_parts[key] = parts
                    obs = s.observed_at
                    if obs:
                        when = when_get(obs)
                        if when is None:
                            if len(whens) >= _MEMO_LIMIT:
                                whens.clear()
                            when = whens[obs] = ts(obs, "Result", s.id, "observed_at")
                    else:
                        when = ""
                    if when:
                        add(f"OBX|{j}|{parts[0]}|{sid}|{value}|{parts[1]}|{when}\r")
                    else:
                        add(f"OBX|{j}|{parts[0]}|{sid}|{value}|{parts[1]}".rstrip("|") + "\r")
                    if s.comment:
                        add(f"NTE|1||{e(s.comment)}\r")
                if r.specimen_type:
                    add(f"SPM|1|||{e(r.specimen_type)}^^HL70487\r")
            if end:
                add(end)
            if len(out) >= chunk.lines:
                yield _encode(chunk.take(out))
        if out:
            yield _encode(chunk.take(out))


def _obx_parts(e: Callable[[str | None], str], rfmt: Callable[[str | None, str | None, str], str],
               s: Result) -> tuple[str, str]:
    """OBX-2-3 and OBX-6-13 of ``s``, escaped: the fields between which the id and the value go."""
    if s.loinc:
        code = f"{e(s.loinc)}^{e(s.label)}^LN"
    elif s.label:
        code = f"^{e(s.label)}^L"
    else:
        code = '""'  # OBX-3 is required: HL7 null
    unit = f"{e(s.unit)}^{e(s.unit)}^UCUM" if s.unit else ""
    # OBX-11 is required: an unknown status is written as the HL7 null ""
    sts = s.status
    status = '\\X22\\"' if sts == '""' else (e(sts) or '""')
    return (f"{e(s.value_type)}|{code}",
            f"{unit}|{rfmt(s.ref_low, s.ref_high, s.id)}|{e(s.flag)}|||{status}||{e(s.category)}")


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError("a value holds a lone surrogate and cannot be written in UTF-8") from None
