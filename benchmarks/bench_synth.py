"""Time the synthetic LIS generator: patients/s and rows/s, in-process vs worker processes.

    .venv/bin/python benchmarks/bench_synth.py --patients 500000 [--workers 2] [--compare]

The database is written to a temporary directory and deleted afterwards.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ecluse.legacy.synth import generate


def run(patients: int, seed: int, workers: int | None) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        path = Path(tmp) / "lis.db"
        start = time.perf_counter()
        stats = generate(path, patients=patients, seed=seed, workers=workers)
        elapsed = time.perf_counter() - start
        rows = stats.patients + stats.requests + stats.results + stats.sites + stats.prescribers
        print(
            f"workers={workers!s:>4}  {elapsed:7.1f} s  {stats.patients / elapsed:9,.0f} patients/s  "
            f"{rows / elapsed:10,.0f} rows/s  rows={rows:,} (requests={stats.requests:,}, "
            f"results={stats.results:,})  file={stats.size_bytes / 2**20:,.0f} MiB"
        )
        return elapsed, rows, stats.size_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="default: automatic")
    parser.add_argument("--compare", action="store_true", help="also run in-process (workers=0)")
    args = parser.parse_args()
    elapsed, _, _ = run(args.patients, args.seed, args.workers)
    if args.compare:
        baseline, _, _ = run(args.patients, args.seed, 0)
        print(f"speed-up over in-process: {baseline / elapsed:.2f}x")


if __name__ == "__main__":
    main()
