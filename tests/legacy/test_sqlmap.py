"""SQL legacy databases through declarative mappings: the synthetic LIS goes SQL -> each
format -> SQL with identical records; a different made-up schema maps with translations,
decimal commas and text dates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ecluse.formats.codec import get_codec
from ecluse.formats.records import Patient, Request, Result
from ecluse.legacy.sqlmap import MAPPINGS_DIR, SqlFilter, load_mapping, read_database, write_database

SCHEMA = (Path(__file__).resolve().parents[2] / "src" / "ecluse" / "legacy" / "schema.sql").read_text()
FULL_FORMATS = ["hprim-sante", "hl7v25", "csv"]


@pytest.fixture(scope="module")
def synth_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    synth = pytest.importorskip("ecluse.legacy.synth")
    path = tmp_path_factory.mktemp("lis") / "lis.db"
    synth.generate(path, patients=200, seed=3)
    return f"sqlite:///{path}"


def _empty_db(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    return f"sqlite:///{path}"


def test_shipped_mappings_load() -> None:
    names = sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml"))
    assert "synth-lis" in names
    for name in names:
        load_mapping(name)


@pytest.mark.parametrize("fmt", FULL_FORMATS)
def test_sql_to_format_to_sql_keeps_records_identical(synth_db: str, fmt: str, tmp_path: Path) -> None:
    mapping = load_mapping("synth-lis")
    records = list(read_database(synth_db, mapping))
    assert sum(isinstance(r, Patient) for r in records) == 200
    assert any(isinstance(r, Result) for r in records)
    codec = get_codec(fmt)
    back = list(codec.read(codec.write(records), filename=f"x.{fmt}"))
    assert back == records
    target = _empty_db(tmp_path / "target.db")
    assert write_database(target, mapping, back) == 200
    assert list(read_database(target, mapping)) == records


def test_sql_to_hprim_net_keeps_what_it_carries(synth_db: str) -> None:
    from ecluse.formats.hprim_net import HprimNetCodec

    records = list(read_database(synth_db, load_mapping("synth-lis")))
    codec = HprimNetCodec(encoding="utf-8")  # cp1252 has no β (β-hCG)
    back = list(codec.read(codec.write(records), filename="x.hpr"))
    pats = [r for r in back if isinstance(r, Patient)]
    assert [p.id for p in pats] == [r.id for r in records if isinstance(r, Patient)]
    assert all(p.ins is None and p.identity_status is None for p in pats)
    assert [r.id for r in back if isinstance(r, Request)] == [r.id for r in records if isinstance(r, Request)]


def test_filter_on_period(synth_db: str) -> None:
    mapping = load_mapping("synth-lis")
    every = [r for r in read_database(synth_db, mapping) if isinstance(r, Request)]
    days = sorted((r.collected_at or "")[:10] for r in every)
    mid = days[len(days) // 2]
    some = [r for r in read_database(synth_db, mapping, where=SqlFilter(collected_to=mid))
            if isinstance(r, Request)]
    assert 0 < len(some) < len(every)
    assert all((r.collected_at or "")[:10] <= mid for r in some)


OLDLIS = """
CREATE TABLE PATIENT (NUM_PAT INTEGER PRIMARY KEY, IPP TEXT, NOM TEXT, PRENOM TEXT, NAISS TEXT,
                      SEXE TEXT, SECU TEXT);
CREATE TABLE DOSSIER (NUM_DOS INTEGER PRIMARY KEY, NUM_PAT INTEGER, NO_DOSSIER TEXT, DATE_PREL TEXT);
CREATE TABLE ANALYSE (NUM_ANA INTEGER PRIMARY KEY, NUM_DOS INTEGER, CODE TEXT, LIBELLE TEXT,
                      RESULTAT TEXT, UNITE TEXT, NORME_BASSE TEXT, NORME_HAUTE TEXT);
INSERT INTO PATIENT VALUES (1, 'A001', 'DURAND', 'JEANNE MARIE', '28/03/1979', 'F', '179035121518921');
INSERT INTO PATIENT VALUES (2, 'A002', 'MARTIN', 'PAUL', '01/12/1950', 'M', NULL);
INSERT INTO DOSSIER VALUES (10, 1, 'D2401', '15/01/2024 08:15');
INSERT INTO DOSSIER VALUES (11, 1, 'D2402', '16/01/2024 09:00');
INSERT INTO DOSSIER VALUES (12, 2, 'D2403', '17/01/2024 10:30');
INSERT INTO ANALYSE VALUES (100, 10, 'GLY', 'Glycémie', '7,20', 'mmol/L', '4,10', '5,90');
INSERT INTO ANALYSE VALUES (101, 10, 'HB', 'Hémoglobine', '13,2', 'g/dL', '12,0', '16,0');
INSERT INTO ANALYSE VALUES (102, 12, 'XYZ', 'Test local', 'positif', NULL, NULL, NULL);
"""


def test_example_mapping_of_another_schema(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLDLIS)
    recs = list(read_database(f"sqlite:///{path}", load_mapping("example-oldlis")))
    assert recs[0] == Patient(id="A001", nir="179035121518921", nir_owner="insured", birth_name="DURAND",
                              given_names="JEANNE MARIE", sex="F", birth_date="1979-03-28")
    assert recs[1] == Request(id="D2401", patient_id="A001", collected_at="2024-01-15T08:15:00")
    assert recs[2] == Result(id="100", request_id="D2401", patient_id="A001", loinc="14749-6", label="Glycémie",
                             value="7.20", unit="mmol/L", ref_low="4.10", ref_high="5.90")
    assert isinstance(recs[3], Result) and recs[3].loinc == "718-7"
    assert isinstance(recs[4], Request) and recs[4].id == "D2402"
    last = recs[-1]
    # an unknown local code has no LOINC; its label stays
    assert isinstance(last, Result) and (last.loinc, last.label, last.value) == (None, "Test local", "positif")
    # the insured person's NIR never becomes an INS, in any format
    for fmt in ("hprim-sante", "hl7v25", "csv", "hprim-net"):
        codec = get_codec(fmt)
        back = next(iter(codec.read(codec.write(recs), filename="x")))
        assert isinstance(back, Patient) and back.ins is None and back.nir == "179035121518921"


def test_write_back_into_another_schema(tmp_path: Path) -> None:
    src = tmp_path / "old.db"
    with sqlite3.connect(src) as conn:
        conn.executescript(OLDLIS)
    mapping = load_mapping("example-oldlis")
    recs = list(read_database(f"sqlite:///{src}", mapping))
    dst = tmp_path / "new.db"
    with sqlite3.connect(dst) as conn:
        conn.executescript(OLDLIS.split("INSERT", 1)[0])
    write_database(f"sqlite:///{dst}", mapping, recs)
    again = list(read_database(f"sqlite:///{dst}", mapping))
    # the unknown local code was not kept (it has no LOINC): everything else is identical
    assert again[:-1] == recs[:-1]
