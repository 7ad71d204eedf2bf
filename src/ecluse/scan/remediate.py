"""Remove plaintext found by the scanner: encrypt it in place to an age recipient, or shred it.

Both actions are irreversible for the plaintext, so the library does them only when asked for a
list of files, calls ``audit(action, objects)`` for each (file names only, never content), and
supports ``dry_run``. The CLI asks for confirmation before calling them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ecluse.errors import ScanError

__all__ = ["AuditHook", "Remediation", "quarantine", "shred"]

AuditHook = Callable[[str, Mapping[str, str]], None]
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Remediation:
    file: str
    action: str
    """``quarantined`` (now ``file``.age), ``shredded``, or ``would quarantine`` / ``would shred``."""
    result: str = ""


def _regular(path: Path) -> None:
    if path.is_symlink() or not path.is_file():
        raise ScanError(f"{path} is not a regular file", hint="Only files found by the scan can be remediated.")


def quarantine(
    files: Sequence[Path], recipient: str, *, dry_run: bool = False, audit: AuditHook | None = None
) -> list[Remediation]:
    """Encrypt each file to ``recipient`` as ``<file>.age`` (temporary name, then rename), then shred the plaintext."""
    out: list[Remediation] = []
    for path in files:
        _regular(path)
        target = path.with_name(path.name + ".age")
        if dry_run:
            out.append(Remediation(str(path), "would quarantine", str(target)))
            continue
        try:
            from ecluse.crypto.age import encrypt_to  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise ScanError(
                "age encryption is not available in this build",
                hint="Use --shred, or encrypt the file with the age tool.",
            ) from exc
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.age.tmp")
        try:
            with open(path, "rb") as src, open(tmp, "xb") as dst:
                writer = encrypt_to(dst, [recipient])
                while block := src.read(_BLOCK):
                    writer.write(block)
                writer.close()
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _overwrite_and_unlink(path)
        if audit is not None:
            audit("scan.quarantine", {"file": str(path), "encrypted_to": str(target)})
        out.append(Remediation(str(path), "quarantined", str(target)))
    return out


def shred(
    files: Sequence[Path], *, passes: int = 1, dry_run: bool = False, audit: AuditHook | None = None
) -> list[Remediation]:
    """Overwrite each file with random bytes ``passes`` times, fsync, then delete it.

    On SSDs, copy-on-write and journaling file systems, and in snapshots, overwriting does not
    reach every copy: encryption at rest is the real control; this removes the file from view.
    """
    out: list[Remediation] = []
    for path in files:
        _regular(path)
        if dry_run:
            out.append(Remediation(str(path), "would shred"))
            continue
        _overwrite_and_unlink(path, passes=passes)
        if audit is not None:
            audit("scan.shred", {"file": str(path)})
        out.append(Remediation(str(path), "shredded"))
    return out


def _overwrite_and_unlink(path: Path, *, passes: int = 1) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        for _ in range(max(1, passes)):
            fh.seek(0)
            left = size
            while left > 0:
                n = min(left, _BLOCK)
                fh.write(secrets.token_bytes(n))
                left -= n
            fh.flush()
            os.fsync(fh.fileno())
    path.unlink()
