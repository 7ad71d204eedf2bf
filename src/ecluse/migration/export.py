"""Extraction and packaging: scoped rows → FHIR R4 → NDJSON → age, in one streaming pass.

Plaintext exists only in memory: each worker process maps the rows of its range of
patients to FHIR resources, serialises them with orjson and pushes the bytes straight into
an age encrypting writer, whose ciphertext is hashed as it reaches the disk. One worker per
core; each writes its own ``<Type>.<n>.ndjson.age`` files (Bulk Data allows a type to be
split across files).
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ecluse.crypto import age
from ecluse.errors import PackageError
from ecluse.formats import fhir
from ecluse.legacy import reader
from ecluse.migration.package import PackageFile

__all__ = ["ExportResult", "export_streams"]

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

    def close(self) -> PackageFile:
        if self._sink is not self._hash:
            self._sink.close()
        self._file.flush()
        self._file.close()
        return PackageFile(name=self.path.name, type=self.type, count=self.count,
                           sha256=self._hash.sha.hexdigest(), size=self._hash.size)


def _worker(source: str, query: reader.LegacyQuery, id_range: tuple[int, int], part: int, out_dir: str,
            recipients: list[str] | None, types: tuple[str, ...], suffix: str,
            counter: Any) -> list[PackageFile]:
    conn = reader.connect(Path(source))
    streams = {t: _Stream(Path(out_dir) / f"{t}.{part}.{suffix}", t, recipients) for t in types}
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
    try:
        for patient, requests in reader.iter_groups(conn, query, id_range):
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
                if done % 2000 == 0 and counter is not None:
                    with counter.get_lock():
                        counter.value += 2000
        for t, buf in bufs.items():
            if buf:
                streams[t].extend(buf)
        if counter is not None:
            with counter.get_lock():
                counter.value += done % 2000
        return [s.close() for s in streams.values()]
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class ExportResult:
    files: tuple[PackageFile, ...]
    seconds: float


def export_streams(source: Path, query: reader.LegacyQuery, out_dir: Path, *,
                   recipients: list[str] | None, types: tuple[str, ...], workers: int,
                   total_patients: int, progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Write the scoped data of ``source`` into ``out_dir`` as (encrypted) NDJSON streams.

    ``recipients=None`` writes plain NDJSON: used only by the benchmark baseline, never by
    the procedure. On any failure ``out_dir`` is removed whole.
    """
    start = time.perf_counter()
    conn = reader.connect(source)
    try:
        ranges = reader.split_ranges(conn, workers * 3 if workers > 1 else 1)  # small parts balance the cores
    finally:
        conn.close()
    out_dir.mkdir(mode=0o700)
    suffix = "ndjson.age" if recipients else "ndjson"
    try:
        if workers == 1 or len(ranges) <= 1:
            files = [f for i, r in enumerate(ranges, 1) for f in
                     _worker(str(source), query, r, i, str(out_dir), recipients, types, suffix, None)]
            if progress:
                progress(total_patients, total_patients)
        else:
            ctx = mp.get_context("fork")
            counter = ctx.Value("q", 0)
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                     initializer=_set_counter, initargs=(counter,)) as pool:
                futures = [pool.submit(_worker_with_counter, str(source), query, r, i, str(out_dir),
                                       recipients, types, suffix) for i, r in enumerate(ranges, 1)]
                while not all(f.done() for f in futures):
                    time.sleep(0.1)
                    if progress:
                        progress(min(counter.value, total_patients), total_patients)
                files = [f for fut in futures for f in fut.result()]
            if progress:
                progress(total_patients, total_patients)
    except BaseException as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        if isinstance(exc, OSError):
            raise PackageError(f"export failed while writing the package ({type(exc).__name__})",
                               hint="check free disk space and permissions of the staging area; "
                               "nothing was kept") from exc
        raise
    order = {t: i for i, t in enumerate(fhir.RESOURCE_TYPES)}
    files.sort(key=lambda f: (order[f.type], f.name))
    return ExportResult(tuple(files), time.perf_counter() - start)


_COUNTER: Any = None


def _set_counter(counter: Any) -> None:
    global _COUNTER
    _COUNTER = counter


def _worker_with_counter(*args: Any) -> list[PackageFile]:
    return _worker(*args, _COUNTER)  # type: ignore[call-arg]

