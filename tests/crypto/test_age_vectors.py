"""The C2SP CCTV age test vectors (../shared/vectors/age-cctv), each run as its file says.

A case runs when it is binary and gives at least one X25519 identity, or gives no key at
all (it must then fail before any key is needed). Cases that need a feature we do not offer
are skipped, and the skips are counted by reason in ``test_cctv_coverage``.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecluse.crypto import age
from ecluse.errors import DecryptionError, NoIdentityMatchError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "age-cctv"

# Cases we run today; a drop means vectors went missing or the skip rules widened.
MIN_CASES_RUN = 69


@dataclass(frozen=True)
class Case:
    name: str
    fields: dict[str, list[str]]
    body: bytes

    def one(self, key: str) -> str | None:
        values = self.fields.get(key)
        return values[0] if values else None

    @property
    def expect(self) -> str:
        return self.fields["expect"][0]

    @property
    def x25519_identities(self) -> list[str]:
        return [i for i in self.fields.get("identity", []) if i.startswith("AGE-SECRET-KEY-1")]

    @property
    def skip_reason(self) -> str | None:
        others = [i for i in self.fields.get("identity", []) if not i.startswith("AGE-SECRET-KEY-1")]
        if self.one("armored") == "yes" or self.expect == "armor failure":
            return "armor (ASCII armor is not offered)"
        if self.x25519_identities:
            return None
        if "passphrase" in self.fields:
            return "scrypt (passphrase recipients are not offered)"
        if any(i.startswith("AGE-SECRET-KEY-PQ-") for i in others):
            return "hybrid mlkem768x25519 (post-quantum recipients are not offered)"
        if others:
            return "other identity type (tagged, ssh or plugin identities are not offered)"
        return None

    @property
    def age_file(self) -> bytes:
        if self.one("compressed") == "zlib":
            return zlib.decompress(self.body)
        return self.body


def load(path: Path) -> Case:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields: dict[str, list[str]] = {}
    for line in head.decode().splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    return Case(path.name, fields, body)


CASE_FILES = sorted(p for p in VECTORS.glob("*") if p.is_file() and p.name != "README.md")
CASES = [load(p) for p in CASE_FILES]


def test_vectors_are_present() -> None:
    assert len(CASES) >= 140, f"expected the CCTV age vectors in {VECTORS}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cctv_case(case: Case) -> None:
    reason = case.skip_reason
    if reason is not None:
        pytest.skip(reason)
    identities = case.x25519_identities
    expect = case.expect
    if expect == "success":
        plain = age.decrypt_bytes(case.age_file, identities)
        assert hashlib.sha256(plain).hexdigest() == case.one("payload")
    elif expect == "no match":
        with pytest.raises(NoIdentityMatchError):
            age.decrypt_bytes(case.age_file, identities)
    else:
        kind = {"HMAC failure": "hmac", "header failure": "header", "payload failure": "payload"}[expect]
        with pytest.raises(DecryptionError) as info:
            age.decrypt_bytes(case.age_file, identities)
        assert getattr(info.value, "kind", None) == kind
        assert str(info.value) == "cannot decrypt: the file was altered, truncated or is not an age file"


def test_cctv_coverage() -> None:
    """Count the cases run and skipped per reason; the run count must not shrink."""
    tally: Counter[str] = Counter()
    for case in CASES:
        tally[case.skip_reason or "run"] += 1
    print("\nCCTV age vectors:", len(CASES), "cases")
    for reason, count in tally.most_common():
        print(f"  {count:4d}  {reason}")
    assert tally["run"] >= MIN_CASES_RUN
    assert sum(tally.values()) == len(CASES)
