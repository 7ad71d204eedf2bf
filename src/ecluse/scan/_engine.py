"""Walk paths, open every kind of container, run the detectors, and build the report."""

from __future__ import annotations

import bz2
import contextlib
import ctypes
import functools
import gc
import gzip
import hashlib
import hmac
import logging
import lzma
import multiprocessing
import os
import platform
import re
import sqlite3
import stat
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO, cast

from ecluse.errors import ScanError
from ecluse.scan import _sources as src
from ecluse.scan._detect import Detector, Hit, Table, finish, order_and_cap, sniff_table, table_needs_whole_text
from ecluse.scan._model import Finding, ProtectedFile, ScanLimits, ScanReport, Skipped
from ecluse.scan._prefilter import Prefilter, latin1_view
from ecluse.scan._prefilter import available as prefilter_available

__all__ = ["iter_files", "scan_paths"]

log = logging.getLogger("ecluse.scan")

_LONE_CR = re.compile(r"\r(?!\n)")
_DECOMPRESSORS = ("gzip", "bzip2", "xz")
#: The detectors that read a table's birth-date, blood-group and password columns, whose values
#: have no cue of their own (``table_needs_whole_text``).
_COLUMN_GROUPS = frozenset({"birth", "blood", "password"})


_igzip: Any
try:  # ISA-L's inflate: the same gzip streams, about three times faster than zlib (decision 0004)
    from isal import igzip as _igzip
except ImportError:  # pragma: no cover - the wheel is a dependency; zlib is the fallback
    _igzip = None


def _decompressor(kind: str, raw: src.CountingReader) -> BinaryIO:
    fh: Any = raw
    if kind == "gzip":
        if _igzip is not None:
            return cast(BinaryIO, _igzip.IGzipFile(fileobj=fh, mode="rb"))
        return cast(BinaryIO, gzip.GzipFile(fileobj=fh, mode="rb"))
    if kind == "bzip2":
        return cast(BinaryIO, bz2.BZ2File(fh))
    return cast(BinaryIO, lzma.LZMAFile(fh))


#: Largest tar (after decompression) read into memory for random access; larger ones stream.
_TAR_IN_MEMORY = 64 << 20

_STRIP_SUFFIX = {"gzip": (".gz", ".tgz"), "bzip2": (".bz2", ".tbz2"), "xz": (".xz", ".txz")}


@functools.lru_cache(maxsize=4)
def _prefilter_for(terms: tuple[str, ...], cache_dir: Path | None = None) -> Prefilter | None:
    """One set of compiled databases per process and set of listed terms (compiling takes about
    0.7 s, loading them from ``cache_dir`` 0.1 ms; a process scans many tasks). ``None`` if they
    do not compile: every text is then read whole."""
    try:
        return Prefilter(terms, cache_dir=cache_dir)
    except Exception as exc:  # a term the engine refuses must not stop a scan; the terms are not logged
        log.warning("scanner prefilter unavailable (%s): texts are scanned whole", type(exc).__name__)
        return None


def _read_upto(stream: src.Peekable, size: int) -> bytes:
    """``stream.read(size)``, read in blocks of at most 8 MB and joined: one request for ``size``
    (64 MB for a tar) made the decompressor allocate that much, above the heap's threshold (see
    ``_reuse_large_blocks``): fresh pages for every tar. The same bytes."""
    parts: list[bytes] = []
    n = 0
    while n < size:
        piece = stream.read(min(_READ_BLOCK, size - n))
        if not piece:
            break
        parts.append(piece)
        n += len(piece)
    return parts[0] if len(parts) == 1 else b"".join(parts)


_READ_BLOCK = 8 << 20


_new_object = object.__new__
# Each field's own setter: the slot's member descriptor, called past the frozen dataclass's
# ``__setattr__`` as its ``__init__`` does with ``object.__setattr__``, without looking the
# name up in the class at each call (0.86 -> 0.53 us a finding, interpreted).
(_SET_FILE, _SET_KIND, _SET_CONFIDENCE, _SET_EXCERPT, _SET_LINE, _SET_COLUMN, _SET_MEMBER, _SET_DETAIL,
 _SET_FINGERPRINT) = (Finding.__dict__[name].__set__ for name in (
    "file", "kind", "confidence", "excerpt", "line", "column", "member", "detail", "fingerprint"))


def _finding(
    file: str,
    kind: str,
    confidence: float,
    excerpt: str,
    line: int | None,
    column: int | None,
    member: str | None,
    detail: str,
    fingerprint: str,
) -> Finding:
    """``Finding(file, kind, ...)``, its fields set here (compiled) rather than by the frozen
    dataclass's ``__init__`` (interpreted, about a third of :meth:`_Scanner._emit` on a patient
    export). ``Finding`` has no ``__post_init__``; ``test_finding_shortcut_equals_the_dataclass``
    checks that every field is set, as the constructor sets it."""
    f = _new_object(Finding)
    _SET_FILE(f, file)
    _SET_KIND(f, kind)
    _SET_CONFIDENCE(f, confidence)
    _SET_EXCERPT(f, excerpt)
    _SET_LINE(f, line)
    _SET_COLUMN(f, column)
    _SET_MEMBER(f, member)
    _SET_DETAIL(f, detail)
    _SET_FINGERPRINT(f, fingerprint)
    return f


class _Scanner:
    def __init__(
        self,
        *,
        min_confidence: float,
        limits: ScanLimits,
        extra_terms: Sequence[str],
        fingerprint_key: bytes | None,
        use_prefilter: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        self.min_confidence = min_confidence
        self.limits = limits
        self.detector = Detector(extra_terms)
        self.prefilter = (
            _prefilter_for(tuple(extra_terms), cache_dir) if use_prefilter and prefilter_available() else None
        )
        self.key = fingerprint_key
        self.report = ScanReport()
        self._kept: dict[str, dict[str, int]] = {}
        """Findings kept so far per file and kind (``ScanLimits.max_findings_per_kind``)."""
        self.rows: list[_Row] | None = None
        """If a list, the findings go there as tuples of their fields (``_Row``), not to the
        report: for a worker process, whose findings travel as tuples (:func:`_packed_worker`)."""

    # ------------------------------------------------------------------ output of one text unit
    def _emit(
        self, file: str, member: str | None, text: str | bytes, hits: list[Hit], line_base: int
    ) -> tuple[int, int]:
        """Findings from ``hits``; ``text`` (or its Latin-1 bytes: same offsets) gives lines and columns.

        Per file and kind, the first ``max_findings_per_kind`` hits (in text order) are listed;
        the rest are only counted by confidence, without a line, a column or a ``Finding``.
        Returns ``(n, pos)``: ``text`` holds ``n`` line feeds before ``pos`` (counted on the way),
        so that a stream need not count them again.
        """
        cap = self.limits.max_findings_per_kind if self.key is None else 0
        hits, omitted = order_and_cap(hits, self.min_confidence, self._kept.setdefault(file, {}) if cap else {}, cap)
        if not hits and not omitted:
            return 0, 0
        for kind, conf, k in omitted:
            self.report.omit(file, kind, conf, k)
        nl: Any = "\n" if isinstance(text, str) else b"\n"
        line, pos, ls = line_base, 0, 0
        findings = self.report.findings
        rows = self.rows
        for h in hits:
            line += text.count("\n", pos, h.start) if isinstance(text, str) else src.line_feeds(text, pos, h.start)
            # The line start, searched back only to the previous hit (hits are in text order): a
            # text without line feeds (HL7 with ``\r`` segments) no longer costs a pass per hit.
            k = text.rfind(nl, pos, h.start)
            if k >= 0:
                ls = k + 1
            pos = h.start
            col = h.start - ls + 1
            excerpt = finish(h)  # made here, for the listed hits only (then ``value`` is normalised)
            fp = ""
            if self.key is not None:
                msg = "\0".join((h.kind, file, member or "", h.value)).encode("utf-8", "surrogatepass")
                fp = hmac.new(self.key, msg, hashlib.sha256).hexdigest()[:32]
            row = (file, h.kind, round(h.confidence, 3), excerpt, line, col, member, h.detail, fp)
            if rows is not None:
                rows.append(row)
            else:
                findings.append(_finding(*row))
        return line - line_base, pos

    def _scan_text(
        self,
        file: str,
        member: str | None,
        text: str | None,
        line_base: int = 1,
        table: Table | None = None,
        sniff: bool = True,
        raw: bytes | None = None,
    ) -> tuple[int, int]:
        """Detect in one unit of text. ``raw``, if given, is its Latin-1 (here: ASCII) encoding, and
        ``text`` may then be ``None``: it is decoded only if a cue is found. Returns what
        :meth:`_emit` returns (``(0, 0)`` if nothing was emitted)."""
        if sniff:
            if text is None:
                text = (raw or b"").decode("latin-1")
            table = sniff_table(text)
        only: frozenset[str] | None = None
        tags: frozenset[str] | None = None
        if self.prefilter is not None:
            if raw is None and text is not None:
                raw = latin1_view(text)  # None: scanned whole, every detector
            if raw is not None:
                whole = table is not None and table_needs_whole_text(table)
                ex = None if whole else self.prefilter.excerpt(text, raw)
                if ex is not None:
                    if not ex.text:
                        return 0, 0
                    if table is not None and ex.origins[0] != 0:
                        table = Table(table.delim, table.header, 0)  # the excerpt starts past the header row
                    hits = self.detector.scan(
                        ex.text,
                        table=table,
                        sniff=False,
                        only=ex.groups,
                        tags=ex.tags,
                        word_starts=self.prefilter.word_starts,
                        finished=False,  # excerpts made in _emit, for the listed hits only
                    )
                    for h in hits:
                        start = ex.original(h.start)
                        h.start, h.end = start, start + h.end - h.start
                    return self._emit(file, member, text if text is not None else raw, hits, line_base)
                # Scanned whole (dense cues, or a column read line by line): still only the
                # detectors whose cues occur somewhere in it, and those that read such columns.
                only, tags = self.prefilter.groups(raw)
                if whole:
                    only |= _COLUMN_GROUPS
        if text is None:
            text = (raw or b"").decode("latin-1")
        hits = self.detector.scan(
            text,
            table=table,
            sniff=False,
            only=only,
            tags=tags,
            word_starts=self.prefilter.word_starts if only is not None and self.prefilter is not None else None,
            finished=False,
        )
        return self._emit(file, member, text, hits, line_base)

    def _scan_text_stream(self, file: str, member: str | None, stream: BinaryIO | src.Peekable) -> None:
        chunk_size = self.limits.chunk_bytes
        carry = b""
        line_base = 1
        table: Table | None = None
        first = True
        previous: bytes | str | None = None
        counted = (0, 0)  # line feeds of ``previous`` already counted by _emit, and up to where
        while True:
            data = stream.read(chunk_size)
            if not data and not carry:
                break
            buf = carry + data if carry else data
            if data:
                cut = buf.rfind(b"\n")
                if cut < 0 and len(buf) < 4 * chunk_size:
                    carry = buf
                    continue
                cut = len(buf) - 1 if cut < 0 else cut
                if cut + 1 < len(buf):
                    carry, buf = buf[cut + 1 :], buf[: cut + 1]
                else:
                    carry = b""
            else:
                carry = b""
            self.report.bytes_scanned += len(buf)
            if previous is not None:  # lines are counted only when a chunk follows
                n, upto = counted
                line_base += n + (
                    src.line_feeds(previous, upto) if isinstance(previous, bytes) else previous.count("\n", upto)
                )
            if buf.isascii() and not (b"\r" in buf and (b"MSH|" in buf or b"H|" in buf[:16])):
                # ASCII: every decoding gives the same characters, one per byte; the text is made
                # only where the prefilter finds a cue.
                if first:
                    table = sniff_table(_head_lines(buf))
                    unit_table = table
                else:
                    unit_table = Table(table.delim, table.header, 0) if table is not None else None
                first = False
                text = None if self.prefilter is not None else buf.decode("ascii")
                counted = self._scan_text(file, member, text, line_base, table=unit_table, sniff=False, raw=buf)
                previous = buf
                continue
            text = src.decode_chunk(buf)
            if "\r" in text and ("MSH|" in text or "H|" in text[:16]):
                text = _LONE_CR.sub("\n", text)  # HL7 and HPRIM Santé end segments with a bare CR
            if first:
                table = sniff_table(text)
                counted = self._scan_text(file, member, text, line_base, table=table, sniff=False)
                first = False
            else:
                cont = Table(table.delim, table.header, 0) if table is not None else None
                counted = self._scan_text(file, member, text, line_base, table=cont, sniff=False)
            previous = text

    # ------------------------------------------------------------------ containers
    def scan_stream(
        self,
        file: str,
        member: str | None,
        raw: BinaryIO | src.Peekable | src.GuardedReader,
        depth: int,
        budget: src.Budget,
        path: str | None = None,
    ) -> None:
        stream = raw if isinstance(raw, src.Peekable) else src.Peekable(raw)
        kind = src.sniff(stream.head)
        if kind == "protected":
            reason = src.protected_reason(stream.head) or "encrypted"
            self.report.protected_files.append(ProtectedFile(file, reason, member))
            return
        if kind in ("text",):
            self._scan_text_stream(file, member, stream)
            return
        if depth >= self.limits.max_depth and kind in ("zip", "gzip", "bzip2", "xz", "tar"):
            self.report.skipped.append(Skipped(file, "archive nesting deeper than the limit", member))
            return
        if kind in _DECOMPRESSORS:
            counter = src.CountingReader(stream)
            inner = _decompressor(kind, counter)
            guarded = src.GuardedReader(inner, counter, self.limits.max_ratio, budget)
            name = member or file
            for suffix in _STRIP_SUFFIX[kind]:
                if name.endswith(suffix):
                    name = name[: -len(suffix)] + (".tar" if suffix.startswith(".t") else "")
                    break
            inner_member = (member + "!" if member else "") + os.path.basename(name.rsplit("!", 1)[-1])
            self.scan_stream(file, inner_member, guarded, depth + 1, budget)
            return
        if kind == "tar":
            self._scan_tar(file, member, stream, depth, budget)
            return
        if kind == "utf16":
            data = self._read_bounded(stream)
            self.report.bytes_scanned += len(data)
            self._scan_text(file, member, src.utf16_text(data))
            return
        if kind == "executable":
            # Not read beyond the magic bytes: listed, so that the report says what was not looked at.
            self.report.skipped.append(Skipped(file, "executable or shared library (not read)", member))
            return
        if kind == "image":
            # Only the first 64 KB (EXIF, PNG text chunks), as strings; the pixels are not read.
            head = stream.head
            self.report.bytes_scanned += len(head)
            self._scan_text(file, member, head.decode("latin-1"))
            return
        if kind == "unsupported":
            self.report.skipped.append(Skipped(file, "archive format not supported (7z, rar or zstd)", member))
            return
        # The remaining kinds need random access: a file on disk, or its bytes in memory.
        if kind == "sqlite":
            self._scan_sqlite(file, member, stream, path)
            return
        data = self._read_bounded(stream)
        self.report.bytes_scanned += len(data)
        if kind == "zip":
            self._scan_zip(file, member, data, depth, budget)
        elif kind == "pdf":
            self._scan_pdf(file, member, data)
        else:
            self._scan_binary(file, member, data, ole=kind == "ole")

    def _read_bounded(self, stream: BinaryIO | src.Peekable | src.GuardedReader) -> bytes:
        data = stream.read(self.limits.max_member_bytes + 1)
        if len(data) > self.limits.max_member_bytes:
            raise src.BombError("member larger than the in-memory limit")
        return data

    def _scan_binary(self, file: str, member: str | None, data: bytes, *, ole: bool) -> None:
        if len(data) >= 1024 and src.entropy(data[:65536]) > 7.9:
            self.report.protected_files.append(
                ProtectedFile(file, "opaque (high entropy: encrypted or compressed)", member)
            )
            return
        # Strings inside a binary: ASCII/Latin-1 text, and UTF-16 for old office files.
        self._scan_text(file, member, data.decode("latin-1"))
        if ole:
            self._scan_text(file, member, data.decode("utf-16-le", errors="replace"))

    def _scan_zip(self, file: str, member: str | None, data: bytes, depth: int, budget: src.Budget) -> None:
        zf = zipfile.ZipFile(src.as_bytes_io(data))
        prefix = (member + "!") if member else ""
        if src.is_office(zf):
            if any(i.flag_bits & 0x1 for i in zf.infolist()):
                self.report.protected_files.append(ProtectedFile(file, "encrypted office document", member))
                return
            for part, text in src.office_texts(zf, self.limits.max_member_bytes):
                self._scan_text(file, prefix + part, text)
            return
        for n, info in enumerate(zf.infolist()):
            if info.is_dir():
                continue
            name = prefix + info.filename
            if n >= self.limits.max_members:
                self.report.skipped.append(Skipped(file, "more archive members than the limit", name))
                break
            if info.flag_bits & 0x1:
                self.report.protected_files.append(ProtectedFile(file, "encrypted zip member", name))
                continue
            if info.file_size > self.limits.max_member_bytes:
                self.report.skipped.append(Skipped(file, "member larger than the limit", name))
                continue
            if (
                info.compress_size
                and info.file_size / info.compress_size > self.limits.max_ratio
                and info.file_size > (1 << 20)
            ):
                self.report.skipped.append(Skipped(file, "archive bomb: compression ratio above the limit", name))
                continue
            budget.left -= info.file_size
            if budget.left < 0:
                self.report.skipped.append(Skipped(file, "archive bomb: total size above the limit", name))
                break
            try:
                with zf.open(info) as fh:
                    content = fh.read(self.limits.max_member_bytes + 1)
                self._guarded(file, name, src.as_bytes_io(content), depth + 1, budget)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                self._skip(file, name, exc)

    def _scan_tar(self, file: str, member: str | None, stream: src.Peekable, depth: int, budget: src.Budget) -> None:
        prefix = (member + "!") if member else ""
        # A tar that fits in memory is read there, with random access: each member is a slice,
        # instead of going through tarfile's stream buffer 10 KB at a time. A larger one streams.
        data = _read_upto(stream, _TAR_IN_MEMORY + 1)
        if len(data) <= _TAR_IN_MEMORY:
            tf = tarfile.open(fileobj=src.as_bytes_io(data), mode="r:")  # noqa: SIM115 - closed below
        else:
            tf = tarfile.open(fileobj=cast(Any, src.Chain(data, stream)), mode="r|")  # noqa: SIM115
        with tf:
            for n, info in enumerate(tf):
                name = prefix + info.name
                if n >= self.limits.max_members:
                    self.report.skipped.append(Skipped(file, "more archive members than the limit", name))
                    break
                if not info.isfile():
                    continue
                fh = tf.extractfile(info)
                if fh is None:
                    continue
                budget.left -= info.size
                if budget.left < 0:
                    raise src.BombError("decompressed size limit reached")
                self._guarded(file, name, cast(BinaryIO, fh), depth + 1, budget)

    def _scan_sqlite(self, file: str, member: str | None, stream: src.Peekable, path: str | None) -> None:
        if path is not None and member is None:
            con = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
            self.report.bytes_scanned += os.stat(path).st_size
        else:
            data = self._read_bounded(stream)
            self.report.bytes_scanned += len(data)
            con = src.sqlite_from_bytes(data)
        prefix = (member + "!") if member else ""
        try:
            for table, line, text in src.sqlite_texts(con):
                tab = sniff_table(text)
                self._scan_text(file, f"{prefix}table:{table}", text, line_base=line, table=tab, sniff=False)
        finally:
            con.close()

    def _scan_pdf(self, file: str, member: str | None, data: bytes) -> None:
        try:
            result = src.pdf_texts(src.as_bytes_io(data))
        except ImportError:
            self.report.skipped.append(Skipped(file, "PDF text needs pypdf (not installed)", member))
            self._scan_binary(file, member, data, ole=False)
            return
        if isinstance(result, str):
            self.report.protected_files.append(ProtectedFile(file, result, member))
            return
        prefix = (member + "!") if member else ""
        for page, text in result:
            self._scan_text(file, f"{prefix}page {page}", text)

    # ------------------------------------------------------------------ errors
    def _guarded(
        self, file: str, member: str | None, raw: BinaryIO, depth: int, budget: src.Budget, path: str | None = None
    ) -> None:
        try:
            self.scan_stream(file, member, raw, depth, budget, path)
        except src.BombError as exc:
            self.report.skipped.append(Skipped(file, f"archive bomb: {exc}", member))
        except (
            OSError,
            EOFError,
            zipfile.BadZipFile,
            tarfile.TarError,
            sqlite3.Error,
            lzma.LZMAError,
            ValueError,
            KeyError,
            IndexError,
        ) as exc:
            self._skip(file, member, exc)
        except Exception as exc:  # a parser bug must not stop a scan of a whole server
            log.warning("unexpected %s while reading %s", type(exc).__name__, file)
            self._skip(file, member, exc)

    def _skip(self, file: str, member: str | None, exc: BaseException) -> None:
        # The exception text may quote file content: only its class name is kept.
        self.report.skipped.append(Skipped(file, f"unreadable ({type(exc).__name__})", member))

    def scan_file(self, file: str | os.PathLike[str]) -> None:
        """Scan the file at ``file``, as :func:`_file_names` gives it (a ``Path`` made for each
        of the 10,000 files of a server took as long as reading a small one)."""
        file = os.fspath(file)
        try:
            st = os.lstat(file)
        except OSError as exc:
            self._skip(file, None, exc)
            return
        if stat.S_ISLNK(st.st_mode):
            self.report.skipped.append(Skipped(file, "symbolic link (not followed)"))
            return
        if not stat.S_ISREG(st.st_mode):
            self.report.skipped.append(Skipped(file, "not a regular file"))
            return
        if st.st_size > self.limits.max_file_bytes:
            self.report.skipped.append(Skipped(file, "file larger than the limit"))
            return
        self.report.files_scanned += 1
        self._scan_text(file, "(file name)", os.path.basename(file))
        budget = src.Budget(self.limits.max_archive_bytes)
        try:
            fh = open(file, "rb")  # noqa: SIM115 - closed below, whatever happens
        except OSError as exc:
            self._skip(file, None, exc)
            return
        with fh:
            self._guarded(file, None, fh, 0, budget, file)


def _head_lines(buf: bytes) -> str:
    """The first two lines of ``buf`` (all that :func:`sniff_table` reads), decoded."""
    first = buf.find(b"\n")
    second = buf.find(b"\n", first + 1) if first >= 0 else -1
    return buf[: second if second >= 0 else len(buf)].decode("latin-1")


def iter_files(paths: Sequence[Path], report: ScanReport) -> Iterator[Path]:
    """Every file under ``paths``; links are never followed (a link given as a path is resolved)."""
    return map(Path, _file_names(paths, report))


def _file_names(paths: Sequence[Path], report: ScanReport) -> Iterator[str]:
    """:func:`iter_files` as strings, ``str(Path(...))`` of each: the walk starts from a
    ``Path``, normalised, and each name is one component, so joining is enough, but for the
    ``./`` that a walk of ``.`` puts before each path and ``Path`` drops. A ``Path`` per file cost
    the parent process 0.16 s on a server of 10,000 files."""
    for root in paths:
        if not root.exists() and not root.is_symlink():
            raise ScanError(f"{root} does not exist", hint="Check the path given to the scanner.")
        if root.is_symlink():
            root = root.resolve()
        if root.is_file():
            yield str(root)
            continue
        cut = 2 if str(root) == "." else 0  # "./x" -> "x", as Path(".", "x") gives
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for d in list(dirnames):
                if os.path.islink(os.path.join(dirpath, d)):
                    report.skipped.append(Skipped(os.path.join(dirpath, d), "symbolic link (not followed)"))
                    dirnames.remove(d)
            for name in sorted(filenames):
                yield os.path.join(dirpath, name)[cut:]


_TASK_BYTES = 4 << 20
_TASK_FILES = 64


#: Allocations between two collections of the cyclic garbage collector's youngest generation while
#: a scan runs (Python's default: 700). A dense export allocates millions of short-lived objects
#: (matches, hits, tuples) and no cycles: at the default, collections took about 12 % of its time
#: (and 30 % of the time to unpickle and merge the findings sent back by the worker processes).
#: Memory is freed by reference counting as before; only the search for cycles is rarer.
_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def _rare_gc() -> Iterator[None]:
    old = gc.get_threshold()
    gc.set_threshold(_GC_THRESHOLD, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


#: glibc's malloc gives each block above a threshold (128 KB, raised as large blocks are freed, to
#: at most 32 MB) a mapping of its own, unmapped when freed, and gives the top of its heap back to
#: the system past 128 KB free. A scan allocates and frees blocks of megabytes over and over (a
#: chunk of text, the chunk and its carry joined, its copy cut at a line end, decompressed data):
#: each was fresh pages from the kernel, faulted in and zeroed (about 15 % of the CPU time of
#: ``.gz`` logs). Blocks up to 32 MB now come from the heap, and up to 128 MB of freed heap is
#: kept for the next ones. Set once in each worker process of ``scan_paths``, for the rest of its life
#: (never in the calling process).
_MMAP_THRESHOLD = 32 << 20
_TRIM_THRESHOLD = 128 << 20
_M_TRIM_THRESHOLD = -1  # mallopt parameters, malloc.h
_M_MMAP_THRESHOLD = -3


@functools.cache
def _reuse_large_blocks() -> bool:
    """Raise glibc's malloc thresholds (above); whether it was done (glibc only: a no-op elsewhere)."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def _row_order(r: tuple[Any, ...]) -> tuple[str, str, int, int, str]:
    """The order of a report's findings, on the rows (``_Row``) they are made from: file, archive
    member, line, column, kind."""
    return (r[0], r[6] or "", r[4] or 0, r[5] or 0, r[1])


_BY_FILE = attrgetter("file")


_Task = tuple[list[str], float, ScanLimits, tuple[str, ...], bytes | None, Path | None]
#: A finding as a tuple of its fields, in the order of the dataclass, which ``_finding`` takes
#: (``test_finding_shortcut_equals_the_dataclass``, ``test_rows_of_a_worker_are_its_findings``).
_Row = tuple[str, str, float, str, int | None, int | None, str | None, str, str]


def _packed_worker(args: _Task) -> tuple[ScanReport, list[_Row]]:
    """Scan one task's files: the report without its findings, and the findings as tuples of
    their fields (``_Scanner.rows``), sorted (see the end of ``scan_paths``). In another process,
    these are what is pickled: pickling each ``Finding`` (``__reduce__``, then the dataclass's
    interpreted ``__init__`` to unpickle it) took 0.64 s in the workers and 0.93 s in the parent for
    the 288,000 listed findings of the 1 GB corpus; tuples, 0.26 and 0.83 with :func:`_unpacked`;
    and a ``Finding`` made in the worker only to be taken apart cost about 8,000 instructions."""
    files, min_confidence, limits, terms, key, cache_dir = args
    scanner = _Scanner(
        min_confidence=min_confidence, limits=limits, extra_terms=terms, fingerprint_key=key, cache_dir=cache_dir
    )
    rows: list[_Row] = []
    scanner.rows = rows
    with _rare_gc():
        for f in files:
            scanner.scan_file(f)
        rows.sort(key=_row_order)  # here, in the worker processes, side by side
    return scanner.report, rows


def _unpacked(packed: tuple[ScanReport, list[_Row]]) -> ScanReport:
    """The report :func:`_packed_worker` gave, its findings rebuilt."""
    report, rows = packed
    report.findings = [_finding(*row) for row in rows]
    return report


def _worker(args: _Task) -> ScanReport:
    """Scan one task's files in this process (:func:`_packed_worker`, its findings rebuilt)."""
    return _unpacked(_packed_worker(args))


def scan_paths(
    paths: Sequence[Path],
    *,
    min_confidence: float = 0.5,
    limits: ScanLimits | None = None,
    extra_terms: Sequence[str] = (),
    fingerprint_key: bytes | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    cache_dir: Path | None = None,
) -> ScanReport:
    """Scan files and directories for plaintext health data.

    ``extra_terms`` (e.g. the names of the patients of a package) are matched whole, ignoring
    case and accents, and reported as ``listed_term`` with a fully masked excerpt; they are never
    logged. ``fingerprint_key`` gives each finding a keyed fingerprint for baselines.
    ``workers`` > 1 scans files in that many processes. ``progress(done, total)``, if given, is
    called with the bytes on disk of the files scanned so far and of all of them, at the start and
    after each task of a few MB. ``cache_dir``, if given, keeps the scanner's compiled pattern
    databases between runs (about 0.7 s of CPU at each start without it; never those holding
    ``extra_terms``); the command line passes ``_prefilter.default_cache_dir(os.environ)``.
    """
    if not 0.0 <= min_confidence <= 1.0:
        raise ScanError("min_confidence must be between 0 and 1",
                        hint="Give a confidence from 0 (every finding) to 1 (only the surest).")
    limits = limits or ScanLimits()
    report = ScanReport()
    # Once each, though two paths given overlap (``/srv`` and ``/srv/exports``): a file is scanned once,
    # and the findings of a file all come from one task (see the sort at the end).
    files = list(dict.fromkeys(_file_names(paths, report)))
    terms = tuple(extra_terms)
    if (workers <= 1 or len(files) < 2) and progress is None:
        report.merge(_worker((files, min_confidence, limits, terms, fingerprint_key, cache_dir)))
    else:
        # Largest first, in tasks of a few MB handed out as processes free up: one dense file
        # late in the queue no longer leaves the other processes idle.
        batches: list[list[str]] = []
        weights: list[int] = []
        task: list[str] = []
        task_bytes = 0
        for size, f in sorted(((_size(f), f) for f in files), key=lambda sf: -sf[0]):
            task.append(f)
            task_bytes += size
            if task_bytes >= _TASK_BYTES or len(task) >= _TASK_FILES:
                batches.append(task)
                weights.append(task_bytes)
                task, task_bytes = [], 0
        if task:
            batches.append(task)
            weights.append(task_bytes)
        total = sum(weights)
        if progress is not None:
            progress(0, total)
        tasks = [(b, min_confidence, limits, terms, fingerprint_key, cache_dir) for b in batches]
        if workers <= 1 or len(files) < 2:  # here only to report progress task by task
            _merge(report, map(_worker, tasks), weights, total, progress)
        else:
            if prefilter_available() and _forks():
                # Compiled once here (0.34 s for its three databases), inherited by the forked processes.
                _prefilter_for(terms, cache_dir)
            # The findings coming back are unpickled and merged here, many objects at once (_rare_gc).
            # The allocator setting is made in the worker processes only: a process that calls
            # scan_paths with one worker (close's residual check, a long-running service) keeps its own.
            with _rare_gc(), ProcessPoolExecutor(max_workers=workers, initializer=_reuse_large_blocks) as pool:
                _merge(report, map(_unpacked, pool.map(_packed_worker, tasks)), weights, total, progress)
    # Each task's findings come sorted (``_packed_worker``) and a file is in one task only: a stable
    # sort by file alone gives the order of ``_row_order`` over all of them. The sort by the whole key
    # took 0.65 s for the 288,000 findings of the 1 GB benchmark corpus, in this process, after
    # the workers had finished.
    report.findings.sort(key=_BY_FILE)
    return report


def _merge(report: ScanReport, parts: Iterable[ScanReport], weights: list[int], total: int,
           progress: Callable[[int, int], None] | None) -> None:
    """Merge the reports of the tasks into ``report``, in task order, reporting the bytes done."""
    done = 0
    for part, weight in zip(parts, weights, strict=True):
        report.merge(part)
        done += weight
        if progress is not None:
            progress(done, total)


def _forks() -> bool:
    """Whether worker processes start by ``fork`` (and so inherit what this process compiled)."""
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    return method == "fork"


def _size(f: str) -> int:
    try:
        return os.stat(f).st_size
    except OSError:
        return 0
