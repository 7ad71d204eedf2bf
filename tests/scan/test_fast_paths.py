"""The candidate prefilters must find exactly what a whole-text search of each expression finds."""

from __future__ import annotations

import random

import pytest

from ecluse.scan import _detect as d

_PIECES = [
    "0", "1", "2", "3", "4", "7", "8", "9", "06", "+33", "0033", "(0)", "2A", "2B", " ", ".", "-", ",",
    ";", ":", "/", "\n", "a", "Z", "é", "’", "€", "@", "x@y.fr", "jean.dupont@", "sante.fr", "_",
    "882-1", "56888-1", "7917-8", "718-7", "1 54 05 69 679 999 51", "294043300530427",
    "06 12 34 56 78", "+33 6 41 54 77 01", "2-15-11-2B-220-455-45", "2024-07-10T03:22", "vitale ",
]


def _texts(seed: int, n: int = 300) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 60))) for _ in range(n)]


def _spans(ms: object) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in ms]  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(8))
def test_prefilters_equal_whole_text_search(seed: int) -> None:
    det = d.Detector()
    for text in _texts(seed):
        det.scan(text)  # sets the per-text state (Latin-1 bytes, lowered text)
        raw, n = det._raw, len(text)
        nir = [m for a, b in d._runs(raw, 15, d._NIR_CLASS, n) for m in d.NIR_RE.finditer(text, a, b)]
        assert _spans(nir) == _spans(d.NIR_RE.finditer(text)), text
        vit = [m for a, b in d._runs(raw, 20, d._VITALE_CLASS, n) for m in d.VITALE_RE.finditer(text, a, b)]
        assert _spans(vit) == _spans(d.VITALE_RE.finditer(text)), text
        assert _spans(det._phone_matches(text)) == _spans(d.PHONE_RE.finditer(text)), text
        assert _spans(det._loinc_matches(text)) == _spans(d.LOINC_RE.finditer(text)), text
        email = [m for a, b in det._at_windows(text) for m in d.EMAIL_RE.finditer(text, a, b)]
        assert _spans(email) == _spans(d.EMAIL_RE.finditer(text)), text
        assert det._low == text.lower() or len(text.lower()) != len(text)


def test_digits_beyond_latin1_take_the_whole_text_path() -> None:
    det = d.Detector()
    det.scan("NIR ١ 1 54 05 69 679 999 51")
    assert det._raw is None
    det.scan("NIR’ 1 54 05 69 679 999 51")
    assert det._raw is not None


def test_strip_accents_equals_whole_string_nfkd() -> None:
    import unicodedata

    def ref(t: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))

    rng = random.Random(5)
    pool = [chr(i) for i in range(0x20, 0x2000)] + ["\u0301", "\u0327", "\ufb01", "\uac00", "e\u0301\u0327"]
    for _ in range(3000):
        t = "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))
        assert d.strip_accents(t) == ref(t)
