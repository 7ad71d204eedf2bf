"""Every synthetic sample in shared/samples/ (but FHIR) parses to the expected records."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecluse.formats.codec import get_codec, sniff_codec
from ecluse.formats.records import Patient, Request, Result

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
if not SAMPLES.is_dir():  # a clone with shared/ beside it
    SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/samples not present")

PAT = "IPP000123"
REQ = "LAB2401150001"


def _read(name: str, fmt: str) -> list[object]:
    data = (SAMPLES / name).read_bytes()
    codec = sniff_codec(data[:512])
    assert codec.name == fmt
    return list(get_codec(fmt).read(data, filename=name))


def test_hprim_sante_sample() -> None:
    recs = _read("hprim_sante_h22_oru_synthetic.hpr", "hprim-sante")
    assert recs[0] == Patient(id=PAT, birth_name="PAT-TROIS", given_names="DOMINIQUE", sex="F",
                              birth_date="1979-03-28", address="28 AV DE BRETEUIL", postcode="75007",
                              city="PARIS")
    # the OBR continues on an A| line: its report status F comes after the continuation
    assert recs[1] == Request(id=REQ, patient_id=PAT, collected_at="2024-01-15T08:15",
                              received_at="2024-01-15T08:30", status="final")
    results = recs[2:]
    assert [type(r) for r in results] == [Result] * 6
    hb, ht, gb, gly, crp, comm = results
    assert hb == Result(id=f"{REQ}-1", request_id=REQ, patient_id=PAT, loinc="718-7", label="Hémoglobine",
                        value="13.2", value_type="NM", unit="g/dL", ref_low="12.0", ref_high="16.0", flag="N",
                        status="F", observed_at="2024-01-15T09:30")
    assert (ht.loinc, ht.value, ht.unit) == ("4544-3", "40.1", "%")
    assert (gb.loinc, gb.value, gb.unit, gb.flag) == ("6690-2", "11.8", "G/L", "H")
    assert gb.comment == "Hyperleucocytose modérée, à contrôler."
    assert (gly.loinc, gly.label, gly.value, gly.ref_low, gly.ref_high) == (
        "14749-6", "Glycémie à jeun", "7.20", "4.10", "5.90")
    assert (crp.loinc, crp.value, crp.value_type, crp.ref_low, crp.ref_high) == ("1988-5", "<5", "ST", None, "5")
    assert (comm.loinc, comm.value_type, comm.value) == (None, "TX", "Bilan validé par le biologiste.")


def test_hl7_sample() -> None:
    recs = _read("hl7v25_oru_r01_fr_synthetic.hl7", "hl7v25")
    assert recs[0] == Patient(id=PAT, ins="279035121518989", ins_oid="1.2.250.1.213.1.4.10",
                              identity_status="VALI", birth_name="PAT-TROIS", given_names="DOMINIQUE", sex="F",
                              birth_date="1979-03-28", birth_place="51215", address="28 AV DE BRETEUIL",
                              postcode="75007", city="PARIS", phone="0102030405")
    assert recs[1] == Request(id=REQ, patient_id=PAT, prescriber_rpps="99990000012",
                              collected_at="2024-01-15T08:15:00", received_at="2024-01-15T08:30:00",
                              specimen_type="BLD", status="final")
    hb, gb, gly, crp, abo = recs[2:]
    assert hb == Result(id=f"{REQ}-1", request_id=REQ, patient_id=PAT, loinc="718-7", label="Hémoglobine",
                        value="13.2", value_type="NM", unit="g/dL", ref_low="12.0", ref_high="16.0", flag="N",
                        status="F", observed_at="2024-01-15T09:30:00")
    assert (gb.unit, gb.flag) == ("10*9/L", "H")
    # escapes: \T\ & , \.br\ newline, \F\ | , \S\ ^
    assert gb.comment == "Hyperleucocytose modérée & à contrôler.\nAvis : voir | commentaire ^ biologiste."
    assert (gly.loinc, gly.value, gly.unit) == ("14749-6", "7.20", "mmol/L")
    assert (crp.value_type, crp.value, crp.ref_high, crp.label) == ("SN", "<5", "5", "CRP")
    assert (abo.loinc, abo.value_type, abo.value) == (
        "882-1", "CWE", "278149003^Blood group A Rh(D) positive^SCT")


def test_hl7_sample_in_mllp_frame() -> None:
    data = (SAMPLES / "hl7v25_oru_r01_fr_synthetic.hl7").read_bytes()
    codec = get_codec("hl7v25")
    framed = b"\x0b" + data + b"\x1c\r"
    assert sniff_codec(framed[:64]).name == "hl7v25"
    assert list(codec.read(framed, filename="x")) == list(codec.read(data, filename="x"))


def test_hprim_net_sample() -> None:
    recs = _read("hprim_net_synthetic.hpr", "hprim-net")
    # line 8 is a NIR: it is never read as an INS
    assert recs[0] == Patient(id=PAT, nir="279035121518989", birth_name="PAT-TROIS", given_names="DOMINIQUE",
                              birth_date="1979-03-28", address="28 AV DE BRETEUIL", postcode="75007",
                              city="PARIS")
    assert recs[1] == Request(id=REQ, patient_id=PAT, collected_at="2024-01-15")
    hb, gb, gly, crp = recs[2:]
    assert hb == Result(id=f"{REQ}-1", request_id=REQ, patient_id=PAT, label="Hémoglobine", value="13.2",
                        value_type="NM", unit="g/dL", ref_low="12.0", ref_high="16.0", flag="N", status="F")
    # the TEX line after Leucocytes is its comment; TEX|BIOCHIMIE before a RES is a section title
    assert gb.comment == "Hyperleucocytose modérée, à contrôler."
    # decimal commas in norms become points; the second unit is not kept
    assert (gly.value, gly.unit, gly.ref_low, gly.ref_high, gly.flag) == ("7.20", "mmol/L", "4.10", "5.90", "H")
    assert (crp.value_type, crp.value, crp.ref_low, crp.ref_high) == ("ST", "<5", None, "5")
