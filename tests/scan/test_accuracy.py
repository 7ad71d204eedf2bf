"""Precision and recall per detector on a generated labelled corpus: both at least 0.99. Issue 4.

Measured at the (file, archive member, line, kind) level: a finding counts once per line and
kind; a label is recalled if some finding of its kind is reported on its line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ecluse.scan import scan_paths
from ecluse.scan.corpus import Label, generate


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_precision_and_recall_per_detector(tmp_path: Path, seed: int) -> None:
    truth = set(generate(tmp_path, seed=seed, patients=200))
    report = scan_paths([tmp_path])
    pred = {
        Label(str(Path(f.file).relative_to(tmp_path)), f.member, f.line or 0, f.kind)
        for f in report.findings
        if f.member != "(file name)"
    }
    kinds = {lab.kind for lab in truth} | {p.kind for p in pred}
    assert {
        "nir",
        "ins",
        "phone_fr",
        "email",
        "birth_date",
        "blood_group",
        "loinc_sensitive",
        "clinical_term",
        "portal_password",
    } <= kinds
    for kind in sorted(kinds):
        t = {x for x in truth if x.kind == kind}
        p = {x for x in pred if x.kind == kind}
        tp = len(t & p)
        precision = tp / len(p) if p else 1.0
        recall = tp / len(t) if t else 1.0
        assert precision >= 0.99, (kind, precision, sorted(p - t)[:5])
        assert recall >= 0.99, (kind, recall, sorted(t - p)[:5])
    assert {Path(p.file).name for p in report.protected_files} == {"patients.csv.age", "blob.bin"}
