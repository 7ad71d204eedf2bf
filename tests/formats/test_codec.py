"""The registry, sniffing and the grouped order."""

from __future__ import annotations

import pytest

from ecluse.errors import FormatError
from ecluse.formats.codec import CODECS, Codec, get_codec, sniff_codec
from ecluse.formats.records import Patient, Request, Result


def test_registry_is_explicit_and_complete() -> None:
    assert set(CODECS) == {"hprim-sante", "hprim-net", "hl7v25", "csv"}
    for name in CODECS:
        codec = get_codec(name)
        assert isinstance(codec, Codec)
        assert codec.name == name


def test_unknown_format() -> None:
    with pytest.raises(FormatError):
        get_codec("xml")
    with pytest.raises(FormatError):
        sniff_codec(b"hello")


@pytest.mark.parametrize("name", list(CODECS))
def test_each_writer_output_sniffs_as_its_format(name: str) -> None:
    recs = [Patient(id="P1"), Request(id="R1", patient_id="P1"),
            Result(id="R1-1", request_id="R1", patient_id="P1", value="1")]
    assert sniff_codec(get_codec(name).write(recs)[:512]).name == name


@pytest.mark.parametrize("name", list(CODECS))
def test_writers_refuse_records_out_of_order(name: str) -> None:
    with pytest.raises(FormatError):
        get_codec(name).write([Request(id="R1", patient_id="P1")])
    with pytest.raises(FormatError):
        get_codec(name).write([Patient(id="P1"), Result(id="S", request_id="R1", patient_id="P1")])
    with pytest.raises(FormatError):
        get_codec(name).write([Patient(id="P1"), Request(id="R1", patient_id="P2")])


def test_hprim_sante_wraps_long_records_on_a_lines() -> None:
    from ecluse.formats.hprim_sante import HprimSanteCodec

    p = Patient(id="P1", address="x" * 500)
    out = HprimSanteCodec().write([p])
    lines = out.split(b"\r\n")
    assert max(len(x) for x in lines) <= 220
    assert any(x.startswith(b"A|") for x in lines)
    assert list(HprimSanteCodec().read(out, filename="x")) == [p]


def test_hprim_sante_reads_other_delimiters_and_cp1252() -> None:
    data = "H!@#$%!X\r\nP!1!ID1!!!NOM@Prénom œ\r\nL!1\r\n".encode("cp1252")
    (p,) = get_codec("hprim-sante").read(data, filename="x")
    assert isinstance(p, Patient)
    assert (p.id, p.birth_name, p.given_names) == ("ID1", "NOM", "Prénom œ")
