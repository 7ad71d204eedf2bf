"""scan_paths over files, archives, databases, office files; the report never holds a value. Issue 4."""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import lzma
import sqlite3
import tarfile
import zipfile
from pathlib import Path

import pytest

from ecluse.errors import ScanError
from ecluse.scan import ScanLimits, scan_paths
from ecluse.scan.report import Baseline, to_html, to_json, to_sarif

NIR = "279035121518989"
LINE = f"nom;nir;date_naissance\nDUPONT;{NIR};15/03/1979\n"


def kinds(report: object) -> set[tuple[str | None, str]]:
    return {(f.member, f.kind) for f in report.findings}  # type: ignore[attr-defined]


def test_plain_csv(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(LINE)
    r = scan_paths([tmp_path])
    assert {(f.line, f.kind) for f in r.findings} == {(2, "nir"), (2, "birth_date")}
    assert r.files_scanned == 1 and r.bytes_scanned == len(LINE)
    assert r.has_findings() and r.risk_by_file[str(tmp_path / "a.csv")] > 0.9


def test_cp1252_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(
        "Patient Hélène Lefèvre, n° sécurité sociale : 2 79 03 51 215 189 89\n".encode("cp1252")
    )
    r = scan_paths([tmp_path], extra_terms=["Helene Lefevre"])
    assert {f.kind for f in r.findings} == {"nir", "listed_term"}


def test_nested_archives(tmp_path: Path) -> None:
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w:gz") as tf:
        ti = tarfile.TarInfo("x/a.csv")
        ti.size = len(LINE)
        tf.addfile(ti, io.BytesIO(LINE.encode()))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("in.tgz", tar_buf.getvalue())
    (tmp_path / "a.zip").write_bytes(zbuf.getvalue())
    (tmp_path / "b.csv.bz2").write_bytes(bz2.compress(LINE.encode()))
    (tmp_path / "c.csv.xz").write_bytes(lzma.compress(LINE.encode()))
    r = scan_paths([tmp_path])
    members = {(Path(f.file).name, f.member) for f in r.findings if f.kind == "nir"}
    assert members == {("a.zip", "in.tgz!in.tar!x/a.csv"), ("b.csv.bz2", "b.csv"), ("c.csv.xz", "c.csv")}


def test_archive_bomb_is_reported_not_crashed(tmp_path: Path) -> None:
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(b"0" * (50 * 1024 * 1024)))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.txt", b"\0" * (20 * 1024 * 1024))
    (tmp_path / "bomb.zip").write_bytes(zbuf.getvalue())
    r = scan_paths([tmp_path], limits=ScanLimits(max_ratio=100))
    reasons = {Path(s.file).name: s.reason for s in r.skipped}
    assert "bomb" in reasons["bomb.gz"] and "bomb" in reasons["bomb.zip"]


def test_depth_limit(tmp_path: Path) -> None:
    data = LINE.encode()
    for _ in range(6):
        data = gzip.compress(data)
    (tmp_path / "deep.gz").write_bytes(data)
    r = scan_paths([tmp_path], limits=ScanLimits(max_depth=3))
    assert not r.findings and "nesting" in r.skipped[0].reason


def test_protected_files(tmp_path: Path) -> None:
    from ecluse.crypto.age import encrypt_bytes, generate_x25519

    _, recipient = generate_x25519()
    (tmp_path / "a.csv.age").write_bytes(encrypt_bytes(LINE.encode(), [recipient]))
    (tmp_path / "b.asc").write_text("-----BEGIN PGP MESSAGE-----\nhQEMA...\n")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("a.csv", LINE)
    raw = bytearray(zbuf.getvalue())
    raw[6] |= 1  # the encryption flag of the local header
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 8] |= 1
    (tmp_path / "c.zip").write_bytes(bytes(raw))
    r = scan_paths([tmp_path])
    assert not [f for f in r.findings if f.member != "(file name)"]
    assert {Path(p.file).name for p in r.protected_files} == {"a.csv.age", "b.asc", "c.zip"}


def test_sqlite_and_office(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "lis.db")
    con.execute("CREATE TABLE p (nom TEXT, nir TEXT)")
    con.execute("INSERT INTO p VALUES ('X', ?)", (NIR,))
    con.commit()
    con.close()
    from ecluse.scan.corpus import _docx, _xlsx

    (tmp_path / "cr.docx").write_bytes(_docx(["Compte rendu", f"NIR : {NIR}"]))
    (tmp_path / "l.xlsx").write_bytes(_xlsx([["nom", "nir"], ["X", NIR]]))
    r = scan_paths([tmp_path])
    got = {(Path(f.file).name, f.member, f.line, f.kind) for f in r.findings}
    assert got == {
        ("lis.db", "table:p", 2, "nir"),
        ("cr.docx", "word/document.xml", 2, "nir"),
        ("l.xlsx", "xl/worksheets/sheet1.xml", 2, "nir"),
    }


def test_pdf_text(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = pypdf.PdfWriter()
    page = w.add_blank_page(300, 300)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): w._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 10 100 Td (NIR : {NIR}) Tj ET".encode())
    page[NameObject("/Contents")] = w._add_object(stream)
    buf = io.BytesIO()
    w.write(buf)
    (tmp_path / "a.pdf").write_bytes(buf.getvalue())
    r = scan_paths([tmp_path])
    assert [(f.member, f.kind) for f in r.findings] == [("page 1", "nir")]


def test_links_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.csv").write_text(LINE)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link.csv").symlink_to(outside / "a.csv")
    (tree / "dirlink").symlink_to(outside)
    r = scan_paths([tree])
    assert r.files_scanned == 0 and not r.findings
    assert {s.reason for s in r.skipped} == {"symbolic link (not followed)"}


def test_missing_path_is_a_scan_error(tmp_path: Path) -> None:
    with pytest.raises(ScanError):
        scan_paths([tmp_path / "nope"])


def test_no_value_in_any_output(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(
        f"Mme Hélène Dupont née le 15/03/1979, NIR {NIR}, tél 06 12 34 56 78, helene.dupont@orange.fr, "
        "mot_de_passe=Secret123\n"
    )
    r = scan_paths([tmp_path], extra_terms=["Dupont"], fingerprint_key=b"k" * 32)
    assert len(r.findings) >= 6
    blob = to_json(r).decode() + to_sarif(r).decode() + to_html(r) + repr(r)
    for secret in (NIR, "121518989", "12 34 56 78", "helene.dupont", "15/03", "Secret123", "Dupont"):
        assert secret not in blob


def test_baseline_suppresses_accepted_findings(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(LINE)
    base = Baseline.new()
    r1 = scan_paths([tmp_path], fingerprint_key=base.key)
    base.save(tmp_path / "bl.json", r1.findings)
    (tmp_path / "a.csv").write_text("\n\n" + LINE)  # moved lines keep their fingerprints
    loaded = Baseline.load(tmp_path / "bl.json")
    r2 = scan_paths([tmp_path / "a.csv"], fingerprint_key=loaded.key)
    loaded.apply(r2)
    assert not r2.findings and r2.suppressed == 2
    assert NIR not in (tmp_path / "bl.json").read_text()


def test_workers_give_the_same_findings(tmp_path: Path) -> None:
    from ecluse.scan.corpus import generate

    generate(tmp_path, patients=60)
    one = scan_paths([tmp_path])
    two = scan_paths([tmp_path], workers=2)
    assert one.findings == two.findings


def test_malloc_thresholds_raised_once_scan_unchanged(tmp_path: Path) -> None:
    """``_reuse_large_blocks`` (glibc's malloc keeps blocks of a few MB for reuse) is set once per
    process, by each scan's worker, and a multi-chunk text scanned again gives the same findings
    (line numbers across chunks included)."""
    import platform
    import sys

    from ecluse.scan import _engine

    (tmp_path / "a.csv").write_text(LINE + f"MARTIN;{NIR};01/02/1980\n" * 3000)
    limits = ScanLimits(chunk_bytes=4096, max_findings_per_kind=0)
    before = scan_paths([tmp_path], limits=limits)
    done = _engine._reuse_large_blocks()
    assert _engine._reuse_large_blocks() is done
    assert done == (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc")
    after = scan_paths([tmp_path], limits=limits)
    assert after.findings == before.findings
    assert [f.line for f in after.findings if f.kind == "nir"] == list(range(2, 3003))


def test_tar_read_in_blocks_gives_the_same_bytes_and_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``_read_upto`` (a tar read in memory in blocks of at most 8 MB) gives what one read gave."""
    import random

    from ecluse.scan import _engine

    rng = random.Random(3)
    data = rng.randbytes(5000)
    for size in (0, 1, 999, 1000, 1001, 4999, 5000, 5001, 10**6):
        for block in (1, 7, 1000, 8 << 20):
            monkeypatch.setattr(_engine, "_READ_BLOCK", block)
            assert _engine._read_upto(io.BytesIO(data), size) == io.BytesIO(data).read(size), (size, block)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(3):
            body = (LINE * 200 + f"MARTIN;{NIR};0{i + 1}/02/1980\n").encode()
            info = tarfile.TarInfo(f"d/export-{i}.csv")
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    (tmp_path / "b.tar.gz").write_bytes(buf.getvalue())
    limits = ScanLimits(max_findings_per_kind=0)
    monkeypatch.setattr(_engine, "_READ_BLOCK", 8 << 20)
    whole = scan_paths([tmp_path], limits=limits, min_confidence=0.0)
    monkeypatch.setattr(_engine, "_READ_BLOCK", 4096)
    blocks = scan_paths([tmp_path], limits=limits, min_confidence=0.0)
    assert blocks.findings == whole.findings and len(whole.findings) > 600


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_every_byte_and_changes_no_finding(tmp_path: Path, workers: int) -> None:
    # enough files for several tasks (64 files at most each)
    for i in range(150):
        (tmp_path / f"f{i:03}.csv").write_text(LINE * (1 + i % 7), encoding="utf-8")
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    calls: list[tuple[int, int]] = []
    with_progress = scan_paths([tmp_path], workers=workers, progress=lambda d, t: calls.append((d, t)))
    plain = scan_paths([tmp_path], workers=1)
    assert with_progress.findings == plain.findings
    assert with_progress.count(0.0) == plain.count(0.0) > 0
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert len(calls) >= 4  # at the start and after each of at least three tasks
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))


def test_findings_in_order_across_tasks_and_overlapping_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers sort their tasks' findings; the parent only orders the files (a stable sort): the same
    order as sorting every finding by file, member, line, column and kind. A file under two of the
    paths given is scanned once."""
    from ecluse.scan import _engine
    from ecluse.scan.corpus import generate

    generate(tmp_path, patients=40)
    # members out of name order: found in archive order, listed in name order
    with zipfile.ZipFile(tmp_path / "members.zip", "w") as zf:
        for name in ("z.txt", "m.txt", "a.txt"):
            zf.writestr(name, "nir: 1 54 05 69 679 999 51\n")
    monkeypatch.setattr(_engine, "_TASK_FILES", 2)  # many tasks, handed out largest first
    sub = next(p for p in sorted(tmp_path.iterdir()) if p.is_dir())
    for workers in (1, 2):
        report = scan_paths([tmp_path, sub], workers=workers, min_confidence=0.0)
        key = [(f.file, f.member or "", f.line or 0, f.column or 0, f.kind) for f in report.findings]
        assert key == sorted(key)
        assert len({f.file for f in report.findings}) > 4  # several files, from several tasks
        once = scan_paths([tmp_path], workers=workers, min_confidence=0.0)
        assert report.findings == once.findings
        assert report.files_scanned == once.files_scanned


def test_findings_travel_from_worker_processes_unchanged(tmp_path: Path) -> None:
    """The tuples a worker process sends back (``_packed_worker``) rebuild the same report."""
    import pickle

    from ecluse.scan import _engine
    from ecluse.scan._model import Finding

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("in/b.txt", "nir: 1 54 05 69 679 999 51\nmail jean.dupont@sante.fr\n")
    (tmp_path / "c.csv").write_text("nom;telephone\nDUPONT;06 12 34 56 78\n", encoding="utf-8")
    task = ([str(tmp_path / "a.zip"), str(tmp_path / "c.csv")], 0.0, ScanLimits(), ("Dupont",), b"k" * 32, None)
    direct = _engine._worker(task)
    sent = _engine._unpacked(pickle.loads(pickle.dumps(_engine._packed_worker(task))))
    assert len(direct.findings) >= 4 and any(f.member for f in direct.findings)
    assert all(f.fingerprint for f in direct.findings)
    assert sent.findings == direct.findings
    assert all(type(f) is Finding for f in sent.findings)
    assert (sent.files_scanned, sent.bytes_scanned) == (direct.files_scanned, direct.bytes_scanned)


def test_rows_of_a_worker_are_its_findings(tmp_path: Path) -> None:
    """A task's findings are made as rows by the scanner (``_Scanner.rows``), sorted: the same
    findings, in the report's order, as the ``Finding`` objects the scanner makes without rows."""
    import zipfile

    from ecluse.scan import _engine
    from ecluse.scan._model import ScanLimits
    from ecluse.scan.corpus import generate

    generate(tmp_path / "c", patients=40)
    with zipfile.ZipFile(tmp_path / "c" / "a.zip", "w") as z:
        for p in sorted((tmp_path / "c").rglob("*.csv"))[:2]:
            z.write(p, f"in/{p.name}")
    files = sorted(str(p) for p in (tmp_path / "c").rglob("*") if p.is_file())
    limits = ScanLimits(max_findings_per_kind=7)
    _, rows = _engine._packed_worker((files, 0.0, limits, (), None, None))
    scanner = _engine._Scanner(min_confidence=0.0, limits=limits, extra_terms=(), fingerprint_key=None)
    for f in files:
        scanner.scan_file(f)
    made = sorted(scanner.report.findings, key=lambda f: (f.file, f.member or "", f.line or 0, f.column or 0, f.kind))
    assert len(made) > 50 and any(f.member for f in made)
    assert [_engine._finding(*r) for r in rows] == made


def test_file_names_are_those_of_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk gives each file as ``str(Path(dirpath, name))`` gave it, whatever the root."""
    import os

    from ecluse.scan._engine import _file_names
    from ecluse.scan._model import ScanReport

    for rel in ("a.txt", "d/b.txt", "d/e/c.txt", ".hidden/x"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    monkeypatch.chdir(tmp_path)
    for root in (Path("."), Path("d"), Path("./d/"), tmp_path, Path(f"{tmp_path}//d/"), tmp_path / "a.txt"):
        expected = []
        if root.is_file():
            expected = [str(root)]
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            expected += [str(Path(dirpath, n)) for n in sorted(filenames)]
        assert list(_file_names([root], ScanReport())) == expected, root
    names = list(_file_names([Path(".")], ScanReport()))
    assert names == ["a.txt", ".hidden/x", "d/b.txt", "d/e/c.txt"]  # no "./" before them
