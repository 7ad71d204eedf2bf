"""The candidate prefilters must find exactly what a whole-text search of each expression finds."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        assert det._loinc_matches(text) == _spans(d.LOINC_RE.finditer(text)), text
        assert d._email_spans(text) == _spans(d.EMAIL_RE.finditer(text)), text
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


# ------------------------------------------------------------ NIR shapes (char loop, no regex)
_NIR_PIECES = [
    "1", "2", "3", "4", "5", "7", "8", "9", "0", "2A", "2b", "2C", " ", ".", "-", ",", ":", "/", "+", "_", "a",
    "é", "\u0663", "\u00b2", "\u2167", "182106975956096", "1 82 10 69 759 560 96", "2-15-11-2B-220-455-45",
    "294043300530427", "\n", "x", "15.5", "1.5", "1 54 05 69 679 999 51", "2.15.11.2a.220.455.45", "253072B073004 70",
    "253072A07300443", "1540569679999", "51", "52", "00", "13", "55", "\u0665\u0664",
]


def _reference_value(s: str, yy: str, mm: str, dept: str, commune: str, order: str, key: str) -> str | None:
    """What the NIR detector computed from the regex's groups before ``_nir_matches`` did."""
    month = int(mm)
    if not (1 <= month <= 12 or 20 <= month <= 42 or month >= 50):
        return None
    n13 = s + yy + mm + dept + commune + order
    if dept.isdigit():
        number = n13
    else:
        n13 = s + yy + mm + dept.upper() + commune + order
        number = s + yy + mm + ("19" if dept in "2A2a" else "18") + commune + order
    return n13 + key if 97 - int(number) % 97 == int(key) else None


def _reference_nir(text: str, pos: int, endpos: int) -> list[tuple[object, ...]]:
    return [(m.start(), m.end(), _reference_value(*m.groups())) for m in d.NIR_RE.finditer(text, pos, endpos)]


def _check_nir(text: str, pos: int, endpos: int) -> None:
    assert d._nir_matches(text, pos, endpos) == _reference_nir(text, pos, endpos), (text, pos, endpos)


@pytest.mark.parametrize("seed", range(6))
def test_nir_matches_equal_the_regex(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1500):
        text = "".join(rng.choice(_NIR_PIECES) for _ in range(rng.randint(1, 40)))
        _check_nir(text, 0, len(text))
        a = rng.randint(0, len(text))
        _check_nir(text, a, rng.randint(a, len(text)))
    for text in _texts(seed):
        _check_nir(text, 0, len(text))


def test_nir_values_valid_invalid_and_corsican() -> None:
    text = "nir 1 54 05 69 679 999 51, 1 54 05 69 679 999 52"
    assert d._nir_matches(text, 0, len(text)) == [(4, 25, "154056967999951"), (27, 48, None)]  # key 51 only
    text = "2.15.11.2a.220.455.18 / 253072B073004 70 / 253072B073004 43"  # 2A reads 19, 2B 18
    assert [v for *_, v in d._nir_matches(text, 0, len(text))] == ["215112A22045518", "253072B07300470", None]
    assert d._nir_matches("1541369679999 82", 0, 16) == [(0, 16, None)]  # the key fits, month 13 does not
    # months 1-12, 20-42 and 50-99 are valid (each with its right key here), 0, 13-19, 43-49 not
    text = "1544269679999 61, 1544369679999 77, 1545069679999 92, 1541969679999 81, 1540069679999 68"
    assert [v is not None for *_, v in d._nir_matches(text, 0, len(text))] == [True, False, True, False, False]
    text = "15405696799\u0669\u0669 51"  # another script's digits (\\d is Unicode), read by int()
    assert d._nir_matches(text, 0, len(text)) == [(0, 16, "15405696799\u0669\u066951")]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_NIR_PIECES) | st.text(max_size=3), max_size=24), st.integers(0, 30), st.integers(0, 400)
)
def test_nir_matches_equal_the_regex_property(parts: list[str], pos: int, endpos: int) -> None:
    text = "".join(parts)
    pos = min(pos, len(text))
    _check_nir(text, pos, max(pos, min(endpos, len(text))))


# ---------------------------------------------------------- phone shapes (char loop, no regex)
_PHONE_PIECES = [
    "0", "00", "+", "33", "590", "594", "596", "262", "269", "59", "26", "(0)", "(", ")", "6", "1", "9", "12", " ", ".",
    "-", ",", ":", "/", "_", "a", "é", "\u0663", "\u00b2", "06 12 34 56 78", "0612345678", "+33 6 41 54 77 01",
    "0033 1 23 45 67 89", "+590 (0) 6 90 12 34 56", "\n", "x",
]


def _check_phones(text: str) -> None:
    det = d.Detector()
    det.scan(text, only=frozenset())  # sets the Latin-1 view the candidates are taken from
    want = _spans(d.PHONE_RE.finditer(text))
    assert det._phone_spans(text) == want, text
    assert _spans(det._phone_matches(text)) == want, text
    for p in range(len(text) + 1):
        for endpos in (len(text), p + 5, p + 12, p + 40):
            m = d.PHONE_RE.match(text, p, min(len(text), endpos))
            assert d._phone_end(text, p, min(len(text), endpos)) == (-1 if m is None else m.end()), (text, p)


@pytest.mark.parametrize("seed", range(6))
def test_phone_spans_equal_the_regex(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(600):
        _check_phones("".join(rng.choice(_PHONE_PIECES) for _ in range(rng.randint(1, 24))))
    for text in _texts(seed, 100):
        _check_phones(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PHONE_PIECES) | st.text(max_size=3), max_size=16))
def test_phone_spans_equal_the_regex_property(parts: list[str]) -> None:
    _check_phones("".join(parts))


# ------------------------------------------------------------ e-mail spans (from each "@", no search)
_EMAIL_PIECES = [
    "@", ".", "a", "Z", "9", "-", "_", "%", "+", "é", " ", "\n", ";", "fr", "sante", "x" * 30, "y" * 64, "@@", "..",
]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_EMAIL_PIECES), max_size=40).map("".join))
def test_email_spans_equal_the_regex(text: str) -> None:
    assert d._email_spans(text) == _spans(d.EMAIL_RE.finditer(text))


def test_email_spans_local_part_limit_and_resume() -> None:
    local = "a" * 70
    text = f"{local}@sante.fr x.y@b.fr@c.fr jean@h.fr"
    assert d._email_spans(text) == _spans(d.EMAIL_RE.finditer(text))
    assert d._email_spans(text)[0] == (6, 79)  # the last 64 characters of the local part


# ------------------------------------------------------------ INSERT lines (found by a literal search)
_INSERT_PIECES = [
    "INSERT INTO", "insert into", "Insert Into", "INSERT  INTO", "INSERTINTO", " t ", "t", " (a, b", ")", "(",
    " VALUES ",
    "VALUES", "\n", "\r\n", " ", "x", "é", "É", "('1', '2');", "--", "\t",
]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_INSERT_PIECES), max_size=30).map("".join))
def test_insert_lines_equal_the_regex(text: str) -> None:
    expected = [(m.start(), m.group(1)) for m in d._INSERT_LINE.finditer(text)]
    assert d._insert_lines(text, text.lower()) == expected
    assert d._insert_lines(text, None) == expected


def test_insert_columns_over_lines_hide_the_next_insert() -> None:
    text = "INSERT INTO t (a,\nINSERT INTO u (b) VALUES (1)\nINSERT INTO v (c) VALUES (2)\n"
    expected = [(m.start(), m.group(1)) for m in d._INSERT_LINE.finditer(text)]
    assert len(expected) == 2
    assert d._insert_lines(text, text.lower()) == expected


# ------------------------------------------------------------ table cells (a loop, not a counted repeat)
def _reference_cells(text: str, delim: str, col: int, pos: int) -> list[tuple[int, int]]:
    d_ = re.escape(delim)
    rx = re.compile(r"^(?:[^" + d_ + r"\n]*" + d_ + "){" + str(col) + r"}([^" + d_ + r"\r\n]*)", re.MULTILINE)
    return [m.span(1) for m in rx.finditer(text, pos)]


def _reference_column_dates(text: str, delim: str, col: int, header_end: int) -> list[tuple[int, int]]:
    """The birth-date column search before ``_column_cells``: one regex per line start."""
    d_ = re.escape(delim)
    body = rf"(?:[^{d_}\n]*{d_}){{{col}}}(\"*)({d._DATE})\"*(?=[{d_}\r\n]|\Z)"
    first, each = re.compile(body), re.compile("\n" + body)
    found = [first.match(text, 0)] if header_end == 0 else []
    found += each.finditer(text, max(0, header_end - 1))
    out = []
    for m in found:
        if m is not None:
            s = m.start(1) + (1 if m.group(1) else 0)
            out.append((s, s + len(m.group(2))))
    return out


_CELL_PIECES = [
    ";", ",", "\t", "|", "\n", "\r\n", "\r", '"', "A+", "O -", "x", "é", "12/03/1975", "1975-03-12", "19750312",
    "31/02/2001", "2001-13-01", "T", ":", "  ",
]


@settings(max_examples=800, deadline=None)
@given(
    st.lists(st.sampled_from(_CELL_PIECES), max_size=40).map("".join),
    st.sampled_from([";", ",", "\t", "|"]),
    st.integers(0, 4),
    st.integers(0, 20),
)
def test_column_cells_equal_the_regex(text: str, delim: str, col: int, pos: int) -> None:
    assert d._column_cells(text, delim, col, pos) == _reference_cells(text, delim, col, pos)
    # the birth-date column: a line start as the header's end, or 0
    he = 0 if pos == 0 or "\n" not in text[:pos] else text.rfind("\n", 0, pos) + 1
    new = []
    for a, b in d._column_cells(text, delim, col, he):
        m = d._CELL_DATE.fullmatch(text, a, b)
        if m is not None:
            s = m.start(1) + (1 if m.group(1) else 0)
            new.append((s, s + len(m.group(2))))
    assert new == _reference_column_dates(text, delim, col, he)


# ------------------------------------------------------------ LOINC candidates (from each "-")
_DIGIT_MAP = bytes(48 if 48 <= i <= 57 else 45 if i == 45 else 120 for i in range(256))


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(["0", "5", "9", "-", "--", "x", "é", "882-1", "56888-1", "12-16", "|"]), max_size=30))
def test_loinc_ends_equal_the_digit_map_search(pieces: list[str]) -> None:
    raw = "".join(pieces).encode("latin-1")
    expected = [m.end() for m in re.finditer(b"0-0(?!0)", raw.translate(_DIGIT_MAP))]
    assert d._loinc_ends(raw) == expected


# ------------------------------------------------------------ HL7 / HPRIM birth dates (line starts by find)
_SEG_PIECES = [
    "PID|", "P|", "|", "\n", "\r", "19651106", "20011231", "1965110", "^", "x", "é", "PID", "MSH|", "||||||",
    "19\u0665\u0665\u0661\u0661\u0660\u0666", "21651106", "1|2|3|4|5|", "2",
]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(_SEG_PIECES), max_size=40).map("".join))
def test_line_matches_equal_finditer(text: str) -> None:
    for rx, head in ((d.HL7_PID_DOB, "PID|"), (d.HPRIM_P_DOB, "P|")):
        assert [m.span(1) for m in d._line_matches(text, rx, head)] == [m.span(1) for m in rx.finditer(text)]
        assert d._segment_dates(text, head) == [m.span(1) for m in rx.finditer(text)]


def test_line_matches_find_segment_birth_dates() -> None:
    text = (
        "MSH|^~\\&|A\nPID|1||38768974^^^LABO||MOREL^Marie||19780409|F\n"
        "xP|1|2|3|4|5|6|20011231\nP|1|2|3|4|5|6|20011231|\n"
    )
    for rx, head, n in ((d.HL7_PID_DOB, "PID|", 1), (d.HPRIM_P_DOB, "P|", 1)):
        found = [m.span(1) for m in d._line_matches(text, rx, head)]
        assert found == [m.span(1) for m in rx.finditer(text)] == d._segment_dates(text, head)
        assert len(found) == n


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("PID|1|2|3|4|5|6|19651106^x\n", 1),  # "^" after the date
        ("PID|1|2|3|4|5|6|19651106|\nPID|1|2|3|4|5|6|20011231\n", 2),
        ("PID|1|2|3|4|5|6|196511\u00b26|\n", 0),  # "²" is a digit, not a decimal
        ("PID|1|2|3|4|5|6|19\u0665\u0665\u0661\u0661\u0660\u0666|", 1),  # Arabic-Indic decimals
        ("PID|1|2|3|4|5|6|19651106", 0),  # nothing after it
        ("PID|1|2|3|4|5\n|6|19651106|", 0),  # a line feed in the fields
        ("xPID|1|2|3|4|5|6|19651106|", 0),  # not at a line start
        ("PID|1|2|3|4|5|6|18651106|", 0),
        ("PID|||||||19651106|", 1),  # six empty fields
        ("PID||||||||19651106|", 0),  # seven
    ],
)
def test_segment_dates_examples(text: str, found: int) -> None:
    spans = [m.span(1) for m in d.HL7_PID_DOB.finditer(text)]
    assert d._segment_dates(text, "PID|") == spans
    assert len(spans) == found
    hprim = text.replace("PID|", "P|")
    assert d._segment_dates(hprim, "P|") == [m.span(1) for m in d.HPRIM_P_DOB.finditer(hprim)]


# ------------------------------------------------------------ ordering and capping hits (typed)
def _reference_order_and_cap(
    hits: list[d.Hit], minc: float, kept: dict[str, int], cap: int
) -> tuple[list[d.Hit], list[tuple[str, float, int]]]:
    """What ``_Scanner._emit`` did before ``order_and_cap``."""
    from collections import Counter

    hits = [h for h in hits if h.confidence >= minc] if minc > 0.0 else list(hits)
    hits.sort(key=lambda h: h.start)
    omitted: list[tuple[str, float, int]] = []
    if not cap or not hits:
        return hits, omitted
    by_kind: dict[str, list[d.Hit]] = {}
    for h in hits:
        by_kind.setdefault(h.kind, []).append(h)
    listed: list[d.Hit] = []
    over = False
    for kind, group in by_kind.items():
        n = kept.get(kind, 0)
        kept[kind] = n + len(group)
        room = cap - n if n < cap else 0
        if room >= len(group):
            listed += group
            continue
        over = True
        listed += group[:room]
        counted: dict[float, int] = {}
        for conf, k in Counter(h.confidence for h in group[room:]).items():
            counted[round(conf, 3)] = counted.get(round(conf, 3), 0) + k
        omitted += [(kind, c, k) for c, k in counted.items()]
    if over:
        keep = set(map(id, listed))
        hits = [h for h in hits if id(h) in keep]
    return hits, omitted


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(["nir", "email", "phone_fr"]),
                  st.sampled_from([0.4, 0.7, 0.9, 0.95, 0.8999999, 0.8995, 0.9004])),
        max_size=40,
    ),
    st.sampled_from([0.0, 0.5, 0.9]),
    st.integers(0, 5),
    st.dictionaries(st.sampled_from(["nir", "email"]), st.integers(0, 6)),
    st.booleans(),
)
def test_order_and_cap_equals_the_engine_code(
    spec: list[tuple[int, str, float]], minc: float, cap: int, kept: dict[str, int], huge: bool
) -> None:
    shift = 2**60 if huge else 0  # starts too large for the float keys: the tuple sort
    hits = [d.Hit(s + shift, s + shift + 1, k, c, "x", "v") for s, k, c in spec]
    kept2 = dict(kept)
    got, omitted = d.order_and_cap(list(hits), minc, kept, cap)
    want, omitted2 = _reference_order_and_cap(list(hits), minc, kept2, cap)
    assert [id(h) for h in got] == [id(h) for h in want]
    assert omitted == omitted2
    assert kept == kept2


@pytest.mark.parametrize("seed", range(4))
def test_phone_and_vitale_digits_without_the_regex(seed: int) -> None:
    """A phone's digits are its match without " .-+()", a carte Vitale's without spaces: what
    removing every non-digit gives, on every match of the two expressions."""
    seen = 0
    for text in _texts(100 + seed, 400):
        for m in d.PHONE_RE.finditer(text):
            assert d._without(m.group(0), " .-+()") == re.sub(r"\D", "", m.group(0))
            seen += 1
        for m in d.VITALE_RE.finditer(text):
            assert m.group(0).replace(" ", "") == re.sub(r"\D", "", m.group(0))
        for m in d.DATE_RE.finditer(text):  # a birth date's digits
            assert d._without(m.group(0), "/.-") == re.sub(r"\D", "", m.group(0))
    assert seen > 20


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300).map(lambda b: b.replace(b"a", b"\n")), st.integers(-400, 400), st.integers(-400, 400)
)
def test_line_feeds_equal_bytes_count(data: bytes, start: int, end: int) -> None:
    from ecluse.scan._sources import line_feeds

    assert line_feeds(data, start) == data.count(b"\n", start)
    assert line_feeds(data, start, end) == data.count(b"\n", start, end)


_LOINC_PIECES = [
    *sorted(d.SENSITIVE_LOINC)[::4], "5", "1", "-", "-1", ".", ".5", "_", "a", "é", "\u0661", "²", " ", "^", "|",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_LOINC_PIECES), max_size=12))
def test_loinc_at_equals_the_regex_match(parts: list[str]) -> None:
    text = "".join(parts)
    for p in range(len(text) + 1):
        m = d.LOINC_RE.match(text, p, min(len(text), p + 16))
        assert d._loinc_at(text, p) == (m.end() if m is not None else 0), (text, p)



_DATE_PIECES = [
    "12/03/1975", "1980-02-01", "19800201", "01.02.1980", "1980-13-01", "1", "2", "0", "9", "/", ".", "-", "T", ":",
    " ", "né le ", "a", "\u0661",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_DATE_PIECES), max_size=10), st.integers(0, 60), st.integers(0, 60))
def test_date_search_equals_the_regex_search(parts: list[str], pos: int, endpos: int) -> None:
    text = "".join(parts)
    ours, theirs = d._date_search(text, pos, endpos), d.DATE_RE.search(text, pos, endpos)
    assert (ours.span() if ours else None) == (theirs.span() if theirs else None), (text, pos, endpos)


def test_excerpts_are_made_for_listed_hits_only_and_as_before() -> None:
    """``scan(finished=False)`` leaves the masks of the frequent kinds to :func:`finish` (called
    by the engine for listed hits); what it makes is what the detectors made before."""
    text = (
        "Date de naissance : 12/03/1975\nNIR 1 54 05 69 679 999 51\nVIH séropositif\n"
        "tél +33 6 12 34 56 78\nJean.Dupont@Sante.FR\n"
    )
    hits = sorted(d.Detector().scan(text, finished=False), key=lambda h: h.start)
    assert all(h.excerpt is None for h in hits)
    made = [(h.kind, d.finish(h), h.value, h.detail) for h in hits]
    assert made == [
        ("birth_date", "**/**/19**", "12031975", ""),
        ("nir", "1 54 05 ** *** *** **", "154056967999951", ""),
        ("clinical_term", "vih", "vih", "hiv"),
        ("clinical_term", "séropositif", "séropositif", "hiv"),
        ("phone_fr", "06 ** ** ** **", "0612345678", ""),
        ("email", "J***@S***.FR", "jean.dupont@sante.fr", ""),
    ]
    assert [d.finish(h) for h in hits] == [m[1] for m in made]  # made once: the same again
    finished = sorted(d.Detector().scan(text), key=lambda h: h.start)
    assert [(h.kind, h.excerpt, h.value, h.detail) for h in finished] == made


def test_password_column_of_a_patient_table_is_sure_far_from_its_header() -> None:
    """A password in a table whose header names patients is sure (0.95) on every row, though the
    header is past the 200-character window; in another table, without a portal word near it, 0.8."""
    rows = "".join(f"{i};DURAND;s3cretPass{i}\n" for i in range(40))
    for header, conf in (("id;patient_nom;mot_de_passe\n", 0.95), ("id;nom;mot_de_passe\n", 0.8)):
        hits = [h for h in d.Detector().scan(header + rows) if h.kind == "portal_password"]
        assert len(hits) == 40
        assert {h.confidence for h in hits} == {conf}, header
