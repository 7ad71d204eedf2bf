"""Recognise what a byte stream is, and turn containers into text.

Nothing here decides what is sensitive: it says "this is age-encrypted", "this zip member is a
bomb", "this is the text of sheet 2". Nothing is written to disk: archives, SQLite databases and
office files found inside archives are opened from memory.
"""

from __future__ import annotations

import html
import io
import math
import re
import sqlite3
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from typing import BinaryIO

import cython

__all__ = [
    "BombError",
    "Chain",
    "CountingReader",
    "GuardedReader",
    "Peekable",
    "entropy",
    "line_feeds",
    "office_texts",
    "pdf_texts",
    "protected_reason",
    "sniff",
    "sqlite_texts",
]

MAGIC_AGE = b"age-encryption.org/v1\n"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def line_feeds(
    data: bytes, start: cython.Py_ssize_t = 0, end: cython.Py_ssize_t = sys.maxsize
) -> cython.Py_ssize_t:
    """``data.count(b"\\n", start, end)``. Compiled, a loop that the C
    compiler vectorises: about 7.9 GB/s here, against 2.9 for ``bytes.count``, which goes a byte
    at a time. Counting the lines before each finding, and those of a stream's chunks, was 10 % of
    the CPU time of a plain log's scan."""
    n: cython.Py_ssize_t = len(data)
    if not cython.compiled:
        return data.count(b"\n", start, end)
    chars: cython.p_uchar = data
    total: cython.Py_ssize_t = 0
    i: cython.Py_ssize_t
    # slice semantics, as ``bytes.count``: negative from the end, clipped to the data
    if start < 0:
        start = max(0, n + start)
    if end < 0:
        end = max(0, n + end)
    end = min(end, n)
    for i in range(start, end):
        total += chars[i] == 10
    return total


class BombError(Exception):
    """A decompressed stream went past its ratio or size limit."""


class Peekable:
    """A read-only stream whose first bytes can be looked at before it is consumed."""

    def __init__(self, raw: BinaryIO | GuardedReader, head_size: int = 65536) -> None:
        self._raw = raw
        self.head = raw.read(head_size)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if self._pos < len(self.head):
            if n < 0:
                out = self.head[self._pos :] + self._raw.read()
                self._pos = len(self.head)
                return out
            out = self.head[self._pos : self._pos + n]
            self._pos += len(out)
            if len(out) < n:
                out += self._raw.read(n - len(out))
            return out
        return self._raw.read(n)


class Chain:
    """Bytes already read, then the rest of the stream they came from."""

    def __init__(self, first: bytes, rest: BinaryIO | Peekable | GuardedReader) -> None:
        self._first = first
        self._pos = 0
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._pos >= len(self._first):
            return self._rest.read(n)
        if n < 0:
            out = self._first[self._pos :] + self._rest.read()
            self._pos = len(self._first)
            return out
        out = self._first[self._pos : self._pos + n]
        self._pos += len(out)
        if len(out) < n:
            out += self._rest.read(n - len(out))
        return out


class CountingReader:
    """Counts the compressed bytes a decompressor pulls."""

    def __init__(self, raw: BinaryIO | Peekable) -> None:
        self._raw = raw
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.count += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class Budget:
    """Decompressed bytes left for one top-level file."""

    def __init__(self, total: int) -> None:
        self.left = total


class GuardedReader:
    """Reads a decompressed stream and raises :class:`BombError` past the ratio or the budget."""

    def __init__(self, stream: BinaryIO, counter: CountingReader, max_ratio: float, budget: Budget) -> None:
        self._stream = stream
        self._counter = counter
        self._ratio = max_ratio
        self._budget = budget
        self.out = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n if n >= 0 else 1 << 20)
        if n < 0:
            parts = [data]
            while data:
                self._check(len(data))
                data = self._stream.read(1 << 20)
                parts.append(data)
            return b"".join(parts)
        self._check(len(data))
        return data

    def _check(self, added: int) -> None:
        self.out += added
        self._budget.left -= added
        if self._budget.left < 0:
            raise BombError("decompressed size limit reached")
        if self.out > (1 << 20) and self.out > self._ratio * max(self._counter.count, 1):
            raise BombError("compression ratio above the limit")


def entropy(data: bytes) -> float:
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def protected_reason(head: bytes) -> str | None:
    """Why this content cannot be read in clear, or ``None`` if it can."""
    if head.startswith(MAGIC_AGE):
        return "age-encrypted"
    if head.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"):
        return "age-encrypted (armored)"
    if head.startswith(b"-----BEGIN PGP MESSAGE-----"):
        return "OpenPGP-encrypted"
    if head.startswith(b"LUKS\xba\xbe"):
        return "LUKS volume"
    if head.startswith(_OLE) and "EncryptedPackage".encode("utf-16-le") in head:
        return "encrypted office document"
    if head.startswith(b"ECLUSE"):
        return "Écluse package"
    return None


# Machine code (ELF, Mach-O, Java class) holds no records; images hold pixels, and their text
# metadata (EXIF, PNG text chunks) sits in the first kilobytes. DICOM is not in this list: it is read.
_EXECUTABLE = (
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
_IMAGE = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")


def sniff(head: bytes) -> str:
    """One word for the container kind of a stream, from its first bytes."""
    if protected_reason(head):
        return "protected"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and len(head) > 4 and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith((b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"\x28\xb5\x2f\xfd")):
        return "unsupported"
    if head.startswith(_OLE):
        return "ole"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf16"
    if head.startswith(_EXECUTABLE) or (head.startswith(b"MZ") and b"\x00" in head[:64]):
        return "executable"
    if head.startswith(_IMAGE) or (head.startswith(b"RIFF") and head[8:12] == b"WEBP"):
        return "image"
    sample = head[:8192]
    if b"\x00" in sample:
        return "binary"
    return "text"


# ------------------------------------------------------------------------------------ office files
_TAG = re.compile(r"<[^>]{0,4096}>")
_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.DOTALL)
_ROW = re.compile(r"<row\b([^>]*)>(.*?)</row>", re.DOTALL)
_ATTR_R = re.compile(r'\br="([A-Z]+)(\d+)"')
_ATTR_T = re.compile(r'\bt="(\w+)"')
_V = re.compile(r"<v>(.*?)</v>", re.DOTALL)
_SI = re.compile(r"<si>(.*?)</si>", re.DOTALL)


def _xml_text(xml: str, para_end: str) -> str:
    xml = xml.replace(para_end, "\n").replace("<w:tab/>", "\t").replace("<w:br/>", "\n")
    return html.unescape(_TAG.sub("", xml))


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _xlsx_sheet(xml: str, shared: list[str]) -> str:
    lines: list[str] = []
    for row in _ROW.finditer(xml):
        cells: list[str] = []
        for c in _CELL.finditer(row.group(2)):
            attrs, inner = c.group(1), c.group(2) or ""
            r = _ATTR_R.search(attrs)
            t = _ATTR_T.search(attrs)
            v = _V.search(inner)
            if t and t.group(1) == "s" and v:
                idx = int(v.group(1))
                value = shared[idx] if 0 <= idx < len(shared) else ""
            elif t and t.group(1) == "inlineStr":
                value = html.unescape(_TAG.sub("", inner))
            else:
                value = html.unescape(v.group(1)) if v else ""
            col = _col_index(r.group(1)) if r else len(cells)
            while len(cells) < col:
                cells.append("")
            cells.append(value.replace("\t", " ").replace("\n", " "))
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def office_texts(zf: zipfile.ZipFile, max_bytes: int) -> Iterator[tuple[str, str]]:
    """``(part name, text)`` for each text part of an OOXML or OpenDocument file."""
    names = zf.namelist()

    def read(name: str) -> str:
        info = zf.getinfo(name)
        if info.file_size > max_bytes:
            raise BombError("office part larger than the member limit")
        return zf.read(name).decode("utf-8", errors="replace")

    if "xl/workbook.xml" in names:
        shared = (
            [html.unescape(_TAG.sub("", s)) for s in _SI.findall(read("xl/sharedStrings.xml"))]
            if ("xl/sharedStrings.xml" in names)
            else []
        )
        for name in sorted(n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")):
            yield name, _xlsx_sheet(read(name), shared)
        return
    if "content.xml" in names:
        xml = read("content.xml").replace("</table:table-cell>", "\t").replace("</table:table-row>", "\n")
        yield "content.xml", _xml_text(xml, "</text:p>")
        return
    for name in names:
        if (name.startswith("word/") and name.endswith(".xml") and "/_rels/" not in name) or (
            name.startswith("ppt/slides/") and name.endswith(".xml")
        ):
            yield name, _xml_text(read(name), "</w:p>" if name.startswith("word/") else "</a:p>")


def is_office(zf: zipfile.ZipFile) -> bool:
    names = set(zf.namelist())
    return "[Content_Types].xml" in names or ("mimetype" in names and "content.xml" in names)


# ------------------------------------------------------------------------------------ SQLite
def sqlite_texts(con: sqlite3.Connection, batch: int = 20000) -> Iterator[tuple[str, int, str]]:
    """``(table, first line number, tab-separated text with a header row)`` per batch of rows.

    Cells are formatted by :func:`_cell`. Fast path, with the same result: a row is joined with
    ``str`` in C, and re-done cell by cell if it holds a NULL or a blob (``b'`` in its line); a
    batch whose tab and line-feed counts show a value holding one (or a CR) is re-done whole.
    """
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({quoted})")]
        header = "\t".join(str(c) for c in cols)
        tabs = header.count("\t")
        cur = con.execute(f"SELECT * FROM {quoted}")
        line = 1
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                break
            out = [header]
            for row in rows:
                text = "\t".join(map(str, row))
                if None in row or "b'" in text or 'b"' in text:
                    text = "\t".join(map(_cell, row))
                out.append(text)
            body = "\n".join(out) + "\n"
            if body.count("\t") != tabs * len(out) or body.count("\n") != len(out) or "\r" in body:
                body = "\n".join([header] + ["\t".join(map(_cell, row)) for row in rows]) + "\n"
            # the header is repeated at the top of each batch: lines are counted from the table's header
            yield table, line, body
            line += len(rows)


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bytes):
        if v.startswith(MAGIC_AGE):
            return ""
        try:
            v = v.decode("utf-8")
        except UnicodeDecodeError:
            return ""
    return str(v).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def sqlite_from_bytes(data: bytes) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.deserialize(data)
    return con


# ------------------------------------------------------------------------------------ PDF
def pdf_texts(stream: BinaryIO) -> Iterator[tuple[int, str]] | str:
    """``(page number, text)`` per page, or a protection reason, or raises ImportError without pypdf."""
    from pypdf import PdfReader

    reader = PdfReader(stream)
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                return "encrypted PDF"
        except Exception:
            return "encrypted PDF"

    def pages() -> Iterator[tuple[int, str]]:
        for i, page in enumerate(reader.pages, start=1):
            yield i, page.extract_text() or ""

    return pages()


def utf16_text(data: bytes) -> str:
    return data.decode("utf-16", errors="replace")


def decode_chunk(data: bytes) -> str:
    """UTF-8 when it is valid, else Windows-1252, else Latin-1 (which never fails)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def as_bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
