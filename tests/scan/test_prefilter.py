"""The compiled prefilter must never change what is found: same findings, lines and columns,
with it and without it (the detectors then read the whole text). Issue 4 (performance)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecluse.scan import _detect as d
from ecluse.scan import _engine as e
from ecluse.scan import _prefilter as pf
from ecluse.scan import _sources as src
from ecluse.scan._lexicon import CLINICAL_TERMS, SENSITIVE_LOINC
from ecluse.scan._model import Finding, ScanLimits

pytestmark = pytest.mark.skipif(not pf.available(), reason="hyperscan wheel not installed")

_TERMS = ("Lefèvre", "Jean-Éric Dupont")

# Pieces that make cues, near-cues and context: identifiers in their forms, keywords of every
# list (with accents, in any case), labels, HL7/HPRIM/SQL structure, separators, characters
# beyond Latin-1 (safe ones, a Kelvin sign, another script's digit), line ends.
# fmt: off
_PIECES = [
    "1 54 05 69 679 999 51", "154056967999951", "2-15-11-2B-220-455-45", "294043300530427", "1.54.05.69.679.999.52",
    "06 12 34 56 78", "+33 6 41 54 77 01", "0033612345678", "0612345678", "+590 690 12 34 56",
    "jean.dupont@sante.fr", "contact@hopital.fr", "x@y.fr", "@", "1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.10",
    "12345678901234567890", "vitale", "Carte Vitale: ", "NIR: ", "nir=", "tél ", "mail: ", "facture ", "SIRET ",
    '"nir": "', '"password": "', "<mdp>", "</mdp>", "password=", "mot de passe : ", "pass", "pwd:", "$2b$12$abc",
    "né le ", "Née le ", "naissance ", "DDN:", "dob=", "01/02/1980", "1980-02-01", "19800201", "12.03.1975",
    "groupe sanguin ", "Rhésus ", "rh ", "ABO ", "A+", "O négatif", "AB POS", "B -",
    "PID|1||", "|", "^", "NK1|", "\nPID|", "\nP|", "P|1|", "H|", "OBX|", "^LN", "~LN",
    "INSERT INTO t (nir, ddn, mdp) VALUES (",
    "INSERT INTO p (nom, tel) VALUES ", "('", "', '", "'), (", ");", "****LAB****", "****FIN****",
    " ", "  ", ".", "-", ",", ";", ":", "/", "_", "(", ")", '"', "'", "=", "\t", "\n", "\r\n", "\n\n",
    "a", "Z", "é", "É", "ü", "’", "€", "—", "\u212a", "\u0661", "\u00a0", "ſ", "İ",
    *sorted(CLINICAL_TERMS)[::3], "VIH", "Séropositivité", "CANCER", "chimio", "béta-HCG",
    *sorted(SENSITIVE_LOINC)[::2], *_TERMS, "LEFEVRE", "jean eric  dupont",
]
# fmt: on


def _findings(text: str, *, prefilter: bool, terms: tuple[str, ...] = ()) -> list[Finding]:
    sc = e._Scanner(
        min_confidence=0.0,
        limits=ScanLimits(max_findings_per_kind=0),
        extra_terms=terms,
        fingerprint_key=None,
        use_prefilter=prefilter,
    )
    sc._scan_text("f", None, text)
    return sorted(sc.report.findings, key=lambda f: (f.line or 0, f.column or 0, f.kind, f.confidence))


def _text(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        out.append(rng.choice(_PIECES))
        if rng.random() < 0.3:  # filler, so that cues fall far apart and excerpts are cut
            out.append(rng.choice(["x" * rng.randint(1, 900), "\n" * rng.randint(1, 5), "log line 123 ok\n" * 40]))
    return "".join(out)


@pytest.mark.parametrize("seed", range(6))
def test_prefilter_changes_no_finding(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(12):
        text = _text(rng, rng.randint(1, 50))
        terms = _TERMS if rng.random() < 0.3 else ()
        assert _findings(text, prefilter=True, terms=terms) == _findings(text, prefilter=False, terms=terms), text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=5), max_size=40), st.booleans())
def test_prefilter_changes_no_finding_property(parts: list[str], upper: bool) -> None:
    text = "".join(parts)
    if upper:
        text = text.upper()
    assert _findings(text, prefilter=True, terms=_TERMS) == _findings(text, prefilter=False, terms=_TERMS)


@pytest.mark.parametrize(
    "text",
    [
        "id=4\nNIR : 1 54 05 69 679 999 51\n",
        "x" * 5000 + "\ncontact : jean.dupont@sante.fr\n" + "y\n" * 3000 + "VIH positif\n",
        "HL7\nPID|1||1.2.250.1.213.1.4.8^154056967999951||DUPONT^JEAN||19800201|M\n" + "z\n" * 900,
        "****LAB****\n" + "\n".join(f"l{i}" for i in range(6)) + "\n01/02/1980\n154056967999951\n" + "q\n" * 999,
        "Kelvin \u212a and digits \u0661\u0662 beside NIR 1 54 05 69 679 999 51",
    ],
)
def test_prefilter_keeps_examples(text: str) -> None:
    with_pf = _findings(text, prefilter=True)
    assert with_pf == _findings(text, prefilter=False)
    assert with_pf


def _hits(hits: list[d.Hit]) -> list[tuple[int, int, str, float, str, str, str]]:
    return sorted((h.start, h.end, h.kind, h.confidence, h.excerpt, h.value, h.detail) for h in hits)


@pytest.mark.parametrize("seed", range(4))
def test_whole_text_with_cue_groups_tags_and_word_starts_finds_the_same(seed: int) -> None:
    """A dense text is scanned whole with only the detectors whose cues occur in it, the literal
    cues' tags and the lexicon searches tried where the prefilter saw a word start: the same hits
    as every detector over the text."""
    rng = random.Random(100 + seed)
    p = pf.Prefilter(_TERMS)
    for _ in range(15):
        text = _text(rng, rng.randint(1, 60))
        if rng.random() < 0.3:
            text = text.upper()
        raw = pf.latin1_view(text)
        if raw is None:
            continue
        only, tags = p.groups(raw)
        fast = d.Detector(_TERMS).scan(text, only=only, tags=tags, word_starts=p.word_starts)
        assert _hits(fast) == _hits(d.Detector(_TERMS).scan(text)), text


def test_word_starts_give_the_matches_of_the_lexicon_searches() -> None:
    rng = random.Random(7)
    p = pf.Prefilter()
    det = d.Detector()
    checked = 0
    for _ in range(40):
        text = _text(rng, rng.randint(1, 40))
        det.scan(text, only=frozenset({"clinical", "birth", "blood"}), word_starts=p.word_starts)
        if det._starts is None:  # beyond Latin-1: the searches run over the whole text
            continue
        checked += 1
        for regex, gate, group in (
            (d._CLIN_WORDS, d._CLIN_GATE, "clinical"),
            (d._BIRTH_WORDS, d._BIRTH_GATE, "birth"),
            (d._BLOOD_WORDS, d._BLOOD_GATE, "blood"),
        ):
            got = [m.span() for m in det._word_matches(regex, gate, group)]
            assert got == [m.span() for m in regex.finditer(det._low)], text
    assert checked >= 10


def test_word_cues_match_every_spelling_the_detectors_match() -> None:
    """Each word list's cue fires wherever its regex fires, in any case and accent form."""
    rng = random.Random(3)
    p = pf.Prefilter()
    lists = [
        (d._CLIN_WORDS, [t.lower() for t in CLINICAL_TERMS]),
        (d._BIRTH_WORDS, d._BIRTH_LIST),
        (d._BLOOD_WORDS, d._BLOOD_LIST),
    ]
    for regex, words in lists:
        for w in words:
            for _ in range(5):
                form = "".join(c.upper() if rng.random() < 0.5 else c for c in w)
                text = rng.choice(["", " ", "(", "é", "\n"]) + form + rng.choice(["", " ", ")", ":", "\n"])
                if regex.search(text.lower()):
                    raw = pf.latin1_view(text)
                    assert raw is not None
                    assert p.cue_ends(raw, 10**6), (w, text)


def test_text_without_cue_is_not_scanned_and_with_one_is_cut() -> None:
    p = pf.Prefilter()
    text = "GET /index.html 200 1534 ms\n" * 2000
    ex = p.excerpt(text, text.encode("latin-1"))
    assert ex is not None and ex.text == ""
    text2 = text + "patient NIR 1 54 05 69 679 999 51\n" + text
    ex2 = p.excerpt(text2, text2.encode("latin-1"))
    assert ex2 is not None and 0 < len(ex2.text) < len(text2) // 10
    assert ex2.groups == {"nir"}


def test_latin1_view_refuses_characters_that_would_escape_the_cues() -> None:
    assert pf.latin1_view("abc é") == "abc é".encode("latin-1")
    assert pf.latin1_view("a — b ’") == b"a ? b ?"
    assert pf.latin1_view("\u212a") is None  # Kelvin sign: lower case is "k"
    assert pf.latin1_view("\u0661") is None  # a digit for \d
    assert pf.latin1_view("ſ") is None  # upper case is "S"


def test_stream_paths_give_the_same_findings(tmp_path: Path) -> None:
    """ASCII chunks (decoded only around cues), cp1252 chunks, several chunks per file."""
    rng = random.Random(11)
    body = "".join(_text(rng, 30) + "\n" for _ in range(40))
    (tmp_path / "a.txt").write_bytes(body.encode("ascii", "replace"))
    (tmp_path / "b.txt").write_bytes(body.encode("cp1252", "replace"))
    (tmp_path / "c.txt").write_bytes(body.encode("utf-8"))
    limits = ScanLimits(max_findings_per_kind=0, chunk_bytes=4096)

    def run(prefilter: bool) -> list[Finding]:
        sc = e._Scanner(
            min_confidence=0.0, limits=limits, extra_terms=(), fingerprint_key=None, use_prefilter=prefilter
        )
        for p in sorted(tmp_path.iterdir()):
            sc.scan_file(p)
        return sorted(sc.report.findings, key=lambda f: (f.file, f.line or 0, f.column or 0, f.kind))

    found = run(True)
    assert found == run(False)
    assert {f.kind for f in found} >= {"nir", "phone_fr", "email"}


def test_scanner_works_without_hyperscan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pf, "_hs", None)
    assert not pf.available()
    (tmp_path / "x.txt").write_text("NIR: 1 54 05 69 679 999 51\n", encoding="utf-8")
    sc = e._Scanner(min_confidence=0.5, limits=ScanLimits(), extra_terms=(), fingerprint_key=None)
    assert sc.prefilter is None
    sc.scan_file(tmp_path / "x.txt")
    assert [f.kind for f in sc.report.findings] == ["nir"]


_CELL = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(alphabet=st.sampled_from("ab\t\n\r 'b\"é1"), max_size=6),
    st.binary(max_size=6),
    st.just(b"age-encryption.org/v1\nxx"),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_CELL, _CELL, _CELL), max_size=12), st.integers(min_value=1, max_value=5))
def test_sqlite_fast_rows_equal_cell_by_cell(rows: list[tuple[object, object, object]], batch: int) -> None:
    con = sqlite3.connect(":memory:")
    con.execute('CREATE TABLE "t""x" (a, "b c", d)')
    con.executemany('INSERT INTO "t""x" VALUES (?, ?, ?)', rows)
    got = list(src.sqlite_texts(con, batch=batch))
    want = []
    stored = con.execute('SELECT * FROM "t""x"').fetchall()
    for i in range(0, len(stored), batch):
        part = stored[i : i + batch]
        lines = ["a\tb c\td"] + ["\t".join(src._cell(v) for v in r) for r in part]
        want.append(('t"x', i + 1, "\n".join(lines) + "\n"))
    assert got == want


def test_tar_read_in_memory_or_streamed_gives_the_same_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(5):
            data = (f"line {i}\nNIR : 1 54 05 69 679 999 51\n" + "filler\n" * 3000).encode()
            info = tarfile.TarInfo(f"dir/log{i}.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (tmp_path / "b.tar.gz").write_bytes(buf.getvalue())

    def run() -> list[Finding]:
        sc = e._Scanner(min_confidence=0.0, limits=ScanLimits(), extra_terms=(), fingerprint_key=None)
        sc.scan_file(tmp_path / "b.tar.gz")
        assert not sc.report.skipped
        return sc.report.findings

    in_memory = run()
    monkeypatch.setattr(e, "_TAR_IN_MEMORY", 1000)  # past it, the tar streams through src.Chain
    streamed = run()
    assert in_memory == streamed
    assert [(f.member, f.line, f.kind) for f in streamed] == [(f"b.tar!dir/log{i}.txt", 2, "nir") for i in range(5)]


@pytest.mark.parametrize("cap", [0, 20])
def test_line_numbers_across_chunks(tmp_path: Path, cap: int) -> None:
    """Line numbers past the first chunk: the line feeds a chunk's findings were placed with are
    not counted again, the rest of the chunk is (with the cap, findings past it place nothing)."""
    lines = []
    for i in range(1, 3001):
        if i % 37 == 0:
            lines.append(f"{i} patient NIR 1 54 05 69 679 999 51 ok")
        elif i % 53 == 0:
            lines.append(f"{i} contact jean.dupont@sante.fr")
        else:
            lines.append(f"{i} GET /index.html 200 {i * 7} ms")
    (tmp_path / "app.log").write_text("\n".join(lines) + "\n", encoding="ascii")
    limits = ScanLimits(max_findings_per_kind=cap, chunk_bytes=4096)
    sc = e._Scanner(min_confidence=0.0, limits=limits, extra_terms=(), fingerprint_key=None)
    sc.scan_file(tmp_path / "app.log")
    nir = [f.line for f in sc.report.findings if f.kind == "nir"]
    mail = [f.line for f in sc.report.findings if f.kind == "email"]
    want_nir = [i for i in range(1, 3001) if i % 37 == 0]
    want_mail = [i for i in range(1, 3001) if i % 53 == 0 and i % 37 != 0]
    assert nir == (want_nir[:cap] if cap else want_nir)
    assert mail == (want_mail[:cap] if cap else want_mail)
    assert sc.report.count() == len(want_nir) + len(want_mail)
