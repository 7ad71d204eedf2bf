"""Export and receive at the Dedalus scale, side by side with their baselines, in one run.

    python benchmarks/bench_export.py [--patients 500000] [--db PATH] [--workers 2]

Phases, each in a fresh process so that peak memory (RSS, the process and its workers)
is measured per phase:

1. export, plain NDJSON, one process      (the baseline pipeline: rows → FHIR → orjson → file)
2. export, plain NDJSON, N processes      (same, on every core: the cost without encryption)
3. export, encrypted + signed, N processes (what ``ecluse export`` does)
4. receive: verify, decrypt, validate every resource, import into an NDJSON directory

Prints resources/s, seconds and peak MB for each, the encryption overhead ratio (3 vs 2)
and the targets of issue 2 (export ≤ 60 s, receive ≤ 60 s, ≤ 1 GB, overhead ≤ 10 %).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu_seconds() -> float:
    """User + system CPU of this process and its (finished) workers."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024


def _phase(args: argparse.Namespace) -> dict[str, object]:
    from ecluse.crypto import age, minisign
    from ecluse.formats.fhir import RESOURCE_TYPES
    from ecluse.formats.records import PATIENT_FIELD_GROUPS, SENSITIVE_CATEGORIES
    from ecluse.legacy import reader
    from ecluse.migration.export import Output, export_streams
    from ecluse.migration.package import MANIFEST, SIGNATURE, manifest_bytes, package_comment
    from ecluse.migration.receive import receive_package
    from ecluse.migration.sources import SourceSpec

    work = Path(args.work)
    db = Path(args.db)
    conn = reader.connect(db)
    sites = tuple(r[0] for r in conn.execute("SELECT finess FROM sites"))
    q = reader.LegacyQuery(sites=sites, period_start="2000-01-01", period_end="2030-12-31",
                           patient_fields=frozenset(PATIENT_FIELD_GROUPS),
                           categories=frozenset(SENSITIVE_CATEGORIES), comments=True)
    counts = reader.count(conn, q)
    conn.close()
    keys = json.loads((work / "keys.json").read_text())
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    if args.phase in ("plain1", "plainN", "enc"):
        out = work / args.phase
        shutil.rmtree(out, ignore_errors=True)
        recipients = [keys["recipient"]] if args.phase == "enc" else None
        workers = 1 if args.phase == "plain1" else args.workers
        outputs = (Output(args.format, tuple(recipients) if recipients else None),)
        res = export_streams(SourceSpec("lis", str(db)), q, out, outputs=outputs, types=RESOURCE_TYPES,
                             workers=workers, total_patients=counts.patients)
        if args.phase == "enc":
            sk = minisign.SecretKey.from_text(keys["signer"], None)
            data = manifest_bytes(package_id="PKG-bench", migration_id="MIG-bench", mandate_id="bench",
                                  mandate_sha256="0" * 64, recipients=tuple(recipients or ()), created="now",
                                  expires="later", scope={}, files=res.files, signer_email="bench@example.org",
                                  signer_key_id=sk.key_id_hex)
            (out / MANIFEST).write_bytes(data)
            (out / SIGNATURE).write_text(minisign.sign(sk, data, trusted_comment=package_comment(
                "PKG-bench", "0" * 64, tuple(recipients or ()))))
        n = sum(f.count for f in res.files)
        size = sum(f.size for f in res.files)
    else:
        target = work / "target"
        shutil.rmtree(target, ignore_errors=True)
        sk = minisign.SecretKey.from_text(keys["signer"], None)
        got = receive_package(work / "enc", identities=[keys["identity"]], sender_keys=[sk.public_key()],
                              target=target, workers=args.workers)
        n = sum(got.counts.values())
        size = sum(p.stat().st_size for p in (target / "PKG-bench").iterdir())
        _ = age
    seconds = time.perf_counter() - t0
    return {"phase": args.phase, "resources": n, "seconds": seconds, "bytes": size, "peak_mb": _peak_mb(),
            "cpu": _cpu_seconds() - cpu0}


def main() -> None:
    from ecluse.migration.mandate import OUTPUT_FORMATS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=500_000)
    ap.add_argument("--db", type=Path, default=None, help="reuse this synthetic LIS (else generated)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--phases", default="plain1,plainN,enc,receive",
                    help="which phases to run (comma-separated; the ratios need plainN and enc)")
    ap.add_argument("--format", default="fhir-ndjson", choices=OUTPUT_FORMATS,
                    help="output format of the export phases (receive reads FHIR only: use it with the default)")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(_phase(args)))
        return

    from ecluse.crypto import age, minisign
    from ecluse.legacy import synth

    work = args.work or Path(tempfile.mkdtemp(prefix="ecluse-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = args.db or work / f"lis-{args.patients}.db"
    if not db.exists():
        print(f"generating a synthetic LIS of {args.patients:,} patients in {db} …", flush=True)
        t = time.perf_counter()
        s = synth.generate(db, patients=args.patients, seed=1)
        print(f"  {s.patients:,} patients, {s.requests:,} requests, {s.results:,} results "
              f"in {time.perf_counter() - t:.0f} s", flush=True)
    if not (work / "keys.json").exists():  # kept, so that a later --phases receive can open an earlier export
        identity, recipient = age.generate_x25519()
        (work / "keys.json").write_text(json.dumps({"identity": identity, "recipient": recipient,
                                                    "signer": minisign.generate().to_text(None)}))
    results = {}
    for phase in args.phases.split(","):
        # each phase starts from a quiet disk: earlier plain outputs removed, dirty pages written
        for old in ("plain1", "plainN"):
            shutil.rmtree(work / old, ignore_errors=True)
        os.sync()
        cmd = [sys.executable, __file__, "--phase", phase, "--db", str(db), "--work", str(work),
               "--workers", str(args.workers), "--format", args.format]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[phase] = json.loads(out.strip().splitlines()[-1])
        r = results[phase]
        print(f"{phase:<8} {r['resources']:>11,} resources {r['seconds']:7.1f} s "
              f"{r['resources'] / r['seconds']:>10,.0f} res/s  {r['bytes'] / 1e9:5.2f} GB  peak {r['peak_mb']:6.0f} MB"
              f"  cpu {r['cpu']:6.1f} s",
              flush=True)
    print()
    enc, plain, base, rec = (results.get(k) for k in ("enc", "plainN", "plain1", "receive"))
    if enc:
        print(f"export (encrypted, {args.workers} processes): {enc['seconds']:.1f} s — target ≤ 60 s")
    if rec:
        print(f"receive + import:                 {rec['seconds']:.1f} s — target ≤ 60 s")
    if enc and plain:
        print(f"encryption + signing overhead:    {enc['seconds'] / plain['seconds']:.3f}× the plain export "
              f"({(enc['seconds'] / plain['seconds'] - 1) * 100:+.1f} %) in wall time, "
              f"{(enc['cpu'] / plain['cpu'] - 1) * 100:+.1f} % in CPU time — target ≤ +10 %")
    if enc and base:
        print(f"speed-up over the single-process baseline: {base['seconds'] / enc['seconds']:.2f}×")
    if enc and rec:
        print(f"peak memory: export {enc['peak_mb']:.0f} MB, receive {rec['peak_mb']:.0f} MB — target ≤ 1024 MB")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
