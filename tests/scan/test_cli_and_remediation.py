"""``ecluse scan`` exit codes, outputs, and remediation. Issue 4."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ecluse.cli import app
from ecluse.cli.scan import FINDINGS_EXIT_CODE
from ecluse.scan.remediate import quarantine, shred

NIR = "279035121518989"
runner = CliRunner()


def test_fail_on_threshold_and_outputs(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(f"NIR : {NIR}\n")
    out = tmp_path / "out"
    out.mkdir()
    res = runner.invoke(
        app,
        [
            "scan",
            str(tmp_path / "a.txt"),
            "--json",
            str(out / "r.json"),
            "--sarif",
            str(out / "r.sarif"),
            "--html",
            str(out / "r.html"),
            "--fail-on",
            "0.8",
        ],
    )
    assert res.exit_code == FINDINGS_EXIT_CODE, res.output
    assert NIR not in res.output
    assert json.loads((out / "r.json").read_text())["findings"][0]["kind"] == "nir"
    sarif = json.loads((out / "r.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"][0]["ruleId"] == "nir"
    assert runner.invoke(app, ["scan", str(tmp_path / "a.txt"), "--fail-on", "0.99"]).exit_code == 0


def test_baseline_via_cli(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(f"NIR : {NIR}\n")
    bl = tmp_path / "bl.json"
    assert runner.invoke(app, ["scan", str(tmp_path / "a.txt"), "--write-baseline", str(bl)]).exit_code == 0
    res = runner.invoke(app, ["scan", str(tmp_path / "a.txt"), "--baseline", str(bl), "--fail-on", "0.5"])
    assert res.exit_code == 0, res.output


def test_shred_asks_first(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text(f"NIR : {NIR}\n")
    res = runner.invoke(app, ["scan", str(f), "--shred"], input="n\n")
    assert res.exit_code == 20 and f.exists()
    res = runner.invoke(app, ["scan", str(f), "--shred", "--dry-run"])
    assert res.exit_code == 0 and f.exists()
    res = runner.invoke(app, ["scan", str(f), "--shred"], input="y\n")
    assert res.exit_code == 0 and not f.exists()


def test_quarantine_encrypts_in_place_and_audits(tmp_path: Path) -> None:
    from ecluse.crypto.age import decrypt_bytes, generate_x25519

    identity, recipient = generate_x25519()
    f = tmp_path / "a.csv"
    f.write_text(f"nir\n{NIR}\n")
    events: list[tuple[str, dict[str, str]]] = []
    done = quarantine([f], recipient, audit=lambda a, o: events.append((a, dict(o))))
    assert not f.exists()
    enc = tmp_path / "a.csv.age"
    assert decrypt_bytes(enc.read_bytes(), [identity]) == f"nir\n{NIR}\n".encode()
    assert done[0].action == "quarantined"
    assert events == [("scan.quarantine", {"file": str(f), "encrypted_to": str(enc)})]
    assert list(tmp_path.iterdir()) == [enc]


def test_shred_audits_file_names_only(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text(NIR)
    events: list[tuple[str, dict[str, str]]] = []
    shred([f], audit=lambda a, o: events.append((a, dict(o))))
    assert not f.exists() and events == [("scan.shred", {"file": str(f)})]



def test_scan_uses_every_cpu_by_default_and_refuses_negative_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ecluse.cli.scan as cli_scan

    for i in range(3):
        (tmp_path / f"f{i}.txt").write_text(f"rien ici {i}\n", encoding="utf-8")
    seen: list[int] = []
    real = cli_scan.scan_paths

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_scan, "scan_paths", spy)
    assert runner.invoke(app, ["scan", str(tmp_path), "--quiet"]).exit_code == 0
    assert runner.invoke(app, ["scan", str(tmp_path), "--quiet", "--workers", "1"]).exit_code == 0
    assert seen == [os.cpu_count() or 1, 1]
    assert runner.invoke(app, ["scan", str(tmp_path), "--workers", "-1"]).exit_code == 2
