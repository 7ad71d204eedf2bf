"""Receiving, receipts and closing, with every bad input of issue 2 (each: clear error, nothing imported,
nothing deleted that should stay)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import orjson
import pytest

from ecluse.crypto import age, minisign
from ecluse.errors import (
    ImportConflictError,
    NoIdentityMatchError,
    PackageError,
    ReceiptError,
)
from ecluse.migration import procedure
from ecluse.migration.package import MANIFEST, SIGNATURE
from ecluse.migration.receive import receive_package, write_receipt

from .conftest import NOW, World


def _copy(summary: procedure.ExportSummary, tmp: Path) -> Path:
    dst = tmp / "transfer" / summary.package_id
    shutil.copytree(summary.path, dst)
    return dst


def _receive(world: World, pkg: Path, target: Path, identity: str | None = None):
    return receive_package(pkg, identities=[identity or world.identity], sender_keys=world.pins(), target=target)


def _nothing_imported(target: Path) -> None:
    if target.suffix == ".db":
        if target.exists():
            conn = sqlite3.connect(target)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "patients" in tables:
                assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] == 0
            conn.close()
        return
    if target.exists():
        assert [p.name for p in target.iterdir()] == [], "partial import left behind"


def test_receive_into_directory_then_receipt_then_close(world: World, tmp_path: Path) -> None:
    mig, summary = world.exported()
    result = _receive(world, summary.path, tmp_path / "target")
    assert result.counts == summary.counts
    out = tmp_path / "target" / summary.package_id
    assert (out / "manifest.json").is_file()
    n_obs = sum(1 for p in out.glob("Observation.*.ndjson") for _ in p.open("rb"))
    assert n_obs == summary.counts["Observation"]
    rec = world.actor("recipient", world.receiver)
    receipt = write_receipt(result, rec.key, signer_email=rec.person.email, out=tmp_path / "r.json", now=NOW)
    procedure.record_receipt(world.sender, mig, receipt, now=NOW)
    cert = procedure.close(world.sender, mig, world.actor("op1"), now=NOW)
    assert not summary.path.exists()
    assert list(world.sender.staging.iterdir()) == []
    doc = orjson.loads(cert.read_bytes())
    assert doc["reason"] == "closed" and doc["residual_scan"]["findings"] == 0
    assert {f["name"] for f in doc["deleted_files"]} >= {MANIFEST, SIGNATURE}
    # the controller's witness: the certificate's checkpoint is consistent with the log
    world.sender.audit.verify(world.sender.note_verifier, witness=doc["audit_checkpoint"])
    minisign.verify(world.sender.cert_public_key, cert.read_bytes(),
                    cert.with_name(cert.name + ".minisig").read_text())
    m = world.sender.store.migration(mig)
    assert m is not None and m.state == "closed"


def test_receive_into_sqlite_target(world: World, tmp_path: Path) -> None:
    _, summary = world.exported()
    target = tmp_path / "newlis.db"
    result = _receive(world, summary.path, target)
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] == summary.counts["Patient"]
    assert conn.execute("SELECT count(*) FROM results").fetchone()[0] == summary.counts["Observation"]
    # the scope left out NIR, addresses and free text: the target holds none
    assert conn.execute("SELECT count(*) FROM patients WHERE nir IS NOT NULL OR address IS NOT NULL "
                        "OR comment IS NOT NULL").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM results WHERE category IN ('hiv','genetic','tumour_marker')"
                        ).fetchone()[0] == 0
    conn.close()
    with pytest.raises(ImportConflictError, match="already holds"):
        _receive(world, summary.path, target)
    assert result.counts["Patient"] > 0


def test_importing_twice_into_a_directory_is_refused(world: World, tmp_path: Path) -> None:
    _, summary = world.exported()
    _receive(world, summary.path, tmp_path / "t")
    with pytest.raises(ImportConflictError):
        _receive(world, summary.path, tmp_path / "t")


def test_wrong_recipient_key(world: World, tmp_path: Path) -> None:
    _, summary = world.exported()
    other, _ = age.generate_x25519()
    with pytest.raises(NoIdentityMatchError, match="not encrypted to the given identity"):
        _receive(world, summary.path, tmp_path / "t", identity=other)
    _nothing_imported(tmp_path / "t")


def _biggest(pkg: Path) -> Path:
    return max(pkg.glob("*.age"), key=lambda p: p.stat().st_size)


@pytest.mark.parametrize("damage", ["flip", "truncate", "replace", "remove", "add"])
@pytest.mark.parametrize("target", ["t", "t.db"])
def test_damaged_package_is_refused_and_nothing_is_imported(world: World, tmp_path: Path, damage: str,
                                                            target: str) -> None:
    _, summary = world.exported()
    pkg = _copy(summary, tmp_path)
    victim = _biggest(pkg)
    if damage == "flip":
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x01
        victim.write_bytes(bytes(data))
    elif damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-100])
    elif damage == "replace":
        victim.write_bytes(age.encrypt_bytes(b'{"resourceType":"Patient","id":"x"}\n', [world.recipient]))
    elif damage == "remove":
        victim.unlink()
    else:
        (pkg / "Patient.9.ndjson.age").write_bytes(age.encrypt_bytes(b"{}", [world.recipient]))
    with pytest.raises(PackageError) as err:
        _receive(world, pkg, tmp_path / target)
    assert err.value.hint
    _nothing_imported(tmp_path / target)


def test_manifest_edited_is_refused(world: World, tmp_path: Path) -> None:
    _, summary = world.exported()
    pkg = _copy(summary, tmp_path)
    doc = orjson.loads((pkg / MANIFEST).read_bytes())
    doc["files"][0]["count"] += 1
    (pkg / MANIFEST).write_bytes(orjson.dumps(doc))
    with pytest.raises(PackageError, match="signature does not verify"):
        _receive(world, pkg, tmp_path / "t")
    _nothing_imported(tmp_path / "t")


def test_manifest_signed_by_an_unknown_key_is_refused(world: World, tmp_path: Path) -> None:
    _, summary = world.exported()
    pkg = _copy(summary, tmp_path)
    intruder = minisign.generate()
    data = (pkg / MANIFEST).read_bytes()
    doc = orjson.loads(data)
    from ecluse.migration.package import package_comment

    sig = minisign.sign(intruder, data, trusted_comment=package_comment(
        doc["package_id"], doc["mandate"]["sha256"], tuple(doc["recipients"])))
    (pkg / SIGNATURE).write_text(sig)
    with pytest.raises(PackageError, match="unknown key"):
        _receive(world, pkg, tmp_path / "t")


def test_receipt_for_another_package_or_by_someone_else_is_refused(world: World, tmp_path: Path) -> None:
    mig, summary = world.exported()
    result = _receive(world, summary.path, tmp_path / "t")
    # signed by an operator, not by the recipient
    op = world.actor("op1")
    bad = write_receipt(result, op.key, signer_email=op.person.email, out=tmp_path / "bad.json", now=NOW)
    with pytest.raises(ReceiptError, match="registered recipient"):
        procedure.record_receipt(world.sender, mig, bad, now=NOW)
    # a receipt edited to name another package
    rec = world.actor("recipient", world.receiver)
    good = write_receipt(result, rec.key, signer_email=rec.person.email, out=tmp_path / "good.json", now=NOW)
    doc = orjson.loads(good.read_bytes())
    doc["package_id"] = "PKG-0000000000000000"
    other = tmp_path / "other.json"
    other.write_bytes(orjson.dumps(doc))
    shutil.copy(good.with_name("good.json.minisig"), tmp_path / "other.json.minisig")
    with pytest.raises(ReceiptError, match="not for this migration"):
        procedure.record_receipt(world.sender, mig, other, now=NOW)
    # a receipt whose hashes were edited: the signature no longer verifies
    doc = orjson.loads(good.read_bytes())
    doc["files"][0]["sha256"] = "0" * 64
    edited = tmp_path / "edited.json"
    edited.write_bytes(orjson.dumps(doc))
    shutil.copy(good.with_name("good.json.minisig"), tmp_path / "edited.json.minisig")
    with pytest.raises(ReceiptError, match="does not verify"):
        procedure.record_receipt(world.sender, mig, edited, now=NOW)
    # nothing was deleted, the migration waits for a valid receipt
    assert summary.path.is_dir()
    m = world.sender.store.migration(mig)
    assert m is not None and m.state == "exported"
    procedure.record_receipt(world.sender, mig, good, now=NOW)


def test_close_fails_the_migration_when_the_staged_package_was_altered(world: World, tmp_path: Path) -> None:
    mig, summary = world.exported()
    result = _receive(world, summary.path, tmp_path / "t")
    rec = world.actor("recipient", world.receiver)
    receipt = write_receipt(result, rec.key, signer_email=rec.person.email, out=tmp_path / "r.json", now=NOW)
    procedure.record_receipt(world.sender, mig, receipt, now=NOW)
    (summary.path / "Patient.1.ndjson.age").write_bytes(b"tampered")
    with pytest.raises(PackageError, match="has failed"):
        procedure.close(world.sender, mig, world.actor("op1"), now=NOW)
    m = world.sender.store.migration(mig)
    assert m is not None and m.state == "failed"
    assert not summary.path.exists()
    assert any(c["kind"] == "failed" for c in world.sender.store.certificates(mig))


@pytest.mark.skipif(shutil.which("age") is None, reason="the age CLI is not installed")
def test_package_files_open_with_the_age_cli(world: World, tmp_path: Path) -> None:
    _, summary = world.exported()
    ident = tmp_path / "id.txt"
    ident.write_text(world.identity + "\n")
    f = summary.path / "Patient.1.ndjson.age"
    out = subprocess.run(["age", "-d", "-i", str(ident), str(f)], capture_output=True, check=True).stdout
    lines = out.splitlines()
    assert len(lines) > 0 and all(orjson.loads(ln)["resourceType"] == "Patient" for ln in lines)


@pytest.mark.skipif(shutil.which("minisign") is None, reason="the minisign CLI is not installed")
def test_manifest_and_certificate_verify_with_the_minisign_cli(world: World, tmp_path: Path) -> None:
    _, summary = world.exported()
    pub = tmp_path / "op2.pub"
    world.keys["op2"].public_key().to_file(pub)
    res = subprocess.run(["minisign", "-V", "-p", str(pub), "-m", str(summary.path / MANIFEST)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"id={summary.package_id}" in res.stdout


def test_plaintext_beside_the_package_blocks_close_and_nothing_is_deleted(world: World, tmp_path: Path) -> None:
    """Regression (issue 2, docs review): the residual check runs before anything is deleted, so the
    operator can remove the stray file and close again."""
    mig, summary = world.exported()
    result = _receive(world, summary.path, tmp_path / "t")
    rec = world.actor("recipient", world.receiver)
    receipt = write_receipt(result, rec.key, signer_email=rec.person.email, out=tmp_path / "r.json", now=NOW)
    procedure.record_receipt(world.sender, mig, receipt, now=NOW)
    conn = sqlite3.connect(world.source)
    nir, name = conn.execute("SELECT nir, birth_name FROM patients WHERE nir IS NOT NULL LIMIT 1").fetchone()
    conn.close()
    stray = world.sender.staging / "extract.csv"
    stray.write_text(f"nom;nir;resultat\n{name};{nir};VIH positif\n")
    with pytest.raises(PackageError, match="nothing was deleted") as err:
        procedure.close(world.sender, mig, world.actor("op1"), now=NOW)
    assert nir not in str(err.value) and name not in str(err.value)
    assert summary.path.is_dir()
    stray.unlink()
    cert = procedure.close(world.sender, mig, world.actor("op1"), now=NOW)
    assert orjson.loads(cert.read_bytes())["reason"] == "closed"
