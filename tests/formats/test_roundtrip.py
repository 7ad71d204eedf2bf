"""write -> read is lossless for every format, on records each format can carry."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from ecluse.formats._common import Record
from ecluse.formats.csvfile import CsvCodec, parse_csv_mapping
from ecluse.formats.hl7v25 import Hl7Codec
from ecluse.formats.hprim_net import HprimNetCodec
from ecluse.formats.hprim_sante import HprimSanteCodec

from .strategies import CSV, HL7, HPRIM_NET, HPRIM_SANTE, groups

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(groups(HPRIM_SANTE))
def test_hprim_sante_round_trip_is_lossless(records: list[Record]) -> None:
    codec = HprimSanteCodec()
    assert list(codec.read(codec.write(records), filename="t.hpr")) == records


@SETTINGS
@given(groups(HPRIM_SANTE))
def test_hprim_sante_round_trip_in_cp1252_with_short_lines(records: list[Record]) -> None:
    codec = HprimSanteCodec(encoding="cp1252", wrap=40)
    assert list(codec.read(codec.write(records), filename="t.hpr")) == records


@SETTINGS
@given(groups(HL7))
def test_hl7_round_trip_is_lossless(records: list[Record]) -> None:
    codec = Hl7Codec()
    assert list(codec.read(codec.write(records), filename="t.hl7")) == records


@SETTINGS
@given(groups(HL7))
def test_hl7_round_trip_with_mllp_framing(records: list[Record]) -> None:
    codec = Hl7Codec(mllp=True)
    assert list(codec.read(codec.write(records), filename="t.hl7")) == records


@SETTINGS
@given(groups(CSV))
def test_csv_round_trip_is_lossless(records: list[Record]) -> None:
    codec = CsvCodec()
    assert list(codec.read(codec.write(records), filename="t.csv")) == records


_FRENCH = parse_csv_mapping({
    "csv": {"delimiter": ";", "decimal": ","},
    "columns": {
        "IPP": "patient.id", "NOM": "patient.birth_name", "DOSSIER": "request.id",
        "PRELEVEMENT": "request.collected_at", "ID": "result.id", "LOINC": "result.loinc",
        "VALEUR": "result.value", "TYPE": "result.value_type", "BAS": "result.ref_low",
        "HAUT": "result.ref_high",
    },
})


@SETTINGS
@given(groups(CSV))
def test_csv_with_french_mapping_keeps_mapped_fields(records: list[Record]) -> None:
    codec = CsvCodec(_FRENCH)
    got = list(codec.read(codec.write(records), filename="t.csv"))
    mapped = {t.split(".", 1)[1] for _, t in _FRENCH.columns} | {"patient_id", "request_id"}
    want = []
    for rec in records:
        kept = {k: getattr(rec, k) for k in mapped if hasattr(rec, k)}
        want.append(type(rec)(**kept))
    assert got == want


@SETTINGS
@given(groups(HPRIM_NET))
def test_hprim_net_round_trip_keeps_what_it_carries(records: list[Record]) -> None:
    codec = HprimNetCodec(encoding="utf-8")
    assert list(codec.read(codec.write(records), filename="t.hpr")) == records


@SETTINGS
@given(groups(HPRIM_NET))
def test_hprim_net_round_trip_in_cp1252(records: list[Record]) -> None:
    codec = HprimNetCodec()
    assert list(codec.read(codec.write(records), filename="t.hpr")) == records
