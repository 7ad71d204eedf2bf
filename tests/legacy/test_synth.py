"""The synthetic LIS generator: schema, distributions, valid identifiers, determinism, safety."""

from __future__ import annotations

import hashlib
import importlib.resources
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from stdnum import luhn
from stdnum.fr import nir as stdnum_nir

from ecluse.errors import ConfigError
from ecluse.legacy import synth
from ecluse.legacy.identifiers import is_valid_finess, is_valid_nir, is_valid_rpps
from ecluse.legacy.synth import INS_NIR_TEST_OID, generate

N_PATIENTS = 1500
TABLES = ("lis_info", "sites", "prescribers", "patients", "requests", "results")
SENSITIVE = {"hiv", "genetic", "pregnancy", "tumour_marker", "drug_monitoring"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    path = tmp_path_factory.mktemp("synth") / "lis.db"
    generate(path, patients=N_PATIENTS, seed=7)
    conn = sqlite3.connect(path)
    yield conn
    conn.close()


def content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with sqlite3.connect(path) as conn:
        for table in TABLES:
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1"):
                h.update(repr(row).encode())
    return h.hexdigest()


def test_schema_is_exactly_schema_sql(db: sqlite3.Connection) -> None:
    expected = sqlite3.connect(":memory:")
    expected.executescript(importlib.resources.files("ecluse.legacy").joinpath("schema.sql").read_text("utf-8"))
    query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    assert db.execute(query).fetchall() == expected.execute(query).fetchall()


def test_counts_are_in_the_expected_ranges(db: sqlite3.Connection) -> None:
    (patients,) = db.execute("SELECT count(*) FROM patients").fetchone()
    (requests,) = db.execute("SELECT count(*) FROM requests").fetchone()
    (results,) = db.execute("SELECT count(*) FROM results").fetchone()
    (sites,) = db.execute("SELECT count(*) FROM sites").fetchone()
    (prescribers,) = db.execute("SELECT count(*) FROM prescribers").fetchone()
    assert patients == N_PATIENTS
    assert 1.8 <= requests / patients <= 2.3
    assert 5.0 <= results / requests <= 7.5
    assert sites == 20
    assert prescribers == 2000
    info = dict(db.execute("SELECT key, value FROM lis_info"))
    assert info["seed"] == "7"
    assert info["patients"] == str(N_PATIENTS)
    assert info["requests"] == str(requests)
    assert info["results"] == str(results)


def test_referential_integrity_holds(db: sqlite3.Connection) -> None:
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute(
        "SELECT count(*) FROM results r JOIN requests q ON q.id = r.request_id WHERE q.patient_id != r.patient_id"
    ).fetchone() == (0,)


def test_every_nir_is_valid_and_corsica_is_present(db: sqlite3.Connection) -> None:
    nirs = [n for (n,) in db.execute("SELECT nir FROM patients WHERE nir IS NOT NULL")]
    assert nirs
    assert all(stdnum_nir.is_valid(n) and is_valid_nir(n) for n in nirs)
    depts = {n[5:7] for n in nirs}
    assert {"2A", "2B"} <= depts
    assert {n[5:8] for n in nirs} & {"971", "972", "973", "974", "976"}
    assert "99" in depts


def test_own_nir_matches_the_patient(db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT nir, sex, birth_date, birth_place FROM patients WHERE nir_owner = 'patient'").fetchall()
    assert rows
    for nir, sex, birth, place in rows:
        if sex != "U":
            assert nir[0] == {"M": "1", "F": "2"}[sex]
        assert nir[1:3] == birth[2:4]
        assert nir[3:5] == birth[5:7]
        if place[:2] in ("2A", "2B") and birth < "1976":
            assert nir[5:10] == "20" + place[2:]
        else:
            assert nir[5:10] == place
    own = [r[0] for r in rows]
    assert len(own) == len(set(own))


def test_insured_nir_is_someone_else_and_never_an_ins(db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT nir, ins, ins_oid, identity_status, sex, birth_date FROM patients WHERE nir_owner = 'insured'"
    ).fetchall()
    assert 0.06 <= len(rows) / N_PATIENTS <= 0.15
    for nir, ins, oid, status, sex, birth in rows:
        assert ins is None and oid is None
        assert status in ("PROV", "RECUP")
        same_sex = sex == "U" or nir[0] == {"M": "1", "F": "2"}[sex]
        assert not (same_sex and nir[1:5] == birth[2:4] + birth[5:7])


def test_ins_uses_the_test_oid_only(db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT nir, ins, ins_oid FROM patients WHERE ins IS NOT NULL").fetchall()
    assert rows
    assert {oid for _, _, oid in rows} == {INS_NIR_TEST_OID}
    assert all(ins == nir for nir, ins, _ in rows)
    assert db.execute("SELECT count(*) FROM patients WHERE ins_oid IS NOT NULL AND ins IS NULL").fetchone() == (0,)


def test_identity_statuses_and_missing_nirs(db: sqlite3.Connection) -> None:
    statuses = dict(db.execute("SELECT identity_status, count(*) FROM patients WHERE nir_owner = 'patient' GROUP BY 1"))
    assert set(statuses) == {"PROV", "RECUP", "VALI", "QUAL"}
    assert max(statuses, key=statuses.__getitem__) == "QUAL"
    (missing,) = db.execute("SELECT count(*) FROM patients WHERE nir IS NULL").fetchone()
    assert 0.01 <= missing / N_PATIENTS <= 0.06


def test_patient_fields_look_french(db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT ipp, sex, birth_date, postcode, phone, email, blood_group, given_names FROM patients"
    ).fetchall()
    assert {r[1] for r in rows} <= {"M", "F", "U"}
    for ipp, _, birth, postcode, phone, email, blood, given in rows:
        assert re.fullmatch(r"IPP\d{8}", ipp)
        assert "1930-01-01" <= birth <= "2024-12-31"
        assert postcode is None or re.fullmatch(r"\d{5}", postcode)
        assert phone is None or re.fullmatch(r"0[1-7]\d{8}", phone)
        assert email is None or re.fullmatch(r"[a-z0-9.\-]+@[a-z0-9.]+", email)
        assert blood in (None, "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")
        assert 1 <= len(given.split(" ")) <= 3
    with_email = sum(1 for r in rows if r[5]) / len(rows)
    assert 0.5 <= with_email <= 0.7
    accents = "".join(r[7] for r in rows)
    assert any(c in accents for c in "éèëïô")


def test_sites_and_prescribers_have_valid_keys(db: sqlite3.Connection) -> None:
    finess = [f for (f,) in db.execute("SELECT finess FROM sites")]
    assert all(is_valid_finess(f) for f in finess)
    assert any(f.startswith("2A") for f in finess)
    rpps = [r for (r,) in db.execute("SELECT rpps FROM prescribers")]
    assert all(is_valid_rpps(r) and luhn.is_valid(r) for r in rpps)


def test_requests_have_french_timestamps(db: sqlite3.Connection) -> None:
    pattern = re.compile(r"20(1[5-9]|2[0-4])-\d\d-\d\dT\d\d:\d\d:00\+0[12]:00")
    for collected, received, specimen, status in db.execute(
        "SELECT collected_at, received_at, specimen_type, status FROM requests"
    ):
        assert pattern.fullmatch(collected)
        assert received > collected
        assert specimen in ("BLD", "SER", "PLAS", "UR")
        assert status in ("final", "partial", "corrected")
    (final,) = db.execute("SELECT avg(status = 'final') FROM requests").fetchone()
    assert final > 0.9


def test_every_sensitive_category_is_present(db: sqlite3.Connection) -> None:
    categories = {c for (c,) in db.execute("SELECT DISTINCT category FROM results")}
    assert categories - {None} == SENSITIVE
    (requests,) = db.execute("SELECT count(*) FROM requests").fetchone()
    for category in SENSITIVE:
        (n,) = db.execute("SELECT count(DISTINCT request_id) FROM results WHERE category = ?", (category,)).fetchone()
        assert 0.003 <= n / requests <= 0.12, category


def test_hiv_results_are_coded_text(db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT loinc, value, value_type FROM results WHERE category = 'hiv'").fetchall()
    assert {r[0] for r in rows} == {"56888-1"}
    assert {r[1] for r in rows} <= {"Négatif", "Positif"}
    assert {r[2] for r in rows} == {"CE"}


def test_numeric_flags_follow_the_ranges(db: sqlite3.Connection) -> None:
    rows = db.execute(
        "SELECT value, ref_low, ref_high, flag FROM results WHERE value_type = 'NM' AND value IS NOT NULL"
    ).fetchall()
    assert rows
    flags = set()
    for value, low, high, flag in rows:
        assert re.fullmatch(r"\d+(\.\d+)?", value)
        x = float(value)
        expected = "L" if low is not None and x < float(low) else "H" if high is not None and x > float(high) else "N"
        assert flag == expected
        flags.add(flag)
    assert flags == {"L", "H", "N"}


def test_free_text_comments_are_present(db: sqlite3.Connection) -> None:
    (p,) = db.execute("SELECT avg(comment IS NOT NULL) FROM patients").fetchone()
    (q,) = db.execute("SELECT avg(comment IS NOT NULL) FROM requests").fetchone()
    (r,) = db.execute("SELECT avg(comment IS NOT NULL) FROM results").fetchone()
    assert 0.02 <= p <= 0.09
    assert 0.06 <= q <= 0.14
    assert 0.015 <= r <= 0.05


def test_same_seed_same_content_and_another_seed_differs(tmp_path: Path) -> None:
    generate(tmp_path / "a.db", patients=300, seed=3)
    generate(tmp_path / "b.db", patients=300, seed=3)
    generate(tmp_path / "c.db", patients=300, seed=4)
    assert content_hash(tmp_path / "a.db") == content_hash(tmp_path / "b.db")
    assert content_hash(tmp_path / "a.db") != content_hash(tmp_path / "c.db")


def test_worker_processes_give_the_same_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "CHUNK_PATIENTS", 100)
    generate(tmp_path / "inline.db", patients=350, seed=5, workers=0)
    generate(tmp_path / "pool.db", patients=350, seed=5, workers=2)
    assert content_hash(tmp_path / "inline.db") == content_hash(tmp_path / "pool.db")


def test_progress_is_reported_up_to_the_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "CHUNK_PATIENTS", 100)
    calls: list[tuple[int, int]] = []
    generate(tmp_path / "p.db", patients=250, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(100, 250), (200, 250), (250, 250)]


def test_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "lis.db"
    target.write_bytes(b"keep me")
    with pytest.raises(ConfigError) as info:
        generate(target, patients=10)
    assert info.value.hint
    assert target.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lis.db"]


def test_a_failed_run_leaves_nothing(tmp_path: Path) -> None:
    def boom(done: int, total: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        generate(tmp_path / "lis.db", patients=50, progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        generate(tmp_path / "nope" / "lis.db", patients=1)
