"""The commands as a person runs them: exit codes, messages that say what to do, no patient value."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ECLUSE = [sys.executable, "-m", "ecluse.cli"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "ECLUSE_KDF": "interactive", "COLUMNS": "200", **(env or {})}
    return subprocess.run([*ECLUSE, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "demo"
    res = run("demo", "--patients", "400", "--keep", str(root), "--until", "exported", cwd=root.parent)
    assert res.returncode == 0, res.stderr
    assert "stopped after exported" in res.stdout
    return root


def test_demo_until_exported_then_continue_by_hand(kept: Path) -> None:
    text = (kept / "NEXT.md").read_text()
    cmds = [ln for ln in text.splitlines() if ln.startswith("ecluse ")]
    assert any(c.startswith("ecluse receive") for c in cmds)
    for cmd in cmds:
        args = cmd.split()[1:]
        if args[0] == "audit":
            args = [a for a in args if "CERT-*" not in a and a != "--witness"]
            cert = next((kept / "vendor-workspace" / "certificates").glob("CERT-*.json"))
            args += ["--witness", str(cert)]
        res = run(*args, cwd=kept)
        assert res.returncode == 0, (cmd, res.stdout, res.stderr)
    res = run("status", "-w", "vendor-workspace", cwd=kept)
    assert "closed" in res.stdout


def test_errors_exit_non_zero_with_a_hint(tmp_path: Path) -> None:
    res = run("status", "-w", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert res.returncode == 2
    assert "no Écluse workspace" in res.stderr and "what to do" in res.stderr
    res = run("receive", str(tmp_path / "nopkg"), "--identity", "x", "--into", "t", "-k", "k",
              "-w", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert res.returncode != 0


def test_wrong_passphrase_is_refused_clearly(kept: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pass"
    bad.write_text("not the passphrase\n")
    res = run("approve", "MIG-x", "-w", str(kept / "vendor-workspace"), "-k", str(kept / "keys" / "operator1.key"),
              "--passphrase-file", str(bad), cwd=kept)
    assert res.returncode == 4
    assert "passphrase" in res.stderr.lower()


def test_no_patient_value_in_audit_logs_or_outputs(kept: Path) -> None:
    conn = sqlite3.connect(kept / "legacy-lis.db")
    nirs = {r[0] for r in conn.execute("SELECT nir FROM patients WHERE nir IS NOT NULL")}
    names = {r[0] for r in conn.execute("SELECT birth_name FROM patients WHERE length(birth_name) > 5")}
    conn.close()
    texts = []
    for ws in ("vendor-workspace", "recipient-workspace"):
        texts.append((kept / ws / "audit" / "log.jsonl").read_text())
    texts += [p.read_text() for p in (kept / "vendor-workspace" / "certificates").glob("*.json")]
    blob = "\n".join(texts)
    assert not any(n in blob for n in nirs)
    assert not any(re.search(rf"\b{re.escape(n)}\b", blob) for n in names)


def test_plan_from_lab_files_or_a_sql_database(kept: Path, tmp_path: Path) -> None:
    """`plan` takes HL7 files and SQL databases as sources; a URL with a password is refused."""
    from ecluse.formats.codec import get_codec
    from ecluse.legacy.sqlmap import load_mapping, read_database

    lis = kept / "legacy-lis.db"
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "export-2023.hl7").write_bytes(
        get_codec("hl7v25").write(read_database(f"sqlite:///{lis}", load_mapping("synth-lis"))))
    common = ["-w", str(kept / "vendor-workspace"), "-k", str(kept / "keys" / "operator1.key"),
              "--passphrase-file", str(kept / "keys" / "operator1.pass")]
    res = run("plan", "mandate.toml", "--source", str(archive), *common, cwd=kept)
    assert res.returncode == 0, res.stderr
    assert "planned" in res.stdout
    res = run("plan", "mandate.toml", "--source-url", f"sqlite:///{lis}", "--mapping", "synth-lis", *common, cwd=kept)
    assert res.returncode == 0, res.stderr
    res = run("plan", "mandate.toml", "--source-url", "postgresql+psycopg://lab:s3cret@127.0.0.1/lis",
              "--mapping", "synth-lis", *common, cwd=kept)
    assert res.returncode == 2 and "password" in res.stderr and "s3cret" not in res.stderr + res.stdout
    res = run("plan", "mandate.toml", "--source", str(archive), "--source-format", "xml", *common, cwd=kept)
    assert res.returncode == 2 and "unknown source format" in res.stderr
