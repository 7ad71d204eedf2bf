"""The fast paths added for speed give what the general paths give."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecluse.errors import FormatError
from ecluse.formats import _common
from ecluse.formats.csvfile import DEFAULT_MAPPING, CsvCodec
from ecluse.formats.records import Patient

_TS_CHARS = st.sampled_from("0123456789+-:T.٣")


def _regex_ts_to_iso(value: str) -> str | None:
    m = _common._TS_RE.fullmatch(value)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
    out = y + (f"-{mo}" if mo else "") + (f"-{d}" if d else "") + (f"T{h}" if h else "") \
        + (f":{mi}" if mi else "") + (f":{s}{frac or ''}" if s else "")
    return out + (f"{sign}{oh}:{om}" if sign else "")


def _ts_or_none(value: str) -> str | None:
    """``ts_to_iso(value)``, or ``None`` where it refuses the value."""
    try:
        return _common.ts_to_iso(value)
    except FormatError:
        return None


# the two fast paths: the full form YYYYMMDDHHMMSS+ZZZZ (19 characters) and a date (8)
@given(st.text(_TS_CHARS, min_size=19, max_size=19) | st.just("20240115081500+0100")
       | st.text(_TS_CHARS, min_size=8, max_size=8) | st.just("20240115"))
def test_ts_to_iso_fast_paths_match_the_pattern(value: str) -> None:
    assert _ts_or_none(value) == _regex_ts_to_iso(value)


# the two fast paths: a date (10 characters) and the full form YYYY-MM-DDTHH:MM:SS+HH:MM (25)
@given(st.text(_TS_CHARS, min_size=10, max_size=10) | st.just("2024-01-15")
       | st.text(_TS_CHARS, min_size=25, max_size=25) | st.just("2024-01-15T08:15:00+01:00"))
def test_iso_to_ts_fast_paths_match_the_pattern(value: str) -> None:
    m = _common._ISO_RE.fullmatch(value)
    if m is None:
        with pytest.raises(FormatError):
            _common.iso_to_ts(value, record="r", field="f")
    else:
        y, mo, d, h, mi, s, frac, sign, oh, om = m.groups()
        want = "".join(x or "" for x in (y, mo, d, h, mi, s, frac)) + (sign + oh + om if sign else "")
        assert _common.iso_to_ts(value, record="r", field="f") == want


def test_memo_tables_keep_working_past_their_limit() -> None:
    ts = _common.ts_reader("f")
    for day in range(1, 29):
        for minute in range(0, 60 * 24 * 2, 3):
            ts(f"202401{day:02d}{minute // 60 % 24:02d}{minute % 60:02d}", 1, "OBX", "OBX-14")
    assert ts("", 1, "OBX", "OBX-14") is None
    with pytest.raises(FormatError):
        ts("2024-01-15", 1, "OBX", "OBX-14")


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
                min_size=2, max_size=2))
def test_csv_rows_are_what_the_csv_module_writes(cells: list[str]) -> None:
    # patient.id and patient.nir: the row joined by the codec, or the csv module when a cell needs quotes
    p = Patient(id=cells[0] or "x", nir=cells[1] or None)
    data = CsvCodec().write([p])
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c for c, _ in DEFAULT_MAPPING.columns])
    row = [""] * len(DEFAULT_MAPPING.columns)
    row[0], row[1] = p.id, p.nir or ""
    w.writerow(row)
    assert data == buf.getvalue().encode("utf-8")


@given(st.text(st.sampled_from("ab\r\n\x85\x1c")))
def test_split_lines_splits_on_cr_lf_crlf_only(text: str) -> None:
    assert _common.split_lines(text) == text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


@given(st.lists(st.sampled_from(['a', 'b', ';', '"', '""', '\n', '\r\n', 'é', ' ', '1']), max_size=40).map("".join))
@settings(max_examples=400, deadline=None)
def test_csv_lines_cut_one_at_a_time_read_as_the_buffered_text(text: str) -> None:
    """The CSV reader feeds the csv module lines cut from the text (no 4-bytes-per-character copy):
    rows, line numbers and errors are those of reading the same text through io.StringIO."""
    from ecluse.formats.csvfile import _lines_keepends

    def read(source: Iterable[str]) -> list[object]:
        out: list[object] = []
        reader = csv.reader(source, delimiter=";", strict=True)
        try:
            for row in reader:
                out.append((reader.line_num, row))
        except csv.Error as exc:
            out.append(("error", str(exc), reader.line_num))
        return out

    assert read(_lines_keepends(text)) == read(io.StringIO(text, newline=""))


_SAMPLES = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "samples"


def _other_delimiters(data: bytes, swap: tuple[bytes, bytes]) -> bytes:
    """The same lab file with delimiters swapped for characters the sample does not hold."""
    assert not any(c in data for c in swap[1])
    return data.translate(bytes.maketrans(*swap))


@pytest.mark.parametrize("swap", [
    (b"|~^\\&", b"!@*;?"),  # every delimiter: no line starts with "OBX|"
    (b"~^", b"@*"),  # the field separator kept: lines start with "OBX|" and the fast path must not be taken
])
def test_hprim_sante_batches_with_other_delimiters_read_the_same(swap: tuple[bytes, bytes]) -> None:
    # logical_records sets the delimiters of each H record before groups() sees it: a batch with
    # other delimiters after a standard one (and a standard one after it) must read the same records
    from ecluse.formats.hprim_sante import HprimSanteCodec

    codec = HprimSanteCodec()
    std = (_SAMPLES / "hprim_sante_h22_oru_synthetic.hpr").read_bytes()
    other = _other_delimiters(std, swap)
    once = list(codec.read(std, filename="x"))
    assert len(once) > 3
    assert list(codec.read(other, filename="x")) == once
    assert list(codec.read(std + other + std, filename="x")) == once * 3


_DAYS = st.sampled_from(["20240115", "19991231", "2024011x", "20241301", "٢٠٢٤0115"])
_CLOCKS = st.sampled_from(["081500+0100", "235959-0330", "081500 0100", "0815000+010", "081500+01٠0"])


@given(st.lists(st.tuples(_DAYS, _CLOCKS), min_size=1, max_size=12))
def test_ts_reader_halves_memo_matches_ts_to_iso(values: list[tuple[str, str]]) -> None:
    # the reader remembers the date and the time of day of full-form values separately: any mix of
    # remembered halves must convert (or fail) as ts_to_iso does on the whole value
    ts = _common.ts_reader("x")
    for day, clock in values:
        value = day + clock
        expected = _ts_or_none(value)
        try:
            got = ts(value, 1, "OBX", "OBX-14")
        except FormatError:
            got = None
        assert got == expected, value


_ISO_DAYS = st.sampled_from(["2024-01-15", "1999-12-31", "2024-01-1x", "2024-13-01", "٢٠٢٤-01-15", "20240-1-15"])
_ISO_CLOCKS = st.sampled_from(["T08:15:00+01:00", "T23:59:59-03:30", "T08:15:00 01:00", "T08:15:000+1:00",
                               "T08:15:00+01:0٠", "x08:15:00+01:00"])


def _iso_to_ts_or_none(value: str) -> str | None:
    try:
        return _common.iso_to_ts(value, record="r", field="f")
    except FormatError:
        return None


@given(st.lists(st.tuples(_ISO_DAYS, _ISO_CLOCKS), min_size=1, max_size=12))
def test_ts_writer_halves_memo_matches_iso_to_ts(values: list[tuple[str, str]]) -> None:
    # the writer remembers the date and the time of day of full-form values separately: any mix of
    # remembered halves must convert (or fail) as iso_to_ts does on the whole value
    ts = _common.ts_writer()
    for day, clock in values:
        value = day + clock
        expected = _iso_to_ts_or_none(value)
        try:
            got: str | None = ts(value, "Result", "r1", "observed_at")
        except FormatError:
            got = None
        assert got == expected, value


@pytest.mark.parametrize("swap", [
    (b"|^~\\&", b"!@$;?"),  # every delimiter
    (b"^~", b"@$"),  # the field separator kept: segments still start with "OBX|"
])
def test_hl7_messages_with_other_delimiters_read_the_same(swap: tuple[bytes, bytes]) -> None:
    # each MSH sets the delimiters of its message: a message with other delimiters between standard
    # ones must read the same records, and the standard ones after it too
    from ecluse.formats.hl7v25 import Hl7Codec

    codec = Hl7Codec()
    std = (_SAMPLES / "hl7v25_oru_r01_fr_synthetic.hl7").read_bytes()
    other = _other_delimiters(std, swap)
    once = list(codec.read(std, filename="x"))
    alone = list(codec.read(other, filename="x"))
    assert len(once) > 3
    # the same records but for the escaped delimiters, which read as this message's delimiters
    assert [type(r) for r in alone] == [type(r) for r in once]
    assert [r.id for r in alone] == [r.id for r in once]
    sep = b"" if std.endswith(b"\r") else b"\r"
    both = list(codec.read(std + sep + other + sep + std, filename="x"))
    # the same patient in consecutive messages is one group: compare what is not a patient
    assert [r for r in both if not isinstance(r, Patient)] == [
        r for r in once + alone + once if not isinstance(r, Patient)
    ]
