"""Parsers fed arbitrary bytes raise only FormatError, and never echo a value."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecluse.errors import FormatError
from ecluse.formats.codec import CODECS, get_codec

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
SEEDS = [p.read_bytes() for p in sorted(SAMPLES.glob("*.h*"))] if SAMPLES.is_dir() else []
SEEDS.append(b"patient.id,patient.nir\r\nP1,123\r\n")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed file with a few bytes replaced, inserted or deleted."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        b = draw(st.sampled_from([*b"|^~\\&\r\n\x0b\x1c*ABHPLOCX019 ", draw(st.integers(0, 255))]))
        if op == "insert" or i == len(data):
            data[i:i] = bytes([b])
        elif op == "set":
            data[i] = b
        else:
            del data[i]
    return bytes(data)


@pytest.mark.parametrize("name", list(CODECS))
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400) | mutated())
def test_parsers_raise_only_format_error(name: str, data: bytes) -> None:
    codec = get_codec(name)
    try:
        for _ in codec.read(data, filename="input"):
            pass
    except FormatError as exc:
        assert exc.file == "input"


def test_error_names_where_not_what() -> None:
    data = b"H|~^\\&|X\r\nP|1|SECRETID|||NAME\r\nOBR|1||~R1||||notadate\r\nL|1\r\n"
    with pytest.raises(FormatError) as info:
        list(get_codec("hprim-sante").read(data, filename="f.hpr"))
    msg = str(info.value)
    assert "notadate" not in msg and "SECRETID" not in msg
    assert (info.value.line, info.value.record, info.value.field) == (3, "OBR", "OBR.8")
