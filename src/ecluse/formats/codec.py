"""The common interface of every lab-data format, and the explicit registry of codecs.

A codec reads bytes into records and writes records into bytes. Records always travel in
*grouped order*: a :class:`~ecluse.formats.records.Patient`, then each of its
:class:`~ecluse.formats.records.Request`\\ s followed by that request's
:class:`~ecluse.formats.records.Result`\\ s. Readers yield that order; writers require it.

Writers stream: :meth:`Codec.write_chunks` consumes the records lazily and yields the bytes of
one file in chunks of about :data:`CHUNK_SIZE` bytes (one patient is never split across two
chunks, so a chunk may be larger when one patient holds more), so a file of any size is written
with memory bounded by one chunk and one patient. :meth:`Codec.write` is the same bytes joined.

The registry is a plain dict: no plugin is loaded from entry points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Final, Protocol, runtime_checkable

from ecluse.errors import FormatError
from ecluse.formats._common import CHUNK_SIZE, Record

__all__ = ["CHUNK_SIZE", "CODECS", "Codec", "Record", "get_codec", "sniff_codec"]


@runtime_checkable
class Codec(Protocol):
    """A reader and writer of one format."""

    name: str

    def sniff(self, head: bytes) -> bool:
        """Whether ``head`` (the first bytes of a file) looks like this format."""
        ...

    def read(self, data: bytes, *, filename: str) -> Iterator[Record]:
        """Records of ``data`` in grouped order; raises only :class:`FormatError`."""
        ...

    def write(self, records: Iterable[Record]) -> bytes:
        """``records`` (grouped order) as the bytes of one file: ``b"".join(self.write_chunks(records))``."""
        ...

    def write_chunks(self, records: Iterable[Record]) -> Iterator[bytes]:
        """The bytes of :meth:`write`, in chunks, consuming ``records`` lazily.

        File-level headers and trailers appear once. An error in the data raises
        :class:`FormatError` when the generator reaches it: chunks already yielded are then the
        start of an incomplete file, which the caller discards (write to a temporary name).
        """
        ...


def _hprim_sante() -> Codec:
    from ecluse.formats.hprim_sante import HprimSanteCodec

    return HprimSanteCodec()


def _hprim_net() -> Codec:
    from ecluse.formats.hprim_net import HprimNetCodec

    return HprimNetCodec()


def _hl7() -> Codec:
    from ecluse.formats.hl7v25 import Hl7Codec

    return Hl7Codec()


def _csv() -> Codec:
    from ecluse.formats.csvfile import CsvCodec

    return CsvCodec()


#: Every format, by name, with a factory giving a codec with default options.
#: Sniffing tries them in this order (HPRIM Net last: it has the weakest signature).
CODECS: Final[dict[str, Callable[[], Codec]]] = {
    "hl7v25": _hl7,
    "hprim-sante": _hprim_sante,
    "csv": _csv,
    "hprim-net": _hprim_net,
}


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (one of :data:`CODECS`), with default options."""
    factory = CODECS.get(name)
    if factory is None:
        raise FormatError("unknown format", hint="formats are: " + ", ".join(CODECS))
    return factory()


def sniff_codec(head: bytes, *, filename: str | None = None) -> Codec:
    """The codec whose signature ``head`` shows."""
    for factory in CODECS.values():
        codec = factory()
        if codec.sniff(head):
            return codec
    raise FormatError("format not recognised", file=filename,
                      hint="name the format explicitly; formats are: " + ", ".join(CODECS))
