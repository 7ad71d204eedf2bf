"""The scanner's per-finding shortcuts give what the plain code gives. Issue 4 (performance).

- ``Detector._label`` searches ``_LABEL_END`` from fewer starting points and caches by the text
  it reads: the same label as a search over the 64 characters before a value;
- the NIR, phone and e-mail detectors read the context window only where the confidence needs it:
  the same confidence as ``Detector._context`` followed by the original decision;
- past ``max_findings_per_kind`` a file's findings are counted without ``Finding`` objects: the
  same listed findings and counts as listing the first ones one by one.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecluse.scan import _detect as d
from ecluse.scan import _engine as e
from ecluse.scan._model import ScanLimits

# fmt: off
_PIECES = [
    '"', "'", "[", "<", ">", ":", "=", "|", ";", ",", "\t", " ", "  ", "-", "_", "9", "é", "Nir", "nir", "tel",
    "telephone", "mail", "facture", "siret", "ipp", "<nir>", '<tel type="m">', '"nir": "', '"tel":"', "nir=", "NIR : ",
    "ddn:", "x" * 40, "\n", "{", "}", "2", "a b", "N° sécu", "num_facture=", '"', "': '",
]
# fmt: on
_VALUE = "182106975956096"


def _reference_label(det: d.Detector, text: str, start: int, table: d.Table | None) -> str | None:
    """``Detector._label`` as it was: one search of the 64 characters before the value."""
    ls = text.rfind("\n", 0, start) + 1
    if table is not None or text.startswith(("INSERT INTO", "insert into"), ls):
        return det._label(text, start, table)
    k = start - 1
    lo = max(ls, start - 64)
    while k >= lo and (text[k].isspace() or text[k] in "\"'["):
        k -= 1
    if k < lo or text[k] not in ":=>":
        return None
    m = d._LABEL_END.search(text, lo, start)
    return None if m is None else d._norm_label(m.group(1) or m.group(2) or m.group(3) or "")


def _check_labels(prefix: str) -> None:
    det = d.Detector()
    text = prefix + _VALUE + "\n"
    start = len(prefix)
    d._LABELS.clear()
    first = det._label(text, start, None)
    assert first == _reference_label(det, text, start, None), prefix
    assert det._label(text, start, None) == first  # from the cache


def test_label_shortcut_equals_a_search_of_the_whole_window() -> None:
    rng = random.Random(4)
    for _ in range(3000):
        _check_labels("".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 14))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=4), max_size=16))
def test_label_shortcut_equals_a_search_of_the_whole_window_property(parts: list[str]) -> None:
    _check_labels("".join(parts))


def _reference_confidences(det: d.Detector, text: str, table: d.Table | None) -> list[tuple[int, str, float]]:
    """Phone and e-mail confidences by ``Detector._context`` and the original decision."""
    out = []
    for m in det._phone_matches(text):
        how, _ = det._context(text, m.start(), m.end(), "phone_fr", table, window=60)
        if how == "label":
            conf = 0.95
        elif how == "decoy":
            conf = 0.15
        elif text.startswith(("PID|", "NK1|"), det._line_start(text, m.start())):
            conf = 0.9
        elif how == "window":
            conf = 0.85
        else:
            conf = 0.7 if not m.group(0).isdigit() else 0.4
        out.append((m.start(), "phone_fr", conf))
    for m in d.EMAIL_RE.finditer(text):
        role = d._ROLE_RE.match(m.group(0).split("@", 1)[0].lower()) is not None
        how, _ = det._context(text, m.start(), m.end(), "email", table, window=60)
        conf = 0.3 if role or how == "decoy" else 0.9 if how in ("label", "window") else 0.75
        out.append((m.start(), "email", conf))
    return sorted(out)


# fmt: off
_ROW_PIECES = [
    "06 12 34 56 78", "0612345678", "+33 6 41 54 77 01", "jean.dupont@sante.fr", "contact@hopital.fr", "tel: ", "mail=",
    '"telephone": "', "facture ", "PID|1||", "NK1|", "\n", " ", ";", "|", "portable ", "x" * 70, "secretariat@chu.fr",
]
# fmt: on


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_ROW_PIECES), max_size=30), st.booleans())
def test_phone_and_email_confidence_equal_the_context_decision(parts: list[str], as_table: bool) -> None:
    text = "".join(parts)
    if as_table:
        text = "nom;telephone;email;facture\n" + text
    det = d.Detector()
    table = d.sniff_table(text)
    hits = det.scan(text, table=table, sniff=False, only=frozenset({"phone", "email"}))
    got = sorted((h.start, h.kind, h.confidence) for h in hits)
    assert got == _reference_confidences(det, text, table)


def _reference_emit(
    units: list[list[d.Hit]], cap: int
) -> tuple[list[tuple[int, str, float]], dict[tuple[str, float], int]]:
    """The first ``cap`` hits of each kind listed one by one, the others counted (across units)."""
    kept: dict[str, int] = {}
    listed: list[tuple[int, str, float]] = []
    omitted: dict[tuple[str, float], int] = {}
    for part in units:
        for h in sorted(part, key=lambda h: h.start):
            n = kept.get(h.kind, 0)
            kept[h.kind] = n + 1
            if cap and n >= cap:
                key = (h.kind, round(h.confidence, 3))
                omitted[key] = omitted.get(key, 0) + 1
            else:
                listed.append((h.start, h.kind, round(h.confidence, 3)))
    return sorted(listed), omitted


_HIT = st.tuples(st.integers(0, 400), st.sampled_from(["nir", "ins", "email"]), st.sampled_from([0.2, 0.9, 0.8000001]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_HIT, max_size=60), st.integers(0, 6), st.integers(1, 3))
def test_counting_past_the_cap_equals_listing_one_by_one(
    raw: list[tuple[int, str, float]], cap: int, units: int
) -> None:
    text = ("x" * 40 + "\n") * 12  # lines of 41 characters: offsets come back from lines and columns
    hits = [d.Hit(s, s + 1, kind, conf, "*", "v") for s, kind, conf in raw]
    limits = ScanLimits(max_findings_per_kind=cap)
    sc = e._Scanner(min_confidence=0.0, limits=limits, extra_terms=(), fingerprint_key=None)
    # the same file in several units (chunks): the cap runs across them
    per_unit = [hits[i::units] for i in range(units)]
    for part in per_unit:
        sc._emit("f", None, text, list(part), 1)
    got = sorted(((f.line or 0) * 41 + (f.column or 0) - 42, f.kind, f.confidence) for f in sc.report.findings)
    flat = {(k, c): n for k, by in sc.report.omitted.get("f", {}).items() for c, n in by.items()}
    assert (got, flat) == _reference_emit(per_unit, cap)


# --------------------------------------------------------------------- SQL tokens (char loop)
def _reference_sql_tokens(text: str, pos: int, end: int) -> tuple[list[int], list[int], str]:
    """``_sql_line_index``'s tokens as they were found: ``_SQL_TOKEN.finditer``, a match per token."""
    positions: list[int] = []
    after: list[int] = []
    chars: list[str] = []
    idx = 0
    for t in d._SQL_TOKEN.finditer(text, pos, end):
        c = t.group()
        if c == ",":
            idx += 1
        elif c == "(":
            idx = 0
        elif c != ")":
            continue
        positions.append(t.start())
        after.append(idx)
        chars.append(c)
    return positions, after, "".join(chars)


_SQL_PIECES = ["'", "''", ",", "(", ")", " ", "'a,b'", "x", "é", "\n", "NULL", "'it''s'", "1", "2A", "\u4e00", "'("]


def _check_sql_tokens(text: str, pos: int, end: int) -> None:
    pos, end = min(pos, len(text)), min(end, len(text))
    end = max(pos, end)
    assert d._sql_tokens(text, pos, end) == _reference_sql_tokens(text, pos, end), (text, pos, end)


def test_sql_tokens_equal_the_regex_tokens() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(_SQL_PIECES) for _ in range(rng.randint(0, 30)))
        _check_sql_tokens(text, rng.randint(0, 5), rng.randint(0, len(text) + 2))
        _check_sql_tokens(text, 0, len(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_SQL_PIECES) | st.text(max_size=3), max_size=20), st.integers(0, 8), st.integers(0, 90))
def test_sql_tokens_equal_the_regex_tokens_property(parts: list[str], pos: int, end: int) -> None:
    _check_sql_tokens("".join(parts), pos, end)


# ------------------------------------------------------------- Finding built field by field
_FIELDS = st.tuples(
    st.text(max_size=8),
    st.sampled_from(["nir", "email", "phone_fr"]),
    st.floats(0, 1),
    st.text(max_size=8),
    st.none() | st.integers(1, 10**6),
    st.none() | st.integers(1, 10**4),
    st.none() | st.text(max_size=8),
    st.text(max_size=4),
    st.text(max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(_FIELDS)
def test_finding_shortcut_equals_the_dataclass(fields: tuple[object, ...]) -> None:
    import dataclasses
    import pickle

    from ecluse.scan._model import Finding

    fast = e._finding(*fields)  # type: ignore[arg-type]
    plain = Finding(*fields)  # type: ignore[arg-type]
    assert type(fast) is Finding
    for f in dataclasses.fields(Finding):
        a, b = getattr(fast, f.name), getattr(plain, f.name)
        assert type(a) is type(b) and a == b, f.name
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    assert pickle.loads(pickle.dumps(fast)) == plain


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("aZé_-É ÿß\n0µ¼½¾İ\u212a’œŒ")), max_size=60),
    st.integers(-10, 70),
    st.integers(-10, 70),
)
def test_keyword_windows_are_normalised_as_before(text: str, a: int, b: int) -> None:
    """``Detector._normed`` (a slice of the text normalised once) gives ``_norm_label`` of the slice."""
    det = d.Detector()
    det.scan(text)
    assert det._normed(text, a, b) == d._norm_label(text[max(0, a) : b])
