"""Line starts are searched back only to the previous position, with the same result. Issue 4.

HL7 messages often separate segments with ``\\r`` only: a 3 MB export was one "line", and each
hit's line start (its label, the ``PID|`` test, its column in the report) searched back to the
start of the text. ``Detector._line_start`` and ``_Scanner._emit`` now search back only to the
previous position when asked in text order; these tests compare them with the plain search.
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
    "PID|1||", "123456^^^LABO~", "182106975956096", "^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS", "\r", "\n",
    "\r\n", "|", "^PRN^PH^^^^^^^^^0612345678", "NK1|1|", "OBX|1|CE|56888-1^VIH 1+2^LN||NEG", "tel: 06 12 34 56 78",
    "nir=282052A01503847", " ", "x" * 30, "y" * 300, "OBR|1|", "mail=jean.dupont@sante.fr", "P|1|", "21198-7", "é",
]
# fmt: on


def _plain_line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


_LINE_PIECES = st.sampled_from(["a", "\n", "\r", "b" * 100, "c" * 300, "\r" * 257])


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE_PIECES, max_size=20), st.lists(_LINE_PIECES, max_size=8), st.lists(st.integers(0, 6000)))
def test_line_start_equals_the_plain_search(first: list[str], second: list[str], positions: list[int]) -> None:
    det = d.Detector()
    texts = ["".join(first), "".join(second)]
    for i, p in enumerate(positions):  # any order, alternating between two texts
        text = texts[i % 2]
        pos = min(p, len(text))
        assert det._line_start(text, pos) == _plain_line_start(text, pos)


def test_line_start_in_order_and_back_over_long_lines() -> None:
    text = "c" * 300 + "\n" + "c" * 600 + "\r" * 300 + "\n" + "c" * 400
    det = d.Detector()
    for order in (range(len(text) + 1), range(len(text), -1, -1), range(0, len(text) + 1, 299)):
        for pos in order:
            assert det._line_start(text, pos) == _plain_line_start(text, pos), pos


def _scan_both(text: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    def key(hits: list[d.Hit]) -> list[tuple[object, ...]]:
        return sorted((h.start, h.end, h.kind, h.confidence, h.excerpt, h.value, h.detail) for h in hits)

    table = d.sniff_table(text)
    fast = key(d.Detector().scan(text, table=table, sniff=False))
    plain = d.Detector()
    plain._line_start = lambda t, p: _plain_line_start(t, p)  # type: ignore[method-assign]
    return fast, key(plain.scan(text, table=table, sniff=False))


def test_hits_equal_the_plain_line_search_on_seeded_texts() -> None:
    rng = random.Random(4)
    for _ in range(400):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40)))
        fast, plain = _scan_both(text)
        assert fast == plain, text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=40))
def test_hits_equal_the_plain_line_search(parts: list[str]) -> None:
    fast, plain = _scan_both("".join(parts))
    assert fast == plain


def _plain_positions(text: str, starts: list[int]) -> list[tuple[int, int]]:
    return sorted((text.count("\n", 0, s) + 1, s - _plain_line_start(text, s) + 1) for s in starts)


@settings(max_examples=200, deadline=None)
@given(st.lists(_LINE_PIECES, min_size=1, max_size=20), st.lists(st.integers(0, 6000), max_size=30), st.booleans())
def test_finding_lines_and_columns_equal_the_plain_search(parts: list[str], raw: list[int], as_bytes: bool) -> None:
    text = "".join(parts)
    starts = [s % len(text) for s in raw]
    limits = ScanLimits(max_findings_per_kind=0)
    sc = e._Scanner(min_confidence=0.0, limits=limits, extra_terms=(), fingerprint_key=None)
    hits = [d.Hit(s, s + 1, "nir", 0.9, "*", "v") for s in starts]
    sc._emit("f", None, text.encode("latin-1") if as_bytes else text, hits, 1)
    got = sorted((f.line or 0, f.column or 0) for f in sc.report.findings)
    assert got == _plain_positions(text, starts)


def test_an_hl7_export_without_line_feeds_gives_the_same_findings() -> None:
    rng = random.Random(7)
    msg = "\r".join(
        [
            "MSH|^~\\&|SIL|LABO|DPI|HOPITAL|20240823143225||ORU^R01^ORU_R01|938685422|P|2.5",
            "PID|1||123^^^LABO&1.2.250.1.999&ISO^PI~{nir}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||"
            "DUPONT^JEAN^^^^^L||19821006|M|||1 rue de la Paix^^Paris^^75001^FRA^H||^PRN^PH^^^^^^^^^0612345678",
            "OBX|1|CE|56888-1^VIH 1+2 Ac+Ag p24^LN||NEG^Négatif^L||||||F",
        ]
    )
    nirs = ["182106975956096", "282052A01503847", "182106975956097"]
    text = "\r".join(msg.format(nir=rng.choice(nirs)) for _ in range(300)) + "\r"
    fast, plain = _scan_both(text)
    assert fast == plain
    assert len(fast) > 1000
