"""Streaming writers: ``write_chunks`` yields the bytes of ``write`` in chunks, consuming the records
lazily, with file headers and trailers once, whatever the chunk boundaries."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from ecluse.errors import FormatError
from ecluse.formats._common import CHUNK_SIZE, Chunker, Record
from ecluse.formats.codec import CODECS, Codec
from ecluse.formats.csvfile import CsvCodec
from ecluse.formats.hl7v25 import Hl7Codec
from ecluse.formats.hprim_net import HprimNetCodec
from ecluse.formats.hprim_sante import HprimSanteCodec
from ecluse.formats.records import Patient, Request, Result

from .strategies import CSV, HL7, HPRIM_NET, HPRIM_SANTE, groups


def _now() -> object:
    from datetime import UTC, datetime

    return datetime(2024, 1, 15, 8, 15, tzinfo=UTC)


FACTORIES: dict[str, Callable[[], Codec]] = {
    "hl7v25": lambda: Hl7Codec(now=_now),  # type: ignore[arg-type]
    "hl7v25-mllp": lambda: Hl7Codec(mllp=True, now=_now),  # type: ignore[arg-type]
    "hprim-sante": lambda: HprimSanteCodec(now=_now),  # type: ignore[arg-type]
    "hprim-sante-wrap": lambda: HprimSanteCodec(now=_now, wrap=40),  # type: ignore[arg-type]
    "csv": CsvCodec,
    "hprim-net": HprimNetCodec,
}


def _patient_records(k: int) -> list[Record]:
    pid = f"P{k}"
    out: list[Record] = [Patient(id=pid, birth_name="DUPONT", given_names="Marie Anne", sex="F",
                                 birth_date="1980-02-29", city="Lyon", postcode="69001")]
    for r in range(2):
        rid = f"{pid}-R{r}"
        out.append(Request(id=rid, patient_id=pid, collected_at="2024-01-15T08:15:00+01:00", status="final",
                           comment="à jeun" if r else None))
        for s in range(3):
            out.append(Result(id=f"{rid}-{s}", request_id=rid, patient_id=pid, loinc="718-7",
                              label="Hémoglobine", value=f"{12 + s}.5", unit="g/dL", ref_low="12.0",
                              ref_high="16.0", flag="N", status="F",
                              observed_at="2024-01-15T10:00:00+01:00"))
    return out


def _stream(patients: int, seen: list[int]) -> Iterator[Record]:
    """Records of ``patients`` patients, counting in ``seen[0]`` how many were consumed."""
    for k in range(patients):
        for rec in _patient_records(k):
            seen[0] += 1
            yield rec


def _in_small_chunks(codec: Codec, records: list[Record], lines: int = 1) -> list[bytes]:
    """``codec.write_chunks(records)`` with every chunk forced to ``lines`` pending lines (1: a chunk
    after each patient)."""
    take = Chunker.take

    def init(self: Chunker) -> None:
        self.lines = lines

    def fixed_take(self: Chunker, pending: list[str], end: str = "") -> str:
        text = take(self, pending, end)
        self.lines = lines
        return text

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Chunker, "__init__", init)
        mp.setattr(Chunker, "take", fixed_take)
        return list(codec.write_chunks(records))


def test_every_registered_codec_streams() -> None:
    for factory in CODECS.values():
        codec = factory()
        assert callable(codec.write_chunks)
        assert isinstance(codec, Codec)


@pytest.mark.parametrize("name", FACTORIES)
def test_joined_chunks_are_what_write_gives(name: str) -> None:
    records = [rec for k in range(3000) for rec in _patient_records(k)]
    codec = FACTORIES[name]()
    chunks = list(codec.write_chunks(records))
    assert len(chunks) > 2
    assert b"".join(chunks) == codec.write(records)
    # sizes stay near the target (the last one may be short)
    assert all(CHUNK_SIZE // 4 <= len(c) <= CHUNK_SIZE * 4 for c in chunks[1:-1])


@pytest.mark.parametrize("name", FACTORIES)
def test_chunk_boundaries_do_not_change_the_file(name: str) -> None:
    records = [rec for k in range(40) for rec in _patient_records(k)]
    whole = FACTORIES[name]().write(records)
    chunks = _in_small_chunks(FACTORIES[name](), records)
    assert len(chunks) >= 40
    assert b"".join(chunks) == whole


@pytest.mark.parametrize("name", FACTORIES)
def test_empty_stream_gives_the_same_file(name: str) -> None:
    codec = FACTORIES[name]()
    assert b"".join(codec.write_chunks(iter([]))) == codec.write([])


@pytest.mark.parametrize("name", FACTORIES)
def test_writer_yields_before_the_input_is_exhausted(name: str) -> None:
    total = 3000 * len(_patient_records(0))
    seen = [0]
    gen = FACTORIES[name]().write_chunks(_stream(3000, seen))
    first = next(gen)
    assert first
    assert 0 < seen[0] < total // 2
    rest = b"".join(gen)
    assert seen[0] == total
    assert first + rest == FACTORIES[name]().write(_stream(3000, [0]))


@pytest.mark.parametrize("name", FACTORIES)
def test_error_mid_stream_is_a_format_error(name: str) -> None:
    def bad() -> Iterator[Record]:
        yield from _stream(3000, [0])
        yield Result(id="S", request_id="nowhere", patient_id="P0")

    gen = FACTORIES[name]().write_chunks(bad())
    assert next(gen)
    with pytest.raises(FormatError) as info:
        for _ in gen:
            pass
    assert "nowhere" not in str(info.value)


@pytest.mark.parametrize(("name", "codec"), [
    ("hl7v25", Hl7Codec(now=_now)),  # type: ignore[arg-type]
    ("hprim-sante", HprimSanteCodec(now=_now)),  # type: ignore[arg-type]
    ("csv", CsvCodec()),
])
def test_encoding_error_mid_stream_is_a_format_error(name: str, codec: Codec) -> None:
    def bad() -> Iterator[Record]:
        yield from _stream(3000, [0])
        yield Patient(id="P\ud800" if name != "csv" else "P\x00")

    gen = codec.write_chunks(bad())
    assert next(gen)
    with pytest.raises(FormatError):
        for _ in gen:
            pass


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.too_slow])


@_SETTINGS
@given(groups(HPRIM_SANTE))
def test_hprim_sante_chunks_on_any_records(records: list[Record]) -> None:
    whole = HprimSanteCodec(now=_now, wrap=30).write(records)  # type: ignore[arg-type]
    assert b"".join(_in_small_chunks(HprimSanteCodec(now=_now, wrap=30), records)) == whole  # type: ignore[arg-type]


@_SETTINGS
@given(groups(HL7))
def test_hl7_chunks_on_any_records(records: list[Record]) -> None:
    whole = Hl7Codec(now=_now).write(records)  # type: ignore[arg-type]
    assert b"".join(_in_small_chunks(Hl7Codec(now=_now), records)) == whole  # type: ignore[arg-type]


@_SETTINGS
@given(groups(CSV))
def test_csv_chunks_on_any_records(records: list[Record]) -> None:
    whole = CsvCodec().write(records)
    assert b"".join(_in_small_chunks(CsvCodec(), records)) == whole


@_SETTINGS
@given(groups(HPRIM_NET))
def test_hprim_net_chunks_on_any_records(records: list[Record]) -> None:
    whole = HprimNetCodec().write(records)
    assert b"".join(_in_small_chunks(HprimNetCodec(), records)) == whole
