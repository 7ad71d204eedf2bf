"""ecluse inspect and ecluse convert print counts and where errors are, never values."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ecluse.cli import app
from ecluse.formats.codec import get_codec

from .test_samples import SAMPLES

runner = CliRunner()


def test_inspect_counts_without_values() -> None:
    res = runner.invoke(app, ["inspect", str(SAMPLES / "hl7v25_oru_r01_fr_synthetic.hl7")])
    assert res.exit_code == 0, res.output
    assert "format: hl7v25" in res.output and "results: 5" in res.output
    assert "PAT-TROIS" not in res.output and "279035121518989" not in res.output


def test_inspect_reports_error_location_only(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hpr"
    bad.write_bytes(b"H|~^\\&|X\r\nP|1|SECRET|||NAME\r\nOBR|1||~R1||||2024XX\r\nL|1\r\n")
    res = runner.invoke(app, ["inspect", str(bad)])
    assert res.exit_code == 3
    assert "line 3" in res.output and "OBR.8" in res.output and "SECRET" not in res.output


def test_convert_hprim_to_hl7(tmp_path: Path) -> None:
    out = tmp_path / "out.hl7"
    res = runner.invoke(app, ["convert", str(SAMPLES / "hprim_sante_h22_oru_synthetic.hpr"), str(out),
                              "--to", "hl7v25", "--unscoped"])
    assert res.exit_code == 0, res.output
    recs = list(get_codec("hl7v25").read(out.read_bytes(), filename="out.hl7"))
    src = list(get_codec("hprim-sante").read((SAMPLES / "hprim_sante_h22_oru_synthetic.hpr").read_bytes(),
                                             filename="x"))
    assert recs == src


def test_convert_refuses_without_a_scope(tmp_path: Path) -> None:
    res = runner.invoke(app, ["convert", str(SAMPLES / "hprim_sante_h22_oru_synthetic.hpr"),
                              str(tmp_path / "o.hl7"), "--to", "hl7v25"])
    assert res.exit_code != 0 and "mandate" in res.output
    assert not (tmp_path / "o.hl7").exists()


def test_convert_under_a_signed_mandate_applies_its_scope(tmp_path: Path) -> None:
    """Issue 3: the scope rules apply the same way whatever the format."""
    from datetime import UTC, datetime, timedelta

    from ecluse.crypto import age, minisign
    from ecluse.formats.records import Patient, Request, Result
    from ecluse.migration.demo import mandate_text
    from ecluse.migration.mandate import sign_mandate

    p = Patient(id="IPP1", ins="279035121518989", ins_oid="1.2.250.1.213.1.4.10", identity_status="QUAL",
                birth_name="PAT-TROIS", given_names="DOMINIQUE", sex="F", birth_date="1979-03-28",
                address="28 AV DE BRETEUIL", postcode="75007", city="PARIS", phone="0102030405",
                comment="note libre")
    keep = Request(id="R1", patient_id="IPP1", site_finess="350000001", collected_at="2020-05-01T08:00:00+02:00",
                   comment="clinique")
    out_of_period = Request(id="R2", patient_id="IPP1", site_finess="350000001",
                            collected_at="2010-05-01T08:00:00+02:00")
    results = [Result(id="1", request_id="R1", patient_id="IPP1", loinc="718-7", value="13.2", unit="g/dL"),
               Result(id="2", request_id="R1", patient_id="IPP1", loinc="56888-1", value="Négatif",
                      value_type="ST", category="hiv")]
    src = tmp_path / "in.hl7"
    src.write_bytes(get_codec("hl7v25").write([p, keep, *results, out_of_period]))
    ctl = minisign.generate()
    ctl.public_key().to_file(tmp_path / "ctl.pub")
    mandate = tmp_path / "mandate.toml"
    mandate.write_text(mandate_text(recipient=age.generate_x25519()[1], sites=["350000001"],
                                    expires=datetime.now(UTC) + timedelta(days=3), patients=10))
    sign_mandate(mandate, ctl)
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["convert", str(src), str(out), "--to", "csv", "--mandate", str(mandate),
                              "--controller-key", str(tmp_path / "ctl.pub")])
    assert res.exit_code == 0, res.output
    recs = list(get_codec("csv").read(out.read_bytes(), filename="out.csv"))
    pats = [r for r in recs if isinstance(r, Patient)]
    reqs = [r for r in recs if isinstance(r, Request)]
    ress = [r for r in recs if isinstance(r, Result)]
    assert [r.id for r in reqs] == ["R1"] and reqs[0].comment is None
    assert [r.id for r in ress] == ["1"]  # the HIV result is outside the mandate's categories
    assert pats[0].address is None and pats[0].phone is None and pats[0].comment is None
    assert pats[0].ins == "279035121518989" and pats[0].identity_status == "QUAL"


def test_a_record_that_does_not_parse_says_where_and_what_to_do_without_its_value(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hl7"
    bad.write_bytes(b"MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\rPID|1||IPP1^^^^PI||DUPONT^JEAN||1979032X|M\r")
    for args in (["inspect", str(bad)], ["convert", str(bad), str(tmp_path / "out.hpr"), "--to", "hprim-sante",
                                           "--unscoped"]):
        res = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert res.exit_code == 3
        assert "line 2, record PID, field PID-7" in res.output
        assert "what to do: correct this record in the system that produced bad.hl7" in res.output
        assert "DUPONT" not in res.output and "1979032X" not in res.output
    assert not (tmp_path / "out.hpr").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.hl7"]  # no temporary file left behind
