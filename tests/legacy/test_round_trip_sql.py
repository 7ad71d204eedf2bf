"""scripts/round_trip_sql.py (issue 3): a synthetic lab goes SQL -> each format -> SQL with identical records.
The script runs here at a few hundred patients; its 500,000-patient run is reported in docs/formats/sql.md."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ecluse.formats._common import group_records
from ecluse.formats.codec import CODECS
from ecluse.legacy import synth
from ecluse.legacy.sqlmap import load_mapping, read_database

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = 300


@pytest.fixture(scope="module")
def rt() -> ModuleType:
    spec = importlib.util.spec_from_file_location("round_trip_sql", ROOT / "scripts" / "round_trip_sql.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lis") / "lis.db"
    synth.generate(path, patients=PATIENTS, seed=5)
    return path


@pytest.mark.parametrize("fmt", list(CODECS))
def test_sql_to_each_format_to_sql_gives_identical_records(rt: ModuleType, lis: Path, fmt: str,
                                                          tmp_path: Path) -> None:
    mapping = load_mapping("synth-lis")
    src = rt.source_url(lis)
    out = rt.round_trip(src, fmt, work=tmp_path, mapping=mapping, keep=True)
    assert out.identical, out.difference
    assert out.source.counts["Patient"] == PATIENTS
    assert out.target.counts == out.source.counts and out.source.counts["Result"] > PATIENTS
    # the verdict is backed by the records themselves: the target read back equals the source, record by
    # record (HPRIM Net: on the subset it carries, both sides)
    target = f"sqlite:///{tmp_path / f'target-{fmt}.db'}"
    to_view = rt.view(fmt)
    source_records = list(to_view(group_records(read_database(src, mapping))))
    assert list(to_view(group_records(read_database(target, mapping)))) == source_records
    if fmt != "hprim-net":
        assert list(read_database(target, mapping)) == list(read_database(src, mapping))
    assert (tmp_path / f"lis.{fmt}").stat().st_size == out.file_bytes


def test_a_changed_value_is_reported_by_record_and_field_never_by_value(rt: ModuleType, lis: Path,
                                                                        tmp_path: Path) -> None:
    mapping = load_mapping("synth-lis")
    src = rt.source_url(lis)
    out = rt.round_trip(src, "csv", work=tmp_path, mapping=mapping, keep=True)
    assert out.identical
    path = tmp_path / "target-csv.db"
    with sqlite3.connect(path) as conn:
        rid, old = conn.execute("SELECT id, value FROM results WHERE value IS NOT NULL ORDER BY id LIMIT 1 "
                                "OFFSET 100").fetchone()
        conn.execute("UPDATE results SET value = 'CHANGED-42' WHERE id = ?", (rid,))
    url = f"sqlite:///{path}"
    back = rt.digest_database(url, mapping, "csv")
    assert back.counts == out.source.counts and not out.source.same(back) and not out.source.same_set(back)
    where = rt.first_difference(src, url, mapping, "csv", None)
    assert where.endswith(f"Result {rid}, field(s) value")
    assert "CHANGED-42" not in where and str(old) not in where


def test_records_in_another_order_are_told_apart(rt: ModuleType) -> None:
    from ecluse.formats.records import Patient

    a, b = rt.Digest(), rt.Digest()
    a.add([Patient(id="1"), Patient(id="2")])
    b.add([Patient(id="2"), Patient(id="1")])
    assert not a.same(b) and a.same_set(b)
    b.add([Patient(id="3")])
    assert not a.same_set(b)


def test_command_line_generates_a_lab_and_reports_identical(rt: ModuleType, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert rt.main(["--patients", "40", "--formats", "hprim-sante,hprim-net", "--keep", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("IDENTICAL") == 4  # per format, and in the summary
    assert "HPRIM Net subset" in out
    assert (tmp_path / "target-hprim-net.db").exists()
    # an existing target is never reused
    with pytest.raises(SystemExit, match="never overwritten"):
        rt.main(["--db", str(tmp_path / "lis.db"), "--patients", "40", "--formats", "hprim-net",
                 "--target-url", f"sqlite:///{tmp_path / 'target.db'}", "--keep", str(tmp_path / "again")])


def test_round_trip_into_postgresql(rt: ModuleType, lis: Path, tmp_path: Path, postgres_admin_url: str) -> None:
    import secrets

    base = f"postgresql+psycopg://postgres@127.0.0.1:5432/ecluse_rt_{secrets.token_hex(4)}"
    out = rt.round_trip(rt.source_url(lis), "hl7v25", work=tmp_path, mapping=load_mapping("synth-lis"),
                        target_url=base)
    assert out.identical, out.difference
    assert out.target.counts["Patient"] == PATIENTS
