"""Hypothesis strategies for grouped record streams, constrained per format to what it carries.

Shared normalisations (documented in docs/formats/): empty text is ``None``; date-times are
ISO 8601 with ``T`` and an optional ``±HH:MM`` offset; numbers use a ``.`` decimal point.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from hypothesis import strategies as st

from ecluse.formats._common import REQUEST_STATUS_TO_CODE, Record
from ecluse.formats.records import IDENTITY_STATUSES, INS_OIDS, Patient, Request, Result


@dataclass(frozen=True)
class Profile:
    """What a format can carry."""

    text: st.SearchStrategy[str]
    line: st.SearchStrategy[str]  # text on one line
    full: bool = True  # every field survives (HPRIM Net: a documented subset)


def _alphabet(max_codepoint: int, exclude: str = "", no_c1: bool = False) -> st.SearchStrategy[str]:
    chars = st.characters(max_codepoint=max_codepoint, blacklist_categories=("Cs",),
                          blacklist_characters=exclude)
    if no_c1:
        chars = chars.filter(lambda c: not 0x80 <= ord(c) <= 0x9F)
    return chars


def _text(alpha: st.SearchStrategy[str], max_size: int = 30) -> st.SearchStrategy[str]:
    return st.text(alpha, min_size=1, max_size=max_size)


#: any character: those ISO-8859-1 lacks are written as \X<UTF-8 hex>\ (Écluse profile)
HPRIM_SANTE = Profile(text=_text(_alphabet(0x10FFFF)), line=_text(_alphabet(0x10FFFF, "\r\n")))
HL7 = Profile(text=_text(_alphabet(0x10FFFF)), line=_text(_alphabet(0x10FFFF, "\r\n")))
CSV = Profile(text=_text(_alphabet(0x10FFFF, "\x00")), line=_text(_alphabet(0x10FFFF, "\x00\r\n")))
_NET_CHARS = string.ascii_letters + string.digits + " -'.,:;()/éèàçùôÉÈ"
HPRIM_NET = Profile(
    text=st.text(st.sampled_from(_NET_CHARS), min_size=1, max_size=30).map(str.strip).filter(bool),
    line=st.text(st.sampled_from(_NET_CHARS), min_size=1, max_size=30).map(str.strip).filter(bool),
    full=False,
)


def opt(s: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.none() | s


numbers = st.builds(
    lambda neg, i, d: ("-" if neg else "") + str(i) + (f".{d}" if d else ""),
    st.booleans(), st.integers(0, 10_000), st.sampled_from(["", "0", "5", "25", "125", "01"]),
)
dates = st.dates().map(lambda d: d.isoformat())


@st.composite
def datetimes(draw: st.DrawFn) -> str:
    d = draw(st.dates()).isoformat()
    hh, mm, ss = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    out = f"{d}T{hh:02d}:{mm:02d}"
    if draw(st.booleans()):
        out += f":{ss:02d}"
        if draw(st.booleans()):
            out += "." + draw(st.sampled_from(["1", "25", "1234", "123456"]))
    if draw(st.booleans()):
        minutes = draw(st.integers(-12 * 4, 14 * 4)) * 15
        sign = "-" if minutes < 0 else "+"
        out += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return out


@st.composite
def values(draw: st.DrawFn, p: Profile) -> tuple[str, str | None]:
    vt = draw(st.sampled_from(["NM", "ST", "CE", "TX"] if p.full else ["NM", "ST"]))
    if vt == "NM":
        return vt, draw(opt(numbers))
    if vt == "ST":
        return vt, draw(opt(p.text if p.full else p.line))
    return vt, draw(opt(p.text))


def _comment(p: Profile) -> st.SearchStrategy[str | None]:
    if p.full:
        return opt(p.text)
    # HPRIM Net: one TEX line per comment line; a last line without a lower-case letter
    # before a RES line would read as a section title
    return opt(st.lists(p.line, min_size=1, max_size=3).map("\n".join)
               .filter(lambda c: any(ch.islower() for ch in c.split("\n")[-1])))


@st.composite
def groups(draw: st.DrawFn, p: Profile, max_patients: int = 3) -> list[Record]:
    """A grouped stream with unique ids."""
    out: list[Record] = []
    n = draw(st.integers(0, max_patients))
    for i in range(n):
        t, line = p.text, p.line
        pid = f"P{i}-" + draw(line if p.full else st.text(string.ascii_uppercase + string.digits, max_size=8))
        if p.full:
            pat = Patient(
                id=pid,
                nir=draw(opt(line)),
                nir_owner=draw(st.sampled_from([None, "patient", "insured"])),
                ins=draw(opt(line)),
                ins_oid=draw(st.none() | st.sampled_from(sorted(INS_OIDS)) | line),
                identity_status=draw(st.sampled_from([None, *IDENTITY_STATUSES])),
                birth_name=draw(opt(line)),
                used_name=draw(opt(line)),
                given_names=draw(opt(line)),
                sex=draw(st.sampled_from([None, "M", "F", "U"])),
                birth_date=draw(opt(dates)),
                birth_place=draw(opt(line)),
                address=draw(opt(t)),
                postcode=draw(opt(line)),
                city=draw(opt(line)),
                phone=draw(opt(line)),
                email=draw(opt(line)),
                blood_group=draw(opt(line)),
                comment=draw(opt(t)),
            )
        else:
            city = draw(opt(st.text(string.ascii_uppercase + " -", min_size=1, max_size=20).map(str.strip)
                            .filter(bool)))
            pat = Patient(
                id=pid,
                nir=draw(opt(st.text(string.digits + "AB", min_size=13, max_size=15))),
                birth_name=draw(opt(line)),
                given_names=draw(opt(line)),
                birth_date=draw(opt(dates)),
                address=draw(opt(line)),
                postcode=draw(opt(st.text(string.digits, min_size=5, max_size=5))),
                city=city,
            )
        out.append(pat)
        for j in range(draw(st.integers(0, 3))):
            rid = f"R{i}.{j}-" + draw(line if p.full else st.text(string.ascii_uppercase + string.digits,
                                                                   max_size=8))
            if p.full:
                req = Request(
                    id=rid, patient_id=pid,
                    site_finess=draw(opt(line)),
                    prescriber_rpps=draw(opt(line)),
                    collected_at=draw(opt(datetimes())),
                    received_at=draw(opt(datetimes())),
                    specimen_type=draw(opt(line)),
                    status=draw(st.sampled_from([None, *REQUEST_STATUS_TO_CODE])),
                    comment=draw(_comment(p)),
                )
            else:
                req = Request(
                    id=rid, patient_id=pid,
                    site_finess=draw(opt(st.from_regex(r"\A[0-9][0-9AB][0-9]{7}\Z"))),
                    prescriber_rpps=draw(opt(st.from_regex(r"\A[0-9]{11}\Z"))),
                    collected_at=draw(opt(dates)),
                    comment=draw(_comment(p)),
                )
            out.append(req)
            for k in range(draw(st.integers(0, 4))):
                vt, value = draw(values(p))
                res = Result(
                    id=(f"S{i}.{j}.{k}-" + draw(line)) if p.full else f"{rid}-{k + 1}",
                    request_id=rid, patient_id=pid,
                    loinc=draw(opt(line if p.full else st.from_regex(r"\A[0-9]{1,7}-[0-9]\Z"))),
                    label=draw(opt(line)),
                    value=value, value_type=vt,
                    unit=draw(opt(line)),
                    ref_low=draw(opt(numbers)), ref_high=draw(opt(numbers)),
                    flag=draw(opt(st.sampled_from(["L", "H", "LL", "HH", "N", "A"]))),
                    status=draw(opt(st.sampled_from(["F", "P", "C"]))),
                    comment=draw(_comment(p)),
                )
                if p.full:
                    res.category = draw(st.sampled_from([None, "hiv", "genetic", "pregnancy"]))
                    res.observed_at = draw(opt(datetimes()))
                out.append(res)
    return out

#: HL7 values short enough for the v2.5 maximum lengths that hl7apy checks, printable
HL7_SHORT = Profile(
    text=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_categories=("Cs", "Cc")),
                 min_size=1, max_size=6),
    line=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_categories=("Cs", "Cc")),
                 min_size=1, max_size=6),
)
