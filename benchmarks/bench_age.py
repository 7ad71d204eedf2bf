"""Encrypt and decrypt a large file with ecluse.crypto.age, the age CLI and pyrage, side by side.

    .venv/bin/python benchmarks/bench_age.py --size-mb 1024

Prints MB/s for each run and the ratios ours/age and ours/pyrage. Files live in a temporary
directory removed at the end; the input is random bytes, never patient data.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ecluse.crypto import age

BLOCK = 1024 * 1024


def timed(label: str, size: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    rate = size / elapsed / 1e6
    print(f"  {label:<34} {elapsed:7.2f} s  {rate:8.1f} MB/s")
    return rate


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="plaintext size in MiB (default 1024)")
    parser.add_argument("--dir", default=None, help="where to put the temporary files")
    args = parser.parse_args()
    size = args.size_mb * BLOCK
    identity, recipient = age.generate_x25519()

    with tempfile.TemporaryDirectory(prefix="bench-age-", dir=args.dir) as tmp:
        work = Path(tmp)
        plain = work / "plain.bin"
        with plain.open("wb") as f:
            for _ in range(args.size_mb):
                f.write(os.urandom(BLOCK))
        key = work / "key.txt"
        key.write_text(identity + "\n")
        print(f"{args.size_mb} MiB of random data, {os.cpu_count()} CPUs")

        def ours_encrypt() -> None:
            with (
                plain.open("rb") as inp,
                (work / "ours.age").open("wb") as out,
                age.encrypt_to(out, [recipient]) as writer,
            ):
                while block := inp.read(BLOCK):
                    writer.write(block)

        def ours_decrypt() -> None:
            with (
                (work / "ours.age").open("rb") as inp,
                (work / "ours.out").open("wb") as out,
                age.open_decrypt(inp, [identity]) as reader,
            ):
                for chunk in reader.iter_chunks():
                    out.write(chunk)

        def copy_only() -> None:
            shutil.copyfile(plain, work / "copy.bin")

        rates: dict[str, float] = {}
        print("encrypt:")
        rates["copy"] = timed("plain file copy (I/O floor)", size, copy_only)
        (work / "copy.bin").unlink()
        rates["ours"] = timed("ecluse.crypto.age", size, ours_encrypt)
        age_cli = shutil.which("age")
        if age_cli:
            rates["age"] = timed(
                "age -r (Go CLI)",
                size,
                lambda: subprocess.run(
                    [age_cli, "-r", recipient, "-o", str(work / "cli.age"), str(plain)], check=True
                ),
            )
        else:
            print("  age CLI not installed: skipped")
        try:
            import pyrage  # type: ignore[import-not-found]
        except ImportError:
            print("  pyrage not installed (pip install pyrage): skipped")
        else:
            pyrage_recipient = pyrage.x25519.Recipient.from_str(recipient)
            rates["pyrage"] = timed(
                "pyrage.encrypt_file",
                size,
                lambda: pyrage.encrypt_file(str(plain), str(work / "pyrage.age"), [pyrage_recipient]),
            )

        print("decrypt:")
        rates["ours_dec"] = timed("ecluse.crypto.age", size, ours_decrypt)
        if age_cli:
            rates["age_dec"] = timed(
                "age -d (Go CLI)",
                size,
                lambda: subprocess.run(
                    [age_cli, "-d", "-i", str(key), "-o", str(work / "cli.out"), str(work / "ours.age")],
                    check=True,
                ),
            )
        if "pyrage" in rates:
            pyrage_identity = pyrage.x25519.Identity.from_str(identity)
            rates["pyrage_dec"] = timed(
                "pyrage.decrypt_file",
                size,
                lambda: pyrage.decrypt_file(
                    str(work / "ours.age"), str(work / "pyrage.out"), [pyrage_identity]
                ),
            )
        if digest(work / "ours.out") != digest(plain):
            raise SystemExit("round trip mismatch")

        print("ratios (higher is better for ours):")
        for other in ("age", "pyrage"):
            if other in rates:
                print(f"  encrypt ours/{other:<7} {rates['ours'] / rates[other]:.2f}")
            if f"{other}_dec" in rates:
                print(f"  decrypt ours/{other:<7} {rates['ours_dec'] / rates[other + '_dec']:.2f}")
        print(f"  encrypt ours/copy    {rates['ours'] / rates['copy']:.2f}")


if __name__ == "__main__":
    main()
