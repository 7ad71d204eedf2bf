"""Our HL7 output parses with hl7apy and validates against its v2.5 ORU_R01 structure."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecluse.formats._common import Record
from ecluse.formats.hl7v25 import Hl7Codec
from ecluse.formats.records import Patient, Request, Result

from .strategies import HL7_SHORT, groups

hl7apy_parser = pytest.importorskip("hl7apy.parser")
from hl7apy.consts import VALIDATION_LEVEL  # noqa: E402


def _validate(data: bytes) -> int:
    n = 0
    for msg in data.decode("utf-8").split("MSH|")[1:]:
        m = hl7apy_parser.parse_message("MSH|" + msg, validation_level=VALIDATION_LEVEL.STRICT,
                                        find_groups=True)
        assert m.name == "ORU_R01"
        m.validate()
        n += 1
    return n


def test_sample_like_message_validates() -> None:
    recs: list[Record] = [
        Patient(id="IPP1", ins="279035121518989", ins_oid="1.2.250.1.213.1.4.10", identity_status="VALI",
                nir="179035121518921", nir_owner="insured", birth_name="PAT-TROIS", used_name="MARTIN",
                given_names="DOMINIQUE MARIE", sex="F", birth_date="1979-03-28", birth_place="51215",
                address="28 AV DE BRETEUIL", postcode="75007", city="PARIS", phone="0102030405",
                email="x@example.org", blood_group="A+", comment="à jeun"),
        Request(id="R1", patient_id="IPP1", site_finess="750000000", prescriber_rpps="99990000012",
                collected_at="2024-01-15T08:15:00+01:00", received_at="2024-01-15T08:30",
                specimen_type="BLD", status="final", comment="bilan | annuel"),
        Result(id="S1", request_id="R1", patient_id="IPP1", loinc="718-7", label="Hémoglobine", value="13.2",
               unit="g/dL", ref_low="12.0", ref_high="16.0", flag="N", status="F", category="hiv",
               observed_at="2024-01-15T09:30:00+01:00", comment="ok ^ & ~"),
        Result(id="S2", request_id="R1", patient_id="IPP1", value="A+", value_type="CE", label="Groupe"),
    ]
    assert _validate(Hl7Codec(now=lambda: __import__("datetime").datetime(2024, 1, 1)).write(recs)) == 1


@st.composite
def _with_requests(draw: st.DrawFn) -> list[Record]:
    recs = draw(groups(HL7_SHORT))
    # ORU^R01 needs an OBR per patient; NM values must be numbers; DTM fractions <= 4 digits
    out: list[Record] = []
    for i, rec in enumerate(recs):
        out.append(rec)
        if isinstance(rec, Patient) and not (i + 1 < len(recs) and isinstance(recs[i + 1], Request)):
            out.append(Request(id=f"auto{i}", patient_id=rec.id))
    for rec in out:
        for name in ("collected_at", "received_at", "observed_at"):
            value = getattr(rec, name, None)
            if value and "123456" in value:
                setattr(rec, name, value.replace("123456", "1234"))
    return out


@settings(max_examples=60, deadline=None)
@given(_with_requests())
def test_generated_messages_validate(records: list[Record]) -> None:
    _validate(Hl7Codec().write(records))
