"""Sources other than the synthetic LIS (lab-format files, any SQL database through a mapping) and
outputs other than FHIR: the scope applies the same way whatever the format, each recipient gets
its own format, and the procedure runs end to end."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from ecluse.crypto import age
from ecluse.errors import ConfigError, FormatError, MandateError, NoIdentityMatchError
from ecluse.formats.codec import get_codec
from ecluse.formats.records import Patient, Request, Result
from ecluse.identity.people import register_person
from ecluse.legacy.reader import LegacyQuery
from ecluse.legacy.sqlmap import load_mapping, read_database
from ecluse.migration import procedure
from ecluse.migration.mandate import parse_mandate
from ecluse.migration.receive import receive_package, write_receipt
from ecluse.migration.sources import SourceSpec, open_source, spec_for

from .conftest import NOW, World

LAB_FORMATS = ("hl7v25", "hprim-sante", "csv")


def _scoped(spec: SourceSpec, q: LegacyQuery) -> list[tuple[Patient, list[tuple[Request, list[Result]]]]]:
    src = open_source(spec)
    return [g for part in src.parts(3) for g in src.groups(q, part)]


def _query(world: World, categories: frozenset[str] = frozenset({"pregnancy"})) -> LegacyQuery:
    return LegacyQuery(sites=tuple(world.sites[:6]), period_start="2020-01-01", period_end="2023-06-30",
                       patient_fields=frozenset({"ins", "names", "birth_date"}), categories=categories,
                       comments=False, results=True)


def _export_file(db: Path, fmt: str, out: Path, *, strip_categories: bool = False) -> Path:
    """The whole legacy database as one file in ``fmt`` (what another lab's archive looks like)."""
    records = read_database(f"sqlite:///{db}", load_mapping("synth-lis"))
    if strip_categories:  # a foreign archive: no result carries a category
        records = (replace(r, category=None) if isinstance(r, Result) else r for r in records)
    if fmt == "hprim-net":  # cp1252 by default, which cannot hold every label (β-hCG)
        from ecluse.formats.hprim_net import HprimNetCodec

        out.write_bytes(HprimNetCodec(encoding="utf-8").write(records))
    else:
        out.write_bytes(get_codec(fmt).write(records))
    return out


def _key(groups: list[tuple[Patient, list[tuple[Request, list[Result]]]]]) -> list[tuple[object, ...]]:
    """Groups as comparable tuples; a result's category is left out (foreign archives carry none)."""
    out: list[tuple[object, ...]] = []
    for p, reqs in groups:
        out.append(("P", p))
        for r, results in reqs:
            out.append(("R", r))
            out += [("S", replace(s, category=None)) for s in results]
    return out


@pytest.mark.parametrize("fmt", [*LAB_FORMATS, "hprim-net", "sql"])
def test_the_scope_applies_the_same_way_whatever_the_source(world: World, tmp_path: Path, fmt: str) -> None:
    """The synthetic LIS applies the scope in SQL; a SQL database through a mapping and a file in
    every lab format (without any category, like another lab's archive) give the same records."""
    q = _query(world)
    expected = _scoped(SourceSpec("lis", str(world.source)), q)
    assert expected and sum(len(res) for _, reqs in expected for _, res in reqs) > 100
    if fmt == "sql":
        spec = spec_for(url=f"sqlite:///{world.source}", mapping="synth-lis")
    else:
        path = _export_file(world.source, fmt, tmp_path / f"archive.{fmt}", strip_categories=True)
        spec = spec_for(path=path)  # the format is recognised from the first bytes
        assert spec.kind == "files"
    got = _scoped(spec, q)
    if fmt == "hprim-net":  # HPRIM Net carries a subset of fields: compare who and what was kept
        # (its result ids are positions in the request; compare the codes kept)
        assert [(p.id, [(r.id, [s.loinc for s in res]) for r, res in reqs]) for p, reqs in got] == \
               [(p.id, [(r.id, [s.loinc for s in res]) for r, res in reqs]) for p, reqs in expected]
    else:
        assert _key(got) == _key(expected)
    assert open_source(spec).count(q) == open_source(SourceSpec("lis", str(world.source))).count(q)


def test_an_untagged_sensitive_result_is_left_out_unless_its_category_is_in_scope(tmp_path: Path) -> None:
    pat = Patient(id="IPP1", birth_name="TESTNOM", sex="F")
    req = Request(id="R1", patient_id="IPP1", site_finess="130000001", collected_at="2022-03-01T08:00:00+01:00",
                  status="final")
    results = [
        Result(id="S1", request_id="R1", patient_id="IPP1", loinc="2345-7", label="Glycémie", value="5.1",
               unit="mmol/L", status="F"),
        Result(id="S2", request_id="R1", patient_id="IPP1", loinc="56888-1", label="Sérologie VIH", value="NEG",
               value_type="ST", status="F"),
        Result(id="S3", request_id="R1", patient_id="IPP1", loinc=None, label="Recherche de mutation CFTR",
               value="absence", value_type="ST", status="F"),
    ]
    path = tmp_path / "foreign.hl7"
    path.write_bytes(get_codec("hl7v25").write([pat, req, *results]))
    spec = spec_for(path=path, fmt="hl7v25")
    base = LegacyQuery(sites=("130000001",), period_start="2022-01-01", period_end="2022-12-31",
                       patient_fields=frozenset({"names"}))
    kept = [s.id for _, reqs in _scoped(spec, base) for _, res in reqs for s in res]
    assert kept == ["S1"]
    both = replace(base, categories=frozenset({"hiv", "genetic"}))
    assert [s.id for _, reqs in _scoped(spec, both) for _, res in reqs for s in res] == ["S1", "S2", "S3"]
    # the same rule on the synthetic LIS path: a LIS row without category is classified too
    db = tmp_path / "lis.db"
    from ecluse.legacy import synth

    synth.generate(db, patients=40, seed=3)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE results SET category = NULL")  # a LIS that never tagged its results
    conn.commit()
    n_hiv = conn.execute("SELECT count(*) FROM results WHERE loinc = '56888-1'").fetchone()[0]
    sites = tuple(r[0] for r in conn.execute("SELECT finess FROM sites"))
    conn.close()
    q = LegacyQuery(sites=sites, period_start="1990-01-01", period_end="2030-12-31", patient_fields=frozenset())
    lis = _scoped(SourceSpec("lis", str(db)), q)
    loincs = {s.loinc for _, reqs in lis for _, res in reqs for s in res}
    assert "56888-1" not in loincs and "21198-7" not in loincs
    assert n_hiv > 0 and {"2345-7", "2160-0"} & loincs


def test_source_options_are_checked(tmp_path: Path, legacy_db: Path) -> None:
    with pytest.raises(ConfigError, match="password"):
        spec_for(url="postgresql+psycopg://lab:s3cret@db.example/lis", mapping="synth-lis")
    with pytest.raises(ConfigError, match="mapping"):
        spec_for(url=f"sqlite:///{legacy_db}")
    with pytest.raises(ConfigError, match="either"):
        spec_for()
    with pytest.raises(ConfigError, match="not found"):
        spec_for(path=tmp_path / "missing.hl7")
    with pytest.raises(ConfigError, match="unknown source format"):
        spec_for(path=legacy_db, fmt="xml")
    bad = tmp_path / "bad.hl7"
    bad.write_bytes(b"MSH|^~\\&|LAB\rPID|1||IPP1\r")  # an HL7 message that is not an ORU^R01
    with pytest.raises(FormatError, match="ORU") as caught:  # refused at plan, before any approval
        spec_for(path=bad, fmt="hl7v25")
    assert caught.value.hint is not None and "ecluse inspect bad.hl7" in caught.value.hint
    assert spec_for(path=legacy_db).kind == "lis"
    stored = spec_for(url=f"sqlite:///{legacy_db}", mapping="synth-lis").stored()
    assert SourceSpec.from_stored(stored).kind == "sql"
    assert SourceSpec.from_stored(str(legacy_db)) == SourceSpec("lis", str(legacy_db))  # older migrations


def test_a_lab_format_recipient_needs_service_requests(world: World) -> None:
    text = world.write_mandate(sign=False, edit=lambda t: t.replace(
        'age_recipient = "', 'format = "hl7v25"\nage_recipient = "').replace(
        '"Patient", "ServiceRequest", ', '"Patient", ')).read_text()
    with pytest.raises(MandateError, match="ServiceRequest"):
        parse_mandate(text.encode())


def _two_recipients(world: World, fmt: str) -> tuple[str, str]:
    """Add a second recipient who wants ``fmt``; return its age identity and e-mail."""
    identity, recipient = age.generate_x25519()
    email = "lea.martin@autre-sil.example"
    from ecluse.crypto import minisign

    world.keys["recipient2"] = minisign.generate()
    for store in (world.sender.store, world.receiver.store):
        register_person(store, name="Léa Martin", email=email, role="recipient",
                        public_key_text=world.keys["recipient2"].public_key().to_text(), now=NOW)
    block = (f'[[recipients]]\nname = "Autre SIL"\nemail = "{email}"\nage_recipient = "{recipient}"\n'
             f'format = "{fmt}"\n\n[scope]')
    world.mandate = world.write_mandate(edit=lambda t: t.replace("[scope]\n", block + "\n", 1))
    return identity, email


@pytest.mark.parametrize("fmt", LAB_FORMATS)
def test_each_recipient_gets_its_format_end_to_end(world: World, tmp_path: Path, fmt: str) -> None:
    """HL7 archive in; FHIR for one recipient, a lab format for the other; receipts; close."""
    identity2, _ = _two_recipients(world, fmt)
    archive = _export_file(world.source, "hl7v25", tmp_path / "archive.hl7")
    spec = spec_for(path=archive)
    mig = procedure.plan(world.sender, world.mandate, spec, world.actor("op1"), now=NOW).id
    procedure.approve(world.sender, mig, world.actor("controller"), now=NOW)
    procedure.approve(world.sender, mig, world.actor("approver"), now=NOW)
    summary = procedure.export(world.sender, mig, world.actor("op2"), now=NOW)
    manifest = orjson.loads((summary.path / "manifest.json").read_bytes())
    formats = {f["format"]: set(f["recipients"]) for f in manifest["files"]}
    assert formats == {"fhir-ndjson": {world.recipient}, fmt: {age.recipient_of(identity2)}}
    # the lab-format files are encrypted to their recipient only
    lab = [f for f in manifest["files"] if f["format"] == fmt]
    with pytest.raises(NoIdentityMatchError):
        age.decrypt_bytes((summary.path / lab[0]["name"]).read_bytes(), [world.identity])
    stranger, _ = age.generate_x25519()
    with pytest.raises(NoIdentityMatchError, match="not encrypted to the given identity"):
        receive_package(summary.path, identities=[stranger], sender_keys=world.pins(), target=tmp_path / "t0")
    assert not (tmp_path / "t0").exists()
    # each recipient imports its own files: FHIR into a directory, the lab format into SQLite
    r1 = receive_package(summary.path, identities=[world.identity], sender_keys=world.pins(), target=tmp_path / "t1")
    assert set(r1.counts) <= {"Patient", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport"}
    r2 = receive_package(summary.path, identities=[identity2], sender_keys=world.pins(), target=tmp_path / "t2.db")
    assert r2.counts == {fmt: sum(f["count"] for f in lab)}
    conn = sqlite3.connect(tmp_path / "t2.db")
    n_pat, n_res = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("patients", "results"))
    hiv = conn.execute("SELECT count(*) FROM results WHERE loinc = '56888-1'").fetchone()[0]
    nir = conn.execute("SELECT count(*) FROM patients WHERE nir IS NOT NULL OR phone IS NOT NULL").fetchone()[0]
    conn.close()
    assert n_pat == r1.counts["Patient"] and n_res == r1.counts["Observation"]
    assert hiv == 0 and nir == 0  # the scope holds in every format: no HIV result, no NIR, no phone
    # both receipts are needed before the migration is received
    rec1, rec2 = world.actor("recipient", world.receiver), world.actor("recipient2", world.receiver)
    p1 = write_receipt(r1, rec1.key, signer_email=rec1.person.email, out=tmp_path / "r1.json", now=NOW)
    p2 = write_receipt(r2, rec2.key, signer_email=rec2.person.email, out=tmp_path / "r2.json", now=NOW)
    procedure.record_receipt(world.sender, mig, p1, now=NOW)
    assert procedure.load_migration(world.sender, mig).state == "exported"
    procedure.record_receipt(world.sender, mig, p2, now=NOW)
    assert procedure.load_migration(world.sender, mig).state == "received"
    cert = orjson.loads(procedure.close(world.sender, mig, world.actor("op1"), now=NOW).read_bytes())
    assert len(cert["receipts_sha256"]) == 2 and cert["residual_scan"]["findings"] == 0
    assert not summary.path.exists()


def test_plan_records_the_source_without_its_values(world: World, tmp_path: Path) -> None:
    archive = _export_file(world.source, "hprim-sante", tmp_path / "archive.hpr")
    mig = procedure.plan(world.sender, world.mandate, spec_for(path=archive), world.actor("op1"), now=NOW)
    stored = SourceSpec.from_stored(mig.source)
    assert stored.kind == "files" and stored.location == str(archive.resolve())
    entry = [e for e in world.sender.audit.entries() if e.action == "migration.plan"][-1]
    assert entry.details["source_kind"] == "files" and entry.details["source_name"] == "archive.hpr"
    assert str(tmp_path) not in orjson.dumps(entry.to_dict()).decode()  # a name, never the full path


def test_a_postgresql_legacy_database_through_a_mapping(legacy_db: Path, tmp_path: Path,
                                                        postgres_admin_url: str) -> None:
    """The same scoped records from the LIS and from a copy of it on PostgreSQL read through the mapping."""
    import importlib.util
    import secrets
    import sys

    from ecluse.legacy.sqlmap import write_database

    path = Path(__file__).resolve().parents[2] / "scripts" / "round_trip_sql.py"
    mod_spec = importlib.util.spec_from_file_location("round_trip_sql", path)
    assert mod_spec is not None and mod_spec.loader is not None
    rt = importlib.util.module_from_spec(mod_spec)
    sys.modules[mod_spec.name] = rt
    mod_spec.loader.exec_module(rt)
    base = f"postgresql+psycopg://postgres@127.0.0.1:5432/ecluse_src_{secrets.token_hex(4)}"
    target = rt.create_target(base, tmp_path, "pg", rt.source_url(legacy_db), False)
    try:
        mapping = load_mapping("synth-lis")
        write_database(target.url, mapping, read_database(f"sqlite:///{legacy_db}", mapping), fresh=True)
        spec = spec_for(url=target.url, mapping="synth-lis")
        assert spec.kind == "sql" and "postgresql" in spec.location
        conn = sqlite3.connect(legacy_db)
        sites = tuple(r[0] for r in conn.execute("SELECT finess FROM sites ORDER BY finess"))[:6]
        conn.close()
        q = LegacyQuery(sites=sites, period_start="2020-01-01", period_end="2023-06-30",
                        patient_fields=frozenset({"ins", "names", "birth_date"}),
                        categories=frozenset({"hiv", "tumour_marker"}))
        expected = _scoped(SourceSpec("lis", str(legacy_db)), q)
        assert expected and _key(_scoped(spec, q)) == _key(expected)
    finally:
        target.drop()
