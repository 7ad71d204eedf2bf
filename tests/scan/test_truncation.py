"""A cap on detailed findings per file and kind: counts and risk stay exact, reports say so. Issue 4."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ecluse.scan import ScanLimits, scan_paths
from ecluse.scan.report import to_html, to_json, to_sarif


def _nir(i: int) -> str:
    body = f"1800575{i:06d}"
    return body + f"{97 - int(body) % 97:02d}"


@pytest.fixture
def dense(tmp_path: Path) -> Path:
    lines = ["id;nir;telephone"] + [f"{i};{_nir(i)};06 12 34 {i % 100:02d} {i % 97:02d}" for i in range(60)]
    (tmp_path / "export.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "small.txt").write_text(f"NIR : {_nir(7)}\n", encoding="utf-8")
    return tmp_path


def test_cap_keeps_counts_and_risk_exact(dense: Path) -> None:
    full = scan_paths([dense], limits=ScanLimits(max_findings_per_kind=0))
    capped = scan_paths([dense], limits=ScanLimits(max_findings_per_kind=5), workers=2)
    assert not full.truncated and capped.truncated
    assert capped.counts_by_kind() == full.counts_by_kind()
    assert capped.counts_by_kind(0.9) == full.counts_by_kind(0.9)
    assert capped.count() == full.count() == len(full.findings)
    assert capped.risk_by_file == pytest.approx(full.risk_by_file)
    export = str(dense / "export.csv")
    listed = [f for f in capped.findings if f.file == export]
    assert sorted({f.kind for f in listed}) == ["nir", "phone_fr"]
    assert all(sum(1 for f in listed if f.kind == k) == 5 for k in ("nir", "phone_fr"))
    # the first findings in the file are the ones kept
    assert [f.line for f in listed if f.kind == "nir"] == [2, 3, 4, 5, 6]
    assert [f for f in capped.findings if f.file != export] == [f for f in full.findings if f.file != export]


def test_reports_say_findings_were_truncated(dense: Path) -> None:
    capped = scan_paths([dense], limits=ScanLimits(max_findings_per_kind=5))
    doc = orjson.loads(to_json(capped))
    assert doc["truncated"] is True
    assert doc["findings_total"] == capped.count() > len(doc["findings"])
    assert {(o["kind"], o["count"]) for o in doc["omitted"]} == {("nir", 55), ("phone_fr", 55)}
    sarif = orjson.loads(to_sarif(capped))
    run = sarif["runs"][0]
    assert run["properties"]["truncated"] is True
    assert "truncated" in run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
    assert "Findings truncated" in to_html(capped)
    full = scan_paths([dense], limits=ScanLimits(max_findings_per_kind=0))
    assert orjson.loads(to_json(full))["truncated"] is False
    assert "properties" not in orjson.loads(to_sarif(full))["runs"][0]
    assert "Findings truncated" not in to_html(full)


def test_no_cap_when_findings_are_fingerprinted_for_a_baseline(dense: Path) -> None:
    report = scan_paths([dense], limits=ScanLimits(max_findings_per_kind=5), fingerprint_key=b"k" * 32)
    assert not report.truncated
    assert len(report.findings) == report.count() == 121
