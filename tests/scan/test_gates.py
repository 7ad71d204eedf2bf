"""Word gates and binary sniffing: what lets the scanner skip work must never skip a finding."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ecluse.scan import _detect as d
from ecluse.scan import scan_paths
from ecluse.scan._lexicon import CLINICAL_TERMS

_WORDS = sorted({t.lower() for t in CLINICAL_TERMS} | set(d._BIRTH_LIST) | set(d._BLOOD_LIST))
_NOISE = [
    " ",
    "-",
    "_",
    "/",
    "(",
    "x",
    "é",
    "A",
    "1",
    "\n",
    ";",
    "'",
    "Le",
    "née",
    "rh",
    "ne",
    "s",
    "PID|",
    "P|",
    "INSERT INTO t (a) VALUES ",
    "||||||19800101|",
    "\nPID|",
    "\nP|",
]


def _texts(seed: int, n: int = 400) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [rng.choice(_NOISE if rng.random() < 0.6 else _WORDS) for _ in range(rng.randint(1, 12))]
        text = "".join(p.upper() if rng.random() < 0.2 else p for p in parts)
        out.append(text)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_gates_never_refuse_a_text_the_regex_matches(seed: int) -> None:
    det = d.Detector()
    pairs = [(d._CLIN_GATE, d._CLIN_WORDS), (d._BIRTH_GATE, d._BIRTH_WORDS), (d._BLOOD_GATE, d._BLOOD_WORDS)]
    for text in _texts(seed):
        det.scan(text)
        for gate, regex in pairs:
            if regex.search(det._low):
                assert gate.may_match(det._words, det._lowb), text
        # The callers act on these markers only at a line start (INSERT INTO, PID|, P|).
        for word, needles, regex in (
            (b"insert", ("INSERT", "insert"), d._INSERT_LINE),
            (b"pid", ("PID|",), d.HL7_PID_DOB),
            (b"p", ("\nP|",), d.HPRIM_P_DOB),
        ):
            if regex.search(text) and not text.startswith("P|"):
                assert det._may_hold(word, text, *needles), text


def test_every_lexicon_term_passes_its_gate() -> None:
    det = d.Detector()
    for gate, words in ((d._CLIN_GATE, CLINICAL_TERMS), (d._BIRTH_GATE, d._BIRTH_LIST), (d._BLOOD_GATE, d._BLOOD_LIST)):
        for w in words:
            det.scan(f"x {w} y")
            assert gate.may_match(det._words, det._lowb), w


def test_executables_are_listed_not_read(tmp_path: Path) -> None:
    (tmp_path / "libfoo.so").write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64 + b"NIR 1 54 05 69 679 999 51\n")
    r = scan_paths([tmp_path])
    assert not r.findings
    assert [s.reason for s in r.skipped] == ["executable or shared library (not read)"]


def test_images_are_read_for_their_metadata_only(tmp_path: Path) -> None:
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + b"\x00" * 32 + b"tEXtComment\x00patient jean.dupont@gmail.com\n"
    tail = b"\x00" * 70000 + b"contact marie.durand@orange.fr\n"
    (tmp_path / "scan.png").write_bytes(head + tail)
    r = scan_paths([tmp_path])
    assert [f.kind for f in r.findings] == ["email"]
    assert not r.skipped and not r.protected_files
