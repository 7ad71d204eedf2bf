"""Each reader and writer in MB/s and records/s on a synthetic lab, and hl7apy parsing the
same HL7 file, measured side by side in one run.

Usage: .venv/bin/python benchmarks/bench_formats.py [PATIENTS]   (default 5000)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ecluse.formats.codec import CODECS, get_codec
from ecluse.formats.hprim_net import HprimNetCodec
from ecluse.legacy import synth
from ecluse.legacy.sqlmap import load_mapping, read_database


def _time(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    patients = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "lis.db"
        synth.generate(db, patients=patients, seed=1)
        t = time.perf_counter()
        records = list(read_database(f"sqlite:///{db}", load_mapping("synth-lis")))
        sql_s = time.perf_counter() - t
    n = len(records)
    print(f"{patients} patients, {n} records; SQL read (sqlmap) {n / sql_s:,.0f} records/s")
    print(f"{'format':<12} {'write MB/s':>10} {'write rec/s':>12} {'read MB/s':>10} {'read rec/s':>12} {'size MB':>8}")
    hl7_bytes = b""
    for name in CODECS:
        codec = HprimNetCodec(encoding="utf-8") if name == "hprim-net" else get_codec(name)
        data = codec.write(records)
        if name == "hl7v25":
            hl7_bytes = data
        mb = len(data) / 1e6
        w = _time(lambda c=codec: c.write(records))
        r = _time(lambda c=codec, d=data: sum(1 for _ in c.read(d, filename="bench")))
        print(f"{name:<12} {mb / w:>10.1f} {n / w:>12,.0f} {mb / r:>10.1f} {n / r:>12,.0f} {mb:>8.1f}")
    try:
        from hl7apy.parser import parse_message
    except ImportError:
        print("hl7apy not installed: no comparison")
        return
    messages = ["MSH|" + m for m in hl7_bytes.decode("utf-8").split("MSH|")[1:]]
    sample = messages[: max(1, min(len(messages), 500))]
    size = sum(len(m.encode("utf-8")) for m in sample) / 1e6
    t_apy = _time(lambda: [parse_message(m, find_groups=True) for m in sample], repeat=1)
    ours = get_codec("hl7v25")
    blob = "".join(sample).encode("utf-8")
    t_ours = _time(lambda: sum(1 for _ in ours.read(blob, filename="bench")))
    print(f"HL7 parse of the same {len(sample)} messages: hl7apy {size / t_apy:.2f} MB/s, "
          f"ecluse {size / t_ours:.1f} MB/s, ratio {t_apy / t_ours:.0f}x")


if __name__ == "__main__":
    main()
