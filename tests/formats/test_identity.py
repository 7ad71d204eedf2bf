"""Identity kept exact in every format: INS, OID and status survive; a provisional identity
is never promoted; a NIR held for the insured person never becomes an INS."""

from __future__ import annotations

import pytest

from ecluse.formats.codec import CODECS, get_codec
from ecluse.formats.records import Patient, Request

FULL = ["hprim-sante", "hl7v25", "csv"]


@pytest.mark.parametrize("name", FULL)
@pytest.mark.parametrize("oid", ["1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10",
                                 "1.2.250.1.213.1.4.11"])
@pytest.mark.parametrize("status", ["PROV", "RECUP", "VALI", "QUAL"])
def test_ins_oid_and_status_survive(name: str, oid: str, status: str) -> None:
    p = Patient(id="P1", ins="279035121518989", ins_oid=oid, identity_status=status, nir="279035121518989",
                nir_owner="patient")
    codec = get_codec(name)
    (back,) = codec.read(codec.write([p]), filename="x")
    assert back == p


@pytest.mark.parametrize("name", list(CODECS))
def test_insured_nir_never_becomes_an_ins(name: str) -> None:
    p = Patient(id="P1", nir="179035121518921", nir_owner="insured", identity_status="PROV", birth_name="X")
    codec = get_codec(name)
    recs = list(codec.read(codec.write([p, Request(id="R1", patient_id="P1")]), filename="x"))
    back = recs[0]
    assert isinstance(back, Patient)
    assert back.ins is None and back.ins_oid is None
    assert back.identity_status in (None, "PROV")  # HPRIM Net carries no status: never promoted


def test_hl7_nh_identifier_is_read_as_nir_not_ins() -> None:
    pid = ["PID", "1", "", "IPP1^^^^PI~179035121518921^^^^NH", "", "X^Y^^^^^L"] + [""] * 26 + ["PROV"]
    msg = b"MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\r" + "|".join(pid).encode() + b"\r"
    (p,) = get_codec("hl7v25").read(msg, filename="x")
    assert isinstance(p, Patient)
    assert (p.nir, p.ins, p.identity_status) == ("179035121518921", None, "PROV")


def test_writers_refuse_unknown_identity_values() -> None:
    from ecluse.errors import FormatError

    for name in CODECS:
        with pytest.raises(FormatError) as info:
            get_codec(name).write([Patient(id="P1", identity_status="VALIDATED")])
        assert info.value.field == "identity_status"
        with pytest.raises(FormatError):
            get_codec(name).write([Patient(id="P1", nir="1", nir_owner="parent")])
