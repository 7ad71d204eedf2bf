"""Extraction and packaging: scoped records → FHIR R4 NDJSON or a lab format → age, streaming.

Plaintext exists only in memory: each worker process reads the scoped patient groups of its
part of the source (:mod:`ecluse.migration.sources`), maps them to FHIR resources serialised
with orjson, or to a lab format through its codec's streaming writer, and pushes the bytes
straight into an age encrypting writer, whose ciphertext is hashed as it reaches the disk.
One worker per core; each writes its own ``<Type>.<n>.ndjson.age`` files (Bulk Data allows a
type to be split across files) and ``<format>.<n>.<ext>.age`` files, one valid file per part.
Each output is encrypted only to the recipients the mandate gives that format.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ecluse.crypto import age
from ecluse.errors import PackageError
from ecluse.formats import fhir
from ecluse.formats.codec import Record, get_codec
from ecluse.legacy.reader import Group, LegacyQuery
from ecluse.migration.package import FHIR_NDJSON, LAB_FORMATS, PackageFile
from ecluse.migration.sources import SourceSpec, open_source

__all__ = ["ExportResult", "Output", "export_streams"]

_DUMPS = orjson.dumps
_NL = orjson.OPT_APPEND_NEWLINE


class _HashingFile:
    """Write-through file that hashes and counts what reaches the disk."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self._f.write(data)

    def flush(self) -> None:
        self._f.flush()


class _Stream:
    """One output stream of one resource type: a buffer, a counter, an optional encryption."""

    def __init__(self, path: Path, rtype: str, recipients: list[str] | None) -> None:
        self.path = path
        self.type = rtype
        self.count = 0
        self._file = path.open("xb")
        self._hash = _HashingFile(self._file)
        self._sink: Any = age.encrypt_to(self._hash, recipients) if recipients else self._hash  # type: ignore[arg-type]

    def extend(self, lines: list[bytes]) -> None:
        self.count += len(lines)
        self._sink.write(b"".join(lines))

    def extend_bytes(self, chunks: list[bytes]) -> None:
        if chunks:
            self._sink.write(b"".join(chunks))

    def close(self) -> PackageFile:
        if self._sink is not self._hash:
            self._sink.close()
        self._file.flush()
        self._file.close()
        return PackageFile(name=self.path.name, type=self.type, count=self.count,
                           sha256=self._hash.sha.hexdigest(), size=self._hash.size)




@dataclass(frozen=True, slots=True)
class Output:
    """One output of the package: a format and the age recipients its files are encrypted to
    (``None``: plain files, only for the benchmark baseline)."""

    format: str
    recipients: tuple[str, ...] | None


def _fhir_part(groups: Iterator[Group], part: int, out_dir: Path, recipients: list[str] | None,
               types: tuple[str, ...], suffix: str, counter: Any) -> list[PackageFile]:
    streams = {t: _Stream(out_dir / f"{t}.{part}.{suffix}", t, recipients) for t in types}
    # Local buffers per type, appended to without a call per resource; flushed every few
    # thousand lines into the encrypting stream.
    want = {t: t in streams for t in fhir.RESOURCE_TYPES}
    bufs: dict[str, list[bytes]] = {t: [] for t in fhir.RESOURCE_TYPES}
    pat_b, sr_b, spm_b, obs_b, dr_b = (bufs[t] for t in fhir.RESOURCE_TYPES)
    w_pat, w_sr, w_spm, w_obs, w_dr = (want[t] for t in fhir.RESOURCE_TYPES)
    m_pat, m_sr, m_spm, m_obs, m_dr = (fhir.patient, fhir.service_request, fhir.specimen, fhir.observation,
                                       fhir.diagnostic_report)
    refs_of = fhir.observation_refs
    done = 0
    for patient, requests in groups:
        if w_pat:
            pat_b.append(_DUMPS(m_pat(patient), option=_NL))
        for req, results in requests:
            if w_sr:
                sr_b.append(_DUMPS(m_sr(req), option=_NL))
            if w_spm:
                spm_b.append(_DUMPS(m_spm(req), option=_NL))
            if w_obs and results:
                refs = refs_of(patient.id, req.id)
                for res in results:
                    obs_b.append(_DUMPS(m_obs(res, refs), option=_NL))
            if w_dr:
                dr_b.append(_DUMPS(m_dr(req, [r.id for r in results] if w_obs else []), option=_NL))
        done += 1
        if done % 500 == 0:
            for t, buf in bufs.items():
                if buf:
                    streams[t].extend(buf)
                    buf.clear()
            if done % 2000 == 0:
                _advance(counter, 2000)
    for t, buf in bufs.items():
        if buf:
            streams[t].extend(buf)
    _advance(counter, done % 2000)
    return [s.close() for s in streams.values()]


def _lab_records(groups: Iterator[Group], types: tuple[str, ...], tally: list[int], counter: Any) -> Iterator[Record]:
    """The groups as a record stream for a lab-format writer; counts records and patients.

    In these formats a request is one record: leaving ``Specimen`` out of the scope empties
    the specimen fields of each request; leaving ``Observation`` out leaves the results out
    (the scope query already did)."""
    no_specimen = "Specimen" not in types
    done = 0
    for patient, requests in groups:
        tally[0] += 1
        yield patient
        for req, results in requests:
            tally[0] += 1 + len(results)
            yield replace(req, specimen_type=None, received_at=None) if no_specimen else req
            yield from results
        done += 1
        if done % 2000 == 0:
            _advance(counter, 2000)
    _advance(counter, done % 2000)


def _lab_part(groups: Iterator[Group], part: int, out_dir: Path, fmt: str, recipients: list[str] | None,
              types: tuple[str, ...], counter: Any) -> PackageFile:
    ext = LAB_FORMATS[fmt] + (".age" if recipients else "")
    stream = _Stream(out_dir / f"{fmt}.{part}.{ext}", fmt, recipients)
    tally = [0]
    codec = get_codec(fmt)
    pending: list[bytes] = []
    size = 0
    for chunk in codec.write_chunks(_lab_records(groups, types, tally, counter)):
        pending.append(chunk)
        size += len(chunk)
        if size >= 1 << 20:
            stream.extend_bytes(pending)
            pending.clear()
            size = 0
    stream.extend_bytes(pending)
    stream.count = tally[0]
    return stream.close()


def _advance(counter: Any, n: int) -> None:
    if counter is not None and n:
        with counter.get_lock():
            counter.value += n


def _worker(spec: SourceSpec, query: LegacyQuery, part: Any, index: int, out_dir: str,
            outputs: tuple[Output, ...], types: tuple[str, ...], counter: Any) -> list[PackageFile]:
    """Write one part of the source in every output format (one scoped read per format)."""
    source = open_source(spec)
    files: list[PackageFile] = []
    for out in outputs:
        recipients = list(out.recipients) if out.recipients is not None else None
        groups = source.groups(query, part)
        if out.format == FHIR_NDJSON:
            suffix = "ndjson.age" if recipients else "ndjson"
            made = _fhir_part(groups, index, Path(out_dir), recipients, types, suffix, counter)
        else:
            made = [_lab_part(groups, index, Path(out_dir), out.format, recipients, types, counter)]
        files += [replace(f, format=out.format, recipients=out.recipients or ()) for f in made]
    return files


@dataclass(frozen=True, slots=True)
class ExportResult:
    files: tuple[PackageFile, ...]
    seconds: float


def export_streams(spec: SourceSpec, query: LegacyQuery, out_dir: Path, *, outputs: tuple[Output, ...],
                   types: tuple[str, ...], workers: int, total_patients: int,
                   progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Write the scoped data of the source into ``out_dir``, one set of files per output.

    An output with ``recipients=None`` writes plain files: used only by the benchmark
    baseline, never by the procedure. On any failure ``out_dir`` is removed whole.
    """
    start = time.perf_counter()
    parts = open_source(spec).parts(workers * 3 if workers > 1 else 1)  # small parts balance the cores
    total = total_patients * len(outputs)
    out_dir.mkdir(mode=0o700)
    try:
        if workers == 1 or len(parts) <= 1:
            files = [f for i, r in enumerate(parts, 1) for f in
                     _worker(spec, query, r, i, str(out_dir), outputs, types, None)]
            if progress:
                progress(total, total)
        else:
            ctx = mp.get_context("fork")
            counter = ctx.Value("q", 0)
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                     initializer=_set_counter, initargs=(counter,)) as pool:
                futures = [pool.submit(_worker_with_counter, spec, query, r, i, str(out_dir), outputs, types)
                           for i, r in enumerate(parts, 1)]
                while not all(f.done() for f in futures):
                    time.sleep(0.1)
                    if progress:
                        progress(min(counter.value, total), total)
                files = [f for fut in futures for f in fut.result()]
            if progress:
                progress(total, total)
    except BaseException as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        if isinstance(exc, OSError):
            raise PackageError(f"export failed while writing the package ({type(exc).__name__})",
                               hint="check free disk space and permissions of the staging area; "
                               "nothing was kept") from exc
        raise
    order = {t: i for i, t in enumerate((*fhir.RESOURCE_TYPES, *LAB_FORMATS))}
    files.sort(key=lambda f: (order[f.type], f.name))
    return ExportResult(tuple(files), time.perf_counter() - start)


_COUNTER: Any = None


def _set_counter(counter: Any) -> None:
    global _COUNTER
    _COUNTER = counter


def _worker_with_counter(*args: Any) -> list[PackageFile]:
    return _worker(*args, _COUNTER)  # type: ignore[call-arg]

