"""SQL legacy databases through declarative mappings: the synthetic LIS goes SQL -> each
format -> SQL with identical records; a different made-up schema maps with translations,
decimal commas and text dates."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
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


# ---------------------------------------------------------------- write_database: targets, keys, errors

def _synth_records(synth_db: str) -> list[Patient | Request | Result]:
    return list(read_database(synth_db, load_mapping("synth-lis")))


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        n: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return n


def test_a_fresh_load_refuses_a_target_that_holds_rows(synth_db: str, tmp_path: Path) -> None:
    from ecluse.errors import ConfigError

    mapping, records = load_mapping("synth-lis"), _synth_records(synth_db)
    target = _empty_db(tmp_path / "t.db")
    assert write_database(target, mapping, records, fresh=True) == 200
    with pytest.raises(ConfigError, match="already holds rows"):
        write_database(target, mapping, records, fresh=True)
    assert _count(tmp_path / "t.db", "patients") == 200
    assert list(read_database(target, mapping)) == records


def test_a_target_with_rows_gets_new_ones_after_them_and_a_clash_writes_nothing(synth_db: str,
                                                                                tmp_path: Path) -> None:
    from ecluse.errors import FormatError

    mapping, records = load_mapping("synth-lis"), _synth_records(synth_db)
    first = [r for r in records if (r.id if isinstance(r, Patient) else r.patient_id) <= "IPP00000100"]
    rest = records[len(first):]
    results_first = {r.id for r in first if isinstance(r, Result)}
    # result ids are the results key in this schema: renumber the second half's out of the way
    rest = [replace(r, id=str(int(r.id) + 10**6)) if isinstance(r, Result) else r for r in rest]
    path = tmp_path / "t.db"
    target = _empty_db(path)
    assert write_database(target, mapping, first) == 100
    assert write_database(target, mapping, rest) == 100
    assert [r.id for r in read_database(target, mapping) if isinstance(r, Patient)] == \
        [r.id for r in records if isinstance(r, Patient)]
    assert {r.id for r in read_database(target, mapping) if isinstance(r, Result)} >= results_first
    before = list(read_database(target, mapping))
    # the same patients again: the unique IPP refuses them; the whole write is rolled back, nothing
    # is overwritten, and the error carries no value of the statement
    with pytest.raises(FormatError) as info:
        write_database(target, mapping, records[:50])
    assert list(read_database(target, mapping)) == before
    chain = f"{info.value} {info.value.__cause__}"
    first_patient = records[0]
    assert isinstance(first_patient, Patient) and first_patient.birth_name
    assert first_patient.birth_name not in chain and first_patient.id not in chain


def test_result_ids_the_integer_key_cannot_hold_get_new_keys(tmp_path: Path) -> None:
    mapping = load_mapping("synth-lis")
    target = _empty_db(tmp_path / "t.db")
    records: list[Patient | Request | Result] = [
        Patient(id="P1"), Request(id="R1", patient_id="P1", site_finess="1", collected_at="2024-01-01"),
        Result(id="40", request_id="R1", patient_id="P1"),
        Result(id="R1-2", request_id="R1", patient_id="P1"),  # HPRIM Net numbers results <request>-<n>
        Result(id="007", request_id="R1", patient_id="P1"),  # not an integer as written
    ]
    write_database(target, mapping, records)
    assert [r.id for r in read_database(target, mapping) if isinstance(r, Result)] == ["40", "41", "42"]


def test_a_value_that_does_not_convert_is_named_by_record_and_field_only(tmp_path: Path) -> None:
    from ecluse.errors import FormatError

    dst = tmp_path / "new.db"
    with sqlite3.connect(dst) as conn:
        conn.executescript(OLDLIS.split("INSERT", 1)[0])
    bad = [Patient(id="A9", birth_date="31/31/1999-NOT-ISO")]
    with pytest.raises(FormatError, match="record Patient A9, field birth_date") as info:
        write_database(f"sqlite:///{dst}", load_mapping("example-oldlis"), bad)
    assert "NOT-ISO" not in str(info.value) and info.value.__cause__ is None
    assert info.value.__suppress_context__
    with sqlite3.connect(dst) as conn:
        conn.execute("INSERT INTO PATIENT VALUES (1, 'A1', 'X', 'Y', '1979-03-28-NOT-FR', 'F', NULL)")
    with pytest.raises(FormatError, match="field birth_date") as info:
        list(read_database(f"sqlite:///{dst}", load_mapping("example-oldlis")))
    assert "NOT-FR" not in str(info.value) and info.value.__cause__ is None


def test_an_id_held_by_a_text_key_column_is_written_as_that_key(tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text("""
name = "text-keys"
[patients]
table = "P"
key = "IPP"
[patients.fields]
id = "IPP"
birth_name = "NOM"
[requests]
table = "D"
key = "NO"
parent = "IPP"
[requests.fields]
id = "NO"
[results]
table = "A"
key = "ID"
parent = "NO"
[results.fields]
id = "ID"
value = "VAL"
""")
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE P (IPP TEXT PRIMARY KEY, NOM TEXT);"
                           "CREATE TABLE D (NO TEXT PRIMARY KEY, IPP TEXT NOT NULL);"
                           "CREATE TABLE A (ID TEXT PRIMARY KEY, NO TEXT NOT NULL, VAL TEXT);")
    mapping = load_mapping(tmp_path / "m.toml")
    records: list[Patient | Request | Result] = [
        Patient(id="A-1", birth_name="X"), Request(id="D-1", patient_id="A-1"),
        Result(id="D-1-1", request_id="D-1", patient_id="A-1", value="5.1"),
        Patient(id="A-2"), Request(id="D-2", patient_id="A-2"),
    ]
    assert write_database(f"sqlite:///{path}", mapping, records, fresh=True) == 2
    assert list(read_database(f"sqlite:///{path}", mapping)) == records
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT IPP FROM D ORDER BY NO").fetchall() == [("A-1",), ("A-2",)]
